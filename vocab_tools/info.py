"""`inspect_tokenizer`: size, slots (free and filled), special tokens, normaliser, and what is wrong.

Warnings are the point of this report: a normaliser that NFD-decomposes Hangul silently turns every
Korean word into jamo (→ [UNK] or a very long piece sequence), and a tokenizer without slots cannot
be filled at all. Each warning comes with the fix.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vocab_tools.loading import LoadedTokenizer, load_tokenizer
from vocab_tools.manifest import SlotEntry
from vocab_tools.slots import format_ranges, slot_ids

NFD_FIX = (
    "Set strip_accents to false (keep lowercase as it is) in the BertNormalizer of tokenizer.json and in "
    "tokenizer_config.json, or let `domainlm vocab fill … --fix-normalizer` write the filled tokenizer with it. "
    "This is right for models pretrained on undecomposed Hangul (kykim/bert-kor-base, KoELECTRA, KcBERT)."
)
NO_SLOTS_HINT = (
    "Filling needs reserved [unusedN] rows. Choose a base that has them (kykim/bert-kor-base: 2,000; "
    "KoELECTRA: 200), or build a vocab with slots (`domainlm vocab build --unused 2000`) and pretrain on it. "
    "Adding tokens instead (tokenizer.add_tokens + resize_token_embeddings) grows the embedding matrix and "
    "bypasses WordPiece ## continuation."
)


@dataclass
class InfoWarning:
    message: str
    fix: str | None = None
    level: str = "warning"  # "warning": something will go wrong; "note": worth knowing

    def to_dict(self) -> dict:
        return {"level": self.level, "message": self.message, "fix": self.fix}


@dataclass
class TokenizerInfo:
    source: str
    path: Path
    files: list[str]
    size: int
    extra_added_tokens: int  # added tokens outside the WordPiece vocab (they grew the matrix)
    specials: dict[str, tuple[str, int | None]]
    free_slot_ids: list[int]
    filled: list[SlotEntry]
    normalizer: dict
    hangul_preserved: bool
    slots_as_added_tokens: int  # free slots registered as added tokens (kykim-style, harmless while unfilled)
    warnings: list[InfoWarning] = field(default_factory=list)

    @property
    def free_slots(self) -> int:
        return len(self.free_slot_ids)

    @property
    def total_slots(self) -> int:
        return len(self.free_slot_ids) + len(self.filled)

    @property
    def free_ranges(self) -> str:
        return format_ranges(self.free_slot_ids)

    @property
    def filled_ranges(self) -> str:
        return format_ranges(e.slot_id for e in self.filled)

    @property
    def filled_by_category(self) -> dict[str, int]:
        return dict(Counter(e.category or "(none)" for e in self.filled))

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "path": str(self.path),
            "files": self.files,
            "size": self.size,
            "extra_added_tokens": self.extra_added_tokens,
            "specials": {k: {"token": t, "id": i} for k, (t, i) in self.specials.items()},
            "slots": {
                "total": self.total_slots,
                "free": self.free_slots,
                "free_ranges": self.free_ranges,
                "filled": len(self.filled),
                "filled_ranges": self.filled_ranges,
                "filled_by_category": self.filled_by_category,
                "free_as_added_tokens": self.slots_as_added_tokens,
            },
            "filled": [e.to_dict() for e in self.filled],
            "normalizer": self.normalizer,
            "hangul_preserved": self.hangul_preserved,
            "warnings": [w.to_dict() for w in self.warnings],
        }


def inspect_tokenizer(path: str | os.PathLike | LoadedTokenizer) -> TokenizerInfo:
    """Describe a BERT-style tokenizer (directory, vocab.txt, tokenizer.json or hub id)."""
    tok = load_tokenizer(path)
    ids = tok.token_to_id
    free = slot_ids(tok.vocab)
    added = tok.added_token_ids
    specials = {k: (t, ids.get(t)) for k, t in tok.special_tokens.items()}
    filled = [e for e in tok.manifest if 0 <= e.slot_id < len(tok.vocab) and tok.vocab[e.slot_id] == e.term]
    info = TokenizerInfo(
        source=tok.source,
        path=tok.path,
        files=tok.files,
        size=len(tok.vocab),
        extra_added_tokens=sum(1 for i in added if i >= len(tok.vocab)),
        specials=specials,
        free_slot_ids=free,
        filled=filled,
        normalizer=tok.settings.to_dict(),
        hangul_preserved=tok.hangul_preserved,
        slots_as_added_tokens=sum(1 for i in free if i in added),
    )
    info.warnings = _warnings(tok, info)
    return info


def _warnings(tok: LoadedTokenizer, info: TokenizerInfo) -> list[InfoWarning]:
    """One check per problem, each giving its warning or None, in the order the report lists them."""
    checks = (_normaliser_warning, _mismatch_warning, _duplicates_warning, _stale_manifest_warning, _slots_warning)
    return [w for check in checks if (w := check(tok, info)) is not None]


def _normaliser_warning(tok: LoadedTokenizer, info: TokenizerInfo) -> InfoWarning | None:
    s = tok.settings
    if not info.hangul_preserved:
        return InfoWarning(
            f"The normaliser NFD-decomposes Hangul into jamo (lowercase={s.lowercase}, "
            f"strip_accents={s.strip_accents}, "
            f"from {s.origin}): every Korean syllable becomes 2–3 jamo before WordPiece sees it.",
            NFD_FIX,
        )
    if s.assumed:
        return InfoWarning(
            "A bare vocab.txt does not say how to normalise text; transformers would default to "
            "do_lower_case=True with "
            "strip_accents unset, which NFD-decomposes Hangul. vocab_tools assumes "
            f"lowercase={s.lowercase} (the vocab {'has no' if s.lowercase else 'has'} upper-case Latin pieces), "
            "strip_accents=False.",
            'Put a tokenizer_config.json next to it with do_lower_case and "strip_accents": false '
            "(`domainlm vocab fill` writes one into its output).",
        )
    if (
        tok.tokenizer_json is not None
        and tok.vocab_txt is not None
        and tok.config.get("do_lower_case", True)
        and "strip_accents" not in tok.config
        and s.kind == "BertNormalizer"
    ):
        return InfoWarning(
            "tokenizer.json keeps Hangul intact, but tokenizer_config.json does not set strip_accents: a load "
            "from vocab.txt "
            "alone (slow tokenizer, older transformers) would NFD-decompose Hangul and give different ids.",
            'Add "strip_accents": false to tokenizer_config.json (`domainlm vocab fill` writes it).',
        )
    return None


def _mismatch_warning(tok: LoadedTokenizer, info: TokenizerInfo) -> InfoWarning | None:
    if not tok.mismatch:
        return None
    return InfoWarning(
        f"vocab.txt and tokenizer.json disagree: {tok.mismatch}. AutoTokenizer uses tokenizer.json; "
        "a vocab.txt-only load gets different ids.",
        "Delete the stale file (usually tokenizer.json; transformers rebuilds it from vocab.txt).",
    )


def _duplicates_warning(tok: LoadedTokenizer, info: TokenizerInfo) -> InfoWarning | None:
    dupes = [t for t, n in Counter(tok.vocab).items() if n > 1]
    if not dupes:
        return None
    return InfoWarning(
        f"{len(dupes)} tokens appear more than once in the vocab (e.g. {dupes[:3]}); only their last id is "
        "ever emitted.",
        None,
    )


def _stale_manifest_warning(tok: LoadedTokenizer, info: TokenizerInfo) -> InfoWarning | None:
    stale = [e for e in tok.manifest if not (0 <= e.slot_id < len(tok.vocab) and tok.vocab[e.slot_id] == e.term)]
    if not stale:
        return None
    e = stale[0]
    return InfoWarning(
        f"{len(stale)} entries of slots.json do not match the vocab (slot {e.slot_id} should hold {e.term!r}).",
        "The vocab was edited after filling; refill from the base tokenizer.",
    )


def _slots_warning(tok: LoadedTokenizer, info: TokenizerInfo) -> InfoWarning | None:
    if info.total_slots == 0:
        return InfoWarning(
            "This tokenizer has no [unusedN] slots, so no term can be filled without growing the vocab.",
            NO_SLOTS_HINT,
        )
    if info.free_slots == 0:
        return InfoWarning(
            f"All {info.total_slots:,} slots are filled.",
            "Free some with `domainlm vocab unfill --category NAME` before filling more.",
            level="note",
        )
    return None


__all__ = ["inspect_tokenizer", "TokenizerInfo"]
