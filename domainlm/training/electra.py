"""Replaced-token detection (ELECTRA): the objective the trainer calls for discriminators.

Per micro-batch: whole eojeols are chosen (15%), their tokens shown to the generator as [MASK]
(85%) or unchanged; the generator's logits are computed at those positions only (its 42k-entry
output layer is its main cost, and the other 85% of the positions carry no label); a replacement is
sampled at each from the generator's softmax in fp32 (bf16 logits would make the sampling coarse;
the draw is Gumbel-max's distribution, computed by inverse transform, see `sample_tokens`); the
discriminator reads the corrupted sequence and predicts for every token whether it was replaced.

    loss = generator_weight × generator MLM + discriminator_weight × discriminator BCE   (1 and 50)

A sampled token equal to the original counts as not replaced, as in the paper. All randomness comes
from the per-micro-batch generator the trainer passes, so a resume corrupts the same way.

`generator_warmup_steps`: when adapt builds a new generator for a discriminator-only base, the
first steps train the generator alone (masked-LM), so the discriminator never learns to spot the
noise of a random generator. By default a tenth of the run, at most 200 steps (`generator_warmup`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from domainlm.errors import ConfigError
from domainlm.modeling.heads import MaskedLMLoss
from domainlm.modeling.init_rows import input_embeddings
from domainlm.training.config import TrainConfig
from domainlm.training.data import stack_sequences
from domainlm.training.masking import special_token_ids, whole_word_mask

WARMUP_SHARE = 10  # the default warm-up is max_steps // WARMUP_SHARE …
WARMUP_CAP = 200  # … and at most this many steps


def generator_warmup(configured: int | None, max_steps: int) -> int:
    """Steps a new generator trains alone in a run of `max_steps`.

    `configured` None: a tenth of the run, at most 200, so a short run (`--max-steps 4`: none) is not
    refused for a default it never chose. A number the user gave must leave the discriminator at
    least one step: else the run would train no discriminator at all, which is an error to say.
    """
    if max_steps <= 0:
        return 0  # no training (adapt --max-steps 0 fills and initialises only)
    if configured is None:
        return min(WARMUP_CAP, max_steps // WARMUP_SHARE)
    if configured >= max_steps:
        raise ConfigError(
            f"train.electra.generator_warmup_steps ({configured}) leaves no step of the "
            f"{max_steps} for the discriminator.",
            "Lower train.electra.generator_warmup_steps (--set), leave it unset (a tenth of the "
            "steps, at most 200) or raise --max-steps.",
        )
    return configured


def sample_tokens(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row from softmax(logits), in fp32, by inverse transform sampling.

    The same distribution as ELECTRA's Gumbel-max (argmax of logits + Gumbel noise), at a sixth of
    its cost on a CPU: Gumbel-max needs a random number and two logs for each of the
    [positions × vocab] entries (255 ms for 307 positions × 42,000 on 2 cores with exponential
    noise, 96 ms with uniform), this one softmax, one cumulative sum and one random number per
    position (40 ms). The uniforms are drawn on the logits' device from a generator seeded by
    `generator`, so a resume draws the same tokens.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    device_gen = torch.Generator(device=logits.device).manual_seed(seed)
    cumulative = torch.softmax(logits.float(), dim=-1).cumsum_(dim=-1)
    uniform = torch.rand((logits.shape[0], 1), generator=device_gen, device=logits.device) * cumulative[:, -1:]
    return torch.searchsorted(cumulative, uniform).squeeze(1).clamp_max_(logits.shape[-1] - 1)


class ReplacedTokenDetectionLoss(nn.Module):
    """Generator and discriminator in one module (one forward for DDP); `.model` is the discriminator."""

    def __init__(
        self, discriminator: nn.Module, generator: nn.Module, *, discriminator_weight: float, generator_weight: float
    ):
        super().__init__()
        self.model = discriminator
        self.generator = generator
        self.generator_loss = MaskedLMLoss(generator)
        self.discriminator_weight, self.generator_weight = discriminator_weight, generator_weight

    def forward(
        self,
        ids: torch.Tensor,
        inputs: torch.Tensor,
        positions: torch.Tensor,
        targets: torch.Tensor,
        noise: torch.Generator,
        train_discriminator: bool = True,
    ):
        """(total loss, generator loss, discriminator loss); the discriminator part is 0 during warm-up."""
        logits = self.generator_loss.masked_logits(inputs, positions)
        generator_loss = F.cross_entropy(logits.float(), targets)
        if not train_discriminator:
            return self.generator_weight * generator_loss, generator_loss, generator_loss.new_zeros(())
        corrupted, labels = corrupt(ids, positions, logits.detach(), noise)
        detection = self.model(input_ids=corrupted).logits
        discriminator_loss = F.binary_cross_entropy_with_logits(detection.float().reshape(-1), labels.reshape(-1))
        total = self.generator_weight * generator_loss + self.discriminator_weight * discriminator_loss
        return total, generator_loss, discriminator_loss


def corrupt(ids: torch.Tensor, positions: torch.Tensor, logits: torch.Tensor, noise: torch.Generator):
    """The generator's sampled tokens put in at `positions`; labels 1.0 where a token changed."""
    flat = ids.reshape(-1)
    corrupted = flat.clone()
    corrupted[positions] = sample_tokens(logits, noise).to(flat.dtype)
    labels = (corrupted != flat).float()
    return corrupted.view_as(ids), labels.view_as(ids)


