"""Build a BERT-style WordPiece vocabulary with reserved `[unusedN]` slots, as the Korean BERTs did.

Layout of the result (defaults: 40,000 + 2,000 = 42,000 entries, like kykim/bert-kor-base):
`[PAD] [UNK] [CLS] [SEP] [MASK]` at ids 0–4, then the `unused` slots `[unused0]…` (or after the
pieces with `slots_at="end"`, as KoELECTRA has them), then the learned pieces. `vocab_size` counts
the five specials and the pieces; the slots come on top.

The slots are inserted after training rather than passed to the trainer as special tokens: the
trainer would register them as added tokens, which the filling step must avoid (see writing.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from vocab_tools.atomic import check_output_dir
from vocab_tools.errors import VocabError
from vocab_tools.loading import NormalizerSettings
from vocab_tools.writing import (bert_tokenizer_json, dumps, special_tokens_map, tokenizer_config,
                                 tokenizer_json_text, write_tokenizer_dir)

BUILD_COMMAND = "vocab build"  # named in the marker of the folders it writes (vocab_tools.atomic)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SPECIAL_NAMES = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}


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
        return {"out_dir": str(self.out_dir), "vocab_size": self.vocab_size, "pieces": self.pieces,
                "requested_pieces": self.requested_pieces, "unused": self.unused,
                "slot_range": list(self.slot_range) if self.slot_range else None, "texts": self.texts,
                "characters": self.characters, "seconds": round(self.seconds, 2), "lowercase": self.lowercase,
                "warnings": self.warnings}


class _Counted:
    """Pass texts through to the trainer while counting them (and reporting progress)."""

    def __init__(self, texts: Iterable[str], progress: Callable[[int], None] | None):
        self.texts, self.progress = texts, progress
        self.count = self.characters = 0

    def __iter__(self) -> Iterator[str]:
        for text in self.texts:
            if not text:
                continue
            self.count += 1
            self.characters += len(text)
            if self.progress is not None and self.count % 1000 == 0:
                self.progress(self.count)
            yield text


def build_vocab(texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int = 40000, unused: int = 2000, *,
                lowercase: bool = True, strip_accents: bool = False, min_frequency: int = 2,
                limit_alphabet: int | None = None, slots_at: str = "start", max_input_chars_per_word: int = 100,
                show_progress: bool = False, progress: Callable[[int], None] | None = None,
                force: bool = False) -> BuildResult:
    """Train a WordPiece vocab on `texts` and write an HF tokenizer directory (see module doc).

    `out_dir` must be new, empty or an earlier `vocab build` output, unless `force`: checked before
    any text is read, so a refused folder costs no training time.
    """
    if vocab_size <= len(SPECIALS):
        raise VocabError(f"vocab_size {vocab_size} leaves no room for pieces after the {len(SPECIALS)} special tokens.",
                         "vocab_size counts specials and pieces; the kykim layout is 40000 (plus 2000 slots).")
    if unused < 0:
        raise VocabError(f"unused = {unused} is negative.", "Pass the number of [unusedN] slots to reserve (0 for none).")
    if slots_at not in ("start", "end"):
        raise VocabError(f"slots_at = {slots_at!r}.", "Use 'start' (right after the specials) or 'end' (after the pieces).")
    if lowercase and strip_accents is not False:
        raise VocabError("lowercase=True without strip_accents=False would NFD-decompose Hangul into jamo.",
                         "Keep strip_accents=False (the default) for Korean.")
    check_output_dir(out_dir, BUILD_COMMAND, force)
    settings = NormalizerSettings(lowercase, False, True, True)
    started = time.perf_counter()
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=max_input_chars_per_word))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    options = {} if limit_alphabet is None else {"limit_alphabet": limit_alphabet}
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIALS,
                                        continuing_subword_prefix="##", show_progress=show_progress, **options)
    counted = _Counted(texts, progress)
    tok.train_from_iterator(counted, trainer=trainer)
    if counted.count == 0:
        raise VocabError("No text to build a vocabulary from (the corpus is empty).", "Check the corpus paths and --field.")
    trained = tok.get_vocab()
    pieces = [t for t, _ in sorted(trained.items(), key=lambda kv: kv[1]) if t not in SPECIALS]
    slots = [f"[unused{i}]" for i in range(unused)]
    if slots_at == "start":
        vocab = SPECIALS + slots + pieces
        slot_range = (len(SPECIALS), len(SPECIALS) + unused - 1) if unused else None
    else:
        vocab = SPECIALS + pieces + slots
        slot_range = (len(SPECIALS) + len(pieces), len(vocab) - 1) if unused else None
    collisions = set(slots) & set(pieces)
    if collisions:  # pragma: no cover - only if a corpus literally contains "[unusedN]" as a word
        raise VocabError(f"The corpus produced pieces that look like slots: {sorted(collisions)[:5]}.", "Remove them from the text.")

    data = bert_tokenizer_json(vocab, settings, SPECIAL_NAMES, max_input_chars_per_word)
    files = {
        "vocab.txt": "\n".join(vocab) + "\n",
        "tokenizer.json": tokenizer_json_text(data),
        "tokenizer_config.json": dumps(tokenizer_config(settings, SPECIAL_NAMES)),
        "special_tokens_map.json": dumps(special_tokens_map(SPECIAL_NAMES)),
    }
    out = write_tokenizer_dir(out_dir, files, command=BUILD_COMMAND, force=force)
    requested = vocab_size - len(SPECIALS)
    warnings = []
    if len(pieces) > requested:
        # The trainer always keeps every character it saw (and its ## form) so nothing becomes [UNK].
        warnings.append(f"The vocab has {len(pieces):,} pieces, more than the {requested:,} asked for: the corpus has more "
                        f"distinct characters than fit. Pass limit_alphabet (--limit-alphabet) to keep only the most frequent ones.")
    elif len(pieces) < requested:
        warnings.append(f"The vocab has only {len(pieces):,} pieces of the {requested:,} asked for: the corpus is too small "
                        f"(or min_frequency={min_frequency} too high) to learn more.")
    return BuildResult(out, len(vocab), len(pieces), requested, unused, slot_range, counted.count,
                       counted.characters, time.perf_counter() - started, lowercase, warnings)


__all__ = ["build_vocab", "BuildResult", "SPECIALS"]
