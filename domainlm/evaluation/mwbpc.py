"""Masked-word bits per character (MW-BPC): the language-modelling number that survives a vocab change.

Definition (docs/DESIGN.md): choose eojeols to mask with a fixed seed, mask ALL tokens of each chosen
eojeol, sum −log2 p of the true tokens, divide by the characters of the masked eojeols.

Which eojeols are masked depends only on the seed and the normalised text (eojeol indices), never
on a tokenizer, so the base vocab and the filled vocab are scored on the same words. A text longer
than `max_seq_len` tokens is cut at an eojeol boundary; when several tokenizers are planned together
the cut is the shortest of them, so both models still see the same words.

Only the hidden states at masked positions go through the MLM head: a vocab-size projection of
every position would be ~85% wasted work at a 15% mask rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from domainlm.errors import EvaluationError
from domainlm.evaluation.encode import Side
from domainlm.modeling.heads import mlm_head_of  # the one place that knows each family's MLM head
from domainlm.progress import progress_bar
from domainlm.stats import Estimate, ratio_estimate

LN2 = math.log(2.0)


def choose_masked(n_eojeols: int, text: str, *, seed: int, mask_fraction: float) -> list[int]:
    """The eojeol indices to mask in one text: a function of (seed, text) only.

    Seeding by the text itself (not its position) keeps a text's masks the same whatever else is
    in the evaluation set and in whatever order.
    """
    if n_eojeols == 0:
        return []
    k = max(1, round(mask_fraction * n_eojeols))
    rng = random.Random(f"{seed}\x00{text}")
    return sorted(rng.sample(range(n_eojeols), k))


@dataclass
class MaskPlan:
    """Which eojeols of which texts are scored; shared by every model compared."""

    eojeols: list[list[str]]  # all eojeols of each scored text (the encode cache key)
    keep: list[int]  # eojeols kept after the length cut
    masked: list[list[int]]  # masked eojeol indices (< keep)
    chars: np.ndarray  # characters of the masked eojeols, per text
    skipped: int = 0  # texts with no scorable masked eojeol
    cut: int = 0  # texts cut to fit max_seq_len

    def __len__(self) -> int:
        return len(self.eojeols)


def plan_masks(
    texts: Sequence[str], sides: Sequence[Side], *, seed: int, mask_fraction: float, max_seq_len: int
) -> MaskPlan:
    """Choose the masked eojeols of each text so that every side can score them.

    A masked eojeol is dropped if it falls beyond the cut or if some tokenizer emits no token for it
    (its characters would count with zero bits for that model).
    """
    if not sides:
        raise ValueError("plan_masks needs at least one side")
    eojeol_lists = [t.split() for t in texts]
    encodings = [side.encode(eojeol_lists) for side in sides]
    plan = MaskPlan([], [], [], np.zeros(0))
    chars: list[int] = []
    for i, (text, eojeols) in enumerate(zip(texts, eojeol_lists)):
        n = len(eojeols)
        if n == 0:
            plan.skipped += 1
            continue
        counts = [enc[i].tokens_per_eojeol(n) for enc in encodings]
        keep = min(enc[i].eojeols_within(n, max_seq_len) for enc in encodings)
        masked = [
            j
            for j in choose_masked(n, text, seed=seed, mask_fraction=mask_fraction)
            if j < keep and all(cnt[j] > 0 for cnt in counts)
        ]
        if not masked:
            plan.skipped += 1
            continue
        plan.cut += keep < n
        plan.eojeols.append(eojeols)
        plan.keep.append(keep)
        plan.masked.append(masked)
        chars.append(sum(len(eojeols[j]) for j in masked))
    plan.chars = np.asarray(chars, dtype=np.int64)
    return plan


@dataclass
class BpcResult:
    """MW-BPC of one model on one text set, with per-text sums for paired comparisons."""

    bpc: Estimate
    bits: np.ndarray = field(repr=False)  # bits of each scored text
    chars: np.ndarray = field(repr=False)  # masked characters of each scored text
    masked_eojeols: int = 0
    masked_tokens: int = 0
    unk_tokens: int = 0  # masked tokens whose true id is [UNK] (cheap to predict: read with care)
    skipped: int = 0
    cut: int = 0

    @property
    def n_texts(self) -> int:
        return len(self.bits)

    def to_dict(self) -> dict:
        return {
            "bpc": self.bpc.to_dict(),
            "texts": self.n_texts,
            "masked_eojeols": self.masked_eojeols,
            "masked_characters": int(self.chars.sum()),
            "masked_tokens": self.masked_tokens,
            "bits": float(self.bits.sum()),
            "unk_tokens": self.unk_tokens,
            "skipped_texts": self.skipped,
            "cut_texts": self.cut,
        }


def length_batches(order: list[int], lengths: list[int], batch_size: int, max_tokens: int):
    """Length-sorted batches capped both in sequences and in padded tokens."""
    batch: list[int] = []
    for i in order:
        longest = max([lengths[j] for j in batch] + [lengths[i]])
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def score_plan(
    side: Side, plan: MaskPlan, *, batch_size: int, resamples: int = 1000, seed: int = 0, description: str | None = None
) -> BpcResult:
    """Score one model on a mask plan: −log2 p of each masked token, summed per text."""
    import torch

    model, tok = side.model, side.tokenizer
    mask_id, pad_id = tok.mask_token_id, tok.pad_token_id if tok.pad_token_id is not None else 0
    unk_id = tok.unk_token_id
    encoded = side.encode(plan.eojeols)
    seqs: list[list[int]] = []
    masks: list[list[bool]] = []
    n_masked_eojeols = 0
    for enc, eojeols, keep, masked in zip(encoded, plan.eojeols, plan.keep, plan.masked):
        enc = enc.cut(keep) if keep < len(eojeols) else enc
        chosen = set(masked)
        seqs.append(enc.ids)
        masks.append([w is not None and w in chosen for w in enc.word_ids])
        n_masked_eojeols += len(masked)
    n = len(seqs)
    bits = np.zeros(n, dtype=np.float64)
    parts = mlm_head_of(model)
    order = sorted(range(n), key=lambda i: len(seqs[i]))
    lengths = [len(s) for s in seqs]
    masked_tokens = unk_tokens = 0
    with torch.inference_mode(), progress_bar(description or f"MW-BPC {side.name}", total=n, unit="texts") as update:
        for batch in length_batches(order, lengths, batch_size, max_tokens=batch_size * 128):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            is_masked = torch.zeros((len(batch), width), dtype=torch.bool)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for r, i in enumerate(batch):
                ids[r, : lengths[i]] = torch.tensor(seqs[i])
                is_masked[r, : lengths[i]] = torch.tensor(masks[i])
                attention[r, : lengths[i]] = 1
            targets = ids[is_masked]
            inputs = ids.masked_fill(is_masked, mask_id).to(side.device)
            attention = attention.to(side.device)
            is_masked_dev = is_masked.to(side.device)
            with side.autocast():
                if parts is not None:
                    encoder, head = parts
                    logits = head(encoder(input_ids=inputs, attention_mask=attention)[0][is_masked_dev])
                else:
                    logits = model(input_ids=inputs, attention_mask=attention).logits[is_masked_dev]
            logp = torch.log_softmax(logits.float(), dim=-1)
            token_bits = (-logp.gather(1, targets.to(side.device)[:, None])[:, 0] / LN2).double().cpu().numpy()
            rows = is_masked.nonzero()[:, 0].numpy()
            np.add.at(bits, np.asarray(batch)[rows], token_bits)
            masked_tokens += len(targets)
            if unk_id is not None:
                unk_tokens += int((targets == unk_id).sum())
            update(advance=len(batch))
    chars = plan.chars.astype(np.float64)
    return BpcResult(
        ratio_estimate(bits, chars, resamples=resamples, seed=seed),
        bits,
        chars,
        masked_eojeols=n_masked_eojeols,
        masked_tokens=masked_tokens,
        unk_tokens=unk_tokens,
        skipped=plan.skipped,
        cut=plan.cut,
    )


def masked_word_bpc(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    seed: int = 13,
    mask_fraction: float = 0.15,
    batch_size: int = 32,
    max_seq_len: int = 128,
    resamples: int = 1000,
) -> BpcResult:
    """MW-BPC of one model on `texts` (already normalised; eojeols are their whitespace units).

    Two models called separately with the same seed mask the same eojeols (only the length cut may
    differ); `domainlm.evaluation.evaluate` plans both together so even the cut is shared.
    """
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise EvaluationError("No text to score for MW-BPC: the list is empty or blank.", "Pass held-out texts.")
    device = str(next(model.parameters()).device)
    side = Side(name="model", path="", model=model, tokenizer=tokenizer, device=device)
    plan = plan_masks(texts, [side], seed=seed, mask_fraction=mask_fraction, max_seq_len=max_seq_len)
    if not len(plan):
        raise EvaluationError(
            f"None of the {len(texts)} texts has a scorable eojeol for MW-BPC.",
            "Check that the tokenizer emits tokens for the text (normalisation, max_seq_len).",
        )
    return score_plan(side, plan, batch_size=batch_size, resamples=resamples, seed=seed)
