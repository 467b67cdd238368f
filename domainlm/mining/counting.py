"""Count pre-tokenized words of a corpus in parallel, in bounded memory.

Why words and not substrings: a Counter of distinct words is far smaller than one of all their
substrings, and every candidate count can be derived from the word counts afterwards (a candidate
occurs once per occurrence of each word that contains it). So the corpus is read once, here.

Layout: the main process reads documents (`CorpusReader`), joins them into batches of about
`BATCH_CHARS` characters and puts them on a bounded queue; `workers - 1` child processes
normalise (`domainlm.corpus.Normalizer`, the same rules as vocab building and training),
pre-tokenize as BertPreTokenizer does and count, and the main process counts the batches the
queue has no room for. Each child returns its Counter at the end; the main process merges them
into its own.

Memory bound: a Counter holds at most `max_words` distinct words. When it grows past that, every
word with a count below a threshold is dropped (the smallest threshold that leaves the Counter
at most half full). So the peak is about `(workers + 1) x max_words` entries (~120 bytes each for
short Korean words: 2M words -> ~240 MB a process) plus `2 x (workers - 1)` batches in the queue,
whatever the corpus size. The price is an under-count: a word's final count can be short by at
most the sum of the thresholds it was pruned under (`WordCounts.prune_threshold` reports the
largest), which only matters for words near that threshold, far below any useful `min_count`
on corpora big enough to need pruning.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full
from typing import Any, Protocol

from domainlm.corpus import CorpusReader, NormalizeConfig, Normalizer
from domainlm.corpus.fastread import chunk_texts, raw_chunks, raw_plan
from domainlm.corpus.normalize import WORD_CHARS
from domainlm.errors import CorpusError, MiningError
from domainlm.io import atomic_write
from domainlm.mining.wordpiece import pretokenizer_for
from domainlm.progress import progress_bar

BATCH_CHARS = 1 << 20
# Below this much raw text, starting processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20


@dataclass
class WordCounts:
    counts: Counter
    documents: int = 0
    raw_bytes: int = 0  # UTF-8 bytes of the raw document texts read
    characters: int = 0  # characters after normalisation
    words: int = 0  # pre-tokenized words (eojeols split at punctuation), total
    eojeols: int = 0  # whitespace-separated units after normalisation, total
    prune_threshold: int = 0  # largest count below which words were dropped (0: never pruned)
    seconds: float = 0.0
    workers: int = 1
    sources: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)  # a uniform sample of raw documents (see `sample`)
    cached: bool = False  # read from the cache (`count_words_cached`)
    skipped_long_lines: int = 0  # lines over the long-line limit, not read as documents (corpus.reader's rule)


def prune(counter: Counter, max_words: int) -> int:
    """Drop the rarest words so that at most half of `max_words` remain; return the count threshold.

    The threshold is the smallest count t such that at most max_words // 2 words have count >= t
    (found from a histogram of the counts, so one pass to choose and one to delete).
    """
    keep = max_words // 2
    histogram = Counter(counter.values())
    remaining = len(counter)
    threshold = 1
    for value in sorted(histogram):
        if remaining <= keep:
            break
        remaining -= histogram[value]
        threshold = value + 1
    for word in [w for w, c in counter.items() if c < threshold]:
        del counter[word]
    return threshold


class Tally:
    """Normalise and count batches of text; one per process."""

    def __init__(self, normalize: NormalizeConfig, lowercase: bool, max_words: int, sample_size: int = 0):
        self.sample_size = sample_size
        self.sample: list[str] = []
        self.documents = 0
        self._step = 1
        self.normalizer = Normalizer(normalize)
        self.pretokenize = pretokenizer_for(WORD_CHARS, self.normalizer.config.punctuation)
        self.lowercase = lowercase
        self.max_words = max_words
        self.counts: Counter = Counter()
        self.raw_bytes = self.characters = self.words = self.eojeols = self.prune_threshold = 0

    def add(self, batch: str) -> None:
        # Raw size: the joining newlines replaced spaces/newlines of the same byte size, minus the joins.
        self.raw_bytes += len(batch.encode("utf-8")) - batch.count("\n")
        text = self.normalizer(batch)
        words = self.pretokenize(text, self.lowercase)
        self.characters += len(text)
        self.words += len(words)
        self.eojeols += text.count(" ") + text.count("\n") + (1 if text else 0)
        self.counts.update(words)
        if len(self.counts) > self.max_words:
            self.prune_threshold = max(self.prune_threshold, prune(self.counts, self.max_words))

    def add_texts(self, texts: list[str]) -> None:
        """Documents of the fast path (`domainlm.corpus.fastread`): count them, keep the sample, then `add`."""
        texts = [t for t in texts if t]
        if self.sample_size:
            # Every step-th document (by its index in the whole stream), the step doubling when
            # the sample fills up; visiting only those is the same sample as testing every one.
            first = self.documents
            g = first + (-first) % self._step
            while g < first + len(texts):
                self.sample.append(texts[g - first])
                if len(self.sample) >= 2 * self.sample_size:
                    self.sample[:] = self.sample[::2]
                    self._step *= 2
                    g = (g // self._step + 1) * self._step
                else:
                    g += self._step
        self.documents += len(texts)
        if texts:
            self.add("\n".join(texts))

    def result(self) -> tuple:
        return (
            self.counts,
            self.raw_bytes,
            self.characters,
            self.words,
            self.eojeols,
            self.prune_threshold,
            self.documents,
            self.sample,
        )


def _worker(queue, results, normalize: NormalizeConfig, lowercase: bool, max_words: int) -> None:
    tally = Tally(normalize, lowercase, max_words)
    while True:
        batch = queue.get()
        if batch is None:
            break
        tally.add(batch)
    results.put(tally.result())


def _raw_worker(
    queue, results, plan, normalize: NormalizeConfig, lowercase: bool, max_words: int, sample_size: int
) -> None:
    try:
        tally = Tally(normalize, lowercase, max_words, sample_size)
        while True:
            item = queue.get()
            if item is None:
                break
            index, chunk = item
            tally.add_texts(chunk_texts(plan[index], chunk))
        results.put(tally.result())
    except BaseException as e:  # noqa: BLE001 - a decoding error goes back to the parent to be raised
        results.put(e)


def _batches(
    docs: Iterable,
    stats: dict,
    sample: list[str],
    sample_size: int,
    keep: Callable[[object], bool] | None,
    max_documents: int | None,
) -> Iterable[str]:
    """Newline-joined batches of document texts (the one per-document loop of the main process).

    The Normalizer collapses all whitespace and none of its rules matches across a newline, so one
    call on a newline-joined batch yields exactly the words of the documents one by one, far faster.
    `sample` receives a systematic sample (every step-th document, the step doubling whenever the
    sample fills up), spread evenly over the corpus, for example contexts without a second read.
    """
    buf: list[str] = []
    size = n = 0
    step = 1
    for doc in docs:
        if keep is not None and not keep(doc):
            continue
        text = doc.text
        if not text:
            continue
        if sample_size and n % step == 0:
            sample.append(text)
            if len(sample) >= 2 * sample_size:
                sample[:] = sample[::2]
                step *= 2
        n += 1
        text = text.replace("\n", " ")
        buf.append(text)
        size += len(text)
        if size >= BATCH_CHARS:
            yield "\n".join(buf)
            buf, size = [], 0
        if max_documents and n >= max_documents:
            break
    stats["documents"] = n
    if buf:
        yield "\n".join(buf)


def count_words(
    corpus,
    *,
    normalize: NormalizeConfig | None = None,
    lowercase: bool = True,
    workers: int | None = None,
    max_words: int = 2_000_000,
    max_documents: int | None = None,
    keep: Callable[[object], bool] | None = None,
    sample: int = 0,
    description: str = "counting words",
) -> WordCounts:
    """Stream `corpus` (CorpusSpec | path | list) and count its pre-tokenized words.

    `keep(document)` filters documents (held-out exclusion, category routing) before counting;
    `sample` keeps about that many raw documents (1-2x), spread evenly over the corpus (example contexts).
    """
    start = time.perf_counter()
    normalize = normalize or NormalizeConfig()
    reader = CorpusReader(corpus, warn=False)  # mine_terms says what was skipped, from the counts
    workers = max(1, workers or os.cpu_count() or 1)
    stats = {"documents": 0}
    reservoir: list[str] = []
    total = reader.stats.bytes_total or None
    parallel = workers > 1 and (total or 0) >= PARALLEL_MIN_BYTES
    plan = raw_plan(reader) if keep is None and not max_documents else None
    with progress_bar(description, total=total, unit="bytes") as update:
        results = None
        if plan:
            results = _count_raw(plan, parallel, workers, normalize, lowercase, max_words, sample, update)
            if results is None:
                plan = None  # a file that does not decode: read again below, to say where (offset and line)
        if results is None:
            batches = _batches(reader, stats, reservoir, sample, keep, max_documents)
            results = _count_documents(batches, reader, parallel, workers, normalize, lowercase, max_words, update)
        update(completed=total)
    out = _merged(results, max_words, sample)
    out.documents += stats["documents"]
    out.sources = [s.path for s in reader.specs]
    out.sample = reservoir + out.sample
    out.skipped_long_lines = reader.stats.skipped_long_lines + sum(e.skipped_long_lines for e in plan or [])
    if sample and len(out.sample) > 2 * sample:  # the workers' samples together: keep an even spread
        out.sample = out.sample[:: len(out.sample) // sample]
    if len(out.counts) > max_words:
        out.prune_threshold = max(out.prune_threshold, prune(out.counts, max_words))
    out.seconds = time.perf_counter() - start
    return out


def _count_raw(
    plan, parallel: bool, workers: int, normalize, lowercase: bool, max_words: int, sample: int, update: Callable
) -> list[tuple] | None:
    """The fast path's tallies (`domainlm.corpus.fastread`), or None when a file does not decode."""
    if parallel:
        return _count_parallel(
            raw_chunks(plan, lambda done: update(completed=done)),
            workers,
            normalize,
            lowercase,
            max_words,
            lambda: None,
            target=_raw_worker,
            extra=(sample,),
            plan=plan,
        )
    return _count_raw_here(plan, Tally(normalize, lowercase, max_words, sample), update)


