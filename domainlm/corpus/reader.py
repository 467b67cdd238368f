"""Stream documents out of corpus files, never loading a whole corpus into memory.

Formats: .txt (one document a line), .jsonl / .json (a named field), .csv / .tsv (a named column,
header required), .parquet (a named column), a directory or glob of such files, and `datasets`
datasets (a `save_to_disk` directory, or `hf:NAME` for the hub). Compression .gz .bz2 .xz .zst is
undone transparently. Encoding: UTF-8 with or without BOM, cp949 / EUC-KR detected from the first
bytes, or an explicit `encoding`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import glob as globlib
import gzip
import io
import json
import lzma
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import IO, Literal, NamedTuple

from domainlm.corpus.spec import CorpusSpec, check_where_columns, corpus_specs, row_matches, value_matches
from domainlm.errors import CorpusError, warn

COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")
FORMATS = (".txt", ".jsonl", ".json", ".csv", ".tsv", ".parquet")
SNIFF_BYTES = 1 << 16
# The long-line rule, the same for every reader of corpora (corpus stats/clean, mining, training):
# a line whose bytes, not counting its line break (\n or \r\n), number more than MAX_LINE_BYTES is
# not a document. It is still read (in pieces, never held whole), then skipped and counted in
# `ReadStats.skipped_long_lines`, so one runaway line of many MB cannot blow up memory downstream.
MAX_LINE_BYTES = 1 << 20
DEFAULT_MAX_LINE_BYTES = MAX_LINE_BYTES


def line_is_too_long(line: bytes, limit: int = MAX_LINE_BYTES) -> bool:
    """The long-line rule on one raw line (its line break may be included)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return len(line) > limit


def describe_bytes(n: int) -> str:
    """1048576 → '1 MiB' (for messages about the long-line limit)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def long_line_note(skipped: int, limit: int = MAX_LINE_BYTES) -> str:
    """Why `skipped` lines were not read as documents, in a user's words."""
    lines = "line was" if skipped == 1 else "lines were"
    return (
        f"{skipped:,} {lines} skipped for being longer than {describe_bytes(limit)}, the limit of one document "
        "(a file without line breaks, or with only \\r as a line break, is one such line)"
    )


csv.field_size_limit(1 << 30)


class Document(NamedTuple):
    text: str
    id: str | None
    source: str
    line: int


@dataclass
class ReadStats:
    """Counters a reader fills while streaming; the CLI shows them."""

    files: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    documents: int = 0
    skipped_long_lines: int = 0
    skipped_rows: int = 0  # rows a `where` filter left out (not a problem)
    short_rows: int = 0  # .csv/.tsv rows without the text column: skipped
    long_rows: int = 0  # .csv/.tsv rows with more fields than the header (unquoted delimiters)
    rejoined_rows: int = 0  # ... of which the text was the last column and was put back together
    non_text_values: int = 0  # .jsonl/.json values of the text field that are numbers, lists or objects: skipped
    cr_only_files: list[str] = dc_field(default_factory=list)  # split at \r (old Mac line breaks)
    split_notes: list[str] = dc_field(default_factory=list)  # a DatasetDict's split chosen by default
    encodings: dict[str, str] = dc_field(default_factory=dict)
    max_line_bytes: int = MAX_LINE_BYTES

    def warnings(self) -> list[str]:
        """What a person should know about rows that were not read as they stand (B16, B17, B21, B22)."""
        notes = []
        if self.skipped_long_lines:
            notes.append(long_line_note(self.skipped_long_lines, self.max_line_bytes) + ".")
        if self.long_rows:
            kept = (
                f"; in {self.rejoined_rows:,} of them the text was the last column and was read whole"
                if self.rejoined_rows
                else ""
            )
            lost = self.long_rows - self.rejoined_rows
            notes.append(
                f"{self.long_rows:,} .csv/.tsv rows have more fields than the header (an unquoted "
                f"delimiter inside the text?){kept}"
                + (f"; {lost:,} were skipped" if lost else "")
                + ". Quote fields that contain the delimiter, or use .jsonl."
            )
        if self.short_rows:
            notes.append(
                f"{self.short_rows:,} .csv/.tsv rows have no text column (fewer fields than the header) "
                "and were skipped."
            )
        if self.non_text_values:
            notes.append(
                f"{self.non_text_values:,} rows hold a number, list or object instead of text in the text "
                "field and were skipped. Check --field."
            )
        notes += [note + "." for note in self.split_notes]
        if self.cr_only_files:
            notes.append(
                f"{len(self.cr_only_files):,} file(s) use only \\r as line break ("
                + ", ".join(self.cr_only_files[:3])
                + "): each \\r was read as the end of a document."
            )
        return notes


