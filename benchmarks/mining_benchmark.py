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

  domainlm-before the same `mine_terms` from the code before issue 14 (commit BEFORE_COMMIT, extracted
                  with `git archive`): the named baseline of the speed-up, run in the same benchmark;
                  it and domainlm run --repeat times (3), alternating, and each row is its median run

Scaling (issue 14): category corpora of 1x, 2x, 4x, 8x a unit of DISTINCT text (NSMC train, then the
shopping reviews, then the Wikipedia sample, cut at whole documents: 10 MB a unit, 80 MB at 8x), mined
by the local engine and by the Ray engine on a local instance; wall time and peak RSS of the whole
process tree, and the Ray engine's overhead ratio. Then the Ray engine with 1, 2 and 4 local worker
processes on the 4x corpus: the corpus pass (which Ray spreads) against the driver's candidate and
selection stages (which it does not). The reference is recounted in every scaling run (no cache).

    python benchmarks/mining_benchmark.py [--data ../shared/data] [--baseline-docs 100000] [--workers 2] [--quick]

Writes benchmarks/results/mining.json (--quick: mining_quick.json, a short check on small inputs),
benchmarks/results/mining_scaling.png, and prints rich tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIN_COUNT = 5
# The code the speed-up of issue 14 is measured against.
BEFORE_COMMIT = "89b5dd7"
SCALES = (1, 2, 4, 8)
RAY_WORKERS = (1, 2, 4)


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


def filter_ranked(ranked, base_dir: Path, slots: int) -> list[str]:
    """The shared filter: keep, in rank order, strings the base vocab does not have that span 2+ pieces."""
    from domainlm.mining.base_tokenizer import load_base_tokenizer
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
    import domainlm
    from domainlm.corpus import CorpusSpec
    from domainlm.mining import MineConfig, mine_terms

    spec = CorpusSpec(path=str(args.data / "reviews" / "nsmc_reviews.tsv.gz"), where={"split": "train"}, limit=limit)
    result = mine_terms(
        spec,
        str(args.data / "general" / "kowiki_sample.txt.gz"),
        str(args.base),
        MineConfig(slots=args.slots, workers=args.workers, specificity_weight=args.specificity_weight),
        out_dir=args.method_dir,
    )
    s = result.stats
    return {
        "raw_bytes": s["category_bytes"],
        "reference_bytes": s["reference_bytes"],
        "documents": s["category_documents"],
        "terms": [t.term for t in result.terms],
        "estimated_gain": s["estimated_gain"],
        "stage_seconds": s["seconds"],
        "code": str(Path(domainlm.__file__).parent),
    }


def run_scale(args, limit: int | None) -> dict:
    """One scaling point: `mine_terms` on --corpus-file with the local or the Ray engine."""
    from domainlm.mining import MineConfig, mine_terms

    engine = "ray" if args.method == "scale-ray" else "local"
    ray_init = 0.0
    if engine == "ray":
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_init = time.perf_counter() - t0
    config = MineConfig(
        slots=args.slots,
        workers=args.workers,
        specificity_weight=args.specificity_weight,
        engine=engine,
        cache_reference=False,
    )
    result = mine_terms(
        str(args.corpus_file),
        str(args.data / "general" / "kowiki_sample.txt.gz"),
        str(args.base),
        config,
        out_dir=args.method_dir,
    )
    s = result.stats
    return {
        "raw_bytes": s["category_bytes"],
        "documents": s["category_documents"],
        "terms": [t.term for t in result.terms],
        "estimated_gain": s["estimated_gain"],
        "stage_seconds": s["seconds"],
        "ray_init_seconds": round(ray_init, 2),
        "engine": engine,
        "workers": args.workers,
    }


def run_soynlp(args, limit: int | None) -> dict:
    from soynlp.word import WordExtractor

    texts, raw = _category_texts(args.data, limit)
    extractor = WordExtractor(min_frequency=MIN_COUNT, max_left_length=10, max_right_length=6)
    extractor.train(texts)
    scores = extractor.extract()
    ranked = sorted(scores, key=lambda w: -scores[w].cohesion_forward)
    return {
        "raw_bytes": raw,
        "documents": len(texts),
        "terms": filter_ranked(ranked, args.base, args.slots),
        "candidates": len(scores),
    }


