"""Benchmark of the vocab tools on real data (issue 3):

1. build a 32,000-piece + 2,000-slot WordPiece vocab on general/kowiki_sample.txt.gz (timed);
2. pick 2,000 terms from the NSMC *train* split by a simple frequency rule (tokens saved ≈
   count × (pieces − 1) of word-initial substrings of eojeols), fill the slots with them;
3. measure fertility, UNK rate and slot usage on the NSMC *test* split, before and after.

The term selection is deliberately naive (the real one is `domainlm mine-terms`); this measures the
vocab machinery and gives a rough ceiling-free figure for what 2,000 slots can do on one domain.

    python benchmarks/vocab_fill_nsmc.py [--data ../shared/data] [--work runs/bench_vocab] [--train-limit 200000]

Writes benchmarks/results/vocab_fill_nsmc.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def select_terms(texts, tokenizer, budget: int, min_len: int = 2, max_len: int = 8) -> list:
    """Word-initial substrings of pre-tokenized words, ranked by count × (pieces under the base − 1)."""
    from vocab_tools.terms import Term

    counts: Counter = Counter()
    norm, pre = tokenizer.normalizer, tokenizer.pre_tokenizer
    for text in texts:
        for word, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            if len(word) < min_len or not any("가" <= ch <= "힣" for ch in word):
                continue
            for n in range(min_len, min(max_len, len(word)) + 1):
                counts[word[:n]] += 1
    vocab = tokenizer.get_vocab()
    scored = []
    for term, count in counts.most_common(200_000):
        if count < 20 or term in vocab:
            continue
        pieces = len(tokenizer.encode(term, add_special_tokens=False).ids)
        if pieces > 1:
            scored.append((count * (pieces - 1), count, pieces, term))
    scored.sort(reverse=True)
    return [
        Term(term, score=float(s), tokens_saved=s, category_count=c, category="nsmc")
        for s, c, _, term in scored[:budget]
    ]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("DOMAINLM_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--work", default=str(REPO / "runs" / "bench_vocab"))
    p.add_argument("--vocab-size", type=int, default=32000)
    p.add_argument("--unused", type=int, default=2000)
    p.add_argument(
        "--train-limit", type=int, default=None, help="NSMC train reviews used for term selection (default: all)"
    )
    p.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "vocab_fill_nsmc.json"))
    args = p.parse_args(argv)

    from domainlm.corpus.reader import CorpusSpec
    from domainlm.io import write_json
    from domainlm.vocab_build import build_vocab_from_corpus, corpus_texts, fill_from_terms, measure_corpus
    from vocab_tools.loading import load_tokenizer
    from vocab_tools.terms import write_terms

    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    nsmc = str(data / "reviews" / "nsmc_reviews.tsv.gz")
    train = CorpusSpec(path=nsmc, field="text", where={"split": "train"}, limit=args.train_limit)
    test = CorpusSpec(path=nsmc, field="text", where={"split": "test"})

    t0 = time.perf_counter()
    built = build_vocab_from_corpus(
        str(data / "general" / "kowiki_sample.txt.gz"), work / "base", vocab_size=args.vocab_size, unused=args.unused
    )
    build_seconds = time.perf_counter() - t0
    print(f"built {built.vocab_size:,} entries in {build_seconds:.1f} s", file=sys.stderr)

    t0 = time.perf_counter()
    base = load_tokenizer(work / "base")
    train_texts = list(corpus_texts(train))
    terms = select_terms(train_texts, base.tokenizer, args.unused)
    write_terms(terms, work / "terms.tsv")
    select_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    filled = fill_from_terms(
        work / "base", work / "terms.tsv", work / "filled", category="nsmc", contexts=[train], context_limit=50_000
    )
    fill_seconds = time.perf_counter() - t0
    print(f"filled {len(filled.filled):,} slots in {fill_seconds:.1f} s", file=sys.stderr)

    t0 = time.perf_counter()
    report = measure_corpus([test], {"before": work / "base", "after": work / "filled"})
    measure_seconds = time.perf_counter() - t0
    b, a = report["tokenizers"]["before"], report["tokenizers"]["after"]
    result = {
        "what": (
            "32k+2k WordPiece on kowiki_sample, 2,000 slots filled from NSMC train (frequency rule), "
            "measured on NSMC test"
        ),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "build": {
            **built.to_dict(),
            "out_dir": str(built.out_dir.relative_to(REPO))
            if built.out_dir.is_relative_to(REPO)
            else str(built.out_dir),
        },
        "select": {
            "train_texts": len(train_texts),
            "terms": len(terms),
            "seconds": round(select_seconds, 1),
            "first_terms": [t.term for t in terms[:30]],
        },
        "fill": {
            "filled": len(filled.filled),
            "rejected": len(filled.rejected),
            "unreachable": len(filled.unreachable),
            "unreachable_examples": filled.unreachable[:20],
            "seconds": round(fill_seconds, 1),
        },
        "measure": {
            "test_texts": report["texts"],
            "eojeols": report["eojeols"],
            "seconds": round(measure_seconds, 1),
            "fertility_before": round(b["fertility"], 4),
            "fertility_after": round(a["fertility"], 4),
            "compression_gain": round(report["compression_gain"]["after"], 4),
            "unk_rate_before": round(b["unk_rate"], 5),
            "unk_rate_after": round(a["unk_rate"], 5),
            "unk_tokens_before": b["unk_tokens"],
            "unk_tokens_after": a["unk_tokens"],
            "slots_filled": a["filled_slots"],
            "slots_emitted": a["filled_slots_emitted"],
            "slot_usage": round(a["slot_usage"], 4),
            "slot_token_share": round(a["slot_token_share"], 4),
            "top_slot_terms": a["top_slot_terms"][:15],
        },
    }
    write_json(args.output, result)
    print(json.dumps(result["measure"], ensure_ascii=False, indent=1))
    return result


if __name__ == "__main__":
    main()
