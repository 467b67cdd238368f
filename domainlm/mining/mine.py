"""`mine_terms`: category corpus + reference corpus + base tokenizer -> the terms worth a slot.

count words (parallel, bounded) -> derive WordPiece-shaped candidates -> specificity (log-odds z
against the reference) -> lazy-greedy selection by real re-tokenization -> terms.tsv / terms.json.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.corpus import NormalizeConfig, Normalizer, corpus_specs
from domainlm.corpus.files import ReadStats, long_line_note
from domainlm.corpus.reader import warn_read_notes
from domainlm.errors import MiningError
from domainlm.io import atomic_directory, check_output_dir, write_json
from domainlm.mining.base_tokenizer import BaseTokenizer, load_base_tokenizer
from domainlm.mining.config import MineConfig
from domainlm.mining.counting import BackgroundWork, WordCounts
from domainlm.mining.engines import CountingEngine, counting_engine
from domainlm.mining.pool import Pool, candidate_pool
from domainlm.mining.selection import Candidate, Selection, select
from domainlm.mining.wordpiece import WordPiece, pretokenize
from domainlm.progress import progress_bar
from vocab_tools.terms import Term, write_terms

# Below this, counts are too sparse for any term to reach a sensible min_count.
MIN_EOJEOLS = 5_000
EXAMPLE_DOCUMENTS = 20_000
# Reference words seen once are dropped in the counting child: they only feed specificity, where
# a count of 1 hardly moves the z-score, and they are the bulk of the reference's distinct words.
REFERENCE_MIN_COUNT = 2
EXAMPLE_CHARS = 80


@dataclass
class MiningResult:
    terms: list[Term]
    estimated_gain: float  # 1 - tokens_after / tokens_before on the mined category words (rare ones sampled)
    stats: dict = field(default_factory=dict)
    out_dir: Path | None = None


@contextmanager
def _collector_paused():
    """Python's cycle collector off for the run (as it was before, after).

    Mining builds millions of small lists and tuples (piece ends, candidates, word ids) and frees
    them by reference counting: it makes no reference cycles. Left on, the collector traverses
    all of them again every few thousand allocations and finds nothing (8% of the CPU time on 50k
    reviews, more on bigger corpora, which hold more objects).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_inputs(corpus, reference) -> None:
    if not corpus_specs(corpus):
        raise MiningError("No category corpus was given.", "Pass --corpus PATH (repeatable) or --category NAME.")
    if not corpus_specs(reference):
        raise MiningError(
            "No reference corpus was given: specificity is measured against general text.",
            "Pass --reference PATH, e.g. a Korean Wikipedia sample (general/kowiki_sample.txt.gz).",
        )


def check_slot_budget(base: BaseTokenizer, slots: int, explicit: bool = True) -> None:
    """A budget larger than the free [unusedN] slots cannot be filled: one rule, none free included
    (terms for a base without slots would only lead to a `vocab fill` that fails)."""
    free = len(base.free_slots)
    if not free:
        asked = f"--slots {slots} asks for terms, but t" if explicit else "T"
        raise MiningError(
            f"{asked}he base tokenizer '{base.name}' has no [unusedN] slots to fill.",
            "Choose a base with [unusedN] slots (kykim/bert-kor-base has 2,000; KoELECTRA 200), or build "
            "one with `domainlm vocab build --unused N`.",
        )
    if slots > free:
        raise MiningError(
            f"--slots {slots} is more than the {free:,} free [unusedN] slots of '{base.name}'.",
            f"Pass --slots {free} or fewer (or free slots first with `domainlm vocab unfill`).",
        )


def mine_terms(
    corpus,
    reference,
    base_tokenizer: str | os.PathLike | BaseTokenizer,
    config: MineConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    normalize: NormalizeConfig | None = None,
    category: str | None = None,
    keep: Callable[[object], bool] | None = None,
    force: bool = False,
) -> MiningResult:
    """Mine the terms of a category (see module doc).

    corpus / reference: CorpusSpec | path | list of them (remote s3:// / gs:// paths with
    `config.engine == "ray"`). `keep(document)` filters category documents (held-out exclusion,
    routing). Writes `terms.tsv`, `terms.json` and `mining.json` into `out_dir` as one unit: a
    folder holding anything but an earlier mine-terms output is refused unless `force`.
    """
    config = config or MineConfig()
    normalize = normalize or NormalizeConfig()
    check_inputs(corpus, reference)
    if out_dir is not None:
        check_output_dir(out_dir, "mine-terms", force)  # before the long run, not after it
    started = time.perf_counter()
    base = base_tokenizer if isinstance(base_tokenizer, BaseTokenizer) else load_base_tokenizer(str(base_tokenizer))
    config = _fit_slot_budget(config, base)
    engine = counting_engine(config)
    engine.resolve(corpus, reference)  # every path, before Ray starts or the long category count runs
    with engine.session(), _collector_paused():
        run = _Run(engine, config, base, normalize, category, started)
        result = _mine(run, corpus, reference, keep)
        if out_dir is not None:
            # One unit: two runs into one folder never leave terms.tsv of one and terms.json of the other.
            with atomic_directory(out_dir, command="mine-terms", force=force) as tmp:
                write_terms(result.terms, tmp / "terms.tsv", tmp / "terms.json")
                write_json(tmp / "mining.json", result.stats)
            result.out_dir = Path(out_dir)
    return result


