"""Stream documents out of corpora, never loading a whole corpus into memory.

A corpus is a file, a directory or glob of files (each read by its format: the registry in
`domainlm.corpus.formats`, .txt / .jsonl / .json / .csv / .tsv / .parquet built in; compression and
encodings are undone by `domainlm.corpus.files`), or a `datasets` dataset (a `save_to_disk`
directory, or `hf:NAME` for the hub). `CorpusReader` streams the documents of any number of them.
"""

from __future__ import annotations

import glob as globlib
import os
import re
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

from domainlm.corpus.files import (
    COMPRESSIONS,
    DEFAULT_MAX_LINE_BYTES,
    Document,
    ReadStats,
)
from domainlm.corpus.formats import CorpusFile, corpus_suffixes, format_for, is_corpus_file
from domainlm.corpus.spec import CorpusSpec, corpus_specs, row_matches
from domainlm.errors import CorpusError, warn

__all__ = [
    "CorpusReader",
    "CorpusSpec",
    "Document",
    "ReadStats",
    "expand_paths",
    "is_corpus_file",
    "is_saved_dataset",
    "iter_documents",
    "iter_texts",
    "warn_read_notes",
]


# ---------------------------------------------------------------- file discovery


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
                f"Check the pattern; readable files end in {', '.join(corpus_suffixes())} (optionally "
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
                f"Readable files end in {', '.join(corpus_suffixes())} (optionally compressed: "
                f"{', '.join(COMPRESSIONS)}).",
            )
        return files
    return [p]


def _read_dataset(spec: CorpusSpec, stats: ReadStats) -> Generator[Document, None, None]:
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
            docs = _read_dataset(spec, self.stats) if files is None else self._file_documents(spec, files)
            yield from self._limited(docs, spec.limit)

    def _file_documents(self, spec: CorpusSpec, files: list[Path]) -> Generator[Document, None, None]:
        for path in files:
            base = self.stats.bytes_done
            file = CorpusFile(path, self.stats, self.max_line_bytes, bytes_base=base)
            try:
                yield from format_for(path).read_documents(file, spec)
            finally:
                self.stats.bytes_done = base + path.stat().st_size

    def _limited(self, docs: Generator[Document, None, None], limit: int | None) -> Iterator[Document]:
        """The documents of one corpus, at most `limit` of them (a dataset's and files' alike), counted."""
        count = 0
        try:
            for doc in docs:
                yield doc
                self.stats.documents += 1
                count += 1
                if limit and count >= limit:
                    return
        finally:
            docs.close()  # a file cut short by `limit` is closed now, not when collected


def iter_documents(specs, **kwargs) -> Iterator[Document]:
    """Stream `Document`s from corpus specs or paths (see `CorpusReader`)."""
    return iter(CorpusReader(specs, **kwargs))


def iter_texts(specs, **kwargs) -> Iterator[str]:
    """Stream raw document texts from corpus specs or paths."""
    for doc in CorpusReader(specs, **kwargs):
        yield doc.text
