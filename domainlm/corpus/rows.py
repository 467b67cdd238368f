"""Rows of a corpus with ALL their columns, not only its text (routing keeps a review's rating with it),
and the columns a corpus has (task readers check their label columns).

Each file is read by its format's row reader (`domainlm.corpus.formats`), under the corpus reader's
rules (encoding detection, header, the `where` rule and its missing-column check, `limit`); a format
without columns (.txt) and a `datasets` dataset give {"id", text field} of their documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from domainlm.corpus.files import ReadStats
from domainlm.corpus.formats import CorpusFile, format_for
from domainlm.corpus.reader import CorpusReader, expand_paths, is_saved_dataset, warn_read_notes
from domainlm.corpus.spec import CorpusSpec


def iter_rows(spec: CorpusSpec) -> Iterator[dict]:
    """Rows of a corpus with ALL their columns (so ratings travel with routed reviews).

    The text is always under the spec's field name; at most `spec.limit` rows.
    """
    if spec.path.startswith("hf:") or is_saved_dataset(Path(spec.path)):
        for doc in CorpusReader(spec):
            yield {"id": doc.id, spec.field: doc.text}
        return
    stats = ReadStats()
    count = 0
    try:
        for path in expand_paths(spec.path):
            rows = format_for(path).rows(CorpusFile(path, stats), spec)
            try:
                for row in rows:
                    yield row
                    count += 1
                    if spec.limit and count >= spec.limit:
                        return
            finally:
                getattr(rows, "close", lambda: None)()
    finally:
        warn_read_notes(stats)


def columns_of(spec: CorpusSpec) -> list[str] | None:
    """Column (or field) names of the first file of a corpus; [] for plain text, None when unknown
    (a JSON array: its reader says what is wrong, if anything)."""
    path = expand_paths(spec.path)[0]
    return format_for(path).columns(CorpusFile(path), spec)
