"""Atomic output: write to a temporary sibling, then rename, so nothing is ever half-written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# One implementation of every atomic write (folders and files), re-exported for domainlm.
from vocab_tools.atomic import (atomic_directory, atomic_write, atomic_write_text, check_output_dir,  # noqa: F401
                                follow_umask, stage_file)


def write_json(path: str | os.PathLike, data, indent: int = 2) -> None:
    with atomic_write(path) as fh:
        json.dump(data, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")


# Content hashes of files (recipe stage fingerprints, resume fingerprints, bundle checksums).
FULL_HASH_LIMIT = 8 << 20
EDGE = 1 << 20
SAMPLES = 64
SAMPLE = 64 << 10


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
    h.update(f"{st.st_size}".encode())
    size = st.st_size
    with open(path, "rb") as fh:
        h.update(fh.read(EDGE))
        span = size - 2 * EDGE - SAMPLE
        for k in range(SAMPLES if span > 0 else 0):
            fh.seek(EDGE + span * k // max(SAMPLES - 1, 1))
            h.update(fh.read(SAMPLE))
        fh.seek(max(size - EDGE, 0))
        h.update(fh.read(EDGE))
    return "edges:" + h.hexdigest()
