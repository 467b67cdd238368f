"""The core of the adaptation map on one GPU, in at most 9 minutes (issue 23). Run it first whenever a
GPU machine is available, and commit its JSON.

    python benchmarks/gpu_protocol.py            # on one H100: writes benchmarks/results/adaptation_gpu.json
    python benchmarks/gpu_protocol.py --quick    # the same steps on a tiny CPU model (what the tests run)

What it runs (benchmarks/adaptation_benchmark.py, profile `gpu`): a 6 x 512 BERT pretrained here with
token masking over the shared base's vocabulary (Wikipedia sample + NSMC train-split reviews), then on
shopping the arms base, plain-N, rowlr-auto (domainlm's defaults: --slots auto, the new rows at 10x the
rate), fill-auto, fill-500, plain-3N (N = 300 steps x 128 x 128 tokens),
each fine-tuned on shopping-rating at 200 and 1,000 labels over 5 seeds, paired against plain-N; the
fine-tuning throughput of the filled tokenizer against the base's. Arms are started in that order
until 8 minutes have passed (the base and the first two arms fit); whatever was measured is written,
and a rerun continues from the cache.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adaptation_benchmark  # noqa: E402

GPU_ARMS = ["base", "plain-N", "rowlr-auto", "fill-auto", "fill-500", "plain-3N"]
QUICK_ARMS = ["base", "plain-N", "fill-auto", "fill-50"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="tiny CPU model, same steps (for the tests)")
    parser.add_argument("--minutes", type=float, default=8.0, help="start no new arm after this many minutes")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    forwarded = [
        "--profile",
        "quick" if args.quick else "gpu",
        "--domains",
        "shopping",
        "--arms",
        ",".join(QUICK_ARMS if args.quick else GPU_ARMS),
        "--deadline-minutes",
        str(args.minutes),
    ]
    if not args.quick:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(
                "gpu_protocol.py needs a GPU (use --quick on a CPU, or adaptation_benchmark.py --profile cpu)"
            )
    for flag, value in (("--work", args.work), ("--out", args.out)):
        if value is not None:
            forwarded += [flag, str(value)]
    return adaptation_benchmark.main(forwarded)


if __name__ == "__main__":
    main()
