"""Cheap, stable content fingerprints of corpora, model folders and settings.

A stage is skipped when the fingerprint of its inputs is unchanged. Fingerprints are of CONTENT and
of paths relative to what a setting names, never of absolute paths or modification times: the same
data under another --data-dir (copied, moved, another machine) gives the same fingerprints.

Small files are hashed whole; a big file (over `FULL_HASH_LIMIT`) by its size, its first and last
MiB and `SAMPLES` blocks spread evenly between them, so a 30 GB corpus costs a few reads, not a full
pass, while a truncation, an append or an edit of any length change still changes the hash. (An
edit that keeps the size and falls between the sampled blocks does not: `recipe run --force STAGE`.)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

# File content hashes live with the other file helpers (training's resume fingerprint uses them too).
from domainlm.io import hash_file, sha256_file  # noqa: E402,F401


def hash_path(path: str | os.PathLike, exclude: Iterable[str] = ()) -> str:
    """A file, or every file under a directory (names included, `exclude` names left out), or the
    text of a hub name."""
    exclude = set(exclude)
    p = Path(path)
    if p.is_file():
        return hash_file(p)
    if p.is_dir():
        h = hashlib.sha256()
        # Hidden files and folders (markers, locks, a half-written sibling's temp files) never count.
        files = (
            x
            for x in p.rglob("*")
            if x.is_file()
            and x.name not in exclude
            and not any(part.startswith(".") for part in x.relative_to(p).parts)
        )
        for f in sorted(files):
            h.update(f"{f.relative_to(p).as_posix()}={hash_file(f)}\n".encode())
        return "dir:" + h.hexdigest()
    return "name:" + str(path)  # a hub id or a missing path: only its spelling can be fingerprinted


_GLOB = "*?["


def _glob_root(pattern: str) -> tuple[Path, str]:
    """`/data/reviews/*/x.txt` → (`/data/reviews`, `*/x.txt`): the folder a pattern starts from."""
    parts = Path(pattern).parts
    for i, part in enumerate(parts):
        if any(c in part for c in _GLOB):
            return Path(*parts[:i]) if i else Path("."), Path(*parts[i:]).as_posix()
    return Path(pattern), ""


def hash_corpora(specs: Iterable) -> list[Any]:
    """Fingerprint of corpus specs: their settings and the content of every file they name.

    Files are named relative to what the spec names (a folder, or where a glob starts; a single file
    by its content alone), so where the data root is does not count.
    """
    from domainlm.corpus.reader import expand_paths, is_saved_dataset
    from domainlm.corpus.spec import corpus_specs

    out = []
    for spec in corpus_specs(specs):
        entry: dict[str, Any] = {"spec": spec.model_dump(mode="json", exclude={"path"})}
        path = spec.path
        if path.startswith("hf:"):
            entry["dataset"] = path
        elif is_saved_dataset(Path(path)):
            entry["dataset"] = hash_path(path)
        elif any(c in path for c in _GLOB):
            root, pattern = _glob_root(path)
            entry["pattern"] = pattern
            entry["files"] = [[f.relative_to(root).as_posix(), hash_file(f)] for f in expand_paths(path)]
        elif Path(path).is_dir():
            entry["files"] = [[f.relative_to(path).as_posix(), hash_file(f)] for f in expand_paths(path)]
        elif Path(path).exists():
            entry["files"] = [["", hash_file(path)]]
        else:
            entry["missing"] = Path(path).name  # the stage will report it; only its name can count
        out.append(entry)
    return out


def portable_material(value: Any) -> Any:
    """Settings with every CorpusSpec replaced by its content fingerprint (`hash_corpora`)."""
    from domainlm.corpus.reader import CorpusSpec

    if isinstance(value, CorpusSpec):
        return hash_corpora([value])[0]
    if isinstance(value, BaseModel):
        return {name: portable_material(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: portable_material(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_material(v) for v in value]
    return value


def fingerprint(material: Any) -> str:
    """sha256 of a JSON rendering of settings and hashes (pydantic models dumped)."""

    def default(o):
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot fingerprint {type(o).__name__}")

    text = json.dumps(portable_material(material), sort_keys=True, ensure_ascii=False, default=default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
