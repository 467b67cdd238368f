"""How long does `domainlm evaluate` take on 5,000 held-out sentences with a BERT-base-size model?

Builds a randomly initialised BERT-base-size masked LM (12 layers, hidden 768) over the KoELECTRA
vocab from the shared data (32,200 entries, 200 [unusedN] slots), fills a few slots with
vocab_tools to make the "after" model, and times `evaluate` on NSMC test sentences. Random weights
cost the same to run as trained ones; the numbers it prints are times, not quality.

    python benchmarks/evaluation_speed.py                    # 5,000 texts, CPU
    python benchmarks/evaluation_speed.py --probe --general 1000 --device cuda

The numbers are also written to benchmarks/results/evaluation_speed.json (with the machine and its
load average), as the other benchmarks do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from common import REPO, koelectra_tokenizer, save_random_bert, shared_data  # benchmarks/common.py

TERMS = ["재밌어요", "재밌게", "최고의", "별로", "지루하고", "연기력", "스토리", "감동적", "ㅋㅋㅋ", "배우들"]


def build_models(root: Path, layers: int, hidden: int) -> tuple[Path, Path]:
    from vocab_tools.fill import fill_slots

    base = save_random_bert(root / "base", koelectra_tokenizer(), layers, hidden)
    after = root / "after"
    fill_slots(base, TERMS, after, category="movies", source="benchmark")
    for f in base.iterdir():
        if not (after / f.name).exists():
            os.symlink(f, after / f.name)  # same weights: 440 MB need not be written twice
    return base, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=5000, help="held-out NSMC test sentences scored")
    parser.add_argument("--general", type=int, default=0, help="general (UD) sentences scored for forgetting")
    parser.add_argument(
        "--probe", action="store_true", help="also run the NSMC linear probe (2,000 train / 1,000 test)"
    )
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--keep", type=Path, default=None, help="write models and report here instead of a temp dir")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / "evaluation_speed.json",
        help="where the JSON of this run is written",
    )
    args = parser.parse_args()

    import torch

    from domainlm.corpus import CorpusSpec
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.tasks.probe import preset_task

    data = shared_data()
    root = args.keep or Path(tempfile.mkdtemp(prefix="domainlm-evalbench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        base, after = build_models(root, args.layers, args.hidden)
        build_s = time.perf_counter() - t
        config = EvalConfig(
            max_texts=max(args.texts, args.general, 1),
            batch_size=args.batch_size,
            device=args.device,
            precision=args.precision,
            tasks=[preset_task("nsmc", data)] if args.probe else [],
        )
        domain = CorpusSpec(path=str(data / "eval" / "nsmc_test_10k.tsv"), field="document", limit=args.texts)
        general = (
            CorpusSpec(path=str(data / "general" / "ud_korean_sentences.txt"), limit=args.general)
            if args.general
            else None
        )
        t = time.perf_counter()
        report = evaluate(
            base, after, root / "report", domain=domain, general=general, config=config, update_card=False
        )
        total = time.perf_counter() - t
        d = report.bpc["domain"]
        result = {
            "device": str(report.config.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")),
            "torch_threads": torch.get_num_threads(),
            "precision": args.precision,
            "model": f"BERT {args.layers} layers, hidden {args.hidden}, vocab 32,200",
            "domain_texts": d.before.n_texts,
            "masked_tokens_before": d.before.masked_tokens,
            "general_texts": report.bpc["general"].before.n_texts if "general" in report.bpc else 0,
            "build_models_s": round(build_s, 1),
            "evaluate_s": round(total, 1),
            "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
            # texts scored by one model per second (each text is scored by both models)
            "mw_bpc_texts_per_s": round(
                sum(c.before.n_texts for c in report.bpc.values()) * 2 / report.seconds["mw_bpc"], 1
            ),
        }
        result["machine"] = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        }
        print(json.dumps(result, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
