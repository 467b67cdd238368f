"""Training data: stream corpus text, tokenize in batches, pack into full-length sequences.

- Text comes from `CorpusReader`, normalised with the same `Normalizer` as mining, with the held-out
  documents (`is_heldout` on the document id, else its text — the rule `corpus clean` uses) kept out.
- The Rust tokenizer encodes batches of documents; offsets give eojeol membership: a token starts a
  new eojeol when whitespace separates it from the previous token (punctuation split off by the
  pre-tokenizer stays in its eojeol, which is what whole-word masking over eojeols wants).
- Documents are concatenated with [SEP] between them and cut into `[CLS] … [SEP]` sequences of
  exactly `seq_len` tokens: no padding is ever computed.
- A replay share of the sequences comes from general text; a seeded shuffle buffer mixes documents.
- Everything is a deterministic function of the seed, so a resumed run skips the sequences it
  already used and sees exactly what the uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from domainlm.corpus import CorpusReader, NormalizeConfig, Normalizer, is_heldout
from domainlm.corpus.clean import empty_after_normalisation_error
from domainlm.corpus.stats import empty_corpus_error
from domainlm.errors import TrainingError

ENCODE_BATCH = 512


def training_texts(
    specs,
    *,
    heldout_fraction: float = 0.0,
    heldout: bool = False,
    max_documents: int | None = None,
    normalize: NormalizeConfig | None = None,
    heldout_seed: str = "domainlm",
) -> Iterator[str]:
    """Normalised, non-empty texts of the training side (or, `heldout=True`, the held-out side)."""
    normalizer = Normalizer(normalize)
    count = read = normalised = 0
    reader = CorpusReader(specs)
    for doc in reader:
        read += 1
        if heldout_fraction > 0 and is_heldout(doc.id or doc.text, heldout_fraction, heldout_seed) != heldout:
            continue
        if heldout and heldout_fraction <= 0:
            return
        normalised += 1
        text = normalizer(doc.text)
        if not text.strip():
            continue
        yield text
        count += 1
        if max_documents and count >= max_documents:
            return
    # Said here, in the words of every other command, rather than as "no training sequence" (P20).
    if not read:
        raise empty_corpus_error(reader)
    if not heldout and normalised and not count:
        raise empty_after_normalisation_error(normalised)


def encode_eojeols(tokenizer, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, eojeol_start) arrays per text, without special tokens, one Rust batch call."""
    encodings = tokenizer.backend_tokenizer.encode_batch(list(texts), add_special_tokens=False)
    out = []
    for enc in encodings:
        ids = np.asarray(enc.ids, dtype=np.int64)
        if ids.size == 0:
            continue
        offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
        starts = np.ones(ids.size, dtype=bool)
        starts[1:] = offsets[1:, 0] != offsets[:-1, 1]
        out.append((ids, starts))
    return out


