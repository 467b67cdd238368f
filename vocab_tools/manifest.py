"""The `slots.json` manifest: which `[unusedN]` slots of a tokenizer hold which terms, and what they held.

The manifest is the only record of what a filled slot held before, so `unfill` can undo a fill
exactly and several categories can share one pool of slots. Stdlib only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

from vocab_tools.errors import VocabError

MANIFEST_NAME = "slots.json"
MANIFEST_FORMAT = 1


@dataclass
class SlotEntry:
    """One filled slot: where it is, what it held, what it holds now, and why.

    `restore` keeps whatever else the slot's old token had in the tokenizer files (its `added_tokens`
    entry in tokenizer.json, its `added_tokens_decoder` entry in tokenizer_config.json, the special
    token lists it was named in), so `unfill` puts the files back exactly as they were.
    """

    slot_id: int
    old_token: str
    term: str
    kind: str = "word"
    category: str | None = None
    score: float | None = None
    source: str | None = None
    restore: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.restore:
            data.pop("restore")
        return data

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "SlotEntry":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = [k for k in ("slot_id", "old_token", "term") if k not in data]
        if unknown or missing:
            problem = f"unknown keys {unknown}" if unknown else f"missing keys {missing}"
            raise VocabError(f"{where}: a slot entry has {problem}.",
                             f"Each entry needs slot_id, old_token and term; allowed keys: {', '.join(sorted(known))}.")
        return cls(**data)


def manifest_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / MANIFEST_NAME


def read_manifest(directory: str | os.PathLike) -> list[SlotEntry]:
    """The filled slots recorded in `directory/slots.json` (empty when there is no manifest)."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME if directory.is_dir() else directory.parent / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise VocabError(f"The slot manifest {path} is not valid JSON ({e}).",
                         "Restore it from a backup, or delete it if no slot of this tokenizer was filled by domainlm.") from None
    entries = data.get("slots") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise VocabError(f"The slot manifest {path} has no `slots` list.", "It should look like {\"format\": 1, \"slots\": [...]}.")
    return [SlotEntry.from_dict(e, str(path)) for e in entries]


def manifest_json(entries: Sequence[SlotEntry]) -> str:
    data = {"format": MANIFEST_FORMAT, "slots": [e.to_dict() for e in sorted(entries, key=lambda e: e.slot_id)]}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


__all__ = ["SlotEntry", "read_manifest", "manifest_json", "manifest_path", "MANIFEST_NAME", "MANIFEST_FORMAT"]
