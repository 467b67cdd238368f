"""Reserved `[unusedN]` slots: finding the free ones, and appending new ones to a tokenizer.

A slot is a vocabulary entry whose token is `[unusedN]`: an embedding row the model was trained with
but never saw used, so writing a term there keeps every shape and every other id. Slots may sit
anywhere (kykim: 2,000; KoELECTRA: 200 at the end; KcBERT: none). Which slots hold which terms is
the manifest's (`vocab_tools.manifest`, re-exported here).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Sequence

from vocab_tools.errors import VocabError
from vocab_tools.loading import LoadedTokenizer, load_tokenizer
from vocab_tools.manifest import MANIFEST_NAME, SlotEntry, read_manifest  # noqa: F401  (re-exported)
from vocab_tools.writing import tokenizer_json_text, write_tokenizer_dir

SLOT_PATTERN = re.compile(r"^\[unused(\d+)\]$")


def is_slot_token(token: str) -> bool:
    return SLOT_PATTERN.match(token) is not None


def slot_ids(vocab: Sequence[str]) -> list[int]:
    """Ids of the entries that are still `[unusedN]`, ascending."""
    return [i for i, token in enumerate(vocab) if is_slot_token(token)]


def changed_ids(base: Sequence[str], filled: Sequence[str]) -> list[int] | None:
    """The ids of `base` that are not [unusedN] slots yet hold another token in `filled`, or None when
    `filled` is shorter than `base`: `filled` is `base` with slots filled (and, after `append_slots`,
    entries added past its end) exactly when this is []. The one rule of `adapt --filled-tokenizer`
    and `evaluate`: every other id must mean the same token on both sides."""
    if len(filled) < len(base):
        return None
    return [i for i, (a, b) in enumerate(zip(base, filled)) if a != b and not is_slot_token(a)]


def id_ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse ids into inclusive (first, last) runs: [5, 6, 7, 20] -> [(5, 7), (20, 20)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def format_ranges(ids: Iterable[int]) -> str:
    runs = id_ranges(ids)
    if not runs:
        return "none"
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in runs)


def free_slots(path_or_vocab) -> list[int]:
    """Ids of the free `[unusedN]` slots of a tokenizer (path, hub id, `LoadedTokenizer`) or a vocab list."""
    if isinstance(path_or_vocab, (list, tuple)):
        return slot_ids(path_or_vocab)
    loaded = path_or_vocab if isinstance(path_or_vocab, LoadedTokenizer) else load_tokenizer(path_or_vocab)
    return slot_ids(loaded.vocab)


def append_slots(directory: str | os.PathLike, count: int) -> list[str]:
    """Append `count` new `[unusedN]` entries to the tokenizer in `directory`, in place; the new tokens.

    For a base with fewer free slots than terms (KcBERT has none), where the model's matrices grow by
    as many rows (`adapt --resize`). The new entries are numbered after the highest `[unusedN]` of the
    vocab, take the ids after the last one, and go into tokenizer.json (as special added tokens, the
    layout of the original slots) and vocab.txt when there is one, so `free_slots` finds them. Both
    files are replaced together (`write_tokenizer_dir`): a failed write leaves the tokenizer unchanged.
    """
    tok = load_tokenizer(directory)
    if tok.tokenizer_json is None:
        raise VocabError(
            f"The tokenizer in '{directory}' has no tokenizer.json, so slots cannot be appended.",
            "Save it as a fast tokenizer first.",
        )
    data = copy.deepcopy(tok.tokenizer_json)
    added = data.setdefault("added_tokens", [])
    size = max(len(tok.vocab), max((int(t["id"]) for t in added), default=-1) + 1)
    first = max((int(m.group(1)) for t in tok.vocab if (m := SLOT_PATTERN.match(t))), default=-1) + 1
    new = [f"[unused{first + k}]" for k in range(count)]
    for k, token in enumerate(new):
        data["model"]["vocab"][token] = size + k
        added.append(
            {
                "id": size + k,
                "content": token,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        )
    files = {"tokenizer.json": tokenizer_json_text(data)}
    if tok.vocab_txt is not None:
        files["vocab.txt"] = tok.vocab_txt.render(tok.vocab_txt.tokens + new)
    write_tokenizer_dir(directory, files, in_place=True)
    return new


__all__ = [
    "free_slots",
    "append_slots",
    "is_slot_token",
    "slot_ids",
    "changed_ids",
    "id_ranges",
    "format_ranges",
    "SLOT_PATTERN",
    "SlotEntry",
    "read_manifest",
    "MANIFEST_NAME",
]