def _count_documents(
    batches: Iterable[str],
    reader: CorpusReader,
    parallel: bool,
    workers: int,
    normalize,
    lowercase: bool,
    max_words: int,
    update: Callable,
) -> list[tuple]:
    """The tallies of the general path: the reader's documents in batches, here or over workers."""
    if parallel:
        return _count_parallel(
            batches, workers, normalize, lowercase, max_words, lambda: update(completed=reader.stats.bytes_done)
        )
    tally = Tally(normalize, lowercase, max_words)
    for batch in batches:
        tally.add(batch)
        update(completed=reader.stats.bytes_done)
    return [tally.result()]


def _merged(results: list[tuple], max_words: int, sample: int) -> WordCounts:
    """One WordCounts of the processes' tallies (`Tally.result()`), counts merged into the first's."""
    counts: Counter = results[0][0]
    out = WordCounts(counts=counts, workers=len(results))
    for i, (c, raw, chars, words, eojeols, threshold, docs, part) in enumerate(results):
        if i:
            counts.update(c)
        out.raw_bytes += raw
        out.documents += docs
        out.sample += part
        out.characters += chars
        out.words += words
        out.eojeols += eojeols
        out.prune_threshold = max(out.prune_threshold, threshold)
    return out


def _count_raw_here(plan, tally: Tally, update: Callable) -> list[tuple] | None:
    """The fast path's raw chunks counted in this process (a corpus too small for workers).

    Even in one process it beats the general path: the reader's per-document layers cost more
    than parsing the lines (15% of counting the Wikipedia reference). None when a file does not
    decode: the general reader's message says where (byte offset and line), a chunk's cannot.
    """
    try:
        for index, chunk in raw_chunks(plan, lambda done: update(completed=done)):
            tally.add_texts(chunk_texts(plan[index], chunk))
    except CorpusError:
        return None
    return [tally.result()]