# ---------------------------------------------------------------- file discovery


def _uncompressed_name(path: Path) -> str:
    name = path.name.lower()
    for comp in COMPRESSIONS:
        if name.endswith(comp):
            return name[: -len(comp)]
    return name


def is_corpus_file(path: Path) -> bool:
    return _uncompressed_name(path).endswith(FORMATS)


def format_of(path: Path) -> str:
    name = _uncompressed_name(path)
    for fmt in FORMATS:
        if name.endswith(fmt):
            return fmt
    return ".txt"  # an unknown suffix named explicitly is read as plain text


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and (
        (path / "dataset_info.json").exists() or (path / "state.json").exists() or (path / "dataset_dict.json").exists()
    )


_REMOTE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def expand_paths(path: str | os.PathLike) -> list[Path]:
    """Resolve a file, directory or glob to the corpus files it names, sorted."""
    text = str(path)
    scheme = _REMOTE.match(text)
    if scheme and scheme.group(1).lower() != "file":
        raise CorpusError(
            f"'{text}' is a remote {scheme.group(1)}:// path, and this reader reads local files only.",
            'Mining reads s3:// and gs:// paths with --engine ray (pip install "domainlm[ray]"); for '
            "other commands, copy the file to a local disk first (e.g. aws s3 cp, gcloud storage cp).",
        )
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        files = [p for p in files if is_corpus_file(p)]
        if not files:
            raise CorpusError(
                f"The pattern '{text}' matches no corpus files.",
                f"Check the pattern; readable files end in {', '.join(FORMATS)} (optionally "
                f"{', '.join(COMPRESSIONS)}).",
            )
        return files
    p = Path(text)
    if not p.exists():
        raise CorpusError(
            f"Corpus path '{text}' does not exist.",
            "Check the path, or pass --data-dir / DOMAINLM_DATA when it is relative to a data folder.",
        )
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and is_corpus_file(f))
        if not files:
            raise CorpusError(
                f"The directory '{text}' holds no readable corpus files.",
                f"Readable files end in {', '.join(FORMATS)} (optionally compressed: {', '.join(COMPRESSIONS)}).",
            )
        return files
    return [p]


# ---------------------------------------------------------------- opening and decoding


