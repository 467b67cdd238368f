"""Atomic output: write to a temporary sibling, then rename, so nothing is ever half-written."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

# One implementation of every atomic write (folders and files), re-exported for domainlm.
from vocab_tools.atomic import (  # noqa: F401
    atomic_directory,
    atomic_write,
    atomic_write_text,
    check_output_dir,
    follow_umask,
    stage_file,
)


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


# ---------------------------------------------------------------- YAML


@functools.lru_cache(maxsize=1)
def _strict_loader():
    import yaml

    class StrictSafeLoader(yaml.SafeLoader):
        """yaml.SafeLoader (plain data only) that refuses a key given twice in one mapping: PyYAML
        silently keeps the last one, so `name:` written twice would change a recipe unseen."""

        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor`: its keys may be given again, that is what it is for
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: construct_mapping below says so
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
            return super().construct_mapping(node, deep=deep)

    return StrictSafeLoader


def load_yaml(text: str):
    """`yaml.safe_load`, refusing duplicate keys (a `yaml.YAMLError` whose mark names the second one).

    Every YAML domainlm reads (recipes, their listing, bundles, task files, --set values) goes
    through here."""
    loader = _strict_loader()(text)  # a SafeLoader subclass: plain data only, never an object
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