def _count_parallel(
    batches: Iterable,
    workers: int,
    normalize: NormalizeConfig,
    lowercase: bool,
    max_words: int,
    on_batch: Callable[[], None],
    target=None,
    extra: tuple = (),
    plan=None,
) -> list[tuple]:
    """Count `batches` in `workers` processes: this one and `workers - 1` children.

    A batch goes to the children's queue when it has room and is counted here otherwise, so this
    process, which only reads and cuts batches otherwise, counts what the children cannot take
    yet: one Counter fewer is pickled and merged, and no process waits on an idle core (the
    parent-only-feeds layout took 7.7 CPU-s and 7.7 s for NSMC train on 2 cores, one process 5.7).
    """
    # fork shares the imported modules for free; spawn works too, just starts slower.
    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queue = ctx.Queue(maxsize=2 * (workers - 1))
    results_q = ctx.Queue()
    count_here: Callable[[Any], None]
    if target is None:
        target, args = _worker, (queue, results_q, normalize, lowercase, max_words)
        here = Tally(normalize, lowercase, max_words)
        count_here = here.add
    else:
        args = (queue, results_q, plan, normalize, lowercase, max_words, *extra)
        here = Tally(normalize, lowercase, max_words, *extra)
        count_here = lambda item: here.add_texts(chunk_texts(plan[item[0]], item[1]))  # noqa: E731
    procs = [ctx.Process(target=target, args=args, daemon=True) for _ in range(workers - 1)]
    for p in procs:
        p.start()

    def check_alive() -> None:
        dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
        if dead:
            raise MiningError(
                f"A counting process died (exit code {dead[0].exitcode}); a negative code is the signal "
                "that killed it (-9: out of memory).",
                "Lower --workers or mine.max_candidates, or free memory, and run again.",
            )

    def put(item) -> None:
        while True:
            try:
                queue.put(item, timeout=1.0)
                return
            except Full:
                check_alive()

    try:
        for batch in batches:
            try:
                queue.put_nowait(batch)
            except Full:
                count_here(batch)
            on_batch()
        for _ in procs:
            put(None)
        # Collect before joining: a child blocks on exit until its big result is read off the pipe.
        results = [here.result()]
        while len(results) < len(procs) + 1:
            try:
                item = results_q.get(timeout=1.0)
            except Empty:
                check_alive()
                continue
            if isinstance(item, BaseException):
                raise item
            results.append(item)
        for p in procs:
            p.join()
        return results
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()


