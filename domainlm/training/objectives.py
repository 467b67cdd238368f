"""What the trainer optimises: the objective is a component the `Trainer` calls, not part of its loop.

An objective turns the model being trained into one `nn.Module` whose forward returns the loss (so
DDP sees a single forward and syncs its gradients), corrupts a packed micro-batch the way it needs
(seeded per micro-batch, so a resume needs no saved masking state), and scores held-out sequences.

- `MaskedLM`: BERT / ALBERT masked-LM (whole-eojeol or token masking), the loss only at the masked positions.
- `ReplacedTokenDetection` (domainlm.training.electra): ELECTRA's generator + discriminator.

The trainer owns everything else (phases, optimiser, checkpoints, logging, interruption).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import nn

from domainlm.modeling.heads import MaskedLMLoss
from domainlm.training.config import TrainConfig
from domainlm.training.heldout import heldout_mlm_loss
from domainlm.training.masking import masking_units, special_token_ids, whole_word_mask


class Objective(Protocol):
    """The contract between the trainer and what it trains (see the module docstring)."""

    #: Names of the loss parts `loss` reports besides the total (logged as window means).
    parts: tuple[str, ...]

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to optimise, holding `model` as `.model` (and whatever else trains with it)."""

    def loss(
        self, wrapper: nn.Module, ids: torch.Tensor, starts: torch.Tensor, generator: torch.Generator, step: int, device
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of one packed micro-batch at optimiser step `step` (0-based), and its parts."""

    def evaluate(self, wrapper: nn.Module, sequences: Sequence) -> float:
        """A held-out loss on fixed, seeded corruptions of `sequences` (the same for every checkpoint)."""

    def extra_state(self) -> dict | None:
        """State that trains beside the model and must be checkpointed (e.g. a generator), or None."""

    def load_extra_state(self, state: dict | None) -> None:
        """Restore what `extra_state` returned."""


class MaskedLM:
    """Masked-LM (BERT / ALBERT), cross-entropy at the masked positions only; whole eojeols or single
    tokens are masked as `config.masking` says (unset: whole-word, the adapting default)."""

    parts: tuple[str, ...] = ()

    def __init__(self, tokenizer, config: TrainConfig, vocab_size: int):
        if config.mask_replace_prob + config.random_replace_prob > 1:
            from domainlm.errors import TrainingError

            raise TrainingError(
                f"mask_replace_prob + random_replace_prob is "
                f"{config.mask_replace_prob + config.random_replace_prob:g}, over 1.",
                "Keep their sum at most 1 (BERT: 0.8 and 0.1).",
            )
        self.tokenizer, self.config, self.vocab_size = tokenizer, config, vocab_size
        self.special = special_token_ids(tokenizer)
        self.masking = config.masking or "whole-word"

    def wrap(self, model: nn.Module) -> nn.Module:
        return MaskedLMLoss(model)

    def loss(self, wrapper, ids, starts, generator, step, device):
        c = self.config
        inputs, positions, targets = whole_word_mask(
            ids,
            masking_units(starts, self.masking),
            self.special,
            mask_token_id=self.tokenizer.mask_token_id,
            vocab_size=self.vocab_size,
            probability=c.mlm_probability,
            generator=generator,
            replace_probability=c.mask_replace_prob,
            random_probability=c.random_replace_prob,
        )
        inputs, positions, targets = (t.to(device) for t in (inputs, positions, targets))
        return wrapper(inputs, positions, targets), {}

    def evaluate(self, wrapper, sequences) -> float:
        c = self.config
        return heldout_mlm_loss(
            wrapper,
            self.tokenizer,
            sequences=sequences,
            seq_len=c.seq_len,
            batch_size=c.batch_size,
            seed=c.seed,
            mlm_probability=c.mlm_probability,
            masking=self.masking,
        )

    def extra_state(self) -> dict | None:
        return None

    def load_extra_state(self, state: dict | None) -> None:
        return None