def run_kiwi(args, limit: int | None) -> dict:
    from kiwipiepy import Kiwi

    texts, raw = _category_texts(args.data, limit)
    kiwi = Kiwi()
    # The defaults (min_score=0.25, lm_filter=True) keep only ~34 words on 100k reviews: too few
    # for 2,000 slots. Without the LM filter and with min_score=0 it proposes ~18k on 30k reviews.
    found = kiwi.extract_words(texts, min_cnt=MIN_COUNT, max_word_len=10, min_score=0.0, lm_filter=False)
    ranked = [form for form, score, freq, pos_score in sorted(found, key=lambda r: -r[1])]
    return {
        "raw_bytes": raw,
        "documents": len(texts),
        "terms": filter_ranked(ranked, args.base, args.slots),
        "candidates": len(found),
    }


def run_frequency(args, limit: int | None) -> dict:
    from domainlm.mining.base_tokenizer import load_base_tokenizer
    from domainlm.mining.wordpiece import pretokenize

    texts, raw = _category_texts(args.data, limit)
    counts: Counter = Counter()
    for text in texts:
        counts.update(pretokenize(text))
    wp = load_base_tokenizer(str(args.base)).wordpiece()
    scored = [(c * (wp.count_word(w) - 1), w) for w, c in counts.items() if c >= MIN_COUNT]
    ranked = [w for s, w in sorted(scored, reverse=True) if s > 0]
    return {
        "raw_bytes": raw,
        "documents": len(texts),
        "terms": filter_ranked(ranked, args.base, args.slots),
        "candidates": len(scored),
    }


METHODS = {
    "domainlm": run_domainlm,
    "soynlp": run_soynlp,
    "kiwi": run_kiwi,
    "frequency": run_frequency,
    "scale-local": run_scale,
    "scale-ray": run_scale,
}


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


