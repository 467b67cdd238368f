"""Should `--precision auto` pick bf16 autocast on a CPU with native bf16? (issue 25)

`auto` is bf16 on a GPU that supports it; on a CPU with AVX512-BF16 / AMX it stays fp32 until this
benchmark shows bf16 faster at an equal held-out loss (domainlm.runtime.CPU_AUTO_BF16). A first look
(a 64 x 128 step of a 4 x 256 BERT: 1.3 s in bf16 against 2.5 s in fp32) says faster; this measures both
halves of the claim in one run, on one machine:

- speed: steps of the same model alternated fp32 / bf16 (so a change of load hits both alike), and
  the tokens/s of each whole training run;
- quality: `domainlm adapt` (continued pretraining, no slots filled) of the shared 4 x 256 base on
  Naver shopping reviews (text it never saw), the same seed, steps, batch and data in fp32 and in bf16,
  plus a second fp32 seed for the seed-to-seed spread. Every final model is scored in fp32 on the
  same held-out reviews with the same masks (`heldout_mlm_loss`), so the loss compares the models,
  not the precision of the scoring.

Verdict: bf16 is the CPU default when it is at least 1.2x faster and its held-out loss is within the
fp32 seed-to-seed spread (at least 0.01 nats) of the fp32 run with the same seed. Writes
benchmarks/results/precision.json (`--quick`: a 2 x 64 model for a few steps, to runs/, which checks
the script and not the claim).

    python benchmarks/precision_benchmark.py [--steps 300] [--batch 64] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, shared_data  # noqa: E402

SPEEDUP_NEEDED = 1.2
MIN_TOLERANCE = 0.01  # nats: below this two held-out losses are the same number for this decision


def step_times(model_dir: Path, batch: int, seq_len: int, rounds: int) -> dict:
    """Seconds per training step (forward, backward, AdamW) of the base, fp32 and bf16 alternated."""
    import torch

    from domainlm.modeling.loading import load_mlm

    model, tokenizer = load_mlm(str(model_dir))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(5, len(tokenizer), (batch, seq_len), generator=torch.Generator().manual_seed(0))
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(1)) > 0.15, -100)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}

    def step(precision: str) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    step("fp32"), step("bf16")  # warm-up: the first steps allocate and pick kernels
    for _ in range(rounds):
        for precision in ("fp32", "bf16"):
            times[precision].append(step(precision))
    median = {p: sorted(t)[len(t) // 2] for p, t in times.items()}
    return {
        "seconds_per_step": {p: round(v, 4) for p, v in median.items()},
        "tokens_per_second": {p: round(batch * seq_len / v, 1) for p, v in median.items()},
        "speedup_bf16": round(median["fp32"] / median["bf16"], 3),
        "rounds": rounds,
    }


def adapt_run(base: Path, corpus, out: Path, precision: str, seed: int, steps: int, batch: int, lr: float) -> dict:
    from domainlm.training import TrainConfig, adapt

    config = TrainConfig(
        max_steps=steps,
        batch_size=batch,
        seq_len=128,
        lr=lr,
        warmup_ratio=0.06,
        replay_ratio=0.0,
        save_every=10**6,
        log_every=max(1, steps // 20),
        eval_documents=0,
        heldout_fraction=0.02,
        seed=seed,
        precision=precision,
    )
    start = time.perf_counter()
    result = adapt(str(base), out, corpus=corpus, config=config, force=True)
    seconds = time.perf_counter() - start
    return {
        "precision": precision,
        "seed": seed,
        "seconds": round(seconds, 1),
        "train_seconds": round(result.seconds, 1),
        "tokens": result.tokens,
        "tokens_per_second": round(result.tokens / result.seconds, 1),
        "final_training_loss": round(result.final_loss, 4),
        "out": str(out),
    }


def score(model_dir: Path, texts: list[str], seed: int = 13) -> float:
    """Held-out masked-LM loss in fp32 with a fixed mask plan (the same for every model)."""
    from domainlm.modeling.loading import load_mlm
    from domainlm.training.heldout import heldout_mlm_loss

    model, tokenizer = load_mlm(str(model_dir))
    return round(
        heldout_mlm_loss(
            model, tokenizer, texts, seq_len=128, batch_size=32, seed=seed, masking="whole-word", max_sequences=256
        ),
        4,
    )


def verdict(speed: dict, runs: dict, losses: dict) -> dict:
    spread = abs(losses["fp32-seed0"] - losses["fp32-seed1"]) if "fp32-seed1" in losses else 0.0
    tolerance = max(spread, MIN_TOLERANCE)
    gap = losses["bf16-seed0"] - losses["fp32-seed0"]
    run_speedup = runs["bf16-seed0"]["tokens_per_second"] / runs["fp32-seed0"]["tokens_per_second"]
    faster = speed["speedup_bf16"] >= SPEEDUP_NEEDED and run_speedup >= SPEEDUP_NEEDED
    return {
        "speedup_alternated_steps": speed["speedup_bf16"],
        "speedup_training_runs": round(run_speedup, 3),
        "heldout_loss_bf16_minus_fp32": round(gap, 4),
        "fp32_seed_spread": round(spread, 4),
        "tolerance": round(tolerance, 4),
        "bf16_faster": faster,
        "equal_heldout_loss": abs(gap) <= tolerance,
        "cpu_auto_bf16": faster and abs(gap) <= tolerance,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rounds", type=int, default=10, help="alternated fp32 / bf16 step pairs timed")
    parser.add_argument("--reviews", type=int, default=50_000, help="shopping reviews read (2%% held out by hash)")
    parser.add_argument(
        "--quick", action="store_true", help="a 2 x 64 model for a few steps: checks the script, not the claim"
    )
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars between the result lines

    from domainlm.corpus import CorpusSpec
    from domainlm.runtime import cpu_has_native_bf16
    from domainlm.training.data import training_texts
    from domainlm.versions import library_versions

    data = shared_data()
    work = args.work or REPO / "runs" / "precision_benchmark" / ("quick" if args.quick else "cpu")
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (
        work / "precision_quick.json" if args.quick else REPO / "benchmarks" / "results" / "precision.json"
    )
    base = data / "bases" / "bert-4l256-general"
    steps, batch, rounds, reviews = args.steps, args.batch, args.rounds, args.reviews
    if args.quick:
        base = _tiny_base(work / "tiny-base", base)
        steps, batch, rounds, reviews = 3, 4, 2, 400
    corpus = CorpusSpec(path=str(data / "reviews" / "naver_shopping_50k.tsv"), field="text", limit=reviews)
    held = list(training_texts(corpus, heldout_fraction=0.02, heldout=True, max_documents=reviews))[:1000]
    result = {
        "benchmark": "precision",
        "base": base.name,
        "steps": steps,
        "batch": batch,
        "seq_len": 128,
        "lr": args.lr,
        "heldout_texts": len(held),
        "cpu_has_native_bf16": cpu_has_native_bf16(),
        "torch_threads": torch.get_num_threads(),
        "versions": library_versions(),
        "load_average_at_start": os.getloadavg(),
    }
    result["speed"] = step_times(base, batch, 128, rounds)
    print(f"alternated steps: {result['speed']}", flush=True)
    runs, losses = {}, {}
    for precision, seed in (("fp32", 0), ("bf16", 0), ("fp32", 1)):
        name = f"{precision}-seed{seed}"
        runs[name] = adapt_run(base, corpus, work / name, precision, seed, steps, batch, args.lr)
        losses[name] = score(work / name, held)
        print(f"{name}: {runs[name]['tokens_per_second']:,.0f} tok/s, held-out loss {losses[name]}", flush=True)
    result.update(
        runs=runs,
        heldout_loss_fp32_scoring=losses,
        verdict=verdict(result["speed"], runs, losses),
        load_average_at_end=os.getloadavg(),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["verdict"], indent=1))
    print(f"wrote {out}")
    return result


def _tiny_base(out: Path, shared_base: Path) -> Path:
    """A random 2 x 64 BERT over the shared base's tokenizer (for --quick)."""
    import shutil

    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    if not (out / "config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(str(shared_base))
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=256,
            max_position_embeddings=128,
        )
        BertForMaskedLM(config).save_pretrained(str(out))
        for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            if (shared_base / f).exists():
                shutil.copyfile(shared_base / f, out / f)
    return out


if __name__ == "__main__":
    main()
