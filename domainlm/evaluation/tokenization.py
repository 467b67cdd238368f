"""Tokenization before and after: fertility, UNK rate, filled-slot usage, normalisation agreement.

Counts come from the encodings MW-BPC already made (one tokenization per model and text), so
this costs no extra tokenizer pass. The definitions are docs/DESIGN.md's: fertility is tokens per eojeol
with special tokens excluded.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from domainlm.errors import EvaluationError
from domainlm.evaluation.encode import Side
from domainlm.stats import Estimate, ratio_estimate
from vocab_tools.slots import SlotEntry, changed_ids, is_slot_token, read_manifest

# Strings on which two normalisers are compared: accents, full-width forms, case, Hangul (the NFD
# trap of strip_accents), compatibility jamo, Hanja, control characters.
_PROBES = [
    "Àé Ñ café",
    "ＡＢＣ１２３",
    "LG 노트북 GRAM",
    "한국어 발림성",
    "ㅋㅋㅋ ㅠㅠ",
    "韓國語 漢字",
    "a\u200bb\tc",
    "가\u0301",
    "ﾃｽﾄ",
]


def read_slot_manifest(model_dir: str | Path) -> list[SlotEntry] | None:
    """The filled slots recorded in `slots.json` (vocab_tools' manifest), or None when there is none."""
    if not (Path(model_dir) / "slots.json").exists():
        return None
    return read_manifest(model_dir)


def filled_slots(before: Side, after: Side) -> tuple[list[SlotEntry], str]:
    """The slots the adaptation filled and where that list came from ("slots.json" or "vocab diff")."""
    manifest = read_slot_manifest(after.path) if after.path and Path(after.path).is_dir() else None
    if manifest:
        return manifest, "slots.json"
    # No manifest (or an empty one): an [unusedN] entry of the base whose id holds something else
    # after is a filled slot, however it was filled.
    old, new = before.vocab, after.vocab
    slots = [
        SlotEntry(slot_id=i, old_token=o, term=new[i], kind="continuation" if new[i].startswith("##") else "word")
        for i, o in enumerate(old)
        if i < len(new) and is_slot_token(o) and new[i] != o and new[i]
    ]
    return slots, "vocab diff"


def check_related_vocabularies(before: Side, after: Side) -> None:
    """Refuse an `after` whose vocabulary is not `before`'s with [unusedN] slots filled.

    Everything the report says about the vocabulary (filled slots, fertility change, examples)
    assumes that every other id means the same token in both. Two unrelated vocabularies would
    give a "vocab diff" of thousands of "filled slots" and a meaningless comparison.
    """
    old, new = before.vocab, after.vocab
    foreign = changed_ids(old, new)  # the rule adapt --filled-tokenizer follows too
    if foreign is None:
        raise EvaluationError(
            f"The after model's vocabulary has {len(new):,} entries, fewer than the before model's {len(old):,}: "
            "`after` "
            "must be `before` with [unusedN] slots filled (every other id unchanged).",
            "Pass as --before the base the after model was adapted from (its settings.json names it).",
        )
    # Entries past the base's end are slots that `adapt --resize` appended (and filled): allowed.
    if foreign and all(is_slot_token(new[i]) for i in foreign):
        raise EvaluationError(
            f"The before model has {len(foreign):,} filled slots that the after model has as free [unusedN] slots: "
            "--before and --after look swapped.",
            "Pass the base as --before and the adapted model as --after.",
        )
    if foreign:
        shown = ", ".join(f"id {i}: {old[i]!r} → {new[i]!r}" for i in foreign[:3])
        raise EvaluationError(
            f"The before and after vocabularies are unrelated: {len(foreign):,} of {len(old):,} ids that are not "
            f"[unusedN] slots hold other tokens ({shown}). `after` must be `before` with [unusedN] slots filled.",
            "Pass as --before the base the after model was adapted from (its settings.json names it).",
        )


@dataclass
class TokenStats:
    """Token counts of one side over one text set, per text for bootstrap intervals."""

    tokens: np.ndarray = field(repr=False)
    eojeols: np.ndarray = field(repr=False)
    unk: np.ndarray = field(repr=False)
    filled: np.ndarray = field(repr=False)
    slot_counts: Counter = field(default_factory=Counter, repr=False)

    def fertility(self, resamples: int, seed: int) -> Estimate:
        return ratio_estimate(self.tokens, self.eojeols, resamples=resamples, seed=seed)

    def unk_rate(self, resamples: int, seed: int) -> Estimate:
        return ratio_estimate(self.unk, self.tokens, resamples=resamples, seed=seed)

    def unk_per_eojeol(self, resamples: int, seed: int) -> Estimate:
        """[UNK]s per eojeol: unlike the per-token rate it does not rise just because filling removed tokens."""
        return ratio_estimate(self.unk, self.eojeols, resamples=resamples, seed=seed)

    def filled_share(self, resamples: int, seed: int) -> Estimate:
        """Share of all emitted tokens that are filled slots."""
        return ratio_estimate(self.filled, self.tokens, resamples=resamples, seed=seed)


def token_stats(side: Side, eojeol_lists: Sequence[Sequence[str]], filled_ids: set[int]) -> TokenStats:
    encoded = side.encode(eojeol_lists)
    unk_id = side.tokenizer.unk_token_id
    n = len(encoded)
    tokens, eojeols, unk, filled = (np.zeros(n, dtype=np.int64) for _ in range(4))
    slot_counts: Counter = Counter()
    for i, (enc, words) in enumerate(zip(encoded, eojeol_lists)):
        body = [t for t, w in zip(enc.ids, enc.word_ids) if w is not None]
        tokens[i] = len(body)
        eojeols[i] = len(words)
        unk[i] = sum(1 for t in body if t == unk_id)
        if filled_ids:
            hits = [t for t in body if t in filled_ids]
            filled[i] = len(hits)
            slot_counts.update(hits)
    return TokenStats(tokens, eojeols, unk, filled, slot_counts)


# ---------------------------------------------------------------- normalisation agreement


def _normalize_with(side: Side, text: str) -> str:
    normalizer = side.tokenizer.backend_tokenizer.normalizer
    return text if normalizer is None else normalizer.normalize_str(text)


def normalisation_warnings(before: Side, after: Side, sample: Sequence[str] = ()) -> list[str]:
    """Warnings when the two tokenizers normalise text differently, or when one decomposes Hangul."""
    warnings: list[str] = []
    probes = list(_PROBES) + list(sample[:200])
    differ = [p for p in probes if _normalize_with(before, p) != _normalize_with(after, p)]
    if differ:
        example = differ[0]
        warnings.append(
            f"The before and after tokenizers normalise text differently ({len(differ)} of {len(probes)} probe "
            f"strings differ, e.g. {example!r} → {_normalize_with(before, example)!r} vs "
            f"{_normalize_with(after, example)!r}). Token counts are not like for like; MW-BPC stays comparable "
            f"because it is measured per character of the same normalised eojeols."
        )
    for side in (before, after):
        out = _normalize_with(side, "한국어")
        if unicodedata.normalize("NFC", out) == "한국어" and out != "한국어":
            warnings.append(
                f"The {side.name} tokenizer ({side.path}) decomposes Hangul into jamo (strip_accents is on): its "
                "pieces are jamo, not syllables. Set strip_accents=False in its normaliser (see docs/DESIGN.md, "
                "Known traps)."
            )
    return warnings


# ---------------------------------------------------------------- examples for the report


def example_rows(
    before: Side,
    after: Side,
    eojeol_lists: Sequence[Sequence[str]],
    filled_ids: set[int],
    limit: int,
    max_eojeols: int = 16,
) -> list[dict]:
    """Texts whose tokenization the adaptation changed the most (filled slots used), before and after."""
    enc_b = before.encode(eojeol_lists)
    enc_a = after.encode(eojeol_lists)
    scored = []
    for i, words in enumerate(eojeol_lists):
        if not words or len(words) > max_eojeols:
            continue
        body_a = [t for t, w in zip(enc_a[i].ids, enc_a[i].word_ids) if w is not None]
        body_b = [t for t, w in zip(enc_b[i].ids, enc_b[i].word_ids) if w is not None]
        uses = sum(1 for t in body_a if t in filled_ids)
        scored.append((-(uses > 0), -(len(body_b) - len(body_a)), i, body_b, body_a))
    scored.sort()
    rows = []
    for _, _, i, body_b, body_a in scored[:limit]:
        rows.append(
            {
                "text": " ".join(eojeol_lists[i]),
                "before": before.tokenizer.convert_ids_to_tokens(body_b),
                "after": after.tokenizer.convert_ids_to_tokens(body_a),
            }
        )
    return rows