def before_code(args) -> Path:
    """The package as it was at BEFORE_COMMIT (domainlm + vocab_tools), extracted once under --work."""
    target = args.work / f"code-{BEFORE_COMMIT}"
    if not (target / "domainlm" / "__init__.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", BEFORE_COMMIT, "domainlm", "vocab_tools"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_child(
    name: str,
    method: str,
    docs: str,
    args,
    *,
    workers: int | None = None,
    corpus_file: Path | None = None,
    code: Path | None = None,
) -> dict:
    """Run one method in a subprocess; sample the RSS of its whole process tree (workers included)."""
    import psutil

    method_dir = args.work / name
    if method_dir.exists():
        import shutil

        shutil.rmtree(method_dir)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--method",
        method,
        "--docs",
        docs,
        "--method-dir",
        str(method_dir),
        "--data",
        str(args.data),
        "--work",
        str(args.work),
        "--slots",
        str(args.slots),
        "--workers",
        str(workers or args.workers),
        "--specificity-weight",
        str(args.specificity_weight),
    ]
    if corpus_file is not None:
        cmd += ["--corpus-file", str(corpus_file)]
    env = {**os.environ, "DOMAINLM_PROGRESS": "0"}
    if code is not None:  # the older package shadows the installed one
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    peak = [0]

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
            # Not proc.poll(): it would reap the child before os.wait4 can collect its CPU time.
            while not finished.is_set():
                try:
                    rss = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
                except psutil.Error:
                    rss = 0
                peak[0] = max(peak[0], rss)
                time.sleep(0.05)
        except psutil.Error:
            pass

    finished = threading.Event()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 gives the child's CPU time, its reaped worker processes included.
    _, status, usage = os.wait4(proc.pid, 0)
    finished.set()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    sampler.join()
    if code != 0:
        raise SystemExit(f"{name} failed with exit code {code}")
    out = json.loads((method_dir / "child.json").read_text(encoding="utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    out.update(
        name=name,
        method=method,
        docs=docs,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=cpu,
        peak_rss_mb=peak[0] / 2**20,
        throughput_mb_s=out["raw_bytes"] / 1e6 / out["seconds"],
        # On a shared machine wall time depends on the neighbours; CPU time much less so.
        mb_per_cpu_second=out["raw_bytes"] / 1e6 / cpu,
    )
    print(
        f"{name}: {len(out['terms'])} terms, {out['seconds']:.1f} s ({cpu:.1f} CPU s), {out['throughput_mb_s']:.2f} "
        "MB/s, "
        f"peak RSS {out['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
    )
    return out


def evaluate(run: dict, args, heldout: list[str], general: list[str]) -> None:
    from domainlm.vocab_build import fill_from_terms
    from vocab_tools.metrics import measure

    method_dir = args.work / run["name"]
    filled = fill_from_terms(
        args.base, method_dir / "terms.tsv", method_dir / "filled", category="movies", truncate=True
    )
    tokenizers = {"before": args.base, "after": method_dir / "filled"}
    h = measure(heldout, tokenizers)
    g = measure(general, tokenizers)
    run.update(
        filled=len(filled.filled),
        rejected=len(filled.rejected),
        heldout_fertility_before=h["tokenizers"]["before"]["fertility"],
        heldout_fertility_after=h["tokenizers"]["after"]["fertility"],
        heldout_gain=h["compression_gain"]["after"],
        slot_usage=h["tokenizers"]["after"]["slot_usage"],
        general_fertility_before=g["tokenizers"]["before"]["fertility"],
        general_fertility_after=g["tokenizers"]["after"]["fertility"],
        general_fertility_change=g["tokenizers"]["after"]["fertility"] / g["tokenizers"]["before"]["fertility"] - 1,
    )


def build_base(args) -> None:
    if (args.base / "tokenizer.json").is_file():
        return
    from domainlm.vocab_build import build_vocab_from_corpus

    t0 = time.perf_counter()
    built = build_vocab_from_corpus(
        str(args.data / "general" / "kowiki_sample.txt.gz"), args.base, vocab_size=32000, unused=2000
    )
    print(f"built base vocab ({built.vocab_size:,} entries) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def _run_method(name: str, plan: dict, args) -> dict:
    if name == "domainlm":  # cold: the reference is counted (and cached for domainlm-warm) in every repeat
        shutil.rmtree(args.work / "cache", ignore_errors=True)
    if name != "domainlm-before":
        return run_child(name, *plan[name], args)
    # A cold reference count of its own, as the main run's, in a cache of its own: the main run's
    # cache stays for domainlm-warm (an earlier harness emptied it, so warm ran cold).
    before_cache = args.work / "cache-before"
    shutil.rmtree(before_cache, ignore_errors=True)
    os.environ["DOMAINLM_CACHE"] = str(before_cache)
    try:
        return run_child(name, *plan[name], args, code=before_code(args))
    finally:
        os.environ["DOMAINLM_CACHE"] = str(args.work / "cache")
        shutil.rmtree(before_cache, ignore_errors=True)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data", type=Path, default=Path(os.environ.get("DOMAINLM_SHARED_DATA", REPO.parent / "shared" / "data"))
    )
    p.add_argument(
        "--work", type=Path, default=REPO / "runs" / "bench_mining", help="Base vocab cache and per-method outputs"
    )
    p.add_argument("--baseline-docs", default="100000", help="Train reviews given to the slow baselines (soynlp, kiwi)")
    p.add_argument("--slots", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--specificity-weight", type=float, default=None, help="domainlm's knob (default: MineConfig's)")
    p.add_argument("--methods", default="domainlm,domainlm-before,domainlm-warm,domainlm-sample,soynlp,kiwi,frequency")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="Result JSON (default: benchmarks/results/mining.json, --quick: mining_quick.json)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="A short check of every part: 50k train reviews, 5k for the slow "
        "baselines, a 1 MB scaling unit (minutes instead of ~20)",
    )
    p.add_argument(
        "--scale-unit-mb", type=float, default=None, help="Size of the 1x scaling corpus (default 10, --quick 1)"
    )
    p.add_argument("--no-scaling", action="store_true", help="Skip the scaling and worker measurements")
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="Runs of domainlm and domainlm-before, alternating (each row: its median run; default 3, --quick 1)",
    )
    p.add_argument("--corpus-file", type=Path, help=argparse.SUPPRESS)
    # child mode
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--docs", help=argparse.SUPPRESS)
    p.add_argument("--method-dir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.base = args.work / "base"
    if args.quick and args.baseline_docs == "100000":
        args.baseline_docs = "5000"
    main_docs = "50000" if args.quick else "all"
    args.repeat = args.repeat or (1 if args.quick else 3)
    unit_mb = args.scale_unit_mb or (1.0 if args.quick else 10.0)
    if args.output is None:
        args.output = REPO / "benchmarks" / "results" / ("mining_quick.json" if args.quick else "mining.json")
    if args.specificity_weight is None:
        from domainlm.mining import MineConfig

        args.specificity_weight = MineConfig().specificity_weight
    if args.child:
        child_main(args)
        return {}

    # The harness deletes and rewrites folders under --work (method outputs, caches): only in a
    # folder it made itself (the project's ownership marker), never in one holding a user's files.
    from vocab_tools.atomic import check_output_dir, write_marker
    from vocab_tools.errors import OutputError

    try:
        check_output_dir(args.work, "mining-benchmark")
    except OutputError as e:
        raise SystemExit(f"{e.message}\nPass --work with a new or empty folder.") from None
    args.work.mkdir(parents=True, exist_ok=True)
    write_marker(args.work, "mining-benchmark")
    build_base(args)
    # domainlm's first run counts the reference cold (private, emptied cache); "domainlm-warm" repeats
    # the full run with the reference counts cached, as when mining a second category.
    os.environ["DOMAINLM_CACHE"] = str(args.work / "cache")
    shutil.rmtree(args.work / "cache", ignore_errors=True)
    plan = {
        "domainlm": ("domainlm", main_docs),
        "domainlm-before": ("domainlm", main_docs),
        "domainlm-warm": ("domainlm", main_docs),
        "domainlm-sample": ("domainlm", args.baseline_docs),
        "soynlp": ("soynlp", args.baseline_docs),
        "kiwi": ("kiwi", args.baseline_docs),
        "frequency": ("frequency", main_docs),
    }
    runs = []
    names = args.methods.split(",")
    # The speed-up is a ratio of two runs on a machine whose speed drifts by several percent from
    # minute to minute: domainlm and domainlm-before run --repeat times, alternating, and each row
    # is its median run (by CPU time), with every repeat kept in the JSON.
    paired = [n for n in ("domainlm", "domainlm-before") if n in names] if args.repeat > 1 else []
    repeats: dict[str, list[dict]] = {n: [] for n in paired}
    for _ in range(args.repeat if paired else 0):
        for name in paired:
            repeats[name].append(_run_method(name, plan, args))
    for name in names:
        if name in repeats:
            done = sorted(repeats[name], key=lambda r: r["cpu_seconds"])
            run = dict(done[len(done) // 2])
            run["repeats"] = [
                {
                    "cpu_seconds": round(r["cpu_seconds"], 2),
                    "wall_seconds": round(r["wall_seconds"], 2),
                    "peak_rss_mb": round(r["peak_rss_mb"]),
                }
                for r in repeats[name]
            ]
            runs.append(run)
        else:
            runs.append(_run_method(name, plan, args))
    scaling = None if args.no_scaling else measure_scaling(args, unit_mb)

    from domainlm.corpus import CorpusSpec
    from domainlm.vocab_build import corpus_texts

    nsmc = str(args.data / "reviews" / "nsmc_reviews.tsv.gz")
    heldout = list(corpus_texts(CorpusSpec(path=nsmc, where={"split": "test"})))
    general = list(corpus_texts(str(args.data / "general" / "ud_korean_sentences.txt")))
    for run in runs:
        evaluate(run, args, heldout, general)

    result = summarize(runs, args, len(heldout), len(general))
    if scaling is not None:
        result["scaling"] = scaling
        chart = plot_scaling(
            scaling, args.output.with_name("mining_scaling_quick.png" if args.quick else "mining_scaling.png")
        )
        result["scaling"]["chart"] = str(chart.relative_to(REPO) if chart.is_relative_to(REPO) else chart)
    from domainlm.io import write_json

    write_json(args.output, result)
    render(result)
    return result


# ---------------------------------------------------------------- scaling (issue 14)


def scaling_corpora(args, unit_mb: float) -> dict[int, Path]:
    """scale_<k>x.txt: the first k x unit_mb MB of distinct documents (NSMC train, shopping, Wikipedia)."""
    from domainlm.corpus import CorpusSpec, iter_texts

    unit = int(unit_mb * 1e6)
    files = {k: args.work / "scaling" / f"scale_{k}x_{unit_mb:g}mb.txt" for k in SCALES}
    if all(f.is_file() for f in files.values()):
        return files
    sources = [
        CorpusSpec(path=str(args.data / "reviews" / "nsmc_reviews.tsv.gz"), where={"split": "train"}),
        CorpusSpec(path=str(args.data / "reviews" / "naver_shopping_50k.tsv")),
        CorpusSpec(path=str(args.data / "general" / "kowiki_sample.txt.gz")),
    ]
    (args.work / "scaling").mkdir(parents=True, exist_ok=True)
    outs = {k: open(f, "w", encoding="utf-8") for k, f in files.items()}
    size = 0
    try:
        for text in iter_texts(sources):
            text = " ".join(text.split())
            if not text:
                continue
            size += len(text.encode("utf-8")) + 1
            live = [k for k in SCALES if size <= k * unit]
            if not live:
                break
            for k in live:
                outs[k].write(text + "\n")
    finally:
        for fh in outs.values():
            fh.close()
    if size < SCALES[-1] * unit:
        print(f"note: only {size / 1e6:.1f} MB of distinct text for the {SCALES[-1]}x corpus", file=sys.stderr)
    return files


def measure_scaling(args, unit_mb: float) -> dict:
    corpora = scaling_corpora(args, unit_mb)
    # --quick: the Ray engine at the smallest and largest size only, and 1-2 workers (its start-up dominates).
    ray_scales = (SCALES[0], SCALES[-1]) if args.quick else SCALES
    ray_workers = RAY_WORKERS[:2] if args.quick else RAY_WORKERS
    rows = []
    for k in SCALES:
        for method in ("scale-local", "scale-ray") if k in ray_scales else ("scale-local",):
            r = run_child(f"{method}-{k}x", method, "all", args, corpus_file=corpora[k])
            rows.append(
                {
                    "scale": k,
                    "engine": r["engine"],
                    "mb": round(r["raw_bytes"] / 1e6, 2),
                    "documents": r["documents"],
                    "wall_seconds": round(r["wall_seconds"], 2),
                    "cpu_seconds": round(r["cpu_seconds"], 2),
                    "peak_rss_mb": round(r["peak_rss_mb"], 1),
                    "ray_init_seconds": r["ray_init_seconds"],
                    "stage_seconds": r["stage_seconds"],
                    "estimated_gain": r["estimated_gain"],
                }
            )
    by = {(r["scale"], r["engine"]): r for r in rows}
    overhead = {f"{k}x": round(by[k, "ray"]["wall_seconds"] / by[k, "local"]["wall_seconds"], 2) for k in ray_scales}
    workers = []
    for n in ray_workers:
        r = run_child(f"scale-ray-workers-{n}", "scale-ray", "all", args, workers=n, corpus_file=corpora[4])
        st = r["stage_seconds"]
        # The driver's own work; its wait for the reference count (on the workers) belongs to the corpus pass.
        driver = st["candidates"] - st["reference_wait"] + st["select"]
        corpus_pass = st["count_category"] + st["reference_wait"]
        workers.append(
            {
                "workers": n,
                "corpus_pass_seconds": round(corpus_pass, 2),
                "driver_seconds": round(driver, 2),
                "total_seconds": st["total"],
                "wall_seconds": round(r["wall_seconds"], 2),
                "ray_init_seconds": r["ray_init_seconds"],
                "peak_rss_mb": round(r["peak_rss_mb"], 1),
                "driver_share": round(driver / st["total"], 3) if st["total"] else None,
            }
        )
    one = workers[0]
    # Amdahl: the corpus pass divides over workers, the driver's stages do not.
    projection = {
        str(n): round(one["driver_seconds"] + one["corpus_pass_seconds"] / n, 1) for n in (1, 2, 4, 8, 16, 64)
    }
    return {
        "what": f"scaling with corpus size ({unit_mb:g} MB of distinct text a unit) and with Ray workers (4x corpus); "
        f"{os.cpu_count()} CPUs here, so more than {os.cpu_count()} workers share them. cpu_seconds of Ray "
        "runs: the driver and the processes it reaped (not all of Ray's workers); peak RSS: the whole process "
        "tree, Ray's raylet, GCS and workers included (the object store's shared memory counts in each)",
        "unit_mb": unit_mb,
        "rows": rows,
        "ray_overhead_wall_ratio": overhead,
        "workers": workers,
        "projected_seconds_by_workers": projection,
        "linearity": {
            e: round(
                (by[SCALES[-1], e]["wall_seconds"] / by[SCALES[0], e]["wall_seconds"]) / (SCALES[-1] / SCALES[0]), 2
            )
            for e in ("local", "ray")
        },
        "rss_growth_8x_vs_1x": {
            e: round(by[SCALES[-1], e]["peak_rss_mb"] / by[SCALES[0], e]["peak_rss_mb"], 2) for e in ("local", "ray")
        },
    }


def plot_scaling(scaling: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = scaling["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for engine, style in (("local", "o-"), ("ray", "s--")):
        pts = [r for r in rows if r["engine"] == engine]
        axes[0].plot([r["mb"] for r in pts], [r["wall_seconds"] for r in pts], style, label=f"{engine} engine")
        axes[1].plot([r["mb"] for r in pts], [r["peak_rss_mb"] for r in pts], style, label=f"{engine} engine")
    axes[0].set(xlabel="category corpus (MB of distinct text)", ylabel="wall seconds", title="time vs corpus size")
    axes[1].set(
        xlabel="category corpus (MB of distinct text)",
        ylabel="peak RSS of the process tree (MB)",
        title="memory vs corpus size",
        ylim=(0, None),
    )
    w = scaling["workers"]
    xs = [r["workers"] for r in w]
    axes[2].bar(
        [x - 0.2 for x in xs], [r["corpus_pass_seconds"] for r in w], width=0.4, label="corpus pass (Ray workers)"
    )
    axes[2].bar(
        [x + 0.2 for x in xs], [r["driver_seconds"] for r in w], width=0.4, label="candidates + selection (driver)"
    )
    top = max([r["corpus_pass_seconds"] for r in w] + [r["driver_seconds"] for r in w] + [1])
    axes[2].set(
        xlabel="local Ray worker processes",
        ylabel="seconds",
        title="4x corpus: what workers speed up",
        xticks=xs,
        ylim=(0, top * 1.35),
    )  # room for the legend above the bars
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
                "heldout_gain": round(main_run["heldout_gain"] / r["heldout_gain"], 3)
                if r["heldout_gain"] > 0
                else None,
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
            # Issue 14: per CPU-second, the steadier figure on a shared machine.
            "MB per CPU-s >= 10x kiwi": ratios["kiwi"]["mb_per_cpu_second"] >= 10 if "kiwi" in ratios else None,
            # On the unrounded ratio: 1.496 must not pass as 1.50.
            "MB per CPU-s >= 1.5x domainlm-before": (
                main_run["mb_per_cpu_second"] / by["domainlm-before"]["mb_per_cpu_second"] >= 1.5
                if "domainlm-before" in by
                else None
            ),
            "held-out gain unchanged vs domainlm-before": (
                abs(main_run["heldout_gain"] - by["domainlm-before"]["heldout_gain"]) < 0.001
                if "domainlm-before" in by
                else None
            ),
        }
    return {
        "what": "mine-terms vs soynlp / kiwipiepy / frequency baselines: 2,000 slots of a 32k+2k kowiki WordPiece, "
        "filled by the same code, measured on the NSMC test split (held-out movies) and UD Korean",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "settings": {
            "slots": args.slots,
            "workers": args.workers,
            "baseline_docs": args.baseline_docs,
            "quick": args.quick,
            "before_commit": BEFORE_COMMIT,
            "specificity_weight": args.specificity_weight,
            "min_count": MIN_COUNT,
            "heldout_texts": n_heldout,
            "general_texts": n_general,
        },
        "runs": rows,
        "ratios_domainlm_vs": ratios,
        "targets": targets,
    }


def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="mining benchmark: NSMC (train → held-out test movies), 2,000 slots", title_justify="left")
    for c in (
        "method",
        "docs",
        "held-out gain",
        "UD fertility Δ",
        "MB/s",
        "MB per CPU s",
        "peak RSS MB",
        "seconds",
        "slot usage",
    ):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in result["runs"]:
        t.add_row(
            r["name"],
            str(r["documents"]),
            f"{r['heldout_gain']:.1%}",
            f"{r['general_fertility_change']:+.2%}",
            f"{r['throughput_mb_s']:.2f}",
            f"{r['mb_per_cpu_second']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['seconds']:.1f}",
            f"{r['slot_usage']:.1%}",
        )
    console = Console()
    console.print(t)
    if result["ratios_domainlm_vs"]:
        rt = Table(title="domainlm (full train) ÷ baseline", title_justify="left")
        for c in ("baseline", "held-out gain ×", "throughput ×", "MB per CPU s ×", "peak RSS ×"):
            rt.add_column(c, justify="left" if c == "baseline" else "right")
        for name, r in result["ratios_domainlm_vs"].items():
            rt.add_row(
                name,
                *(
                    f"{v:.2f}" if v is not None else "—"
                    for v in (r["heldout_gain"], r["throughput"], r["mb_per_cpu_second"], r["peak_rss"])
                ),
            )
        console.print(rt)
    console.print({k: v for k, v in result["targets"].items()})
    scaling = result.get("scaling")
    if scaling:
        st = Table(
            title=f"scaling: {scaling['unit_mb']:g} MB of distinct text a unit (local engine vs Ray on a local "
            "instance)",
            title_justify="left",
        )
        for c in ("size", "engine", "MB", "wall s", "CPU s", "peak RSS MB", "Ray init s", "held-out est. gain"):
            st.add_column(c, justify="left" if c in ("size", "engine") else "right")
        for r in scaling["rows"]:
            st.add_row(
                f"{r['scale']}x",
                r["engine"],
                f"{r['mb']:.1f}",
                f"{r['wall_seconds']:.1f}",
                f"{r['cpu_seconds']:.1f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['ray_init_seconds']:.1f}",
                f"{r['estimated_gain']:.1%}",
            )
        console.print(st)
        console.print(
            f"Ray ÷ local wall time: {scaling['ray_overhead_wall_ratio']}; "
            f"8x vs 1x time ÷ 8 (1 = linear): {scaling['linearity']}; peak RSS 8x ÷ 1x: "
            f"{scaling['rss_growth_8x_vs_1x']}"
        )
        wt = Table(title="Ray workers on the 4x corpus: corpus pass vs the driver's stages", title_justify="left")
        for c in ("workers", "corpus pass s", "driver s", "driver share", "total s", "peak RSS MB"):
            wt.add_column(c, justify="right")
        for r in scaling["workers"]:
            wt.add_row(
                str(r["workers"]),
                f"{r['corpus_pass_seconds']:.1f}",
                f"{r['driver_seconds']:.1f}",
                f"{r['driver_share']:.0%}",
                f"{r['total_seconds']:.1f}",
                f"{r['peak_rss_mb']:.0f}",
            )
        console.print(wt)
        console.print(
            f"projected seconds by workers (Amdahl, from 1 worker): {scaling['projected_seconds_by_workers']}; "
            f"chart: {scaling['chart']}"
        )


if __name__ == "__main__":
    main()
