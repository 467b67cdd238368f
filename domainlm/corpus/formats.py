"""The corpus formats: ONE registry of what a file suffix means, for every reader of corpora.

A `Format` says, for the files whose (uncompressed) name ends in one of its suffixes, how to read
their documents, how to read their rows with all their columns, and how to list their columns.
`CorpusReader`, the rows reader (`domainlm.corpus.rows`), the Ray engine's datasource, the task
readers and the evaluation's text sources all look a file up here (`format_for`), so a new format
is one `register_format(Format(...))` call; the suffixes shown in messages come from the registry
(`corpus_suffixes`). Compression is undone below this, once (`domainlm.corpus.files.COMPRESSIONS`).

A format reader gets a `CorpusFile`: the file's name for messages, its stream (opened here for a
local file, by a Ray worker for a remote one) and the `ReadStats` it fills.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Literal

from domainlm.corpus.files import (
    MAX_LINE_BYTES,
    CountingFile,
    Document,
    LineSource,
    ReadStats,
    decompress_errors,
    detect_encoding,
    open_binary,
    peek,
    uncompressed_name,
)
from domainlm.corpus.spec import CorpusSpec, check_where_columns, row_matches, value_matches
from domainlm.errors import CorpusError

csv.field_size_limit(1 << 30)


@dataclass
class CorpusFile:
    """One file of a corpus, as a format's readers get it."""

    path: Path | str  # named in messages: a local path, or how a remote file is shown (s3://...)
    stats: ReadStats = dc_field(default_factory=ReadStats)
    max_line_bytes: int = MAX_LINE_BYTES
    bytes_base: int = 0  # bytes of the files read before this one (`ReadStats.bytes_done`)
    opened: tuple[Any, CountingFile] | None = None  # its decompressed stream, opened elsewhere (a Ray worker)
    handle: Any = None  # a random-access file opened elsewhere (a Ray worker's parquet file)

    def open(self) -> tuple[Any, CountingFile]:
        """(decompressed binary stream, byte counter); a stream opened elsewhere is handed out once."""
        if self.opened is not None:
            opened, self.opened = self.opened, None
            return opened
        return open_binary(Path(self.path))

    def lines(self, encoding: str | None, opened: tuple[Any, CountingFile] | None = None) -> LineSource:
        """The decoded, numbered lines of the file (`opened`: its stream, when already open)."""
        return LineSource(
            self.path,
            encoding,
            self.stats,
            self.max_line_bytes,
            opened=opened or self.open(),
            bytes_base=self.bytes_base,
        )

    def random_access(self) -> Any:
        """What pyarrow opens with random access (parquet): the file opened elsewhere, else the path."""
        return self.handle if self.handle is not None else self.path


@dataclass(frozen=True)
class Format:
    """One corpus format: its suffixes and its readers (see module doc).

    `read_rows` gives rows with all their columns; a format without columns leaves it None and its
    rows are {"id", text field} of its documents. `random_access`: the format is read with seeks
    (parquet), not as a stream, so a Ray worker opens it so.
    """

    name: str
    suffixes: tuple[str, ...]
    read_documents: Callable[[CorpusFile, CorpusSpec], Iterator[Document]]
    columns: Callable[[CorpusFile, CorpusSpec], list[str] | None]
    read_rows: Callable[[CorpusFile, CorpusSpec], Iterator[dict]] | None = None
    random_access: bool = False

    def rows(self, file: CorpusFile, spec: CorpusSpec) -> Iterator[dict]:
        """Rows of `file` with all their columns ({"id", text field} for a format without columns)."""
        if self.read_rows is not None:
            return self.read_rows(file, spec)
        return ({"id": doc.id, spec.field: doc.text} for doc in self.read_documents(file, spec))


