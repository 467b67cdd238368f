"""`clean_corpus`: read → normalise → filter → dedupe → (held-out split) → write, atomically."""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from domainlm.corpus.filters import FilterConfig, StreamingDeduper, is_heldout
from domainlm.corpus.normalize import NormalizeConfig, Normalizer
from domainlm.corpus.reader import CorpusReader, Document
from domainlm.errors import CorpusError
from domainlm.io import atomic_write
from domainlm.progress import progress_bar


@dataclass
class CleanReport:
    read: int = 0
    written: int = 0
    heldout: int = 0
    removed: Counter = field(default_factory=Counter)
    dedupe_saturated: bool = False
    output: str | None = None
    heldout_output: str | None = None

    def to_dict(self) -> dict:
        return {"read": self.read, "written": self.written, "heldout": self.heldout,
                "removed": dict(self.removed), "dedupe_saturated": self.dedupe_saturated,
                "output": self.output, "heldout_output": self.heldout_output}


def clean_documents(docs: Iterable[Document], normalize: NormalizeConfig | None = None,
                    filters: FilterConfig | None = None, report: CleanReport | None = None) -> Iterator[Document]:
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


def _write_doc(fh, doc: Document, jsonl: bool) -> None:
    if jsonl:
        fh.write(json.dumps({"text": doc.text, "id": doc.id}, ensure_ascii=False) + "\n")
    else:
        fh.write(doc.text + "\n")


def clean_corpus(paths, output: str | os.PathLike, *, field: str | None = None, encoding: str | None = None,
                 normalize: NormalizeConfig | None = None, filters: FilterConfig | None = None,
                 heldout_fraction: float = 0.0, heldout_output: str | os.PathLike | None = None,
                 seed: str = "domainlm") -> CleanReport:
    """Write the cleaned corpus to `output` (.txt one document a line, or .jsonl; .gz allowed).

    With `heldout_fraction`, documents whose id (or text) hashes below it go to `heldout_output`.
    Both files appear only when the whole run succeeds.
    """
    output = Path(output)
    if heldout_fraction and heldout_output is None:
        heldout_output = output.with_name(f"heldout.{output.name}")
    reader = CorpusReader(paths, field=field, encoding=encoding)
    report = CleanReport(output=str(output), heldout_output=str(heldout_output) if heldout_fraction else None)
    jsonl = ".jsonl" in output.suffixes
    with ExitStack() as stack:
        out = stack.enter_context(atomic_write(output))
        held = stack.enter_context(atomic_write(heldout_output)) if heldout_fraction else None
        with progress_bar("cleaning", total=reader.stats.bytes_total or None, unit="bytes") as update:
            for i, doc in enumerate(clean_documents(reader, normalize, filters, report), 1):
                if held is not None and is_heldout(doc.id or doc.text, heldout_fraction, seed):
                    _write_doc(held, doc, jsonl)
                    report.heldout += 1
                else:
                    _write_doc(out, doc, jsonl)
                    report.written += 1
                if i % 4096 == 0:
                    update(completed=reader.stats.bytes_done)
            update(completed=reader.stats.bytes_total)
        if report.read == 0:
            raise CorpusError(f"No documents found in {', '.join(s.path for s in reader.specs)}: the corpus is empty.",
                              "Check the file, the --field column and any `where` filter.")
        if report.written == 0:
            raise CorpusError(f"All {report.read} documents were removed by cleaning; nothing to write.",
                              "Lower --min-chars or check that the text column holds Korean text.")
    return report