def pack(
    tokenizer, texts: Iterable[str], seq_len: int, *, drop_last: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pack texts into `[CLS] doc [SEP] doc [SEP] … [SEP]` sequences of exactly `seq_len` tokens."""
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    body = seq_len - 2
    buf_ids: list[np.ndarray] = []
    buf_starts: list[np.ndarray] = []
    filled = 0
    sep_ids = np.array([sep], dtype=np.int64)
    sep_start = np.array([True])

    def emit():
        nonlocal buf_ids, buf_starts, filled
        ids = np.concatenate(buf_ids)
        starts = np.concatenate(buf_starts)
        while ids.size >= body:
            seq = np.concatenate(([cls], ids[:body], [sep]))
            st = np.concatenate(([True], starts[:body], [True]))
            st[1] = True  # a cut eojeol continues as its own word in the next sequence
            yield seq, st
            ids, starts = ids[body:], starts[body:]
        buf_ids, buf_starts, filled = [ids], [starts], ids.size

    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= ENCODE_BATCH:
            for ids, starts in encode_eojeols(tokenizer, batch):
                buf_ids += [ids, sep_ids]
                buf_starts += [starts, sep_start]
                filled += ids.size + 1
            batch = []
            if filled >= body:
                yield from emit()
    for ids, starts in encode_eojeols(tokenizer, batch):
        buf_ids += [ids, sep_ids]
        buf_starts += [starts, sep_start]
        filled += ids.size + 1
    if filled >= body:
        yield from emit()
    if not drop_last and filled > 0:
        ids, starts = np.concatenate(buf_ids), np.concatenate(buf_starts)
        if ids.size:
            pad = body - ids.size
            seq = np.concatenate(([cls], ids, [sep], np.full(pad, tokenizer.pad_token_id or 0)))
            st = np.concatenate(([True], starts, [True], np.ones(pad, dtype=bool)))
            yield seq, st


def _shuffled(items: Iterator, buffer: int, rng: random.Random) -> Iterator:
    pool = []
    for item in items:
        pool.append(item)
        if len(pool) >= buffer:
            i = rng.randrange(len(pool))
            pool[i], pool[-1] = pool[-1], pool[i]
            yield pool.pop()
    rng.shuffle(pool)
    yield from pool


def _cycle(
    tokenizer,
    texts: Callable[[], Iterable[str]],
    seq_len: int,
    rng: random.Random,
    buffer: int,
    what: str,
    reading: DomainReading | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    epoch = 0
    while True:
        produced = 0
        for seq in _shuffled(pack(tokenizer, texts(), seq_len), buffer, rng):
            produced += 1
            if reading is not None:
                reading.sequences_read += 1
            yield seq
        if reading is not None and produced and reading.sequences_per_pass is None:
            reading.sequences_per_pass = produced
        if produced == 0:
            raise TrainingError(
                f"The {what} corpus yields no training sequence of {seq_len} tokens"
                + (" in this epoch" if epoch else "")
                + ".",
                "Pass a larger corpus, lower --seq-len, or lower the held-out fraction.",
            )
        epoch += 1


@dataclass
class DomainReading:
    """How much of the domain text a training read: the sequences one pass holds (None until a pass
    ends: a corpus larger than the budget is never re-read) and the sequences read in all."""

    sequences_per_pass: int | None = None
    sequences_read: int = 0

    @property
    def passes(self) -> float | None:
        """Times the domain text was read (re-reading it many times overfits it: the news arms of
        benchmarks/adaptation_benchmark.py read 0.14M tokens 12 and 36 times and did not help)."""
        return self.sequences_read / self.sequences_per_pass if self.sequences_per_pass else None

    def to_dict(self) -> dict:
        passes = self.passes
        return {
            "sequences_per_pass": self.sequences_per_pass,
            "sequences_read": self.sequences_read,
            "passes": round(passes, 2) if passes is not None else None,
        }


@dataclass
class PackedStream:
    """An endless, seeded stream of packed sequences, `replay_ratio` of them from general text.
    `reading` counts what the stream has taken from the domain text."""

    tokenizer: object
    domain: Callable[[], Iterable[str]]
    seq_len: int
    seed: int = 42
    replay: Callable[[], Iterable[str]] | None = None
    replay_ratio: float = 0.0
    shuffle_buffer: int = 1024
    reading: DomainReading = field(default_factory=DomainReading)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = random.Random(self.seed)
        self.reading = DomainReading()
        domain = _cycle(
            self.tokenizer,
            self.domain,
            self.seq_len,
            random.Random(self.seed + 1),
            self.shuffle_buffer,
            "domain",
            self.reading,
        )
        if self.replay is None or self.replay_ratio <= 0:
            yield from domain
            return
        replay = _cycle(
            self.tokenizer, self.replay, self.seq_len, random.Random(self.seed + 2), self.shuffle_buffer, "replay"
        )
        while True:
            yield next(replay) if rng.random() < self.replay_ratio else next(domain)


def batches(
    stream: Iterable[tuple[np.ndarray, np.ndarray]], batch_size: int, *, rank: int = 0, world: int = 1, skip: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Micro-batches of this rank: global batch b holds sequences [b·bs·world, (b+1)·bs·world); the
    rank takes its slice. `skip` global batches are consumed first (resume)."""
    it = iter(stream)
    per_step = batch_size * world
    for _ in range(skip * per_step):
        next(it)
    while True:
        group = [next(it) for _ in range(per_step)]
        mine = group[rank * batch_size : (rank + 1) * batch_size]
        ids = torch.from_numpy(np.stack([m[0] for m in mine]))
        starts = torch.from_numpy(np.stack([m[1] for m in mine]))
        yield ids, starts


def fixed_sequences(
    tokenizer, texts: Iterable[str], seq_len: int, limit: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """All packed sequences of a (held-out) text set, in order, the short tail padded."""
    out = []
    for seq in pack(tokenizer, texts, seq_len, drop_last=False):
        out.append(seq)
        if limit and len(out) >= limit:
            break
    return out


def stack_sequences(chunk: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, eojeol starts) tensors of a batch of `fixed_sequences`."""
    return torch.from_numpy(np.stack([c[0] for c in chunk])), torch.from_numpy(np.stack([c[1] for c in chunk]))
