"""Cleaning corpora: read → normalise → filter → dedupe → (held-out split) → write, atomically.

`clean_corpus` (the `corpus clean` command) and `clean_and_split` (a recipe's prepare stage) share
`clean_documents` and the one held-out split loop, `split_documents`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.corpus.files import Document
from domainlm.corpus.filters import FilterConfig, StreamingDeduper, is_heldout
from domainlm.corpus.normalize import NormalizeConfig, Normalizer
from domainlm.corpus.reader import CorpusReader, iter_documents
from domainlm.corpus.stats import empty_corpus_error
from domainlm.errors import CorpusError, OutputError
from domainlm.io import atomic_write
from domainlm.progress import progress_bar
from vocab_tools.atomic import check_output_file, record_file_owner, write_failure


@dataclass
class CleanReport:
    read: int = 0
    written: int = 0
    heldout: int = 0
    removed: Counter = field(default_factory=Counter)
    dedupe_saturated: bool = False
    output: str | None = None
    heldout_output: str | None = None
    skipped_long_lines: int = 0  # lines the reader did not take as documents (the long-line rule)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "read": self.read,
            "written": self.written,
            "heldout": self.heldout,
            "removed": dict(self.removed),
            "dedupe_saturated": self.dedupe_saturated,
            "skipped_long_lines": self.skipped_long_lines,
            "warnings": self.warnings,
            "output": self.output,
            "heldout_output": self.heldout_output,
        }


def clean_documents(
    docs: Iterable[Document],
    normalize: NormalizeConfig | None = None,
    filters: FilterConfig | None = None,
    report: CleanReport | None = None,
) -> Iterator[Document]:
    """Normalise and filter a document stream; counts of removed documents go into `report`."""
    norm = Normalizer(normalize)
    filters = filters or FilterConfig()
    report = report if report is not None else CleanReport()
    dedupe = StreamingDeduper(filters.dedupe_capacity) if filters.dedupe else None
    for doc in docs:
        report.read += 1
        text = norm(doc.text)
        if not text:
            report.removed["empty after normalisation"] += 1
            continue
        if len(text) < filters.min_chars:
            report.removed[f"shorter than {filters.min_chars} chars"] += 1
            continue
        if filters.max_chars is not None and len(text) > filters.max_chars:
            report.removed[f"longer than {filters.max_chars} chars"] += 1
            continue
        if dedupe is not None and dedupe.is_duplicate(text):
            report.removed["exact duplicate"] += 1
            continue
        yield doc._replace(text=text)
    if dedupe is not None:
        report.dedupe_saturated = dedupe.saturated


@dataclass
class Split:
    """Where `split_documents` sent the documents."""

    train: int = 0
    heldout: int = 0
    left_out: int = 0  # refused by `keep` (routed to another category)


def split_documents(
    docs: Iterable[Document],
    write_train: Callable[[Document], object],
    write_heldout: Callable[[Document], object],
    *,
    holds_out: Callable[[Document], bool] | None = None,
    keep: Callable[[Document], bool] | None = None,
    max_train: int | None = None,
    max_heldout: int | None = None,
) -> Split:
    """Send every document to the training side or, where `holds_out(doc)`, to the held-out side.

    `keep(doc)` false: the document goes nowhere. Held-out documents past `max_heldout` are dropped
    (never trained on); reading stops once `max_train` documents went to the training side.
    """
    split = Split()
    for doc in docs:
        if keep is not None and not keep(doc):
            split.left_out += 1
            continue
        if holds_out is not None and holds_out(doc):
            if max_heldout is None or split.heldout < max_heldout:
                write_heldout(doc)
                split.heldout += 1
            continue  # held-out text never reaches mining or training, even past the cap
        write_train(doc)
        split.train += 1
        if max_train and split.train >= max_train:
            break
    return split


def clean_and_split(
    corpus,
    train_path: str | os.PathLike,
    heldout_path: str | os.PathLike,
    *,
    normalize: NormalizeConfig | None = None,
    filters: FilterConfig | None = None,
    holds_out: Callable[[Document], bool] | None = None,
    keep: Callable[[Document], bool] | None = None,
    max_documents: int | None = None,
    max_heldout: int | None = None,
    heldout_corpus=(),
) -> tuple[Split, CleanReport]:
    """Clean `corpus` into `train_path` and `heldout_path` (plain text, a document a line), written
    atomically: `split_documents`' rule over the cleaned documents, then the documents of explicit
    `heldout_corpus` corpora (cleaned alike) added to the held-out side up to `max_heldout`.

    The report counts the documents of `corpus` (read, removed by what).
    """
    report = CleanReport()
    with atomic_write(train_path) as train_fh, atomic_write(heldout_path) as held_fh:
        split = split_documents(
            clean_documents(iter_documents(corpus), normalize, filters, report),
            lambda doc: train_fh.write(doc.text + "\n"),
            lambda doc: held_fh.write(doc.text + "\n"),
            holds_out=holds_out,
            keep=keep,
            max_train=max_documents,
            max_heldout=max_heldout,
        )
        if heldout_corpus:
            for doc in clean_documents(iter_documents(heldout_corpus), normalize, filters):
                held_fh.write(doc.text + "\n")
                split.heldout += 1
                if max_heldout is not None and split.heldout >= max_heldout:
                    break
    report.written, report.heldout = split.train, split.heldout
    return split, report


def _write_doc(fh, doc: Document, jsonl: bool) -> None:
    if jsonl:
        fh.write(json.dumps({"text": doc.text, "id": doc.id}, ensure_ascii=False) + "\n")
    else:
        fh.write(doc.text + "\n")


CLEAN_COMMAND = "corpus clean"
# What normalisation keeps; said when a corpus is empty after it (emoji, Hanja, another script).
KEPT_BY_NORMALISATION = (
    "normalisation keeps Hangul, compatibility jamo (ㅋㅋ, ㅠㅠ), Latin letters, digits and common "
    "punctuation, and drops Hanja, emoji and every other symbol"
)


def empty_after_normalisation_error(read: int, removed: Counter | None = None) -> CorpusError:
    """Every document was removed: say by what, and what to do about it."""
    removed = removed or Counter({"empty after normalisation": read})
    empty = removed.get("empty after normalisation", 0)
    if empty == read:
        return CorpusError(
            f"All {read:,} documents are empty after normalisation: {KEPT_BY_NORMALISATION}.",
            "This text holds nothing a Korean model reads (only emoji, Hanja or other symbols?); "
            "check that the text column is the right one (--field) and that the corpus is Korean text.",
        )
    reasons = ", ".join(f"{n:,} {reason}" for reason, n in removed.most_common())
    hint = "Check that the text column (--field) holds Korean text."
    if any(reason.startswith("shorter than") for reason in removed):
        hint = "Lower --min-chars, or " + hint[0].lower() + hint[1:]
    return CorpusError(f"All {read:,} documents were removed by cleaning ({reasons}); nothing to write.", hint)


def _reporting(docs: Iterable[Document], reader: CorpusReader, update: Callable) -> Iterator[Document]:
    """`docs`, the progress bar following the bytes read every 4096 documents."""
    for i, doc in enumerate(docs, 1):
        yield doc
        if i % 4096 == 0:
            update(completed=reader.stats.bytes_done)


def _writes_text_lines(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".txt", ".jsonl"))


def _check_targets(paths, output: Path, named_heldout, held_path: Path | None, force: bool) -> list[Path]:
    """The files `corpus clean` writes, refused before the (long) cleaning pass when it cannot
    (`named_heldout`: the held-out output as given, checked for its suffix)."""
    for target in (output, *([Path(named_heldout)] if named_heldout else [])):
        # A folder gets the file rule's message; B18: plain text under a .parquet or .json name.
        if not target.is_dir() and not _writes_text_lines(target):
            raise CorpusError(
                f"'{target}': corpus clean writes .txt (a document a line) or .jsonl, optionally .gz, "
                f"not {''.join(target.suffixes) or 'a name without a suffix'}.",
                "Name the output e.g. clean.txt, clean.jsonl or clean.txt.gz.",
            )
    targets = [output] + ([held_path] if held_path is not None else [])
    if len(targets) == 2 and targets[0].resolve() == targets[1].resolve():
        raise CorpusError(
            f"The output and the held-out output are the same file '{output}'.", "Pass another --heldout-output."
        )
    for target in targets:
        check_output_file(target, CLEAN_COMMAND, force, inputs=paths)
    return targets


def clean_corpus(
    paths,
    output: str | os.PathLike,
    *,
    field: str | None = None,
    encoding: str | None = None,
    normalize: NormalizeConfig | None = None,
    filters: FilterConfig | None = None,
    heldout_fraction: float = 0.0,
    heldout_output: str | os.PathLike | None = None,
    seed: str = "domainlm",
    force: bool = False,
) -> CleanReport:
    """Write the cleaned corpus to `output` (.txt one document a line, or .jsonl; .gz allowed).

    With `heldout_fraction`, documents whose id (or text) hashes below it go to `heldout_output`.
    Both files appear only when the whole run succeeds. An existing output file is replaced only
    when `corpus clean` wrote it, or with `force`; a write failure is an `OutputError`.
    """
    output = Path(output)
    named_heldout = heldout_output
    if heldout_fraction and heldout_output is None:
        heldout_output = output.with_name(f"heldout.{output.name}")
    held_path = Path(heldout_output) if heldout_fraction and heldout_output is not None else None
    targets = _check_targets(paths, output, named_heldout, held_path, force)
    reader = CorpusReader(paths, field=field, encoding=encoding, warn=False)  # its notes are in the report
    report = CleanReport(output=str(output), heldout_output=str(heldout_output) if heldout_fraction else None)
    jsonl = ".jsonl" in output.suffixes

    def held_out(doc: Document) -> bool:
        return is_heldout(doc.id or doc.text, heldout_fraction, seed)

    try:
        with ExitStack() as stack:
            out = stack.enter_context(atomic_write(output))
            held = stack.enter_context(atomic_write(held_path)) if held_path is not None else None
            with progress_bar("cleaning", total=reader.stats.bytes_total or None, unit="bytes") as update:
                split = split_documents(
                    _reporting(clean_documents(reader, normalize, filters, report), reader, update),
                    lambda doc: _write_doc(out, doc, jsonl),
                    lambda doc: _write_doc(held, doc, jsonl),
                    holds_out=None if held is None else held_out,
                )
                report.written, report.heldout = split.train, split.heldout
                update(completed=reader.stats.bytes_total)
            report.skipped_long_lines = reader.stats.skipped_long_lines
            if report.read == 0:
                raise empty_corpus_error(reader)
            if report.written == 0 and report.heldout == 0:
                raise empty_after_normalisation_error(report.read, report.removed)
        for target in targets:
            record_file_owner(target, CLEAN_COMMAND)
    except OSError as e:
        reason = write_failure(e)
        if reason is None:
            raise
        raise OutputError(
            f"Could not write '{output}': {reason}. Nothing was replaced: an earlier output, if any, is intact.",
            "Free space on that disk or fix its permissions, or choose another output file; then run "
            "the same command again.",
        ) from None
    report.warnings += reader.stats.warnings()
    if report.written == 0:
        report.warnings.append(
            f"Every document went to the held-out file; '{output}' is empty. Lower --heldout-fraction."
        )
    return report
