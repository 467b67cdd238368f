"""Held-out and general text for evaluation: read, normalise, dedupe, sample; overlap with training.

Texts are normalised with the same rules as mining and training (`domainlm.corpus.Normalizer`), so
an eojeol here is the unit the rest of the pipeline saw. Sampling is a seeded reservoir over the
whole stream (a file sorted by movie or product would bias its first N lines), returned in file order.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from domainlm.corpus import CorpusSpec, Normalizer, is_heldout, iter_documents, iter_texts, text_hash
from domainlm.corpus.files import COMPRESSIONS
from domainlm.corpus.formats import corpus_suffixes
from domainlm.errors import EvaluationError

TextSource = CorpusSpec | str | os.PathLike | Sequence[CorpusSpec | str | os.PathLike]

# Files an adapted model directory may hold with the hashes (`text_hash` of the normalised text,
# one decimal integer a line) of the documents it was trained on.
TRAIN_HASH_FILES = ("train_hashes.txt", "train_hashes.txt.gz")


def _is_corpus_ref(item) -> bool:
    if isinstance(item, (CorpusSpec, os.PathLike)):
        return True
    if isinstance(item, str):
        # A missing "heldout.txt" is a typo to report, not a one-line text to score.
        looks_like_file = not any(ch.isspace() for ch in item) and item.lower().endswith(
            (*corpus_suffixes(), *COMPRESSIONS)
        )
        return item.startswith("hf:") or any(ch in item for ch in "*?[") or looks_like_file or _exists(item)
    return False


def _exists(item: str) -> bool:
    try:
        return Path(item).exists()
    except (OSError, ValueError):  # a long review is "File name too long", not a path
        return False


def is_text_list(source) -> bool:
    """A list of strings that are not corpus paths is a list of texts."""
    if isinstance(source, (str, os.PathLike, CorpusSpec)):
        return False
    items = list(source)
    return bool(items) and all(isinstance(t, str) for t in items) and not all(_is_corpus_ref(t) for t in items)


def _raw_texts(source) -> Iterable[str]:
    if is_text_list(source):
        return iter(source)
    if isinstance(source, (list, tuple)) and not source:
        return iter(())
    return iter_texts(source)


@dataclass
class TextSample:
    texts: list[str]
    read: int  # documents read
    unique: int  # non-empty distinct normalised documents
    description: str

    def __len__(self) -> int:
        return len(self.texts)


def describe(source) -> str:
    if is_text_list(source):
        return f"{len(list(source))} texts given in code"
    if isinstance(source, CorpusSpec):
        return source.path
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return ", ".join(describe(s) for s in source)


def load_texts(source, *, max_texts: int, seed: int, what: str, normalizer: Normalizer | None = None) -> TextSample:
    """Up to `max_texts` distinct non-empty normalised texts, a seeded uniform sample in input order."""
    normalizer = normalizer or Normalizer()
    rng = random.Random(f"{seed}\x00{what}")
    seen: set[int] = set()
    reservoir: list[tuple[int, str]] = []
    read = unique = 0
    for raw in _raw_texts(source):
        read += 1
        text = normalizer(raw)
        if not text:
            continue
        h = text_hash(text)
        if h in seen:
            continue
        seen.add(h)
        unique += 1
        if len(reservoir) < max_texts:
            reservoir.append((unique, text))
        else:
            j = rng.randrange(unique)
            if j < max_texts:
                reservoir[j] = (unique, text)
    if not reservoir:
        raise EvaluationError(
            f"The {what} text is empty: {read} document(s) read from {describe(source)}, none left after "
            "normalisation.",
            f"Pass a non-empty {what} corpus (e.g. the held-out file written by `domainlm corpus clean "
            "--heldout-fraction`).",
        )
    reservoir.sort()
    return TextSample([t for _, t in reservoir], read, unique, describe(source))


# ---------------------------------------------------------------- overlap with the training text


def recorded_training_hashes(model_dir: str | os.PathLike) -> set[int] | None:
    """Hashes of the training documents an adapted model recorded, or None if it recorded none."""
    for name in TRAIN_HASH_FILES:
        path = Path(model_dir) / name
        if path.exists():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                return {int(line) for line in fh if line.strip()}
    return None


def recorded_training_corpus(model_dir: str | os.PathLike) -> tuple[list[str], float] | None:
    """(corpus paths, held-out fraction) that `adapt` wrote to settings.json, if they still exist."""
    path = Path(model_dir) / "settings.json"
    if not path.exists():
        return None
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    corpus = settings.get("corpus") if isinstance(settings, dict) else None
    if not corpus or not all(isinstance(c, str) and _is_corpus_ref(c) and not c.startswith("hf:") for c in corpus):
        return None
    fraction = float((settings.get("train") or {}).get("heldout_fraction") or 0.0)
    return corpus, fraction


def count_overlap(
    texts: Sequence[str],
    *,
    train_corpus=None,
    recorded: set[int] | None = None,
    heldout_fraction: float = 0.0,
    normalizer: Normalizer | None = None,
) -> int | None:
    """How many of `texts` (already normalised) also occur in the training text; None if unknown.

    The training corpus is streamed against the small set of held-out hashes, so memory stays
    bounded however large it is. Documents that training itself held out (`is_heldout` on the id or
    text with `heldout_fraction`, the rule of `domainlm.training`) are not training text.
    """
    if recorded is None and train_corpus is None:
        return None
    wanted = {text_hash(t) for t in texts}
    found: set[int] = set()
    if recorded is not None:
        found |= wanted & recorded
    if train_corpus is not None:
        normalizer = normalizer or Normalizer()
        docs = (
            ((d.text, d.id) for d in iter_documents(train_corpus))
            if not is_text_list(train_corpus)
            else ((t, None) for t in train_corpus)
        )
        for raw, doc_id in docs:
            if heldout_fraction > 0 and is_heldout(doc_id or raw, heldout_fraction):
                continue
            h = text_hash(normalizer(raw))
            if h in wanted:
                found.add(h)
    return len(found)
