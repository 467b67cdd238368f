"""Where a fine-tuning step's time goes: forward and backward against the optimizer's update (issue 23).

The adaptation benchmark found that a filled tokenizer's 12% fewer tokens per shopping review bought
1.13x at inference but only 1.04x in fine-tuning while fine-tuning ran the for-loop AdamW. Fewer
tokens shrink the forward and backward passes; they do not shrink AdamW's update, which reads and
writes every parameter, the whole embedding matrix included, on every step. This measures the split
on the shared 4 x 256 base fine-tuned as the suite does it (sequence classification, batches of 16
shopping reviews grouped by length and padded to their longest member, gradient clipping), once with
AdamW's for-loop kernel (`fused_adamw=False`, fine-tuning's kernel before this measure) and once with
the fused kernel (its default since), from the same weights and batches. Medians over the timed steps.

    python benchmarks/finetune_step_breakdown.py [--steps 60] [--repeats 3] [--model PATH]

Writes benchmarks/results/finetune_step_breakdown.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, shared_data  # noqa: E402


def timed_steps(model, batches, *, fused: bool, bf16: bool, warmup: int) -> dict:
    """Per-step seconds of forward + backward, clipping and the optimizer (step and zero_grad)."""
    import torch

    from domainlm.modeling.modes import no_decay_names
    from domainlm.training.optim import adamw, decay_groups

    no_decay = no_decay_names(model, "full")
    optimizer = adamw(decay_groups(((p, n in no_decay) for n, p in model.named_parameters()), 0.01), 1e-4, fused=fused)
    parts: dict[str, list[float]] = {"forward_backward": [], "clip": [], "optimizer": []}
    model.train()
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t2 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        if i >= warmup:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
                parts[name].append(seconds)
    out = {name: statistics.median(v) for name, v in parts.items()}
    out["step"] = sum(out.values())
    out["optimizer_share"] = out["optimizer"] / out["step"]
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a model folder (default: the shared bert-4l256-general)")
    parser.add_argument("--steps", type=int, default=60, help="timed steps (after 10 untimed)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of the two kernels (median)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "finetune_step_breakdown.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from domainlm.finetune.loop import LengthGroupedBatches
    from domainlm.runtime import resolve_precision
    from domainlm.tasks import load_task_data, resolve_tasks
    from domainlm.versions import library_versions

    torch.set_num_threads(args.threads)
    data = shared_data()
    model_path = args.model or str(data / "bases" / "bert-4l256-general")
    (task,) = resolve_tasks("shopping-rating")
    warmup = 10
    split = load_task_data(task, data, max_train=(args.steps + warmup) * args.batch, max_dev=10, max_test=10)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    labels = {name: i for i, name in enumerate(split.label_names)}
    # The suite's batches: grouped by length (mega-batches sorted inside, batch order shuffled), each padded
    # to its longest member.
    texts = [ex.texts[0] for ex in split.train]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    batches = []
    for chunk in list(LengthGroupedBatches(lengths, args.batch, seed=1, mode="grouped"))[: args.steps + warmup]:
        enc = tokenizer(
            [texts[i] for i in chunk], padding="longest", truncation=True, max_length=128, return_tensors="pt"
        )
        enc["labels"] = torch.tensor(
            [labels[split.train[i].label] if split.train[i].label in labels else split.train[i].label for i in chunk]
        )
        batches.append(dict(enc))
    bf16 = resolve_precision("auto", "cpu") == "bf16"
    result: dict = {
        "benchmark": "finetune_step_breakdown",
        "model": Path(model_path).name,
        "batch": args.batch,
        "timed_steps": args.steps,
        "threads": args.threads,
        "bf16": bf16,
        "tokens_per_example": statistics.mean(int(b["attention_mask"].sum()) / args.batch for b in batches),
        "padded_tokens_per_example": statistics.mean(b["input_ids"].numel() / args.batch for b in batches),
        "load_average_at_start": os.getloadavg(),
        "versions": library_versions(),
        "runs": {},
    }
    # The two kernels alternate `repeats` times (the machine's speed drifts between runs); each part is the
    # median over the repeats of the per-run medians.
    repeated: dict[str, list[dict]] = {"for-loop": [], "fused": []}
    for _ in range(args.repeats):
        for fused in (False, True):
            torch.manual_seed(0)
            model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=len(labels))
            result["parameters"] = sum(p.numel() for p in model.parameters())
            share = model.get_input_embeddings().weight.numel() / result["parameters"]
            result["embedding_share_of_parameters"] = share
            repeated["fused" if fused else "for-loop"].append(
                timed_steps(model, batches, fused=fused, bf16=bf16, warmup=warmup)
            )
    result["repeats"] = repeated
    for fused in (False, True):
        runs = repeated["fused" if fused else "for-loop"]
        run = {part: statistics.median(r[part] for r in runs) for part in runs[0]}
        result["runs"]["fused" if fused else "for-loop"] = run
        print(
            f"{'fused' if fused else 'for-loop'}: step {1000 * run['step']:.1f} ms, forward+backward "
            f"{1000 * run['forward_backward']:.1f}, optimizer {1000 * run['optimizer']:.1f} "
            f"({100 * run['optimizer_share']:.0f}% of the step)",
            flush=True,
        )
    plain, fused_run = result["runs"]["for-loop"], result["runs"]["fused"]
    result["fused_speedup_of_step"] = plain["step"] / fused_run["step"]
    # What 12% fewer tokens could buy at most with each kernel: only forward + backward shrink with the tokens.
    result["step_ratio_if_tokens_fall_12pct"] = {
        name: run["step"] / (run["step"] - 0.12 * run["forward_backward"]) for name, run in result["runs"].items()
    }
    result["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(
        f"fused kernel: {result['fused_speedup_of_step']:.2f}x per step; 12% fewer tokens at most "
        f"{result['step_ratio_if_tokens_fall_12pct']['fused']:.3f}x with it; wrote {args.out}"
    )
    return result


if __name__ == "__main__":
    main()
