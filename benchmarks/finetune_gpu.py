"""The full fine-tuning protocol on base-size models, for a GPU machine.

Every built-in task (`--tasks all`), 3 seeds, each task's own epochs, batch 32, lr 3e-5, bf16,
checkpoints chosen on dev, test read once; two models compared, paired by seed and test example.
Pass the models to judge (e.g. kykim/bert-kor-base from the local hub cache and its adapted copy):

    python benchmarks/finetune_gpu.py --model base=/models/bert-kor-base --model adapted=/models/adapted
    accelerate launch --num_processes 4 benchmarks/finetune_gpu.py --model base=... --model adapted=...

Without `--model` it builds a BERT-base-size model (12 layers, hidden 768, the KoELECTRA vocab from
the shared data) with random weights, and a copy of it: the run then measures the protocol's time
and checks its machinery (the two identical models must come out "within noise"), not quality.
A GPU machine has no network: hub models must already be in its cache (HF_HUB_OFFLINE=1).

Writes OUTPUT/benchmark.{json,md,png} and benchmarks/results/finetune_gpu.json (table, times, machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", action="append", default=[], help="NAME=PATH (repeatable; the first is the reference)"
    )
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--seeds", default="3")
    parser.add_argument("--max-train", type=int, default=8000, help="training examples per task at most (time budget)")
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every task (default: each task's own)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--output", type=Path, default=Path(tempfile.gettempdir()) / "domainlm-finetune-gpu")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "finetune_gpu.json")
    args = parser.parse_args()

    import torch

    from domainlm.finetune import FinetuneSettings, benchmark
    from domainlm.finetune.report import cell

    if not torch.cuda.is_available():
        print("warning: no GPU here; this runs the full protocol on the CPU (hours).", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="finetune-gpu-"))
    try:
        models = {}
        for item in args.model:
            name, _, path = item.partition("=")
            models[name] = path
        if not models:
            from finetune_throughput import build_model

            base = build_model(work / "base", layers=12, hidden=768, heads=12)
            twin = work / "twin"
            shutil.copytree(base, twin)
            models = {"base-random": str(base), "twin": str(twin)}
        settings = FinetuneSettings(
            max_train=args.max_train,
            max_test=args.max_test,
            epochs=args.epochs,
            batch_size=args.batch_size,
            precision=args.precision,
        )
        started = time.perf_counter()
        result = benchmark(
            models, args.tasks, args.output, seeds=args.seeds, settings=settings, force=True, update_card=False
        )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if os.environ.get("RANK", "0") != "0":
        return
    print((args.output / "benchmark.md").read_text(encoding="utf-8"))
    table = {
        name: {t.name: result.results[(name, t.name)].to_dict()["summary"] for t in result.tasks}
        for name in result.models
    }
    out = {
        "benchmark": "finetune_gpu",
        "seconds": seconds,
        "models": result.models,
        "table": table,
        "cells": {
            name: {t.name: cell(result.results[(name, t.name)].summary) for t in result.tasks} for name in result.models
        },
        "comparisons": result.to_dict()["comparisons"],
        "settings": vars(args) | {"output": str(args.output), "results": str(args.results)},
        "machine": {
            "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "gpus": torch.cuda.device_count(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{seconds / 60:.1f} min; wrote {args.results}")


if __name__ == "__main__":
    main()
