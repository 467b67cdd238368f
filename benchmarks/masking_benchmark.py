"""Pretraining from scratch: token masking against whole-eojeol masking (issue 23).

Every BERT pretrained from scratch starts on the masked-LM plateau: it predicts each masked token by
its frequency alone, and its held-out loss sits at a unigram model's. Token masking (BERT's original
objective) lets a new model read a masked piece off the other pieces of its word, the easy signal
that starts it using context; whole-eojeol masking hides the whole word, so that signal is gone.

Two runs of `domainlm pretrain` from the same random 4 x 256 BERT over the shared base's vocabulary
(26,000 entries), the same text (the Korean Wikipedia sample and NSMC train-split reviews, as the
shared base), steps, batch, learning rate and seed; only `train.masking` differs. Each final model is
scored on the same held-out text under BOTH maskings (one fixed mask plan per masking), against the
held-out loss of a unigram model of the vocabulary fit on the training text (the plateau). Also
kept: each run's own held-out curve (in its own masking). Writes benchmarks/results/masking.json.

    python benchmarks/masking_benchmark.py [--steps 400] [--batch 64] [--warmup-ratio 0.05] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, shared_data  # noqa: E402


def write_corpus(out: Path, data: Path, reviews: int, paragraphs: int | None) -> tuple[list[str], list[str]]:
    """(training lines, held-out lines): Wikipedia paragraphs and NSMC train-split reviews of >= 10
    characters, shuffled with seed 0; every 50th line held out (never trained on)."""
    from domainlm.corpus import CorpusSpec
    from domainlm.training.data import training_texts

    wiki = list(
        training_texts(CorpusSpec(path=str(data / "general" / "kowiki_sample.txt.gz")), max_documents=paragraphs)
    )
    nsmc = [
        t
        for t in training_texts(
            CorpusSpec(path=str(data / "reviews" / "nsmc_reviews.tsv.gz"), field="text", where={"split": "train"}),
            max_documents=reviews * 2,
        )
        if len(t) >= 10
    ]
    lines = wiki + nsmc[:reviews]
    random.Random(0).shuffle(lines)
    train = [t for i, t in enumerate(lines) if i % 50]
    held = [t for i, t in enumerate(lines) if not i % 50]
    out.write_text("\n".join(train) + "\n", encoding="utf-8")
    return train, held


def unigram_loss(tokenizer, train: list[str], held: list[str]) -> float:
    """Held-out loss (nats per token) of a unigram model fit on `train` (add-0.5 over the vocabulary)."""
    counts: Counter = Counter()
    for enc in tokenizer(train[:200_000], add_special_tokens=False)["input_ids"]:
        counts.update(enc)
    total, vocab = sum(counts.values()), len(tokenizer)
    ids = [i for enc in tokenizer(held, add_special_tokens=False)["input_ids"] for i in enc]
    return -sum(math.log((counts.get(i, 0) + 0.5) / (total + 0.5 * vocab)) for i in ids) / len(ids)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument(
        "--warmup-ratio",
        type=float,
        default=0.05,
        help="share of steps of linear warm-up (the shared base warmed up for 200 steps before it left the plateau)",
    )
    parser.add_argument("--reviews", type=int, default=200_000, help="NSMC train-split reviews in the text")
    parser.add_argument(
        "--quick", action="store_true", help="a 2 x 64 model for a few steps: checks the script, not the claim"
    )
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    data = shared_data()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from domainlm.modeling.config import ModelArchConfig
    from domainlm.modeling.loading import load_hf_tokenizer, load_mlm
    from domainlm.training import TrainConfig, pretrain
    from domainlm.training.heldout import heldout_mlm_loss
    from domainlm.versions import library_versions

    work = args.work or REPO / "runs" / "masking_benchmark" / ("quick" if args.quick else "cpu")
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or REPO / "benchmarks" / "results" / ("masking_quick.json" if args.quick else "masking.json")
    tok_dir = data / "bases" / "bert-4l256-general"
    tokenizer = load_hf_tokenizer(tok_dir)
    if args.quick:
        arch = ModelArchConfig(arch="bert", layers=2, hidden=64, heads=2, intermediate=256, max_positions=128)
        steps, batch, reviews, paragraphs = min(args.steps, 8), min(args.batch, 8), 2000, 1000
    else:
        arch = ModelArchConfig(arch="bert", layers=4, hidden=256, heads=4, intermediate=1024, max_positions=128)
        steps, batch, reviews, paragraphs = args.steps, args.batch, args.reviews, None
    corpus = work / "general.txt"
    train, held = write_corpus(corpus, data, reviews, paragraphs)
    held = held[:2000]
    result = {
        "benchmark": "masking",
        "steps": steps,
        "batch": batch,
        "seq_len": 128,
        "lr": args.lr,
        "warmup_ratio": args.warmup_ratio,
        "arch": arch.model_dump(),
        "train_lines": len(train),
        "heldout_lines": len(held),
        "unigram_loss_nats": round(unigram_loss(tokenizer, train, held), 4),
        "runs": {},
        "versions": library_versions(),
        "load_average_at_start": os.getloadavg(),
    }
    for masking in ("token", "whole-word"):
        config = TrainConfig(
            max_steps=steps,
            batch_size=batch,
            seq_len=128,
            lr=args.lr,
            warmup_ratio=args.warmup_ratio,
            replay_ratio=0.0,
            save_every=10**6,
            eval_every=max(1, steps // 8),
            eval_documents=1000,
            heldout_fraction=0.02,
            seed=0,
            masking=masking,
            precision="bf16",
        )
        t = time.perf_counter()
        model_dir = work / f"model-{masking}"
        pretrain(tok_dir, [str(corpus)], model_dir, arch=arch, config=config)
        seconds = time.perf_counter() - t
        curve = [r for r in map(json.loads, (model_dir / "metrics.jsonl").read_text().splitlines()) if "eval_loss" in r]
        model, tok = load_mlm(model_dir)
        torch.manual_seed(0)
        scored = {
            m: round(
                heldout_mlm_loss(model, tok, held, seq_len=128, batch_size=32, seed=13, masking=m, max_sequences=256), 4
            )
            for m in ("token", "whole-word")
        }
        result["runs"][masking] = {
            "seconds": round(seconds, 1),
            "heldout_loss": scored,
            "below_unigram_nats": {m: round(result["unigram_loss_nats"] - v, 4) for m, v in scored.items()},
            "own_curve": [{"step": r["step"], "eval_loss": r["eval_loss"]} for r in curve],
        }
        print(
            f"{masking}: held-out loss {scored} vs unigram {result['unigram_loss_nats']} ({seconds:.0f} s)", flush=True
        )
    tok_run, ww_run = result["runs"]["token"], result["runs"]["whole-word"]
    # The claim, on the same measure for both: token masking leaves the plateau (its whole-word-masked
    # loss below the unigram model's), whole-eojeol masking does not (or by less).
    result["verdict"] = {
        "token_masking_off_plateau": tok_run["below_unigram_nats"]["whole-word"] > 0.05,
        "whole_word_masking_off_plateau": ww_run["below_unigram_nats"]["whole-word"] > 0.05,
        "token_minus_whole_word_on_whole_word_masking": round(
            tok_run["heldout_loss"]["whole-word"] - ww_run["heldout_loss"]["whole-word"], 4
        ),
        "token_minus_whole_word_on_token_masking": round(
            tok_run["heldout_loss"]["token"] - ww_run["heldout_loss"]["token"], 4
        ),
    }
    result["load_average_at_end"] = os.getloadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["verdict"], indent=1))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
