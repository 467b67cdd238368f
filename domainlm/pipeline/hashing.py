"""Cheap, stable content fingerprints of corpora, model folders and settings.

A stage is skipped when the fingerprint of its inputs is unchanged. Small files are hashed whole;
a big file (over `FULL_HASH_LIMIT`) by its size, mtime and first and last MiB, so a 30 GB corpus
costs two reads, not a full pass, while an edit, truncation or append still changes the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel

FULL_HASH_LIMIT = 8 << 20
EDGE = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's whole content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_file(path: str | os.PathLike) -> str:
    path = Path(path)
    st = path.stat()
    if st.st_size <= FULL_HASH_LIMIT:
        return "sha256:" + sha256_file(path)
    h = hashlib.sha256()
    h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(EDGE))
        fh.seek(st.st_size - EDGE)
        h.update(fh.read(EDGE))
    return "edges:" + h.hexdigest()


def hash_path(path: str | os.PathLike, exclude: Iterable[str] = ()) -> str:
    """A file, or every file under a directory (names included, `exclude` names left out), or the
    text of a hub name."""
    exclude = set(exclude)
    p = Path(path)
    if p.is_file():
        return hash_file(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".") and x.name not in exclude):
            h.update(f"{f.relative_to(p).as_posix()}={hash_file(f)}\n".encode())
        return "dir:" + h.hexdigest()
    return "name:" + str(path)  # a hub id or a missing path: only its spelling can be fingerprinted


def hash_corpora(specs: Iterable) -> list[Any]:
    """Fingerprint of corpus specs: their settings and the content of every file they name."""
    from domainlm.corpus.reader import CorpusSpec, expand_paths

    out = []
    for spec in specs:
        if not isinstance(spec, CorpusSpec):
            spec = CorpusSpec(path=str(spec))
        entry: dict[str, Any] = {"spec": spec.model_dump(mode="json")}
        if not spec.path.startswith("hf:") and (Path(spec.path).exists() or any(c in spec.path for c in "*?[")):
            entry["files"] = {str(f): hash_file(f) for f in expand_paths(spec.path)}
        out.append(entry)
    return out


def fingerprint(material: Any) -> str:
    """sha256 of a JSON rendering of settings and hashes (pydantic models dumped)."""

    def default(o):
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot fingerprint {type(o).__name__}")

    text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
