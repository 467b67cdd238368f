"""Benchmark of `domainlm mine-terms` against three baselines, same slot budget, same fill code (issue 4).

Setup: a 32,000-piece + 2,000-slot WordPiece base built on general/kowiki_sample.txt.gz
(`vocab_tools.build_vocab`, cached under --work); category corpus = NSMC reviews with split=train,
held-out = split=test (whole movies never seen), reference = the Wikipedia sample.

Methods (each in its own subprocess, so each has its own peak RSS, sampled over the process tree):

  domainlm        `mine_terms` on the full train split (and on the baseline sample, for a like-for-like row)
  soynlp          soynlp `WordExtractor` candidates ranked by forward cohesion
  kiwi            kiwipiepy `Kiwi.extract_words` candidates ranked by their score
  frequency       plain count x (pieces - 1) over whole eojeols (pre-tokenized words)

Every method's ranked list goes through the same filter (not already in the base vocab, more than one
base piece) and the same `fill_from_terms` into the 2,000 slots; compression gain is
1 - fertility_after / fertility_before on the held-out split, measured by real Rust tokenization,
and the fertility change on general/ud_korean_sentences.txt checks that general text does not
suffer. Throughput = raw UTF-8 MB of category text / mining wall time (reading and normalising
included; for domainlm also counting the reference corpus).

    python benchmarks/mining_benchmark.py [--data ../shared/data] [--baseline-docs 100000] [--workers 2]

Writes benchmarks/results/mining.json and prints a rich comparison table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIN_COUNT = 5


# ---------------------------------------------------------------- the methods (run in a child process)

def _category_texts(data: Path, limit: int | None) -> tuple[list[str], int]:
    """Normalised train-split reviews and their raw UTF-8 size."""
    from domainlm.corpus import CorpusReader, CorpusSpec, Normalizer

    normalizer = Normalizer()
    spec = CorpusSpec(path=str(data / "reviews" / "nsmc_reviews.tsv.gz"), where={"split": "train"}, limit=limit)
    texts, raw = [], 0
    for doc in CorpusReader(spec):
        raw += len(doc.text.encode("utf-8"))
        text = normalizer(doc.text)
        if text:
            texts.append(text)
    return texts, raw


def _filter_ranked(ranked, base_dir: Path, slots: int) -> list[str]:
    """The shared filter: keep, in rank order, strings the base vocab does not have that span 2+ pieces."""
    from domainlm.mining.base import load_base_tokenizer
    from domainlm.mining.wordpiece import pretokenize

    wp = load_base_tokenizer(str(base_dir)).wordpiece()
    out, seen = [], set()
    for term in ranked:
        term = term.strip().lower()
        # One pre-token (no space, no punctuation: BERT would split it), new, and 2+ base pieces.
        if len(term) < 2 or term in seen or pretokenize(term) != [term] or term in wp or wp.count_word(term) < 2:
            continue
        seen.add(term)
        out.append(term)
        if len(out) == slots:
            break
    return out


def run_domainlm(args, limit: int | None) -> dict:
    from domainlm.corpus import CorpusSpec
    from domainlm.mining import MineConfig, mine_terms

    spec = CorpusSpec(path=str(args.data / "reviews" / "nsmc_reviews.tsv.gz"), where={"split": "train"}, limit=limit)
    result = mine_terms(spec, str(args.data / "general" / "kowiki_sample.txt.gz"), str(args.base),
                        MineConfig(slots=args.slots, workers=args.workers, specificity_weight=args.specificity_weight),
                        out_dir=args.method_dir)
    s = result.stats
    return {"raw_bytes": s["category_bytes"], "reference_bytes": s["reference_bytes"], "documents": s["category_documents"],
            "terms": [t.term for t in result.terms], "estimated_gain": s["estimated_gain"], "stage_seconds": s["seconds"]}


def run_soynlp(args, limit: int | None) -> dict:
    from soynlp.word import WordExtractor

    texts, raw = _category_texts(args.data, limit)
    extractor = WordExtractor(min_frequency=MIN_COUNT, max_left_length=10, max_right_length=6)
    extractor.train(texts)
    scores = extractor.extract()
    ranked = sorted(scores, key=lambda w: -scores[w].cohesion_forward)
    return {"raw_bytes": raw, "documents": len(texts), "terms": _filter_ranked(ranked, args.base, args.slots),
            "candidates": len(scores)}


def run_kiwi(args, limit: int | None) -> dict:
    from kiwipiepy import Kiwi

    texts, raw = _category_texts(args.data, limit)
    kiwi = Kiwi()
    # The defaults (min_score=0.25, lm_filter=True) keep only ~34 words on 100k reviews: too few
    # for 2,000 slots. Without the LM filter and with min_score=0 it proposes ~18k on 30k reviews.
    found = kiwi.extract_words(texts, min_cnt=MIN_COUNT, max_word_len=10, min_score=0.0, lm_filter=False)
    ranked = [form for form, score, freq, pos_score in sorted(found, key=lambda r: -r[1])]
    return {"raw_bytes": raw, "documents": len(texts), "terms": _filter_ranked(ranked, args.base, args.slots),
            "candidates": len(found)}


def run_frequency(args, limit: int | None) -> dict:
    from domainlm.mining.base import load_base_tokenizer
    from domainlm.mining.wordpiece import pretokenize

    texts, raw = _category_texts(args.data, limit)
    counts: Counter = Counter()
    for text in texts:
        counts.update(pretokenize(text))
    wp = load_base_tokenizer(str(args.base)).wordpiece()
    scored = [(c * (wp.count_word(w) - 1), w) for w, c in counts.items() if c >= MIN_COUNT]
    ranked = [w for s, w in sorted(scored, reverse=True) if s > 0]
    return {"raw_bytes": raw, "documents": len(texts), "terms": _filter_ranked(ranked, args.base, args.slots),
            "candidates": len(scored)}


METHODS = {"domainlm": run_domainlm, "soynlp": run_soynlp, "kiwi": run_kiwi, "frequency": run_frequency}


def child_main(args) -> None:
    from vocab_tools.terms import Term, write_terms

    limit = None if args.docs == "all" else int(args.docs)
    started = time.perf_counter()
    out = METHODS[args.method](args, limit)
    out["seconds"] = time.perf_counter() - started
    args.method_dir.mkdir(parents=True, exist_ok=True)
    if not (args.method_dir / "terms.tsv").exists():
        write_terms([Term(t) for t in out["terms"]], args.method_dir / "terms.tsv")
    (args.method_dir / "child.json").write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- the harness

def run_child(name: str, method: str, docs: str, args) -> dict:
    """Run one method in a subprocess; sample the RSS of its whole process tree (workers included)."""
    import psutil

    method_dir = args.work / name
    if method_dir.exists():
        import shutil

        shutil.rmtree(method_dir)
    cmd = [sys.executable, __file__, "--child", "--method", method, "--docs", docs, "--method-dir", str(method_dir),
           "--data", str(args.data), "--work", str(args.work), "--slots", str(args.slots), "--workers", str(args.workers),
           "--specificity-weight", str(args.specificity_weight)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "DOMAINLM_PROGRESS": "0"})
    peak = [0]

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                try:
                    rss = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
                except psutil.Error:
                    rss = 0
                peak[0] = max(peak[0], rss)
                time.sleep(0.05)
        except psutil.Error:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 gives the child's CPU time, its reaped worker processes included.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    sampler.join()
    if code != 0:
        raise SystemExit(f"{name} failed with exit code {code}")
    out = json.loads((method_dir / "child.json").read_text(encoding="utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    out.update(name=name, method=method, docs=docs, wall_seconds=time.perf_counter() - started, cpu_seconds=cpu,
               peak_rss_mb=peak[0] / 2**20, throughput_mb_s=out["raw_bytes"] / 1e6 / out["seconds"],
               # On a shared machine wall time depends on the neighbours; CPU time much less so.
               mb_per_cpu_second=out["raw_bytes"] / 1e6 / cpu)
    print(f"{name}: {len(out['terms'])} terms, {out['seconds']:.1f} s ({cpu:.1f} CPU s), {out['throughput_mb_s']:.2f} MB/s, "
          f"peak RSS {out['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return out


def evaluate(run: dict, args, heldout: list[str], general: list[str]) -> None:
    from vocab_tools.metrics import measure

    from domainlm.vocab_build import fill_from_terms

    method_dir = args.work / run["name"]
    filled = fill_from_terms(args.base, method_dir / "terms.tsv", method_dir / "filled", category="movies", truncate=True)
    tokenizers = {"before": args.base, "after": method_dir / "filled"}
    h = measure(heldout, tokenizers)
    g = measure(general, tokenizers)
    run.update(
        filled=len(filled.filled), rejected=len(filled.rejected),
        heldout_fertility_before=h["tokenizers"]["before"]["fertility"], heldout_fertility_after=h["tokenizers"]["after"]["fertility"],
        heldout_gain=h["compression_gain"]["after"], slot_usage=h["tokenizers"]["after"]["slot_usage"],
        general_fertility_before=g["tokenizers"]["before"]["fertility"], general_fertility_after=g["tokenizers"]["after"]["fertility"],
        general_fertility_change=g["tokenizers"]["after"]["fertility"] / g["tokenizers"]["before"]["fertility"] - 1,
    )


def build_base(args) -> None:
    if (args.base / "tokenizer.json").is_file():
        return
    from domainlm.vocab_build import build_vocab_from_corpus

    t0 = time.perf_counter()
    built = build_vocab_from_corpus(str(args.data / "general" / "kowiki_sample.txt.gz"), args.base, vocab_size=32000, unused=2000)
    print(f"built base vocab ({built.vocab_size:,} entries) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(os.environ.get("DOMAINLM_SHARED_DATA", REPO.parent / "shared" / "data")))
    p.add_argument("--work", type=Path, default=REPO / "runs" / "bench_mining", help="Base vocab cache and per-method outputs")
    p.add_argument("--baseline-docs", default="100000", help="Train reviews given to the slow baselines (soynlp, kiwi)")
    p.add_argument("--slots", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--specificity-weight", type=float, default=None, help="domainlm's knob (default: MineConfig's)")
    p.add_argument("--methods", default="domainlm,domainlm-warm,domainlm-sample,soynlp,kiwi,frequency")
    p.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "mining.json")
    # child mode
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--docs", help=argparse.SUPPRESS)
    p.add_argument("--method-dir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.base = args.work / "base"
    if args.specificity_weight is None:
        from domainlm.mining import MineConfig

        args.specificity_weight = MineConfig().specificity_weight
    if args.child:
        child_main(args)
        return {}

    args.work.mkdir(parents=True, exist_ok=True)
    build_base(args)
    # domainlm's first run counts the reference cold (private, emptied cache); "domainlm-warm" repeats
    # the full run with the reference counts cached, as when mining a second category.
    os.environ["DOMAINLM_CACHE"] = str(args.work / "cache")
    import shutil

    shutil.rmtree(args.work / "cache", ignore_errors=True)
    plan = {"domainlm": ("domainlm", "all"), "domainlm-warm": ("domainlm", "all"), "domainlm-sample": ("domainlm", args.baseline_docs),
            "soynlp": ("soynlp", args.baseline_docs), "kiwi": ("kiwi", args.baseline_docs), "frequency": ("frequency", "all")}
    runs = [run_child(name, *plan[name], args) for name in args.methods.split(",")]

    from domainlm.corpus import CorpusSpec
    from domainlm.vocab_build import corpus_texts

    nsmc = str(args.data / "reviews" / "nsmc_reviews.tsv.gz")
    heldout = list(corpus_texts(CorpusSpec(path=nsmc, where={"split": "test"})))
    general = list(corpus_texts(str(args.data / "general" / "ud_korean_sentences.txt")))
    for run in runs:
        evaluate(run, args, heldout, general)

    result = summarize(runs, args, len(heldout), len(general))
    from domainlm.io import write_json

    write_json(args.output, result)
    render(result)
    return result


def summarize(runs: list[dict], args, n_heldout: int, n_general: int) -> dict:
    by = {r["name"]: r for r in runs}
    main_run = by.get("domainlm")
    rows = []
    for r in runs:
        row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "terms"}
        row["first_terms"] = r["terms"][:25]
        rows.append(row)
    ratios = {}
    if main_run:
        for r in runs:
            if r["name"] == "domainlm":
                continue
            ratios[r["name"]] = {
                "heldout_gain": round(main_run["heldout_gain"] / r["heldout_gain"], 3) if r["heldout_gain"] > 0 else None,
                "throughput": round(main_run["throughput_mb_s"] / r["throughput_mb_s"], 2),
                "mb_per_cpu_second": round(main_run["mb_per_cpu_second"] / r["mb_per_cpu_second"], 2),
                "peak_rss": round(main_run["peak_rss_mb"] / r["peak_rss_mb"], 2),
            }
    targets = {}
    if main_run:
        targets = {
            "heldout_gain >= 0.15": main_run["heldout_gain"] >= 0.15,
            "throughput >= 5 MB/s": main_run["throughput_mb_s"] >= 5,
            "throughput >= 10x kiwi": ratios.get("kiwi", {}).get("throughput", 0) >= 10 if "kiwi" in ratios else None,
            "peak RSS <= 2 GB": main_run["peak_rss_mb"] <= 2048,
            "no fertility rise on UD": main_run["general_fertility_change"] <= 0,
        }
    return {
        "what": "mine-terms vs soynlp / kiwipiepy / frequency baselines: 2,000 slots of a 32k+2k kowiki WordPiece, "
                "filled by the same code, measured on the NSMC test split (held-out movies) and UD Korean",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "settings": {"slots": args.slots, "workers": args.workers, "baseline_docs": args.baseline_docs,
                     "specificity_weight": args.specificity_weight, "min_count": MIN_COUNT,
                     "heldout_texts": n_heldout, "general_texts": n_general},
        "runs": rows, "ratios_domainlm_vs": ratios, "targets": targets,
    }


def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="mining benchmark: NSMC (train → held-out test movies), 2,000 slots", title_justify="left")
    for c in ("method", "docs", "held-out gain", "UD fertility Δ", "MB/s", "MB per CPU s", "peak RSS MB", "seconds", "slot usage"):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in result["runs"]:
        t.add_row(r["name"], str(r["documents"]), f"{r['heldout_gain']:.1%}", f"{r['general_fertility_change']:+.2%}",
                  f"{r['throughput_mb_s']:.2f}", f"{r['mb_per_cpu_second']:.2f}", f"{r['peak_rss_mb']:.0f}", f"{r['seconds']:.1f}", f"{r['slot_usage']:.1%}")
    console = Console()
    console.print(t)
    if result["ratios_domainlm_vs"]:
        rt = Table(title="domainlm (full train) ÷ baseline", title_justify="left")
        for c in ("baseline", "held-out gain ×", "throughput ×", "MB per CPU s ×", "peak RSS ×"):
            rt.add_column(c, justify="left" if c == "baseline" else "right")
        for name, r in result["ratios_domainlm_vs"].items():
            rt.add_row(name, *(f"{v:.2f}" if v is not None else "—" for v in (r["heldout_gain"], r["throughput"], r["mb_per_cpu_second"], r["peak_rss"])))
        console.print(rt)
    console.print({k: v for k, v in result["targets"].items()})


if __name__ == "__main__":
    main()
