"""Document filters: length bounds, streaming exact dedupe, deterministic held-out split."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_chars: int = Field(2, ge=0, description="Drop documents shorter than this after normalisation")
    max_chars: int | None = Field(None, ge=1, description="Drop documents longer than this (null: no limit)")
    dedupe: bool = Field(True, description="Drop exact duplicates (after normalisation)")
    dedupe_capacity: int = Field(
        5_000_000, ge=1, description="Distinct documents remembered for dedupe (~80 bytes each)"
    )


def text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class StreamingDeduper:
    """Exact dedupe by 64-bit hash in bounded memory.

    Remembers at most `capacity` distinct hashes (about 80 bytes each in CPython: 5M ≈ 400 MB).
    Once full, new documents are no longer remembered, so duplicates among them pass through;
    `saturated` says when that happened so callers can report it.
    """

    def __init__(self, capacity: int = 5_000_000):
        self.capacity = capacity
        self._seen: set[int] = set()
        self.duplicates = 0
        self.saturated = False

    def is_duplicate(self, text: str) -> bool:
        h = text_hash(text)
        if h in self._seen:
            self.duplicates += 1
            return True
        if len(self._seen) < self.capacity:
            self._seen.add(h)
        else:
            self.saturated = True
        return False

    def __len__(self) -> int:
        return len(self._seen)


def heldout_fraction_of(key: str, seed: str = "domainlm") -> float:
    """A number in [0, 1) fixed by the key: the same document always lands on the same side."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def is_heldout(key: str, fraction: float, seed: str = "domainlm") -> bool:
    """Deterministic held-out split by a hash of a document id (or its text)."""
    return fraction > 0 and heldout_fraction_of(key, seed) < fraction
