"""One corpus file opened: its compression undone, its encoding found, its lines numbered.

What every format reader (domainlm.corpus.formats) and the fast path (domainlm.corpus.fastread)
stand on: the compressions (`COMPRESSIONS`, undone in one place, `decompressed`), the encoding
rule (UTF-8 with or without BOM, cp949 / EUC-KR detected from the first bytes, BOM-marked UTF-16,
or an explicit one), the long-line rule, and `LineSource`, the decoded lines of one file with
byte offsets. `Document` and `ReadStats` are what the readers hand on.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import IO, Any, NamedTuple

from domainlm.errors import CorpusError


def _unzstd(stream: IO[bytes]) -> IO[bytes]:
    import zstandard

    return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True))


# Suffix -> what undoes it over a buffered binary stream: the one table of compressions, for local
# files and for the Ray engine's remote ones alike. A new compression is one entry here.
COMPRESSIONS: dict[str, Callable[[IO[bytes]], Any]] = {
    ".gz": lambda stream: gzip.GzipFile(fileobj=stream, mode="rb"),
    ".bz2": lambda stream: bz2.BZ2File(stream, mode="rb"),
    ".xz": lambda stream: lzma.LZMAFile(stream, mode="rb"),
    ".zst": _unzstd,
}
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


# ---------------------------------------------------------------- opening and decoding


class CountingFile(io.RawIOBase):
    """Wraps the on-disk file so progress can follow compressed bytes consumed."""

    def __init__(self, raw: Any):
        # `raw`: a file opened in binary mode, or a pyarrow stream (the Ray engine's remote files).
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


def compression_of(name: str) -> str | None:
    """The compression suffix `name` ends in (`COMPRESSIONS`), or None."""
    name = name.lower()
    return next((suffix for suffix in COMPRESSIONS if name.endswith(suffix)), None)


def uncompressed_name(name: str) -> str:
    """'Reviews.TSV.gz' -> 'reviews.tsv': the lower-case name a format is known by."""
    name = name.lower()
    suffix = compression_of(name)
    return name[: -len(suffix)] if suffix else name


def decompressed(raw: Any, name: str) -> tuple[Any, CountingFile]:
    """`raw` (an opened binary file named `name`) as a buffered, decompressed stream, and its byte counter."""
    counter = CountingFile(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    suffix = compression_of(name)
    return (COMPRESSIONS[suffix](buffered) if suffix else buffered), counter


def open_binary(path: Path) -> tuple[Any, CountingFile]:
    """Open a possibly compressed file as a decompressed binary stream."""
    try:
        raw = open(path, "rb")
    except PermissionError as e:
        raise CorpusError(
            f"Cannot read '{path}': permission denied.", "Fix its permissions or copy it somewhere readable."
        ) from e
    except OSError as e:
        raise CorpusError(f"Cannot open '{path}': {e.strerror}.") from e
    return decompressed(raw, path.name)


def peek(stream: Any, size: int = SNIFF_BYTES) -> bytes:
    """Up to `size` first bytes of `stream`, left unread (b"" for a stream that cannot peek)."""
    look = getattr(stream, "peek", None)
    return look(size)[:size] if look is not None else b""


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


def detect_encoding(sample: bytes, path: Path | str) -> str:
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
        path: Path | str,
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
        self.stream, self.counter = opened if opened is not None else open_binary(Path(path))
        try:
            sample = peek(self.stream)
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
