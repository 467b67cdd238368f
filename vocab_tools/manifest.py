"""The `slots.json` manifest: which `[unusedN]` slots of a tokenizer hold which terms, and what they held.

The manifest is the only record of what a filled slot held before, so `unfill` can undo a fill
exactly and several categories can share one pool of slots. Stdlib only.

A copy lives in tokenizer_config.json under `domainlm_slots`: transformers 5's `save_pretrained`
(and so a Trainer's checkpoints) writes only tokenizer.json and tokenizer_config.json, dropping
slots.json, but it keeps unknown keys of tokenizer_config.json (they travel in the tokenizer's
`init_kwargs`). slots.json, when present, is the one read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from vocab_tools.errors import VocabError

MANIFEST_NAME = "slots.json"
MANIFEST_FORMAT = 1
CONFIG_NAME = "tokenizer_config.json"
CONFIG_KEY = "domainlm_slots"  # the manifest's copy inside tokenizer_config.json


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
    def from_dict(cls, data: dict, where: str) -> SlotEntry:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = [k for k in ("slot_id", "old_token", "term") if k not in data]
        if unknown or missing:
            problem = f"unknown keys {unknown}" if unknown else f"missing keys {missing}"
            raise VocabError(
                f"{where}: a slot entry has {problem}.",
                f"Each entry needs slot_id, old_token and term; allowed keys: {', '.join(sorted(known))}.",
            )
        return cls(**data)


def manifest_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / MANIFEST_NAME


def _folder(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    return directory if directory.is_dir() else directory.parent


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise VocabError(
            f"The slot manifest in {path} is not valid JSON ({e}).",
            "Restore it from a backup, or delete it if no slot of this tokenizer was filled by domainlm.",
        ) from None


def _stored_manifest(directory: str | os.PathLike) -> tuple[object, Path] | None:
    """(the manifest's data, the file it is in): slots.json, else the copy in tokenizer_config.json."""
    folder = _folder(directory)
    if (folder / MANIFEST_NAME).is_file():
        return _read_json(folder / MANIFEST_NAME), folder / MANIFEST_NAME
    config_path = folder / CONFIG_NAME
    if config_path.is_file():
        config = _read_json(config_path)
        if isinstance(config, dict) and CONFIG_KEY in config:
            return config[CONFIG_KEY], config_path
    return None


def has_manifest(directory: str | os.PathLike) -> bool:
    """Whether a fill by vocab_tools left its record in `directory` (slots.json or its tokenizer_config.json copy)."""
    return _stored_manifest(directory) is not None


def read_manifest(directory: str | os.PathLike) -> list[SlotEntry]:
    """The filled slots recorded in `directory` (empty when there is no manifest)."""
    stored = _stored_manifest(directory)
    if stored is None:
        return []
    data, path = stored
    entries = data.get("slots") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise VocabError(
            f"The slot manifest in {path} has no `slots` list.", 'It should look like {"format": 1, "slots": [...]}.'
        )
    return [SlotEntry.from_dict(e, str(path)) for e in entries]


def manifest_data(entries: Sequence[SlotEntry]) -> dict:
    return {"format": MANIFEST_FORMAT, "slots": [e.to_dict() for e in sorted(entries, key=lambda e: e.slot_id)]}


def manifest_json(entries: Sequence[SlotEntry]) -> str:
    return json.dumps(manifest_data(entries), ensure_ascii=False, indent=1) + "\n"


def with_manifest_copy(config: dict, entries: Sequence[SlotEntry]) -> dict:
    """tokenizer_config.json's content carrying the manifest (or, with no filled slot, without the key)."""
    config = dict(config)
    if entries:
        config[CONFIG_KEY] = manifest_data(entries)
    else:
        config.pop(CONFIG_KEY, None)
    return config


__all__ = [
    "SlotEntry",
    "read_manifest",
    "has_manifest",
    "manifest_json",
    "manifest_data",
    "manifest_path",
    "with_manifest_copy",
    "MANIFEST_NAME",
    "MANIFEST_FORMAT",
    "CONFIG_KEY",
]
