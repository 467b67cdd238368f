"""domainlm's replaced-token detection training versus a straightforward implementation, on CPU, in one run.

Same tiny ELECTRA (discriminator 4 layers, hidden 256, 4 heads, embedding 128; generator 1/4 wide,
embeddings shared), same 42,000-entry vocab, same packed NSMC train sequences, same whole-eojeol
masks (the same seeded masking function), batch, optimizer, schedule and number of tokens, 2 CPU
threads each, each side in its own child process (so peak RSS is its own):

- straightforward: HF `ElectraForMaskedLM(labels=...)` (generator logits over the whole sequence),
  a Gumbel-max sample at the masked positions (fp32, as electra_pytorch), then
  `ElectraForPreTraining(labels=...)`; loss =
  MLM + 50 × BCE, a plain PyTorch loop with AdamW and a linear schedule;
- domainlm: `domainlm.training.engine.train` with the `ReplacedTokenDetection` objective
  (generator logits at the masked positions only, its last layer computed only there, the
  replacement drawn by inverse transform sampling: the same distribution as Gumbel-max).

Both are then scored on the same held-out NSMC *test* sequences: the discriminator BCE with the
corruptions of its own generator at fixed seeds, and the discriminator BCE on corruptions made by
ONE shared generator (the domainlm side's), which compares the two discriminators on identical
inputs. Writes benchmarks/results/electra_training.json and prints the speed ratio.

    python benchmarks/electra_training.py [--steps 120] [--batch-size 16] [--seq-len 128] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from training_benchmark import NSMC, REPO, _child, _peak_rss_mb, add_training_arguments, prepare_data  # noqa: E402

ARCH = dict(arch="electra", layers=4, hidden=256, heads=4, intermediate=1024, embedding_size=128, max_positions=512)


def make_pair(tok, seed: int):
    import torch

    from domainlm.modeling.config import ModelArchConfig
    from domainlm.modeling.electra import build_electra

    torch.manual_seed(seed)
    return build_electra(ModelArchConfig(**ARCH), tok)


def _config(args):
    from domainlm.training.config import TrainConfig

    return TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        lr=args.lr,
        warmup_ratio=0.1,
        weight_decay=0.01,
        save_every=10**6,
        log_every=1,
        heldout_fraction=0.0,
        eval_documents=0,
        seed=args.seed,
        bf16=False,
    )


def run_domainlm(args, tok_dir: Path, data_path: Path, model_path: Path, queue) -> None:
    import torch
    from transformers import AutoTokenizer

    from domainlm.progress import set_progress_enabled
    from domainlm.training.electra import ReplacedTokenDetection
    from domainlm.training.engine import train

    torch.set_num_threads(args.threads)
    set_progress_enabled(False)
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    sequences = torch.load(data_path, weights_only=False)
    disc, gen = make_pair(tok, args.seed)
    config = _config(args)
    objective = ReplacedTokenDetection(tok, config, gen, warmup_steps=0)
    with tempfile.TemporaryDirectory() as ckpt:
        start, cpu_start = time.perf_counter(), time.process_time()
        outcome = train(
            build_model=lambda: disc,
            tokenizer=tok,
            stream=iter(sequences),
            config=config,
            ckpt_dir=Path(ckpt) / "c",
            slot_ids=[],
            objective=objective,
        )
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    torch.save({"discriminator": outcome.model.state_dict(), "generator": gen.state_dict()}, model_path)
    losses = [r["discriminator_loss"] for r in outcome.metrics if "discriminator_loss" in r]
    queue.put(
        {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "tokens": outcome.tokens,
            "discriminator_loss_last10": sum(losses[-10:]) / len(losses[-10:]),
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def run_straightforward(args, tok_dir: Path, data_path: Path, model_path: Path, queue) -> None:
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from domainlm.training.masking import mask_generator, special_token_ids, whole_word_mask

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    sequences = torch.load(data_path, weights_only=False)
    disc, gen = make_pair(tok, args.seed)
    config = _config(args)
    torch.manual_seed(args.seed)
    params = list({id(p): p for p in list(disc.parameters()) + list(gen.parameters())}.values())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * args.steps), args.steps)
    special = special_token_ids(tok)
    losses = []
    disc.train()
    gen.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(args.steps):
        chunk = sequences[step * args.batch_size : (step + 1) * args.batch_size]
        ids = torch.stack([torch.as_tensor(c[0]) for c in chunk])
        starts = torch.stack([torch.as_tensor(c[1]) for c in chunk])
        noise = mask_generator(args.seed, step)
        inputs, positions, targets = whole_word_mask(
            ids,
            starts,
            special,
            mask_token_id=tok.mask_token_id,
            vocab_size=len(tok),
            probability=0.15,
            generator=noise,
            replace_probability=config.electra.mask_replace_prob,
            random_probability=0.0,
        )
        labels = torch.full((ids.numel(),), -100, dtype=torch.long)
        labels[positions] = targets
        out = gen(input_ids=inputs, labels=labels.view_as(ids))  # logits at every position
        logits = out.logits.reshape(-1, out.logits.shape[-1]).index_select(0, positions).detach()
        corrupted = ids.reshape(-1).clone()
        # Gumbel-max as electra_pytorch samples: argmax(logits + Gumbel noise), in fp32.
        uniform = torch.rand(logits.shape, generator=noise).clamp_(1e-9, 1.0)
        corrupted[positions] = (logits.float() - torch.log(-torch.log(uniform))).argmax(-1)
        replaced = (corrupted != ids.reshape(-1)).long().view_as(ids)
        d = disc(input_ids=corrupted.view_as(ids), labels=replaced)
        loss = out.loss + 50.0 * d.loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(d.loss.detach()))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    torch.save({"discriminator": disc.state_dict(), "generator": gen.state_dict()}, model_path)
    queue.put(
        {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "tokens": args.steps * args.batch_size * args.seq_len,
            "discriminator_loss_last10": sum(losses[-10:]) / len(losses[-10:]),
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def heldout_losses(tok, heldout, args, ours_path: Path, theirs_path: Path) -> dict:
    """Each discriminator's held-out BCE with its own generator, and with the same (domainlm's) generator."""
    import torch

    from domainlm.training.electra import ReplacedTokenDetection

    config = _config(args)
    pairs = {}
    for name, path in (("domainlm", ours_path), ("straightforward", theirs_path)):
        disc, gen = make_pair(tok, args.seed)
        state = torch.load(path, weights_only=False)
        disc.load_state_dict(state["discriminator"])
        gen.load_state_dict(state["generator"], strict=False)
        pairs[name] = (disc, gen)
    result = {}
    for name, (disc, gen) in pairs.items():
        own = ReplacedTokenDetection(tok, config, gen).evaluate(disc, heldout)
        shared_gen = pairs["domainlm"][1]
        # The other side's generator shares the other side's embeddings: rebuild a generator on this
        # discriminator's embeddings with the shared generator's own layers.
        from domainlm.modeling.electra import build_generator

        probe = build_generator(disc, 0.25)
        probe.load_state_dict(
            {k: v for k, v in shared_gen.state_dict().items() if not k.startswith("electra.embeddings.")}, strict=False
        )
        same = ReplacedTokenDetection(tok, config, probe).evaluate(disc, heldout)
        result[name] = {
            "heldout_discriminator_bce_own_generator": own,
            "heldout_discriminator_bce_same_generator": same,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, steps=120, heldout_docs=2000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6 steps of batch 4, 20k tokenizer docs")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "electra_training.json")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.batch_size, args.tokenizer_docs, args.heldout_docs = 6, 4, 20_000, 300
        if args.out == parser.get_default("out"):
            args.out = args.out.with_name("electra_training_quick.json")
    if not NSMC.exists():
        raise SystemExit(f"NSMC not found at {NSMC} (set DOMAINLM_SHARED_DATA)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch

    from domainlm.versions import library_versions

    torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        tok, heldout = prepare_data(args, work, heldout_limit=64)
        ours = _child(run_domainlm, args, work / "tok", work / "data.pt", work / "ours.pt")
        print(f"domainlm: {ours['tokens'] / ours['seconds']:,.0f} tokens/s", flush=True)
        theirs = _child(run_straightforward, args, work / "tok", work / "data.pt", work / "theirs.pt")
        print(f"straightforward: {theirs['tokens'] / theirs['seconds']:,.0f} tokens/s", flush=True)
        scores = heldout_losses(tok, heldout, args, work / "ours.pt", work / "theirs.pt")
    ours.update(scores["domainlm"])
    theirs.update(scores["straightforward"])
    for r in (ours, theirs):
        r["tokens_per_second"] = r["tokens"] / r["seconds"]
        r["tokens_per_second_dedicated"] = r["tokens"] / (r["cpu_seconds"] / args.threads)
    ratio = ours["tokens_per_second"] / theirs["tokens_per_second"]
    same_loss = (
        ours["heldout_discriminator_bce_same_generator"] <= theirs["heldout_discriminator_bce_same_generator"] * 1.02
    )
    result = {
        "benchmark": "electra_training_throughput_cpu",
        "setup": {
            "discriminator": "ElectraForPreTraining 4 layers, hidden 256, 4 heads, FFN 1024, embedding 128",
            "generator": "ElectraForMaskedLM hidden 64 (1/4), 1 head, embeddings shared",
            "vocab": len(tok),
            "data": "NSMC train split (text), packed",
            "steps": args.steps,
            "batch_size": args.batch_size,
            "seq_len": args.seq_len,
            "tokens": args.steps * args.batch_size * args.seq_len,
            "lr": args.lr,
            "threads": args.threads,
            "heldout": f"NSMC test split, {len(heldout)} sequences, fixed seeded masks",
        },
        "domainlm": ours,
        "straightforward_hf": theirs,
        "speedup_tokens_per_second": ratio,
        "speedup_tokens_per_cpu_second": ours["tokens_per_second_dedicated"] / theirs["tokens_per_second_dedicated"],
        "peak_rss_ratio": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
        "discriminator_loss_no_worse": same_loss,
        "target": "speedup >= 2 at the same discriminator loss (held-out BCE within 2%) after the same tokens",
        "target_met": ratio >= 2 and same_loss,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "versions": library_versions(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"speed-up {ratio:.2f}x tokens/s ({result['speedup_tokens_per_cpu_second']:.2f}x per CPU second); "
        f"held-out discriminator BCE (same generator) {ours['heldout_discriminator_bce_same_generator']:.4f} vs "
        f"{theirs['heldout_discriminator_bce_same_generator']:.4f}; peak RSS {ours['peak_rss_mb']:.0f} vs "
        f"{theirs['peak_rss_mb']:.0f} MB; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
