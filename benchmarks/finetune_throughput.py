"""Fine-tuning throughput: the suite's batching against fixed padding, on NSMC, same model, same examples.

Baseline (KoELECTRA's way): every batch padded to the task's max length (128 tokens), batches drawn
at random. The suite: batches padded only to their longest member, examples grouped by length
(mega-batches of 50 batches sorted by length, batch order shuffled). Both fine-tune the same
randomly initialised BERT over the real KoELECTRA vocab (32,200 entries, from the shared data, so
token lengths are those of a real Korean vocab) on the same NSMC examples with the same seed, and
both choose their epoch on dev and score the NSMC test sample once. Throughput is real (non-pad)
training tokens per second of the training loop; the ratio is suite / baseline. Accuracy is
compared with a paired bootstrap over the same test examples ("within noise" is what "at the same
accuracy" means here). Random weights cost the same as trained ones; with random weights and a
short CPU run the accuracies are low, and what matters is that they match.

    python benchmarks/finetune_throughput.py                          # a few minutes on 2 CPU cores
    python benchmarks/finetune_throughput.py --max-train 4000 --layers 12 --hidden 768 --device cuda
    python benchmarks/finetune_throughput.py --model DEMO_OUTPUT/data/base --lr 1e-4   # a pretrained base

Writes benchmarks/results/finetune_throughput.json (with the machine and its load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from common import REPO, koelectra_tokenizer, save_random_bert, shared_data  # benchmarks/common.py


def build_model(out: Path, layers: int, hidden: int, heads: int) -> Path:
    """A random BERT over the KoELECTRA vocab, saved with its tokenizer (as `domainlm finetune` reads it)."""
    return save_random_bert(out, koelectra_tokenizer(), layers, hidden, heads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-train", type=int, default=640, help="NSMC training examples")
    parser.add_argument("--max-dev", type=int, default=200)
    parser.add_argument("--max-test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4, help="higher than the suite's 3e-5: the weights start random")
    parser.add_argument("--max-seq-len", type=int, default=128, help="the task's max length (the baseline pads to it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default=None, help="'cpu' to stay off a GPU")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads of torch, both runs alike (on a shared "
        "2-core machine 2 threads thrash: one step took 10x longer)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="a pretrained model folder to use instead of the random BERT "
        "(e.g. the demo's base, OUTPUT/data/base), to compare accuracies "
        "that are above chance",
    )
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "finetune_throughput.json")
    args = parser.parse_args()

    import torch

    from domainlm.finetune import BUILTIN_TASKS, FinetuneSettings, load_task_data
    from domainlm.finetune.loop import run_seed
    from domainlm.finetune.metrics import paired_difference

    data = load_task_data(
        BUILTIN_TASKS["nsmc"], shared_data(), max_train=args.max_train, max_dev=args.max_dev, max_test=args.max_test
    )
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = (
            Path(args.model) if args.model else build_model(Path(tmp) / "model", args.layers, args.hidden, args.heads)
        )
        # The suite's batching runs first, so any warm-up cost of the process falls on it, not the baseline.
        for batching in ("grouped", "fixed"):
            settings = FinetuneSettings(
                epochs=args.epochs,
                lr=args.lr,
                batch_size=32,
                max_seq_len=args.max_seq_len,
                batching=batching,
                device=args.device,
                threads=args.threads,
            )
            started = time.perf_counter()
            run = run_seed(str(model), data, args.seed, settings, description=f"nsmc {batching}")
            runs[batching] = run
            print(
                f"{batching:>8}: {run.tokens_per_second:,.0f} real tokens/s in training "
                f"({run.train_tokens:,} real of {run.padded_tokens:,} computed tokens, {run.train_seconds:.1f} s), "
                f"test accuracy {100 * run.test_score:.2f} (epoch {run.best_epoch} by dev), "
                f"{time.perf_counter() - started:.1f} s in all",
                flush=True,
            )
    grouped, fixed = runs["grouped"], runs["fixed"]
    ratio = grouped.tokens_per_second / fixed.tokens_per_second
    # CPU seconds of the loop: on a shared machine, wall time also counts the other jobs' turns.
    cpu_ratio = (grouped.train_tokens / grouped.train_cpu_seconds) / (fixed.train_tokens / fixed.train_cpu_seconds)
    diff, verdict = paired_difference([fixed.metric_data()], [grouped.metric_data()], resamples=2000)
    print(
        f"throughput ratio (length-grouped dynamic padding / fixed padding to {args.max_seq_len}): {ratio:.2f}x "
        f"by wall clock, {cpu_ratio:.2f}x by CPU time of the training loop (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"test accuracy, suite − baseline: {100 * diff.value:+.2f} [{100 * diff.low:+.2f}, {100 * diff.high:+.2f}] "
        f"→ {verdict}"
    )
    result = {
        "benchmark": "finetune_throughput",
        "task": "nsmc",
        "baseline": f"fixed padding to {args.max_seq_len} tokens, random batches (KoELECTRA's run_seq_cls.py)",
        "suite": "dynamic padding, length-grouped batches",
        "settings": vars(args) | {"output": str(args.output)},
        "model": {"path": args.model}
        if args.model
        else {
            "arch": "bert (random init)",
            "layers": args.layers,
            "hidden": args.hidden,
            "heads": args.heads,
            "vocab": "koelectra_vocab.txt (32,200)",
        },
        "examples": {"train": len(data.train), "dev": len(data.dev), "test": len(grouped.test_gold)},
        "ratio": ratio,
        "ratio_cpu_time": cpu_ratio,
        "runs": {
            name: {
                "tokens_per_second": r.tokens_per_second,
                "train_seconds": r.train_seconds,
                "train_cpu_seconds": r.train_cpu_seconds,
                "real_tokens": r.train_tokens,
                "computed_tokens": r.padded_tokens,
                "padding_share": 1 - r.train_tokens / r.padded_tokens,
                "test_accuracy": r.test_score,
                "best_epoch": r.best_epoch,
                "dev_curve": r.dev_curve,
            }
            for name, r in runs.items()
        },
        "accuracy_difference": diff.to_dict() | {"verdict": verdict},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": os.getloadavg(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