def _fit_slot_budget(config: MineConfig, base: BaseTokenizer) -> MineConfig:
    """`config` with a slot budget `base` can fill, or a MiningError (`check_slot_budget`)."""
    explicit = "slots" in config.model_fields_set
    if not explicit and base.free_slots and config.slots > len(base.free_slots):
        # The default budget is a ceiling: a base with fewer slots (KoELECTRA: 200) fills all of them.
        config = config.model_copy(update={"slots": len(base.free_slots)})
    check_slot_budget(base, config.slots, explicit=explicit)
    return config


@dataclass
class _Run:
    """What one mining run goes by."""

    engine: CountingEngine
    config: MineConfig
    base: BaseTokenizer
    normalize: NormalizeConfig
    category: str | None
    started: float

    @property
    def counting(self) -> dict:
        """The counting settings the category and the reference share."""
        return dict(
            normalize=self.normalize,
            lowercase=self.base.lowercase,
            workers=self.config.workers,
            max_words=self.config.max_candidates,
        )


@dataclass
class _Selected:
    pool: Pool
    selection: Selection
    seconds_candidates: float
    seconds_select: float


def _mine(run: _Run, corpus, reference, keep) -> MiningResult:
    config = run.config
    cat = _count_category(run, corpus, keep)
    # The reference is counted in the background (a child process, or Ray) while this process
    # derives the category candidates (single-threaded work that would otherwise leave the other
    # cores idle).
    ref_workers = max(1, (config.workers or os.cpu_count() or 1) - 1)
    with run.engine.count_reference(
        reference,
        min_count=max(REFERENCE_MIN_COUNT, config.min_word_count),
        use_cache=config.cache_reference,
        description="counting reference words",
        **{**run.counting, "workers": ref_workers},
    ) as ref_job:
        chosen = _select_terms(cat, ref_job, run)
        base_wp = run.base.wordpiece()
    ref = chosen.pool.reference
    warn_read_notes(ReadStats(skipped_long_lines=ref.skipped_long_lines), "Reference corpus")
    terms = _terms(chosen, cat, base_wp, run)
    sel = chosen.selection
    gain = 1.0 - sel.tokens_after / sel.tokens_before if sel.tokens_before else 0.0
    return MiningResult(terms=terms, estimated_gain=gain, stats=_stats(run, cat, chosen, len(terms), gain))


def _count_category(run: _Run, corpus, keep) -> WordCounts:
    """The category corpus counted (with a sample of documents for the terms' examples), or a
    MiningError when it is too small to mine."""
    cat = run.engine.count_category(
        corpus,
        max_documents=run.config.max_documents,
        keep=keep,
        sample=EXAMPLE_DOCUMENTS,
        description="counting category words",
        **run.counting,
    )
    if cat.eojeols < MIN_EOJEOLS:
        raise MiningError(
            f"The category corpus is too small: {cat.documents:,} documents, {cat.eojeols:,} eojeols "
            f"({cat.raw_bytes / 1e3:,.1f} KB) after normalisation."
            if cat.documents
            else (
                "The category corpus is empty: no document with text was read"
                + (f" ({long_line_note(cat.skipped_long_lines)})" if cat.skipped_long_lines else "")
                + "."
            ),
            f"Mining needs at least {MIN_EOJEOLS:,} eojeols (about 500 reviews, 50 KB of text); "
            "1 MB or more gives stable terms. Add text with --corpus, or check --field / the `where` filter.",
        )
    warn_read_notes(ReadStats(skipped_long_lines=cat.skipped_long_lines), "Category corpus")
    return cat


