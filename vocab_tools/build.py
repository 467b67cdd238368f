"""Build a BERT-style WordPiece vocabulary with reserved `[unusedN]` slots, as the Korean BERTs did.

Layout of the result (defaults: 40,000 + 2,000 = 42,000 entries, like kykim/bert-kor-base):
`[PAD] [UNK] [CLS] [SEP] [MASK]` at ids 0–4, then the `unused` slots `[unused0]…` (or after the
pieces with `slots_at="end"`, as KoELECTRA has them), then the learned pieces. `vocab_size` counts
the five specials and the pieces; the slots come on top.

The slots are inserted after training rather than passed to the trainer as special tokens: the
trainer would register them as added tokens, which the filling step must avoid (see writing.py).

Reproducible: the same texts and settings give byte-identical files, in one process or in several
(HF's trainer alone does not: see `_CorpusPass`).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from vocab_tools.atomic import check_output_dir, output_error, scratch_dir, write_failure
from vocab_tools.errors import VocabError
from vocab_tools.loading import NormalizerSettings
from vocab_tools.writing import (
    bert_tokenizer_json,
    dumps,
    special_tokens_map,
    tokenizer_config,
    tokenizer_json_text,
    write_tokenizer_dir,
)

BUILD_COMMAND = "vocab build"  # named in the marker of the folders it writes (vocab_tools.atomic)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SPECIAL_NAMES = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


@dataclass
class BuildResult:
    out_dir: Path
    vocab_size: int  # entries in vocab.txt: specials + pieces + slots
    pieces: int  # learned pieces (specials excluded)
    requested_pieces: int
    unused: int
    slot_range: tuple[int, int] | None
    texts: int
    characters: int
    seconds: float
    lowercase: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "vocab_size": self.vocab_size,
            "pieces": self.pieces,
            "requested_pieces": self.requested_pieces,
            "unused": self.unused,
            "slot_range": list(self.slot_range) if self.slot_range else None,
            "texts": self.texts,
            "characters": self.characters,
            "seconds": round(self.seconds, 2),
            "lowercase": self.lowercase,
            "warnings": self.warnings,
        }


class _CorpusPass:
    """One pass over the texts before training: normalise them as the tokenizer does, spool the result
    for the trainer, and count what the trainer would otherwise decide in hash-map order.

    HF's WordPiece trainer (a BPE trainer underneath) gives a different vocabulary on every run
    (tokenizers issue 1794): with `limit_alphabet` it cuts characters of equal count in hash order,
    it numbers the `##c` continuation characters in the order it meets words in a hash map, and it
    breaks ties between merges of equal count by those numbers, so both the ids and the piece set
    move. Its merges are otherwise a pure function of (count, pair ids). So this pass fixes the
    inputs of that function: the kept alphabet (count, then code point), given to the trainer as
    its initial alphabet, and every `##c` the trainer would create; both go to the trainer as
    special tokens in code-point order (the alphabet first, as the trainer numbers it), so every id
    is fixed before the first merge. Both are computed as the trainer does, with its own normaliser
    and pre-tokeniser, so the result is the vocabulary the trainer would build, minus the
    arbitrariness (the special tokens only fix ids: the pieces are kept, as learned pieces).
    """

    BATCH = 1000  # texts normalised per call into tokenizers

    def __init__(self, normalizer, pre_tokenizer, spool: TextIO, progress: Callable[[int], None] | None):
        self.normalizer, self.pre_tokenizer, self.spool, self.progress = normalizer, pre_tokenizer, spool, progress
        self.count = self.characters = 0
        self.chars: Counter[str] = Counter()  # occurrences of each character in the normalised text
        self.inner: set[str] = set()  # characters seen after the first character of a pre-token: they get a ## form
        self.kinds: dict[str, str] = {
            " ": "space"
        }  # character → "space" | "punct" | "word", as the pre-tokeniser splits
        self._runs: re.Pattern | None = None

    def feed(self, texts: Iterable[str]) -> None:
        batch: list[str] = []
        for text in texts:
            if not text:
                continue
            self.count += 1
            self.characters += len(text)
            batch.append(text)
            if self.progress is not None and self.count % 1000 == 0:
                self.progress(self.count)
            if len(batch) >= self.BATCH:
                self._add(batch)
                batch = []
        if batch:
            self._add(batch)

    def _add(self, batch: list[str]) -> None:
        # The normaliser works character by character and turns the joining newline into a space.
        text = self.normalizer.normalize_str("\n".join(batch))
        counts = Counter(text)
        new = [c for c in counts if c not in self.kinds]
        if new or self._runs is None:
            for c in new:
                self.kinds[c] = self._kind(c)
            breaks = "".join(re.escape(c) for c in sorted(c for c, kind in self.kinds.items() if kind != "word"))
            # A run of two or more word characters: the pre-token's first character, then its inner ones.
            self._runs = re.compile(f"[^{breaks}]([^{breaks}]+)")
        self.chars.update(counts)
        self.inner.update("".join(self._runs.findall(text)))
        self.spool.write(text)
        self.spool.write("\n")

    def _kind(self, c: str) -> str:
        pieces = [piece for piece, _ in self.pre_tokenizer.pre_tokenize_str(f"a{c}a")]
        if pieces == ["a", "a"]:
            return "space"
        if pieces == ["a", c, "a"]:
            return "punct"  # always a pre-token of its own: never a continuation
        return "word"

    def alphabet(self, limit: int | None) -> list[str]:
        """The characters the trainer keeps, in code-point order: with `limit`, the most frequent
        (ties by code point), as the trainer keeps them but without its arbitrary cut."""
        chars = [c for c, n in self.chars.items() if n > 0 and self.kinds.get(c) != "space"]
        if limit is not None and len(chars) > limit:
            chars = sorted(chars, key=lambda c: (-self.chars[c], c))[:limit]
        return sorted(chars)

    def continuations(self, alphabet: list[str]) -> list[str]:
        """The `##c` pieces the trainer will create, in code-point order."""
        return [f"##{c}" for c in alphabet if c in self.inner]


def build_vocab(
    texts: Iterable[str],
    out_dir: str | os.PathLike,
    vocab_size: int = 40000,
    unused: int = 2000,
    *,
    lowercase: bool = True,
    strip_accents: bool = False,
    min_frequency: int = 2,
    limit_alphabet: int | None = None,
    slots_at: str = "start",
    max_input_chars_per_word: int = 100,
    show_progress: bool = False,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> BuildResult:
    """Train a WordPiece vocab on `texts` and write an HF tokenizer directory (see module doc).

    `out_dir` must be new, empty or an earlier `vocab build` output, unless `force`: checked before
    any text is read, so a refused folder costs no training time.
    """
    _check_build_settings(vocab_size, unused, slots_at, lowercase, strip_accents, limit_alphabet)
    check_output_dir(out_dir, BUILD_COMMAND, force)
    settings = NormalizerSettings(lowercase, False, True, True)
    started = time.perf_counter()
    pieces, counted = _train_pieces(
        texts,
        out_dir,
        vocab_size,
        lowercase=lowercase,
        min_frequency=min_frequency,
        limit_alphabet=limit_alphabet,
        max_input_chars_per_word=max_input_chars_per_word,
        show_progress=show_progress,
        progress=progress,
    )
    vocab, slot_range = _lay_out_slots(pieces, unused, slots_at)
    data = bert_tokenizer_json(vocab, settings, SPECIAL_NAMES, max_input_chars_per_word)
    files = {
        "vocab.txt": "\n".join(vocab) + "\n",
        "tokenizer.json": tokenizer_json_text(data),
        "tokenizer_config.json": dumps(tokenizer_config(settings, SPECIAL_NAMES)),
        "special_tokens_map.json": dumps(special_tokens_map(SPECIAL_NAMES)),
    }
    out = write_tokenizer_dir(out_dir, files, command=BUILD_COMMAND, force=force)
    requested = vocab_size - len(SPECIALS)
    return BuildResult(
        out,
        len(vocab),
        len(pieces),
        requested,
        unused,
        slot_range,
        counted.count,
        counted.characters,
        time.perf_counter() - started,
        lowercase,
        _piece_count_warnings(len(pieces), requested, min_frequency),
    )


def _check_build_settings(
    vocab_size: int,
    unused: int,
    slots_at: str,
    lowercase: bool,
    strip_accents: bool,
    limit_alphabet: int | None,
) -> None:
    """Refuse settings that cannot give a usable vocab, before any text is read."""
    if vocab_size <= len(SPECIALS):
        raise VocabError(
            f"vocab_size {vocab_size} leaves no room for pieces after the {len(SPECIALS)} special tokens.",
            "vocab_size counts specials and pieces; the kykim layout is 40000 (plus 2000 slots).",
        )
    if unused < 0:
        raise VocabError(
            f"unused = {unused} is negative.", "Pass the number of [unusedN] slots to reserve (0 for none)."
        )
    if slots_at not in ("start", "end"):
        raise VocabError(
            f"slots_at = {slots_at!r}.", "Use 'start' (right after the specials) or 'end' (after the pieces)."
        )
    if lowercase and strip_accents is not False:
        raise VocabError(
            "lowercase=True without strip_accents=False would NFD-decompose Hangul into jamo.",
            "Keep strip_accents=False (the default) for Korean.",
        )
    if limit_alphabet is not None and limit_alphabet < 1:  # B20: 0 learned nothing and blamed the corpus
        raise VocabError(
            f"limit_alphabet = {limit_alphabet}: the vocab needs at least one character.",
            "Pass a positive --limit-alphabet (Korean corpora need a few thousand), or leave it out.",
        )


def _train_pieces(
    texts: Iterable[str],
    out_dir: str | os.PathLike,
    vocab_size: int,
    *,
    lowercase: bool,
    min_frequency: int,
    limit_alphabet: int | None,
    max_input_chars_per_word: int,
    show_progress: bool,
    progress: Callable[[int], None] | None,
) -> tuple[list[str], _CorpusPass]:
    """The learned pieces (specials left out) in the trainer's order, and the pass that counted the texts."""
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=lowercase
    )
    # The trainer reads the spooled text, normalised already: no normaliser of its own.
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=max_input_chars_per_word))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    with scratch_dir(out_dir) as scratch:
        spool_path = scratch / "corpus.txt"
        try:
            with open(spool_path, "w", encoding="utf-8") as spool:
                counted = _CorpusPass(normalizer, tok.pre_tokenizer, spool, progress)
                counted.feed(texts)
        except OSError as exc:
            if write_failure(exc) is None:
                raise
            raise output_error(Path(out_dir), exc) from exc
        if counted.count == 0:
            raise VocabError(
                "No text to build a vocabulary from (the corpus is empty).", "Check the corpus paths and --field."
            )
        alphabet = counted.alphabet(limit_alphabet)
        continuations = counted.continuations(alphabet)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIALS + alphabet + continuations,
            initial_alphabet=alphabet,
            limit_alphabet=len(alphabet),
            continuing_subword_prefix="##",
            show_progress=show_progress,
        )
        tok.train([str(spool_path)], trainer=trainer)
    trained = tok.get_vocab()
    # The trainer's own layout: the alphabet, its ## forms, then the merges in the order they were made.
    return [t for t, _ in sorted(trained.items(), key=lambda kv: kv[1]) if t not in SPECIALS], counted


