"""Masked-LM loss computed only at the masked positions.

On a 42k vocabulary the decoder (hidden × vocab) costs several times the whole encoder per token, and
a full-sequence MLM loss spends it on the 85% of positions that carry no label. Here the encoder runs
on the whole sequence, the hidden states of the masked positions are gathered, and only those go
through the MLM head. The wrapper is one `nn.Module` so that DDP (accelerate / torchrun) sees a
single forward and syncs gradients as usual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def unwrap_peft(model: nn.Module) -> nn.Module:
    """The transformers model inside a peft `PeftModel` (LoRA layers stay injected in it)."""
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover
        return model
    if isinstance(model, PeftModel):
        return model.base_model.model
    return model


def _head_of(core: nn.Module):
    """(encoder, head) of the known masked-LM families, or None (then the full forward is used)."""
    prefix = getattr(core, "base_model_prefix", None)
    encoder = getattr(core, prefix, None) if prefix else None
    if encoder is None:
        return None
    if hasattr(core, "cls") and hasattr(core.cls, "predictions"):        # BERT
        return encoder, core.cls
    if hasattr(core, "predictions") and hasattr(core.predictions, "decoder"):  # ALBERT
        return encoder, core.predictions
    if hasattr(core, "generator_lm_head"):                               # ELECTRA generator
        return encoder, lambda h: core.generator_lm_head(core.generator_predictions(h))
    if hasattr(core, "lm_head"):                                          # RoBERTa family
        return encoder, core.lm_head
    return None


class MaskedLMLoss(nn.Module):
    """`forward(input_ids, positions, targets, attention_mask=None) -> mean cross-entropy`.

    `positions` index the flattened (batch × seq) positions that were masked; `targets` are their
    true token ids.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.masked_logits(input_ids, positions, attention_mask)
        return F.cross_entropy(logits.float(), targets)

    def masked_logits(self, input_ids, positions, attention_mask=None) -> torch.Tensor:
        core = unwrap_peft(self.model)
        parts = _head_of(core)
        if parts is None:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            return logits.reshape(-1, logits.shape[-1]).index_select(0, positions)
        encoder, head = parts
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        return head(hidden)