class CountingFile(io.RawIOBase):
    """Wraps the on-disk file so progress can follow compressed bytes consumed."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        self.consumed += n or 0
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary(path: Path) -> tuple[IO[bytes], CountingFile]:
    """Open a possibly compressed file as a decompressed binary stream."""
    try:
        raw = open(path, "rb")
    except PermissionError as e:
        raise CorpusError(
            f"Cannot read '{path}': permission denied.", "Fix its permissions or copy it somewhere readable."
        ) from e
    except OSError as e:
        raise CorpusError(f"Cannot open '{path}': {e.strerror}.") from e
    counter = CountingFile(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=buffered, mode="rb"), counter
    if name.endswith(".bz2"):
        return bz2.BZ2File(buffered, mode="rb"), counter
    if name.endswith(".xz"):
        return lzma.LZMAFile(buffered, mode="rb"), counter
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)), counter
    return buffered, counter


def decompress_errors():
    import zstandard

    return (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError, zstandard.ZstdError, ValueError)


def _mostly_utf16(head: bytes, high: int) -> bool:
    """Whether `head` decodes as UTF-16 of mostly Hangul or ASCII (`high`: index of the high byte)."""
    try:
        text = head[: len(head) // 2 * 2].decode("utf-16-le" if high == 1 else "utf-16-be")
    except UnicodeDecodeError:
        return False
    usual = sum(1 for ch in text if ch.isascii() or "\uac00" <= ch <= "\ud7a3")
    return bool(text) and usual >= 0.9 * len(text)


def detect_encoding(sample: bytes, path: Path) -> str:
    """Pick utf-8-sig, utf-8 or cp949 from the first bytes of a file, or fail naming the offset."""
    if b"\x00" in sample[:8192] and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = sample[:8192]
        for name, high in (("utf-16-le", 1), ("utf-16-be", 0)):
            if _mostly_utf16(head, high):
                raise CorpusError(
                    f"'{path}' looks like UTF-16 text without a byte-order mark.", f"Pass --encoding {name}."
                )
        raise CorpusError(
            f"'{path}' looks like a binary file (it contains NUL bytes), not text.",
            "Pass a text corpus (.txt, .jsonl, .csv, .tsv, .parquet, optionally compressed).",
        )
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a sample cut inside a character is fine
        return "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            codecs.getincrementaldecoder("cp949")().decode(sample, final=False)
            return "cp949"
        except UnicodeDecodeError:
            raise CorpusError(
                f"'{path}' is neither UTF-8 nor cp949/EUC-KR: undecodable byte at offset {utf8_error.start}.",
                "Pass the right one with --encoding (e.g. --encoding cp949, --encoding latin-1).",
            ) from None


class _Utf8Lines(io.RawIOBase):
    """A binary stream of `encoding` text re-read as UTF-8 with universal newlines (\r, \r\n -> \n)."""

    def __init__(self, stream, encoding: str):
        self._text = io.TextIOWrapper(stream, encoding=encoding, newline=None)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        if size is None:
            size = -1
        while b"\n" not in self._pending and (size < 0 or len(self._pending) < size):
            try:
                piece = self._text.readline(1 << 16)
            except UnicodeDecodeError as e:
                raise CorpusError(
                    f"The text cannot be decoded as {self._text.encoding}: {e.reason}.",
                    "Pass the right encoding with --encoding.",
                ) from None
            if not piece:
                break
            self._pending += piece.encode("utf-8")
        cut = self._pending.find(b"\n")
        end = cut + 1 if cut >= 0 else len(self._pending)
        if size >= 0:
            end = min(end, size)
        line, self._pending = self._pending[:end], self._pending[end:]
        return line

    def close(self) -> None:
        self._text.close()
        super().close()


class LineSource:
    """Decoded lines of one file with byte offsets, long lines skipped in bounded memory."""

    def __init__(
        self,
        path: Path,
        encoding: str | None,
        stats: ReadStats,
        max_line_bytes: int,
        opened: tuple | None = None,
        bytes_base: int = 0,
    ):
        """`opened`: (stream, byte counter) of a file opened elsewhere (a Ray worker's remote file);
        `bytes_base`: the bytes of the files read before this one (for `stats.bytes_done`)."""
        self.path = path
        self.bytes_base = bytes_base
        self.stats = stats
        self.max_line_bytes = max_line_bytes
        self.stream, self.counter = opened if opened is not None else open_binary(path)
        try:
            sample = self.stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(self.stream, "peek") else b""
        except decompress_errors() as e:
            self.stream.close()
            raise CorpusError(f"'{path}' is corrupt or truncated: {e}.", "Re-download or re-compress the file.") from e
        if not sample and encoding is None:
            encoding = "utf-8"
        self.encoding = encoding or detect_encoding(sample, path)
        try:
            codec = codecs.lookup(self.encoding).name
        except LookupError:
            self.stream.close()
            raise CorpusError(
                f"Unknown encoding '{self.encoding}'.", "Use a Python codec name such as utf-8 or cp949."
            ) from None
        stats.encodings[str(path)] = self.encoding
        # Lines are cut at b"\n" in bytes. Two kinds of file cannot be cut so: UTF-16/32 (the line break
        # is two or four bytes) and files whose only line break is \r. Those are decoded through a text
        # layer with universal newlines and handed on as UTF-8 (byte offsets then count UTF-8 bytes).
        cr_only = b"\r" in sample and b"\n" not in sample and not codec.startswith(("utf-16", "utf-32"))
        if codec.startswith(("utf-16", "utf-32")) or cr_only:
            if cr_only:
                stats.cr_only_files.append(str(path))
            self.stream = _Utf8Lines(self.stream, self.encoding)
            self.encoding = "utf-8"

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """Yield (line_number, text) with the newline stripped."""
        offset = 0
        line_no = 0
        first = True
        readline = self.stream.readline
        limit = self.max_line_bytes
        # Room for the line break (\r\n): a line of exactly `limit` bytes comes back whole.
        chunk = limit + 2
        errors = decompress_errors()
        try:
            while True:
                try:
                    raw = readline(chunk)
                except errors as e:
                    raise CorpusError(
                        f"'{self.path}' is corrupt or truncated near byte {offset}: {e}.",
                        "Re-download or re-compress the file; the data before that point was read.",
                    ) from e
                if not raw:
                    break
                line_no += 1
                start = offset
                offset += len(raw)
                if not raw.endswith(b"\n") and len(raw) >= chunk:
                    # Over-long line: drain it piece by piece without keeping it.
                    while True:
                        try:
                            more = readline(chunk)
                        except errors as e:
                            raise CorpusError(f"'{self.path}' is corrupt or truncated near byte {offset}: {e}.") from e
                        offset += len(more)
                        if not more or more.endswith(b"\n"):
                            break
                    self.stats.skipped_long_lines += 1
                    continue
                if len(raw) > limit and line_is_too_long(raw, limit):
                    self.stats.skipped_long_lines += 1
                    continue
                if b"\x00" in raw:
                    raise CorpusError(
                        f"'{self.path}' contains NUL bytes at line {line_no} (byte {start}): it looks binary.",
                        "Pass a text corpus, or clean the file first.",
                    )
                try:
                    text = raw.decode(self.encoding)
                except UnicodeDecodeError as e:
                    raise CorpusError(
                        f"'{self.path}' cannot be decoded as {self.encoding}: bad byte at offset {start + e.start} "
                        f"(line {line_no}).",
                        "Pass the right encoding with --encoding (Korean files are often cp949).",
                    ) from None
                if first:
                    text = text.lstrip("\ufeff")
                    first = False
                yield line_no, text.rstrip("\r\n")
                self.stats.bytes_done = self.bytes_base + self.counter.consumed
        finally:
            self.stream.close()


# ---------------------------------------------------------------- per-format readers


def read_txt(lines: LineSource, spec: CorpusSpec) -> Iterator[Document]:
    src = str(lines.path)
    for line_no, text in lines:
        yield Document(text, None, src, line_no)


def read_jsonl(lines: LineSource, spec: CorpusSpec) -> Iterator[Document]:
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
        doc_id = str(row[spec.id_field]) if spec.id_field and row.get(spec.id_field) is not None else None
        yield Document("" if value is None else value, doc_id, src, line_no)


def read_json_array(path: Path, spec: CorpusSpec, stats: ReadStats) -> Iterator[Document]:
    # A JSON array has no line structure to stream by; such files are small in practice.
    stream, counter = open_binary(path)
    try:
        data = json.loads(stream.read().decode(spec.encoding or "utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"'{path}' is not valid JSON: {e}.", "Use JSON Lines (.jsonl) for large corpora.") from None
    finally:
        stream.close()
    if isinstance(data, dict) and "data" in data and isinstance(data["data"], list):
        data = data["data"]
    if not isinstance(data, list):
        raise CorpusError(f"'{path}' holds a JSON {type(data).__name__}, not a list of objects.")
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
            stats.non_text_values += 1
            continue
        yield Document(value or "", str(row.get(spec.id_field)) if spec.id_field else None, str(path), i)


def read_delimited(lines: LineSource, spec: CorpusSpec, delimiter: str) -> Iterator[Document]:
    src = str(lines.path)
    numbered = iter(lines)
    current = [0]

    def text_lines():
        for line_no, text in numbered:
            current[0] = line_no
            yield text

    # TSV files in the wild (NSMC) do not quote; treating quotes literally keeps "..." in the text.
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(text_lines(), delimiter=delimiter, quoting=quoting)
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


def read_lines(lines: LineSource, spec: CorpusSpec, fmt: str) -> Iterator[Document]:
    """Documents of a line-based file of format `fmt` (.txt, .jsonl / .json lines, .csv, .tsv)."""
    if fmt == ".txt":
        return read_txt(lines, spec)
    if fmt in (".jsonl", ".json"):
        return read_jsonl(lines, spec)
    return read_delimited(lines, spec, "\t" if fmt == ".tsv" else ",")


def read_parquet(path: Path, spec: CorpusSpec, stats: ReadStats) -> Iterator[Document]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow comes with datasets
        raise CorpusError("Reading .parquet needs pyarrow.", "pip install pyarrow") from e
    try:
        pf = pq.ParquetFile(path)
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
                str(path),
                row_no,
            )


def _read_dataset(spec: CorpusSpec, stats: ReadStats) -> Iterator[Document]:
    try:
        import datasets
    except ImportError as e:  # pragma: no cover
        raise CorpusError("Reading a datasets dataset needs the `datasets` package.", "pip install datasets") from e
    if spec.path.startswith("hf:"):
        name = spec.path[3:]
        try:
            # No dataset script ever runs (datasets 3 would run one with trust_remote_code; 4+ has none).
            split = spec.hf_split or "train"
            ds = datasets.load_dataset(name, spec.hf_config, split=split, streaming=True, trust_remote_code=False)
        except Exception as e:
            raise CorpusError(
                f"Cannot load the dataset '{name}' from the Hugging Face hub: {type(e).__name__}: {e}.",
                "When offline, download it elsewhere, `save_to_disk` it, and pass that directory; "
                f"or set HF_DATASETS_CACHE to a cache that holds it (now {datasets.config.HF_DATASETS_CACHE}).",
            ) from None
        source = spec.path
    else:
        ds = datasets.load_from_disk(spec.path)
        if isinstance(ds, datasets.DatasetDict):
            split = spec.hf_split or ("train" if "train" in ds or len(ds) != 1 else next(iter(ds)))
            if split not in ds:
                raise CorpusError(
                    f"'{spec.path}' has no split '{split}'; it has: {', '.join(ds)}.",
                    "Choose one with --split (or hf_split in a recipe's corpus).",
                )
            if spec.hf_split is None and len(ds) > 1:  # the review's "silently reads only train"
                stats.split_notes.append(
                    f"'{spec.path}': read its '{split}' split ({len(ds[split]):,} rows) of "
                    f"{', '.join(f'{k} ({len(v):,})' for k, v in ds.items())}; choose with --split"
                )
            ds = ds[split]
        source = spec.path
    columns = ds.column_names or []
    if columns and spec.field not in columns:
        raise CorpusError(
            f"The dataset '{spec.path}' has no column '{spec.field}'; its columns are: {', '.join(columns)}.",
            "Name the text column with --field.",
        )
    for i, row in enumerate(ds, 1):
        if spec.where and not row_matches(row, spec.where):
            continue
        yield Document(str(row[spec.field]), str(row.get(spec.id_field)) if spec.id_field else None, source, i)


# ---------------------------------------------------------------- public API


def warn_read_notes(stats: ReadStats, source: str | None = None) -> None:
    """Say what `stats.warnings()` says (lines skipped, rows cut) as `DomainLMWarning`s: the one
    wording every command that reads a corpus shows."""
    for note in stats.warnings():
        warn(f"{source}: {note}" if source else note)


class CorpusReader:
    """Iterate the documents of one or more corpora; `stats` tracks bytes for progress bars.

    When a pass over the documents ends (read to the end, or stopped early by its consumer), what
    was not read as it stands (`ReadStats.warnings()`: long lines skipped, malformed rows) is issued
    as `DomainLMWarning`s, so every command says it in the same words; `warn=False` leaves that to a
    caller that reports the notes itself (corpus stats, corpus clean).
    """

    def __init__(
        self,
        specs: CorpusSpec | str | os.PathLike | Iterable[CorpusSpec | str | os.PathLike],
        *,
        field: str | None = None,
        encoding: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        warn: bool = True,
    ):
        # `field` / `encoding` given here apply to every corpus, the specs' own settings included.
        updates = {k: v for k, v in (("field", field), ("encoding", encoding)) if v is not None}
        self.specs: list[CorpusSpec] = [s.model_copy(update=updates) if updates else s for s in corpus_specs(specs)]
        if not self.specs:
            raise CorpusError("No corpus was given.", "Pass at least one corpus path.")
        self.max_line_bytes = max_line_bytes
        self.warn = warn
        self._told: set[str] = set()
        self.stats = ReadStats(max_line_bytes=max_line_bytes)
        # Resolve every path up front so a missing file fails before any work is done.
        self.files: list[tuple[CorpusSpec, list[Path] | None]] = []
        for s in self.specs:
            if s.path.startswith("hf:") or is_saved_dataset(Path(s.path)):
                self.files.append((s, None))
            else:
                files = expand_paths(s.path)
                self.files.append((s, files))
                for f in files:
                    self.stats.bytes_total += f.stat().st_size
                    self.stats.files += 1

    def __iter__(self) -> Iterator[Document]:
        try:
            yield from self._documents()
        finally:
            if self.warn:
                self._warn()

    def _warn(self) -> None:
        try:
            for note in self.stats.warnings():
                if note not in self._told:
                    self._told.add(note)
                    warn(note)
        except Exception:  # noqa: BLE001 - a pass closed during interpreter shutdown: nothing to tell
            pass

    def _documents(self) -> Iterator[Document]:
        for spec, files in self.files:
            count = 0
            if files is None:
                source: Iterable[Document] = _read_dataset(spec, self.stats)
                for doc in source:
                    yield doc
                    self.stats.documents += 1
                    count += 1
                    if spec.limit and count >= spec.limit:
                        break
                continue
            for path in files:
                base = self.stats.bytes_done
                fmt = format_of(path)
                if fmt == ".parquet":
                    docs: Iterable[Document] = read_parquet(path, spec, self.stats)
                elif fmt == ".json" and json_is_array(path):
                    docs = read_json_array(path, spec, self.stats)
                else:
                    docs = read_lines(
                        LineSource(path, spec.encoding, self.stats, self.max_line_bytes, bytes_base=base), spec, fmt
                    )
                for doc in docs:
                    yield doc
                    self.stats.documents += 1
                    count += 1
                    if spec.limit and count >= spec.limit:
                        break
                self.stats.bytes_done = base + path.stat().st_size
                if spec.limit and count >= spec.limit:
                    break


def json_is_array(path: Path) -> bool:
    """Whether a .json file holds one JSON array (read whole) rather than JSON Lines (streamed)."""
    stream, _ = open_binary(path)
    try:
        head = stream.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
    finally:
        stream.close()
    return head.startswith(b"[")


def iter_documents(specs, **kwargs) -> Iterator[Document]:
    """Stream `Document`s from corpus specs or paths (see `CorpusReader`)."""
    return iter(CorpusReader(specs, **kwargs))


def iter_texts(specs, **kwargs) -> Iterator[str]:
    """Stream raw document texts from corpus specs or paths."""
    for doc in CorpusReader(specs, **kwargs):
        yield doc.text