def _lay_out_slots(pieces: list[str], unused: int, slots_at: str) -> tuple[list[str], tuple[int, int] | None]:
    """The full vocab (specials, slots and pieces in the `slots_at` order) and the ids the slots take."""
    slots = [f"[unused{i}]" for i in range(unused)]
    if slots_at == "start":
        vocab = SPECIALS + slots + pieces
        slot_range = (len(SPECIALS), len(SPECIALS) + unused - 1) if unused else None
    else:
        vocab = SPECIALS + pieces + slots
        slot_range = (len(SPECIALS) + len(pieces), len(vocab) - 1) if unused else None
    collisions = set(slots) & set(pieces)
    if collisions:  # pragma: no cover - only if a corpus literally contains "[unusedN]" as a word
        raise VocabError(
            f"The corpus produced pieces that look like slots: {sorted(collisions)[:5]}.", "Remove them from the text."
        )
    return vocab, slot_range


def _piece_count_warnings(pieces: int, requested: int, min_frequency: int) -> list[str]:
    """Why the vocab did not get the number of pieces asked for, if it did not."""
    if pieces > requested:
        # The trainer always keeps every character it saw (and its ## form) so nothing becomes [UNK].
        return [
            f"The vocab has {pieces:,} pieces, more than the {requested:,} asked for: the corpus has more "
            f"distinct characters than fit. Pass limit_alphabet (--limit-alphabet) to keep only the most frequent ones."
        ]
    if pieces < requested:
        return [
            f"The vocab has only {pieces:,} pieces of the {requested:,} asked for: the corpus is too small "
            f"(or min_frequency={min_frequency} too high) to learn more."
        ]
    return []


__all__ = ["build_vocab", "BuildResult", "SPECIALS"]