class ReplacedTokenDetection:
    """The objective (see `domainlm.training.objectives.Objective`) for an ELECTRA discriminator."""

    parts: tuple[str, ...] = ("generator_loss", "discriminator_loss")

    def __init__(self, tokenizer, config: TrainConfig, generator: nn.Module, *, warmup_steps: int = 0):
        self.tokenizer, self.config, self.generator = tokenizer, config, generator
        self.settings = config.electra
        self.warmup_steps = warmup_steps
        self.special = special_token_ids(tokenizer)
        self.vocab_size = input_embeddings(generator).weight.shape[0]

    def wrap(self, model: nn.Module) -> nn.Module:
        # The generator always trains in full (it is small and is not the product); the modes choose
        # what of the discriminator trains, and the shared embeddings follow the discriminator's mode.
        shared = {id(p) for p in model.parameters()}
        for p in self.generator.parameters():
            if id(p) not in shared:
                p.requires_grad_(True)
        return ReplacedTokenDetectionLoss(
            model,
            self.generator,
            discriminator_weight=self.settings.discriminator_weight,
            generator_weight=self.settings.generator_weight,
        )

    def _mask(self, ids, starts, generator: torch.Generator):
        return whole_word_mask(
            ids,
            starts,
            self.special,
            mask_token_id=self.tokenizer.mask_token_id,
            vocab_size=self.vocab_size,
            probability=self.config.mlm_probability,
            generator=generator,
            replace_probability=self.settings.mask_replace_prob,
            random_probability=0.0,
        )

    def loss(self, wrapper, ids, starts, generator, step, device):
        inputs, positions, targets = self._mask(ids, starts, generator)
        ids, inputs, positions, targets = (t.to(device) for t in (ids, inputs, positions, targets))
        total, generator_loss, discriminator_loss = wrapper(
            ids, inputs, positions, targets, generator, train_discriminator=step >= self.warmup_steps
        )
        return total, {"generator_loss": generator_loss, "discriminator_loss": discriminator_loss}

    @torch.no_grad()
    def evaluate(self, wrapper, sequences) -> float:
        """The discriminator's BCE on held-out sequences corrupted by the current generator (fixed seed)."""
        if not sequences:
            return float("nan")
        inner = wrapper if isinstance(wrapper, ReplacedTokenDetectionLoss) else self.wrap(wrapper)
        was_training = inner.training
        inner.eval()
        device = next(inner.parameters()).device
        total, count = 0.0, 0
        batch = self.config.batch_size
        for b, start in enumerate(range(0, len(sequences), batch)):
            ids, starts = stack_sequences(sequences[start : start + batch])
            gen = torch.Generator().manual_seed(self.config.seed * 7919 + b)
            inputs, positions, targets = self._mask(ids, starts, gen)
            _, _, loss = inner(ids.to(device), inputs.to(device), positions.to(device), targets.to(device), gen)
            total += float(loss) * ids.numel()
            count += ids.numel()
        inner.train(was_training)
        return total / max(count, 1)

    def extra_state(self) -> dict | None:
        return {"generator": self.generator.state_dict()}

    def load_extra_state(self, state: dict | None) -> None:
        if state and "generator" in state:
            self.generator.load_state_dict(state["generator"])
