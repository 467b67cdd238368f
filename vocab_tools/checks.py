"""Which terms may go into slots, and why the others may not.

A term is only worth a slot if WordPiece can ever emit it: the tokenizer's normaliser must leave it
unchanged (else the text it meets is never equal to it), its pre-tokenizer must keep it one word
(punctuation is always split off), and it must be new. Each reject carries a reason a user can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tokenizers import Tokenizer

from vocab_tools.manifest import SlotEntry
from vocab_tools.terms import Term

# Reason prefixes are stable so scripts and tests can match on them.
EMPTY = "empty term"
WHITESPACE = "contains whitespace"
DUPLICATE = "duplicate"
IN_VOCAB = "already in the vocab"
FILLED_OTHER = "already filled for another category"
NORMALISER = "would be changed by the normaliser"
TEXT_NORMALISER = "not kept by the text normalisation"
PRETOKENIZER = "would be split by the pre-tokenizer"
TOO_LONG = "longer than max_input_chars_per_word"
NO_SLOT = "no free slot left"


@dataclass
class Screened:
    accepted: list[Term] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    already_filled: list[SlotEntry] = field(default_factory=list)


def as_term(item: Term | str) -> Term:
    return item if isinstance(item, Term) else Term(str(item))


def screen_terms(
    terms: Iterable[Term | str],
    tokenizer: Tokenizer,
    token_to_id: dict[str, int],
    filled: dict[str, SlotEntry],
    *,
    category: str | None = None,
    max_input_chars_per_word: int = 100,
    text_normalizer: Callable[[str], str] | None = None,
) -> Screened:
    """Split `terms` into accepted, rejected (term, reason) and already filled (idempotent re-fill).

    `text_normalizer` is what the training and measured text goes through before the tokenizer sees
    it (domainlm's corpus normaliser): a term it changes (an emoji it drops, a repeat it caps) never
    occurs in that text, so its slot would never be used.
    """
    out = Screened()
    seen: set[str] = set()
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
    for item in terms:
        term = as_term(item)
        text, surface = term.term, term.surface
        if not surface.strip():
            out.rejected.append((text, EMPTY))
            continue
        if any(ch.isspace() for ch in text):
            out.rejected.append(
                (text, f"{WHITESPACE}: a vocab entry is part of one eojeol; write compounds without spaces")
            )
            continue
        if text in seen:
            out.rejected.append((text, f"{DUPLICATE} of an earlier term in the list"))
            continue
        seen.add(text)
        entry = filled.get(text)
        if entry is not None:
            want = category if category is not None else term.category
            if want is None or entry.category == want:
                out.already_filled.append(entry)
            else:
                out.rejected.append((text, f"{FILLED_OTHER} ({entry.category!r}, slot {entry.slot_id})"))
            continue
        if text in token_to_id:
            out.rejected.append((text, f"{IN_VOCAB} (id {token_to_id[text]})"))
            continue
        if text_normalizer is not None:
            cleaned = text_normalizer(surface).strip()
            if cleaned != surface:
                out.rejected.append(
                    (text, f"{TEXT_NORMALISER} (it becomes {cleaned!r}), so the text the model reads never holds it")
                )
                continue
        if normalizer is not None:
            normalised = normalizer.normalize_str(surface)
            if normalised != surface:
                out.rejected.append(
                    (
                        text,
                        f"{NORMALISER} to {normalised!r}, so text never matches it"
                        + (" (lowercasing: write it in lower case)" if normalised == surface.lower() else ""),
                    )
                )
                continue
        if pre_tokenizer is not None:
            words = [w for w, _ in pre_tokenizer.pre_tokenize_str(surface)]
            if len(words) != 1:
                out.rejected.append(
                    (text, f"{PRETOKENIZER} into {' '.join(words)} (punctuation is always its own word)")
                )
                continue
        if len(surface) > max_input_chars_per_word:
            out.rejected.append(
                (text, f"{TOO_LONG} ({len(surface)} > {max_input_chars_per_word}): such words become [UNK]")
            )
            continue
        out.accepted.append(term)
    return out


__all__ = [
    "screen_terms",
    "Screened",
    "as_term",
    "EMPTY",
    "WHITESPACE",
    "DUPLICATE",
    "IN_VOCAB",
    "FILLED_OTHER",
    "NORMALISER",
    "TEXT_NORMALISER",
    "PRETOKENIZER",
    "TOO_LONG",
    "NO_SLOT",
]