# ---------------------------------------------------------------- cache (the reference corpus)

# 2: JSON (version 1 was a pickle, which runs code when read: its `.pkl` entries are never read).
CACHE_VERSION = 2
CACHE_FORMAT = "domainlm-word-counts"
# The WordCounts fields an entry stores beside the counts, and their types.
_CACHED_FIELDS = {
    "documents": int,
    "raw_bytes": int,
    "characters": int,
    "words": int,
    "eojeols": int,
    "prune_threshold": int,
    "workers": int,
    "skipped_long_lines": int,
    "sources": list,
}


def cache_dir() -> Path:
    root = os.environ.get("DOMAINLM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "domainlm"
    )
    return Path(root) / "word_counts"


def _cache_key(corpus, settings: dict) -> str | None:
    """A key that changes with the files (path, size, mtime), the reading spec and the counting settings."""
    try:
        reader = CorpusReader(corpus, warn=False)
    except Exception:
        return None  # unreadable: let count_words raise its own error
    parts: list = [CACHE_VERSION, settings]
    for spec, files in reader.files:
        if files is None:
            return None  # a datasets dataset: no cheap way to tell whether it changed
        parts.append(spec.model_dump())
        parts += [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def write_cached_counts(path: Path, result: WordCounts) -> None:
    """Store `result` as JSON: plain data that nothing can execute when it is read back."""
    entry = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        **{name: getattr(result, name) for name in _CACHED_FIELDS},
        "counts": result.counts,
    }
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(entry, fh, ensure_ascii=False, separators=(",", ":"))


