"""The base tokenizer as mining needs it: its vocab, its lowercasing and its free slots.

Loading (directory, tokenizer.json, vocab.txt or hub id, offline errors) is `vocab_tools.load_tokenizer`,
the same code `vocab fill` uses, so mining and filling read a tokenizer identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domainlm.errors import ModelError
from domainlm.mining.wordpiece import WordPiece
from vocab_tools.errors import VocabError
from vocab_tools.loading import load_tokenizer
from vocab_tools.slots import is_slot_token


@dataclass
class BaseTokenizer:
    name: str
    vocab: list[str]  # by id
    lowercase: bool = True
    max_input_chars_per_word: int = 100
    special: set[str] = field(default_factory=set)

    @property
    def free_slots(self) -> list[int]:
        """Ids of the `[unusedN]` entries (the slots terms can fill)."""
        return [i for i, tok in enumerate(self.vocab) if is_slot_token(tok)]

    def wordpiece(self) -> WordPiece:
        """A fresh mutable WordPiece over this vocab (slot and special tokens can never match a word)."""
        return WordPiece(
            (t for t in self.vocab if t not in self.special and not is_slot_token(t)),
            max_input_chars_per_word=self.max_input_chars_per_word,
        )


def load_base_tokenizer(name_or_path: str) -> BaseTokenizer:
    """Load the base tokenizer's vocab and flags from a directory, a file or a hub id."""
    try:
        tok = load_tokenizer(name_or_path)
    except VocabError as e:
        raise ModelError(f"Cannot load the base tokenizer: {e.message}", e.hint) from None
    data = tok.tokenizer_json_data()
    model_type = (data.get("model") or {}).get("type", "WordPiece")
    if model_type != "WordPiece":
        raise ModelError(
            f"The base tokenizer '{tok.source}' is a {model_type} model, not WordPiece.",
            "mine-terms fills the [unusedN] slots of BERT-style WordPiece tokenizers (BERT, ELECTRA, ALBERT with a "
            "WordPiece vocab).",
        )
    if not tok.hangul_preserved:
        # Stripping accents NFD-decomposes Hangul into jamo: no Korean term would ever match.
        raise ModelError(
            f"The base tokenizer '{tok.source}' strips accents, which decomposes Hangul syllables into jamo.",
            "Fix its normaliser first (`domainlm vocab fill --fix-normalizer`, or strip_accents=False); "
            "kykim/bert-kor-base uses lowercase=True, strip_accents=False.",
        )
    special = set(tok.special_tokens.values()) | {
        t["content"] for t in data.get("added_tokens", []) if t.get("special")
    }
    return BaseTokenizer(
        name=tok.source,
        vocab=list(tok.vocab),
        lowercase=bool(tok.settings.lowercase),
        max_input_chars_per_word=tok.max_input_chars_per_word,
        special=special,
    )