def _select_terms(cat: WordCounts, ref_job: BackgroundWork, run: _Run) -> _Selected:
    """The candidate pool (the reference collected on the way) and the terms selected from it."""
    config = run.config
    t0 = time.perf_counter()
    wp = run.base.wordpiece()
    pool = candidate_pool(cat, ref_job, wp, config)
    t_candidates = time.perf_counter() - t0
    t0 = time.perf_counter()
    with progress_bar("selecting terms", total=config.slots, unit="terms") as update:
        sel = select(
            pool.candidates,
            pool.words,
            pool.counts,
            pool.tokens,
            wp,
            config.slots,
            config.specificity_weight,
            on_select=lambda n: update(completed=n),
            ends=pool.ends,
        )
    return _Selected(pool, sel, t_candidates, time.perf_counter() - t0)


def _terms(chosen: _Selected, cat: WordCounts, base_wp: WordPiece, run: _Run) -> list[Term]:
    pool, selected = chosen.pool, chosen.selection.selected
    examples = _examples(selected, pool.words, pool.counts, cat.sample, run.normalize, run.base.lowercase)
    return [
        Term(
            term=c.term,
            kind="continuation" if c.is_continuation else "word",
            score=round(c.score, 6),
            tokens_saved=c.saved,
            category_count=c.count,
            reference_count=c.ref_count,
            specificity_z=round(c.z, 3),
            base_pieces=_base_pieces(base_wp, c),
            example=examples.get(c.term, ""),
            category=run.category,
        )
        for c in selected
    ]


def _stats(run: _Run, cat: WordCounts, chosen: _Selected, selected: int, gain: float) -> dict:
    """mining.json: what was counted, found and selected, and how long each part took."""
    config, base, pool, sel = run.config, run.base, chosen.pool, chosen.selection
    ref = pool.reference
    seconds = time.perf_counter() - run.started
    return {
        "category": run.category,
        "base": base.name,
        "slots": config.slots,
        "free_slots": len(base.free_slots),
        "selected": selected,
        "estimated_gain": round(gain, 5),
        "tokens_before": sel.tokens_before,
        "tokens_after": sel.tokens_after,
        "category_documents": cat.documents,
        "category_bytes": cat.raw_bytes,
        "category_eojeols": cat.eojeols,
        "category_words": cat.words,
        "distinct_words": len(cat.counts),
        "words_used": len(pool.words),
        "category_skipped_long_lines": cat.skipped_long_lines,
        "reference_skipped_long_lines": ref.skipped_long_lines,
        "share_of_text_used": round(sum(pool.counts) / max(1, cat.words), 4),
        "reference_documents": ref.documents,
        "reference_bytes": ref.raw_bytes,
        "reference_words": ref.words,
        "candidates": pool.found,
        "candidates_scored": len(pool.candidates),
        "evaluations": sel.evaluations,
        "prune_threshold": max(cat.prune_threshold, ref.prune_threshold),
        "workers": cat.workers,
        "engine": run.engine.name,
        "seconds": {
            "count_category": round(cat.seconds, 2),
            "count_reference": round(ref.seconds, 2),
            "reference_cached": ref.cached,
            "candidates": round(chosen.seconds_candidates, 2),
            "reference_wait": round(pool.reference_wait, 2),
            "select": round(chosen.seconds_select, 2),
            "total": round(seconds, 2),
        },
        # Raw category text per second of the whole run (reference counting and selection included).
        "throughput_mb_s": round(cat.raw_bytes / 1e6 / seconds, 2) if seconds else None,
        "config": config.model_dump(),
    }


def _base_pieces(wp: WordPiece, c: Candidate) -> list[str]:
    pieces = wp.tokenize_continuation(c.body) if c.is_continuation else wp.tokenize_word(c.term)
    return pieces or ["[UNK]"]


def _examples(
    selected: list[Candidate],
    words: list[str],
    counts: list[int],
    sample: list[str],
    normalize: NormalizeConfig,
    lowercase: bool,
) -> dict[str, str]:
    """One context a term: a sampled document containing its most frequent word, cut around it."""
    want: dict[str, list[str]] = {}
    for c in selected:
        best = max(c.words, key=lambda i: counts[i])
        want.setdefault(words[best], []).append(c.term)
    out: dict[str, str] = {}
    normalizer = Normalizer(normalize)
    for doc in sample:
        text = normalizer(doc)
        hits = [w for w in set(pretokenize(text, lowercase)) if w in want]
        for word in hits:
            pos = (text.lower() if lowercase else text).find(word)
            lo = max(0, pos - EXAMPLE_CHARS // 2)
            snippet = text[lo : lo + EXAMPLE_CHARS]
            for term in want.pop(word):
                out[term] = snippet.strip()
        if not want:
            break
    for word, terms in want.items():  # not in the sample: the word itself is still a context
        for term in terms:
            out[term] = word
    return out
