"""Count pre-tokenized words of a corpus in parallel, in bounded memory.

Why words and not substrings: a Counter of distinct words is far smaller than one of all their
substrings, and every candidate count can be derived from the word counts afterwards (a candidate
occurs once per occurrence of each word that contains it). So the corpus is read once, here.

Layout: the main process reads documents (`CorpusReader`), joins them into batches of about
`BATCH_CHARS` characters and puts them on a bounded queue; `workers` processes normalise
(`domainlm.corpus.Normalizer`, the same rules as vocab building and training), pre-tokenize as
BertPreTokenizer does and count. Each worker returns its Counter at the end; the main process
merges them.

Memory bound: a Counter holds at most `max_words` distinct words. When it grows past that, every
word with a count below a threshold is dropped (the smallest threshold that leaves the Counter
at most half full). So the peak is about `(workers + 1) x max_words` entries (~120 bytes each for
short Korean words: 2M words -> ~240 MB a process) plus `2 x workers` batches in the queue,
whatever the corpus size. The price is an under-count: a word's final count can be short by at
most the sum of the thresholds it was pruned under (`WordCounts.prune_threshold` reports the
largest), which only matters for words near that threshold, far below any useful `min_count`
on corpora big enough to need pruning.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
from collections import Counter
from queue import Empty, Full
from dataclasses import dataclass, field
from typing import Callable, Iterable

from domainlm.corpus import CorpusReader, NormalizeConfig, Normalizer
from domainlm.errors import MiningError
from domainlm.mining.wordpiece import pretokenize
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


class _Tally:
    """Normalise and count batches of text; one per process."""

    def __init__(self, normalize: NormalizeConfig, lowercase: bool, max_words: int):
        self.normalizer = Normalizer(normalize)
        self.lowercase = lowercase
        self.max_words = max_words
        self.counts: Counter = Counter()
        self.characters = self.words = self.eojeols = self.prune_threshold = 0

    def add(self, batch: str) -> None:
        text = self.normalizer(batch)
        words = pretokenize(text, self.lowercase)
        self.characters += len(text)
        self.words += len(words)
        self.eojeols += text.count(" ") + text.count("\n") + (1 if text else 0)
        self.counts.update(words)
        if len(self.counts) > self.max_words:
            self.prune_threshold = max(self.prune_threshold, prune(self.counts, self.max_words))

    def result(self) -> tuple:
        return self.counts, self.characters, self.words, self.eojeols, self.prune_threshold


def _worker(queue, results, normalize: NormalizeConfig, lowercase: bool, max_words: int) -> None:
    tally = _Tally(normalize, lowercase, max_words)
    while True:
        batch = queue.get()
        if batch is None:
            break
        tally.add(batch)
    results.put(tally.result())


def _batches(texts: Iterable[str], stats: dict, sample: list[str], sample_size: int) -> Iterable[str]:
    # The Normalizer collapses all whitespace, and no rule matches across a newline, so one call on
    # a newline-joined batch yields exactly the words of the documents one by one, far faster.
    buf: list[str] = []
    size = 0
    rng = random.Random(0)
    for text in texts:
        if not text:
            continue
        if sample_size:  # reservoir sample of raw documents (example contexts without a re-read)
            seen = stats["documents"]
            if seen < sample_size:
                sample.append(text)
            else:
                j = rng.randrange(seen + 1)
                if j < sample_size:
                    sample[j] = text
        text = text.replace("\n", " ")
        buf.append(text)
        size += len(text)
        stats["documents"] += 1
        stats["raw_bytes"] += len(text.encode("utf-8"))
        if size >= BATCH_CHARS:
            yield "\n".join(buf)
            buf, size = [], 0
    if buf:
        yield "\n".join(buf)


def count_words(corpus, *, normalize: NormalizeConfig | None = None, lowercase: bool = True,
                workers: int | None = None, max_words: int = 2_000_000, max_documents: int | None = None,
                keep: Callable[[object], bool] | None = None, sample: int = 0,
                description: str = "counting words") -> WordCounts:
    """Stream `corpus` (CorpusSpec | path | list) and count its pre-tokenized words.

    `keep(document)` filters documents (held-out exclusion, category routing) before counting;
    `sample` keeps a uniform reservoir sample of that many raw documents (for example contexts).
    """
    start = time.perf_counter()
    normalize = normalize or NormalizeConfig()
    reader = CorpusReader(corpus)
    workers = max(1, workers or os.cpu_count() or 1)
    stats = {"documents": 0, "raw_bytes": 0}
    reservoir: list[str] = []

    def texts():
        for doc in reader:
            if keep is not None and not keep(doc):
                continue
            yield doc.text
            if max_documents and stats["documents"] >= max_documents:
                break

    total = reader.stats.bytes_total or None
    parallel = workers > 1 and (total or 0) >= PARALLEL_MIN_BYTES
    with progress_bar(description, total=total, unit="bytes") as update:
        if not parallel:
            tally = _Tally(normalize, lowercase, max_words)
            for batch in _batches(texts(), stats, reservoir, sample):
                tally.add(batch)
                update(completed=reader.stats.bytes_done)
            results = [tally.result()]
            workers = 1
        else:
            results = _count_parallel(_batches(texts(), stats, reservoir, sample), workers, normalize, lowercase, max_words,
                                      lambda: update(completed=reader.stats.bytes_done))
        update(completed=total)
    counts: Counter = results[0][0]
    out = WordCounts(counts=counts, documents=stats["documents"], raw_bytes=stats["raw_bytes"], workers=workers,
                     sources=[s.path for s in reader.specs], sample=reservoir)
    for i, (c, chars, words, eojeols, threshold) in enumerate(results):
        if i:
            counts.update(c)
        out.characters += chars
        out.words += words
        out.eojeols += eojeols
        out.prune_threshold = max(out.prune_threshold, threshold)
    if len(counts) > max_words:
        out.prune_threshold = max(out.prune_threshold, prune(counts, max_words))
    out.seconds = time.perf_counter() - start
    return out


def _count_parallel(batches: Iterable[str], workers: int, normalize: NormalizeConfig, lowercase: bool,
                    max_words: int, on_batch: Callable[[], None]) -> list[tuple]:
    # fork shares the imported modules for free; spawn works too, just starts slower.
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queue = ctx.Queue(maxsize=2 * workers)
    results_q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(queue, results_q, normalize, lowercase, max_words), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()
    def check_alive() -> None:
        dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
        if dead:
            raise MiningError(f"A counting process died (exit code {dead[0].exitcode}); a negative code is the signal "
                              "that killed it (-9: out of memory).",
                              "Lower --workers or mine.max_candidates, or free memory, and run again.")

    def put(item) -> None:
        while True:
            try:
                queue.put(item, timeout=1.0)
                return
            except Full:
                check_alive()

    try:
        for batch in batches:
            put(batch)
            on_batch()
        for _ in procs:
            put(None)
        # Collect before joining: a child blocks on exit until its big result is read off the pipe.
        results = []
        while len(results) < len(procs):
            try:
                results.append(results_q.get(timeout=1.0))
            except Empty:
                check_alive()
        for p in procs:
            p.join()
        return results
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
