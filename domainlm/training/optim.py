"""The one optimizer and schedule of every training loop (adaptation, pretraining, fine-tuning): AdamW with
no weight decay on what `domainlm.modeling.modes.no_decay_names` names (biases, norms, masked rows), and
transformers' linear warm-up then decay to 0."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from domainlm.errors import TrainingError


def decay_groups(params: Iterable[tuple[torch.nn.Parameter, bool]], weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups from (parameter, no decay?) pairs, in their order; empty groups left out."""
    decay: list[torch.nn.Parameter] = []
    plain: list[torch.nn.Parameter] = []
    for p, skip in params:
        (plain if skip else decay).append(p)
    groups = [
        g
        for g in ({"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0})
        if g["params"]
    ]
    if not groups:
        raise TrainingError("No parameter trains in this mode.", "Check --mode and the filled slots.")
    return groups


def adamw(groups: list[dict[str, Any]], lr: float, *, fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW over `groups`; `fused` None: the fused kernel wherever every parameter allows it."""
    if fused is None:
        # The fused kernel (CPU and CUDA) does one pass over each parameter instead of several.
        fused = all(
            p.dtype in (torch.float32, torch.bfloat16, torch.float16) and p.device.type in ("cpu", "cuda")
            for g in groups
            for p in g["params"]
        )
    return torch.optim.AdamW(groups, lr=lr, fused=fused)


def linear_schedule(optimizer, steps: int, warmup_ratio: float) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up over `warmup_ratio` of `steps`, then linear decay to 0 (transformers' "linear")."""
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * steps), steps)


class RowLearningRate:
    """The filled rows at their own learning rate (`train.new_rows_lr`) inside a phase that trains more.

    A row is a slice of the embedding matrix, which no optimizer parameter group can hold on its own.
    AdamW's step on a tensor, its decoupled weight decay included, is proportional to the learning rate,
    so scaling each row's change by new_rows_lr / the phase's lr after the step gives exactly the step it
    would take at new_rows_lr (its moments depend on its gradients only). The schedule applies to both."""

    def __init__(self, rows: list[tuple[torch.Tensor, torch.Tensor | None]], scale: float):
        self.rows, self.scale = rows, scale
        self._before: list[torch.Tensor] = []

    def before_step(self) -> None:
        with torch.no_grad():
            self._before = [(t if index is None else t[index]).detach().clone() for t, index in self.rows]

    def after_step(self) -> None:
        with torch.no_grad():
            for (t, index), before in zip(self.rows, self._before):
                now = t if index is None else t[index]
                scaled = before + self.scale * (now - before)
                if index is None:
                    t.copy_(scaled)
                else:
                    t[index] = scaled
        self._before = []
