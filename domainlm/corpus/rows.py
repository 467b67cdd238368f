"""Rows of a corpus with ALL their columns, not only its text (routing keeps a review's rating with it).

Delimited files (.tsv/.csv) are read with every column, under the corpus reader's rules (encoding
detection, header, the `where` rule and its missing-column check, `limit`); other formats give
{"id", text field} from `CorpusReader`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from domainlm.corpus.reader import CorpusReader, detect_encoding, expand_paths, format_of, open_binary
from domainlm.corpus.spec import CorpusSpec, check_where_columns, row_matches
from domainlm.errors import CorpusError


def iter_rows(spec: CorpusSpec) -> Iterator[dict]:
    """Rows of a corpus with ALL their columns (so ratings travel with routed reviews).

    Delimited files (.tsv/.csv) keep every column; other formats give {"id", text field}.
    The text is always under the spec's field name.
    """
    if spec.path.startswith("hf:"):
        files: list[Path] = []
    else:
        files = expand_paths(spec.path)
    if not files or any(format_of(f) not in (".tsv", ".csv") for f in files):
        for doc in CorpusReader(spec):
            yield {"id": doc.id, spec.field: doc.text}
        return
    count = 0
    for path in files:
        stream, _ = open_binary(path)
        try:
            encoding = spec.encoding or detect_encoding(stream.peek(1 << 16)[: 1 << 16], path)
            text = io.TextIOWrapper(stream, encoding=encoding, newline="")
            delim = "\t" if format_of(path) == ".tsv" else ","
            reader = csv.DictReader(
                text, delimiter=delim, quoting=csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
            )
            columns = reader.fieldnames or []
            if spec.field not in columns:
                raise CorpusError(
                    f"'{path}' has no column '{spec.field}'; its columns are: {', '.join(columns)}.",
                    "Name the text column with --field.",
                )
            check_where_columns(spec.where, columns, path)
            for row in reader:
                if spec.where and not row_matches(row, spec.where):
                    continue
                row = {k: v for k, v in row.items() if k is not None}
                if row.get(spec.field) is None:
                    continue
                yield row
                count += 1
                if spec.limit and count >= spec.limit:
                    return
        finally:
            stream.close()