_REGISTRY: dict[str, Format] = {}
# An unknown suffix named explicitly is read as plain text.
DEFAULT_FORMAT = "txt"


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add `fmt` to the registry (a name or suffix already taken is refused unless `replace`)."""
    taken = {s: f.name for f in _REGISTRY.values() if f.name != fmt.name for s in f.suffixes}
    clash = [s for s in fmt.suffixes if s in taken]
    if not replace and (fmt.name in _REGISTRY or clash):
        owner = fmt.name if fmt.name in _REGISTRY else taken[clash[0]]
        raise ValueError(f"The corpus format '{owner}' already reads {', '.join(clash) or fmt.name}.")
    if any(not s.startswith(".") or s != s.lower() for s in fmt.suffixes):
        raise ValueError(f"Suffixes are lower case and start with a dot: {fmt.suffixes}.")
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister_format(name: str) -> None:
    """Remove the format `name` (the built-in plain-text format stays)."""
    if name == DEFAULT_FORMAT:
        raise ValueError("The plain-text format reads every unknown suffix; it cannot be removed.")
    _REGISTRY.pop(name, None)


def corpus_formats() -> list[Format]:
    """The registered formats, in registration order."""
    return list(_REGISTRY.values())


def corpus_suffixes() -> tuple[str, ...]:
    """Every suffix a corpus file may end in (before a compression suffix), in registration order."""
    return tuple(s for f in _REGISTRY.values() for s in f.suffixes)


def _known_format(path: Path | str) -> Format | None:
    name = uncompressed_name(Path(path).name)
    found = [(len(s), f) for f in _REGISTRY.values() for s in f.suffixes if name.endswith(s)]
    return max(found, key=lambda hit: hit[0])[1] if found else None


def format_for(path: Path | str) -> Format:
    """The format of a file, by its name without a compression suffix; plain text when unknown."""
    return _known_format(path) or _REGISTRY[DEFAULT_FORMAT]


def is_corpus_file(path: Path | str) -> bool:
    """Whether a folder's or a pattern's file is read as a corpus (its suffix is a known format's)."""
    return _known_format(path) is not None


# ---------------------------------------------------------------- plain text: one document a line


def read_txt(file: CorpusFile, spec: CorpusSpec) -> Iterator[Document]:
    src = str(file.path)
    for line_no, text in file.lines(spec.encoding):
        yield Document(text, None, src, line_no)


def _no_columns(file: CorpusFile, spec: CorpusSpec) -> list[str]:
    return []  # one text a line: no columns at all


def _first_line(file: CorpusFile, spec: CorpusSpec) -> str:
    stream, _ = file.open()
    try:
        return stream.readline().decode(spec.encoding or "utf-8-sig", errors="replace").rstrip("\r\n")
    finally:
        stream.close()


# ---------------------------------------------------------------- JSON Lines and JSON arrays


def _jsonl_rows(lines: LineSource, spec: CorpusSpec) -> Iterator[tuple[int, dict]]:
    """(line, row) of a JSON Lines file: the text field present, the `where` rule met, text in it."""
    src = str(lines.path)
    for line_no, text in lines:
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise CorpusError(
                f"{src}:{line_no}: not valid JSON ({e.msg}, column {e.colno}).",
                "Each line of a .jsonl file must be one JSON object; fix or drop that line.",
            ) from None
        if not isinstance(row, dict):
            raise CorpusError(f"{src}:{line_no}: expected a JSON object, found {type(row).__name__}.")
        if spec.field not in row:
            raise CorpusError(
                f"{src}:{line_no}: no field '{spec.field}'; this line has: {', '.join(row) or '(none)'}.",
                "Name the text field with --field.",
            )
        if spec.where:
            check_where_columns(spec.where, row.keys(), lines.path)
            if not row_matches(row, spec.where):
                lines.stats.skipped_rows += 1
                continue
        value = row[spec.field]
        if value is not None and not isinstance(value, str):
            lines.stats.non_text_values += 1
            continue
        yield line_no, row


def read_jsonl(file: CorpusFile, spec: CorpusSpec, opened: tuple | None = None) -> Iterator[Document]:
    lines = file.lines(spec.encoding, opened)
    src = str(lines.path)
    for line_no, row in _jsonl_rows(lines, spec):
        value = row[spec.field]
        doc_id = str(row[spec.id_field]) if spec.id_field and row.get(spec.id_field) is not None else None
        yield Document("" if value is None else value, doc_id, src, line_no)


def _json_array(file: CorpusFile, spec: CorpusSpec) -> tuple[list | None, tuple | None]:
    """(the items of a .json file holding one JSON array, None) or (None, its open stream: JSON Lines)."""
    stream, counter = file.open()
    try:
        head = peek(stream, 4096).lstrip(codecs.BOM_UTF8).lstrip()
    except decompress_errors():
        head = b""  # the line reader says what is wrong with the file
    if not head.startswith(b"["):
        return None, (stream, counter)
    # A JSON array has no line structure to stream by; such files are small in practice.
    try:
        data = json.loads(stream.read().decode(spec.encoding or "utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(
            f"'{file.path}' is not valid JSON: {e}.", "Use JSON Lines (.jsonl) for large corpora."
        ) from None
    finally:
        stream.close()
    if isinstance(data, dict) and "data" in data and isinstance(data["data"], list):
        data = data["data"]
    if not isinstance(data, list):
        raise CorpusError(f"'{file.path}' holds a JSON {type(data).__name__}, not a list of objects.")
    return data, None


def read_json(file: CorpusFile, spec: CorpusSpec) -> Iterator[Document]:
    """A .json file: one JSON array (read whole), else JSON Lines (streamed)."""
    data, opened = _json_array(file, spec)
    if data is None:
        yield from read_jsonl(file, spec, opened)
        return
    path = file.path
    for i, row in enumerate(data, 1):
        if isinstance(row, str):
            yield Document(row, None, str(path), i)
            continue
        if spec.field not in row:
            raise CorpusError(
                f"{path}: item {i} has no field '{spec.field}'; it has: {', '.join(row)}.",
                "Name the text field with --field.",
            )
        if spec.where and not row_matches(row, spec.where):
            continue
        value = row[spec.field]
        if value is not None and not isinstance(value, str):
            file.stats.non_text_values += 1
            continue
        yield Document(value or "", str(row.get(spec.id_field)) if spec.id_field else None, str(path), i)


def read_jsonl_rows(file: CorpusFile, spec: CorpusSpec) -> Iterator[dict]:
    return (row for _, row in _jsonl_rows(file.lines(spec.encoding), spec))


def read_json_rows(file: CorpusFile, spec: CorpusSpec) -> Iterator[dict]:
    data, opened = _json_array(file, spec)
    if data is None:
        yield from (row for _, row in _jsonl_rows(file.lines(spec.encoding, opened), spec))
        return
    for row in data:
        row = {"id": None, spec.field: row} if isinstance(row, str) else row
        if spec.where and not row_matches(row, spec.where):
            continue
        yield row


def json_columns(file: CorpusFile, spec: CorpusSpec) -> list[str] | None:
    try:
        row = json.loads(_first_line(file, spec))
    except json.JSONDecodeError:
        return None  # a pretty-printed JSON array: let the reader speak
    return list(row) if isinstance(row, dict) else None


# ---------------------------------------------------------------- delimited: .csv, .tsv


def _quoting(delimiter: str) -> Literal[0, 1, 2, 3]:
    # TSV files in the wild (NSMC) do not quote; treating quotes literally keeps "..." in the text.
    return csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL


def read_delimited(file: CorpusFile, spec: CorpusSpec, delimiter: str) -> Iterator[Document]:
    lines = file.lines(spec.encoding)
    src = str(lines.path)
    numbered = iter(lines)
    current = [0]

    def text_lines():
        for line_no, text in numbered:
            current[0] = line_no
            yield text

    reader = csv.reader(text_lines(), delimiter=delimiter, quoting=_quoting(delimiter))
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    if spec.field not in header:
        raise CorpusError(
            f"'{src}' has no column '{spec.field}'; its columns are: {', '.join(header)}.",
            "Name the text column with --field (a header line is required).",
        )
    check_where_columns(spec.where, header, lines.path)
    col = header.index(spec.field)
    id_col = header.index(spec.id_field) if spec.id_field and spec.id_field in header else None
    where = [(header.index(k), v) for k, v in spec.where.items()]
    last = len(header) - 1
    for row in reader:
        if not row:
            continue
        if len(row) <= col:
            lines.stats.short_rows += 1
            continue
        if len(row) > len(header):
            lines.stats.long_rows += 1
            if col != last:  # which field the extra delimiters belong to cannot be known
                continue
            # The text is the last column: the extra delimiters were inside it; put it back together.
            row = row[:last] + [delimiter.join(row[last:])]
            lines.stats.rejoined_rows += 1
        if where and not all(value_matches(row[idx] if idx < len(row) else None, want) for idx, want in where):
            lines.stats.skipped_rows += 1
            continue
        yield Document(row[col], row[id_col] if id_col is not None and id_col < len(row) else None, src, current[0])


def read_delimited_rows(file: CorpusFile, spec: CorpusSpec, delimiter: str) -> Iterator[dict]:
    """Rows with every column (quoted fields may span lines here, as `csv` reads whole files)."""
    stream, _ = file.open()
    try:
        encoding = spec.encoding or detect_encoding(peek(stream), file.path)
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        reader = csv.DictReader(text, delimiter=delimiter, quoting=_quoting(delimiter))
        columns = reader.fieldnames or []
        if spec.field not in columns:
            raise CorpusError(
                f"'{file.path}' has no column '{spec.field}'; its columns are: {', '.join(columns)}.",
                "Name the text column with --field.",
            )
        check_where_columns(spec.where, columns, file.path)
        for row in reader:
            if spec.where and not row_matches(row, spec.where):
                continue
            row = {k: v for k, v in row.items() if k is not None}
            if row.get(spec.field) is None:
                continue
            yield row
    finally:
        stream.close()


def delimited_columns(file: CorpusFile, spec: CorpusSpec, delimiter: str) -> list[str]:
    first = _first_line(file, spec)
    return [c.strip() for c in next(csv.reader(io.StringIO(first), delimiter=delimiter), [])]


def _delimited(name: str, delimiter: str) -> Format:
    return Format(
        name,
        (f".{name}",),
        read_documents=lambda file, spec: read_delimited(file, spec, delimiter),
        columns=lambda file, spec: delimited_columns(file, spec, delimiter),
        read_rows=lambda file, spec: read_delimited_rows(file, spec, delimiter),
    )


# ---------------------------------------------------------------- parquet


def _parquet_file(file: CorpusFile, spec: CorpusSpec) -> Any:
    """The opened parquet file, its text column checked (present, holding text)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow comes with datasets
        raise CorpusError("Reading .parquet needs pyarrow.", "pip install pyarrow") from e
    path = file.path
    try:
        pf = pq.ParquetFile(file.random_access())
    except Exception as e:
        raise CorpusError(f"'{path}' is not a readable parquet file: {e}.") from None
    names = pf.schema_arrow.names
    if spec.field not in names:
        raise CorpusError(
            f"'{path}' has no column '{spec.field}'; its columns are: {', '.join(names)}.",
            "Name the text column with --field.",
        )
    check_where_columns(spec.where, names, path)
    kind = pf.schema_arrow.field(spec.field).type
    if not (str(kind) in ("string", "large_string", "string_view") or str(kind).startswith("dictionary<values=string")):
        raise CorpusError(
            f"'{path}': the column '{spec.field}' holds {kind}, not text.", "Name the text column with --field."
        )
    return pf


def read_parquet(file: CorpusFile, spec: CorpusSpec) -> Iterator[Document]:
    pf = _parquet_file(file, spec)
    names = pf.schema_arrow.names
    columns = list(dict.fromkeys([spec.field, *spec.where, *([spec.id_field] if spec.id_field in names else [])]))
    row_no = 0
    for batch in pf.iter_batches(batch_size=8192, columns=columns):
        data = batch.to_pydict()
        for i in range(batch.num_rows):
            row_no += 1
            if spec.where and not row_matches({k: data[k][i] for k in spec.where}, spec.where):
                continue
            text = data[spec.field][i]
            yield Document(
                "" if text is None else str(text),
                str(data[spec.id_field][i]) if spec.id_field in data else None,
                str(file.path),
                row_no,
            )


def read_parquet_rows(file: CorpusFile, spec: CorpusSpec) -> Iterator[dict]:
    for batch in _parquet_file(file, spec).iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            if not spec.where or row_matches(row, spec.where):
                yield row


def parquet_columns(file: CorpusFile, spec: CorpusSpec) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(file.random_access()).schema_arrow.names)


# ---------------------------------------------------------------- the built-in formats

register_format(Format("txt", (".txt",), read_documents=read_txt, columns=_no_columns))
register_format(
    Format("jsonl", (".jsonl",), read_documents=read_jsonl, columns=json_columns, read_rows=read_jsonl_rows)
)
register_format(Format("json", (".json",), read_documents=read_json, columns=json_columns, read_rows=read_json_rows))
register_format(_delimited("csv", ","))
register_format(_delimited("tsv", "\t"))
register_format(
    Format(
        "parquet",
        (".parquet",),
        read_documents=read_parquet,
        columns=parquet_columns,
        read_rows=read_parquet_rows,
        random_access=True,
    )
)