def read_cached_counts(path: Path) -> WordCounts | None:
    """The WordCounts stored at `path`, or None when it is not a valid entry (then it is recounted).

    The cache may be shared (one $DOMAINLM_CACHE for a team), so an entry is untrusted: it is
    parsed as JSON and every field's type is checked; nothing in it can run.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or entry.get("version") != CACHE_VERSION:
        return None
    counts = entry.get("counts")
    if not isinstance(counts, dict):
        return None
    fields: dict[str, Any] = {name: entry.get(name) for name in _CACHED_FIELDS}  # types checked below
    if not all(
        isinstance(fields[name], kind) and not isinstance(fields[name], bool) for name, kind in _CACHED_FIELDS.items()
    ):
        return None
    if not all(isinstance(source, str) for source in fields["sources"]):
        return None
    if not all(type(c) is int and c > 0 for c in counts.values()):
        return None
    return WordCounts(counts=Counter(counts), cached=True, **fields)


def count_words_cached(
    corpus, *, use_cache: bool = True, counter: Callable[..., WordCounts] | None = None, **kwargs
) -> WordCounts:
    """`count_words` (or `counter`: the Ray engine's), reusing the counts of an unchanged local
    corpus read with the same settings.

    For the reference corpus: every category is mined against the same general text, so it is
    counted once. Entries live in $DOMAINLM_CACHE/word_counts (default ~/.cache/domainlm), one JSON
    file each (`write_cached_counts`); an entry that does not read back as valid counts is
    recounted. Both engines count alike, so either reuses the other's entry (`min_count`, the Ray
    engine's early drop of rare words, is part of the key).
    """
    counter = counter or count_words
    settings = {
        k: (v.model_dump() if hasattr(v, "model_dump") else v)
        for k, v in kwargs.items()
        if k in ("normalize", "lowercase", "max_words", "max_documents", "min_count")
    }
    key = (
        _cache_key(corpus, settings) if use_cache and kwargs.get("keep") is None and not kwargs.get("sample") else None
    )
    path = cache_dir() / f"{key}.json" if key else None
    if path is not None and path.is_file():
        cached = read_cached_counts(path)
        if cached is not None:
            return cached
        try:
            path.unlink(missing_ok=True)  # an invalid entry is recounted (and rewritten below)
        except OSError:
            pass
    result = counter(corpus, **kwargs)
    if path is not None:
        try:
            write_cached_counts(path, result)
        except (OSError, ValueError):
            pass  # a read-only or full cache (or a word JSON cannot encode) only costs time
    return result


# ---------------------------------------------------------------- counting in the background


class BackgroundWork(Protocol):
    """A count running while mining derives the category candidates (`BackgroundCount`, or the Ray
    engine's `RayBackgroundCount`): a context manager whose `result()` waits for the counts."""

    def __enter__(self) -> BackgroundWork: ...

    def __exit__(self, *exc) -> None: ...

    def result(self) -> WordCounts: ...


class BackgroundCount:
    """`count_words_cached` in a child process, so the caller can work meanwhile (see `mine_terms`).

    `min_count` drops rarer words in the child, which shrinks what travels back. Errors raised in
    the child (a DomainLMError with its message) are raised again by `result()`.
    """

    def __init__(self, corpus, min_count: int = 1, **kwargs):
        ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._queue = ctx.Queue()
        self._proc = ctx.Process(target=_background_main, args=(self._queue, corpus, min_count, kwargs))
        self._proc.start()

    def __enter__(self) -> BackgroundCount:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Stop the child if it is still running (the caller failed or no longer needs it)."""
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

    def result(self) -> WordCounts:
        while True:
            try:
                status, payload = self._queue.get(timeout=1.0)
                break
            except Empty:
                if not self._proc.is_alive():
                    raise MiningError(
                        f"The reference counting process died (exit code {self._proc.exitcode}).",
                        "Free memory or lower --workers, and run again.",
                    ) from None
        self._proc.join()
        if status == "error":
            raise payload
        return payload


def _background_main(queue, corpus, min_count: int, kwargs: dict) -> None:
    try:
        result = count_words_cached(corpus, **kwargs)
        if min_count > 1:
            result.counts = Counter({w: c for w, c in result.counts.items() if c >= min_count})
        queue.put(("ok", result))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent to be raised there
        try:
            queue.put(("error", e))
        except Exception:
            queue.put(("error", MiningError(f"Counting failed: {type(e).__name__}: {e}")))
