"""Whole-word masking over eojeols (or token masking), vectorised, seeded per micro-batch.

An eojeol is chosen with probability `mlm_probability` and then ALL of its tokens are predicted
(80% [MASK], 10% a random token, 10% unchanged — decided per token as BERT does). Choosing whole
eojeols stops the model from reading a masked piece off its neighbours inside the same word.
The generator is seeded from (seed, micro-batch index, rank), so masking needs no saved state to
be identical after a resume.

Token masking (BERT's original objective, `masking: token`) is the same draw with every token a
unit of its own: a model pretrained from scratch can then read a masked piece off the other pieces of
its word. It is the default from scratch because the shared base left the unigram plateau with it;
the controlled pair (benchmarks/masking_benchmark.py, 1,000 steps, 20% warm-up) found the two maskings
level, both off the plateau: the schedule, not the masking, had kept the shorter runs on it.
"""

from __future__ import annotations

import torch


def mask_generator(seed: int, micro_batch: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + micro_batch * 4099 + rank) % (2**63 - 1))


def whole_word_mask(
    ids: torch.Tensor,
    starts: torch.Tensor,
    special_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    probability: float,
    generator: torch.Generator,
    replace_probability: float = 0.8,
    random_probability: float = 0.1,
):
    """Return (inputs, positions, targets): masked inputs [B, L], flat indices of the predicted
    positions, and their true ids. At least one eojeol is always chosen."""
    B, L = ids.shape
    special = torch.isin(ids, special_ids)
    word_start = starts | special
    arange = torch.arange(L).expand(B, L)
    # Index of the first token of the eojeol each token belongs to: a running max of start indices.
    first = torch.where(word_start, arange, torch.zeros_like(arange)).cummax(dim=1).values
    draw = torch.rand(B, L, generator=generator)
    word_draw = draw.gather(1, first)
    chosen = (word_draw < probability) & ~special
    if not bool(chosen.any()):
        candidates = torch.where(special, torch.full_like(word_draw, 2.0), word_draw)
        flat = int(candidates.view(-1).argmin())
        b, pos = divmod(flat, L)
        if not bool(special[b, pos]):
            chosen[b] = (first[b] == first[b, pos]) & ~special[b]
    positions = chosen.view(-1).nonzero().squeeze(1)
    flat_ids = ids.reshape(-1)
    targets = flat_ids.index_select(0, positions)
    inputs = flat_ids.clone()
    action = torch.rand(positions.shape[0], generator=generator)
    to_mask = positions[action < replace_probability]
    to_random = positions[(action >= replace_probability) & (action < replace_probability + random_probability)]
    inputs[to_mask] = mask_token_id
    inputs[to_random] = torch.randint(vocab_size, (to_random.shape[0],), generator=generator)
    return inputs.view(B, L), positions, targets


def masking_units(starts: torch.Tensor, masking: str) -> torch.Tensor:
    """The unit starts `whole_word_mask` should draw on: eojeol starts, or every token (token masking)."""
    if masking == "token":
        return torch.ones_like(starts, dtype=torch.bool)
    if masking != "whole-word":
        raise ValueError(f"masking must be 'whole-word' or 'token', not {masking!r}")
    return starts


def resolved_masking(config, *, from_scratch: bool) -> str:
    """The masking unit of a run: the setting, or by default token from scratch, whole-word when adapting."""
    return config.masking or ("token" if from_scratch else "whole-word")


def special_token_ids(tokenizer) -> torch.Tensor:
    # Only the structural tokens: filled [unusedN] slots may be registered as special added tokens
    # by the tokenizer, yet they are exactly the tokens that must be learned.
    ids = {
        i
        for i in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, tokenizer.mask_token_id)
        if i is not None
    }
    return torch.tensor(sorted(ids), dtype=torch.long)
