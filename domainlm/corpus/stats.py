"""`corpus_stats`: streaming statistics of one or more corpora in bounded memory."""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field

from domainlm.corpus.files import MAX_LINE_BYTES, long_line_note
from domainlm.corpus.filters import StreamingDeduper
from domainlm.corpus.reader import CorpusReader
from domainlm.errors import CorpusError
from domainlm.progress import progress_bar

_LENGTH_CAP = 100_000  # longer documents share one histogram bucket, which keeps memory bounded


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣" or "ㄱ" <= ch <= "ㅣ"


# Conjoining jamo: Hangul written decomposed (NFD, as macOS file names and some exports are). Such a
# syllable is two or three of them; the normaliser every other command uses composes them (NFC), so
# the share is counted on the composed text and the decomposed documents are named in a warning (P2).
_DECOMPOSED = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")


@dataclass
class CorpusStats:
    documents: int = 0
    empty_documents: int = 0
    characters: int = 0
    eojeols: int = 0
    hangul_characters: int = 0
    non_space_characters: int = 0
    duplicates: int = 0
    dedupe_saturated: bool = False
    bytes: int = 0
    files: int = 0
    skipped_long_lines: int = 0
    seconds: float = 0.0
    length_percentiles: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)
    max_line_bytes: int = MAX_LINE_BYTES
    warnings: list[str] = field(default_factory=list)

    @property
    def hangul_share(self) -> float:
        return self.hangul_characters / self.non_space_characters if self.non_space_characters else 0.0

    @property
    def eojeols_per_document(self) -> float:
        return self.eojeols / self.documents if self.documents else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hangul_share"] = round(self.hangul_share, 4)
        d["eojeols_per_document"] = round(self.eojeols_per_document, 3)
        d["megabytes_per_second"] = round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else None
        return d


def _percentiles(hist: Counter, total: int, points=(50, 90, 99)) -> dict[str, int]:
    if not total:
        return {}
    out: dict[str, int] = {}
    targets = sorted(points)
    seen = 0
    lengths = sorted(hist)
    i = 0
    for length in lengths:
        seen += hist[length]
        while i < len(targets) and seen >= total * targets[i] / 100:
            out[f"p{targets[i]}"] = length
            i += 1
    out["max"] = lengths[-1]
    out["min"] = lengths[0]
    return out


def corpus_stats(
    paths, *, field: str | None = None, encoding: str | None = None, dedupe_capacity: int = 5_000_000
) -> CorpusStats:
    """Documents, characters, eojeols, Hangul share, duplicates and length percentiles."""
    reader = CorpusReader(paths, field=field, encoding=encoding, warn=False)  # its notes are in the stats
    stats = CorpusStats(files=reader.stats.files, bytes=reader.stats.bytes_total)
    dedupe = StreamingDeduper(dedupe_capacity)
    lengths: Counter = Counter()
    decomposed = 0
    start = time.perf_counter()
    with progress_bar("corpus stats", total=reader.stats.bytes_total or None, unit="bytes") as update:
        for n, doc in enumerate(reader, 1):
            text = doc.text
            stats.documents += 1
            if not text.strip():
                stats.empty_documents += 1
            length = len(text)
            stats.characters += length
            stats.eojeols += len(text.split())
            if _DECOMPOSED.search(text):
                composed = unicodedata.normalize("NFC", text)
                if composed != text:  # a lone jamo used as a symbol (ᆢ) composes with nothing
                    decomposed += 1
                    text = composed
            non_space = len(text) - text.count(" ")
            stats.non_space_characters += non_space
            stats.hangul_characters += sum(1 for ch in text if _is_hangul(ch))
            lengths[min(length, _LENGTH_CAP)] += 1
            dedupe.is_duplicate(text)
            if n % 4096 == 0:
                update(completed=reader.stats.bytes_done)
        update(completed=reader.stats.bytes_total)
    stats.seconds = time.perf_counter() - start
    stats.skipped_long_lines = reader.stats.skipped_long_lines
    stats.max_line_bytes = reader.stats.max_line_bytes
    if stats.documents == 0:
        raise empty_corpus_error(reader)
    if stats.empty_documents == stats.documents:  # P1: blank lines are no more a corpus than no lines
        names = ", ".join(str(s.path) for s in reader.specs)
        raise CorpusError(
            f"No documents found in {names}: its {stats.documents:,} lines are blank.",
            "Check the file, the --field column and any `where` filter.",
        )
    stats.warnings += reader.stats.warnings()
    if decomposed:
        stats.warnings.append(
            f"{decomposed:,} documents hold Hangul in decomposed form (NFD jamo, as macOS and some "
            "exports write it): the Hangul share counts it composed (NFC), as mining and training "
            "read it; `domainlm corpus clean` writes it composed."
        )
    stats.duplicates = dedupe.duplicates
    stats.dedupe_saturated = dedupe.saturated
    stats.length_percentiles = _percentiles(lengths, stats.documents)
    stats.encodings = dict(reader.stats.encodings)
    return stats


def empty_corpus_error(reader: CorpusReader) -> CorpusError:
    """The error for a corpus that gave no document: empty, or every line over the long-line limit."""
    names = ", ".join(str(s.path) for s in reader.specs)
    skipped = reader.stats.skipped_long_lines
    if skipped:
        return CorpusError(
            f"No documents found in {names}: {long_line_note(skipped, reader.stats.max_line_bytes)}.",
            "Put one document a line (split the text at its line or sentence ends); "
            "every domainlm command skips such lines alike.",
        )
    return CorpusError(
        f"No documents found in {names}: the corpus is empty.",
        "Check the file, the --field column and any `where` filter.",
    )
