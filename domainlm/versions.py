"""The library versions recorded beside every output (a model's `versions.json`, fine-tuning results,
evaluation reports), so that a number can be traced to the code that made it. Stdlib only."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata

# What every adaptation, evaluation and fine-tuning run depends on.
LIBRARIES = ("domainlm", "torch", "transformers", "tokenizers", "peft", "accelerate")


def library_versions(extra: Iterable[str] = ()) -> dict[str, str | None]:
    """Python's version and each library's of `LIBRARIES` and `extra` (None where it is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in dict.fromkeys([*LIBRARIES, *extra]):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions["domainlm"] is None:  # a source checkout that is not installed
        from domainlm import __version__

        versions["domainlm"] = __version__
    return versions


__all__ = ["LIBRARIES", "library_versions"]
