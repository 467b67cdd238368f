"""Held-out masked-LM loss: a fixed, seeded whole-word masking of held-out text, mean cross-entropy.

Every chosen token is replaced by [MASK] (no 10% random / 10% unchanged: that is a training
device, and evaluation should not reward it). The same positions are masked for every model evaluated
with the same tokenizer, seed and text, so
two checkpoints (or domainlm versus a reference recipe) are compared on identical targets. Token
losses of two different vocabularies are not comparable: use MW-BPC (domainlm.evaluation) for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from domainlm.modeling.heads import MaskedLMLoss
from domainlm.modeling.init_rows import input_embeddings
from domainlm.training.data import fixed_sequences, stack_sequences
from domainlm.training.masking import masking_units, special_token_ids, whole_word_mask


@torch.no_grad()
def heldout_mlm_loss(
    model,
    tokenizer,
    texts: Iterable[str] | None = None,
    *,
    seq_len: int = 128,
    batch_size: int = 16,
    seed: int = 0,
    mlm_probability: float = 0.15,
    max_sequences: int | None = 256,
    sequences: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    masking: str = "whole-word",
) -> float:
    """Mean masked-LM cross-entropy (nats per masked token) on held-out `texts` (or pre-packed `sequences`),
    masking whole eojeols or single tokens (`masking`)."""
    if sequences is None:
        sequences = fixed_sequences(tokenizer, texts or [], seq_len, limit=max_sequences)
    if not sequences:
        return float("nan")
    wrapper = model if isinstance(model, MaskedLMLoss) else MaskedLMLoss(model)
    was_training = wrapper.training
    wrapper.eval()
    device = next(wrapper.parameters()).device
    special = special_token_ids(tokenizer)
    pad = tokenizer.pad_token_id
    total, count = 0.0, 0
    vocab = (
        input_embeddings(wrapper.model).weight.shape[0]
        if hasattr(wrapper.model, "get_input_embeddings")
        else len(tokenizer)
    )
    for b, start in enumerate(range(0, len(sequences), batch_size)):
        chunk = sequences[start : start + batch_size]
        ids, starts = stack_sequences(chunk)
        gen = torch.Generator().manual_seed(seed * 7919 + b)
        inputs, positions, targets = whole_word_mask(
            ids,
            masking_units(starts, masking),
            special,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=vocab,
            probability=mlm_probability,
            generator=gen,
            replace_probability=1.0,
            random_probability=0.0,
        )
        attention = (ids != pad).long() if pad is not None and bool((ids == pad).any()) else None
        logits = wrapper.masked_logits(
            inputs.to(device), positions.to(device), attention.to(device) if attention is not None else None
        )
        loss = torch.nn.functional.cross_entropy(logits.float(), targets.to(device), reduction="sum")
        total += float(loss)
        count += int(targets.numel())
    wrapper.train(was_training)
    return total / max(count, 1)
