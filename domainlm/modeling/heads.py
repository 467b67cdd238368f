"""Masked-LM loss computed only at the masked positions.

On a 42k vocabulary the decoder (hidden × vocab) costs several times the whole encoder per token, and
a full-sequence MLM loss spends it on the 85% of positions that carry no label. Here the encoder runs
on the whole sequence, the hidden states of the masked positions are gathered, and only those go
through the MLM head. The wrapper is one `nn.Module` so that DDP (accelerate / torchrun) sees a
single forward and syncs gradients as usual.
"""

from __future__ import annotations

from typing import Any, cast

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
        return cast(nn.Module, model.base_model.model)
    return model


def mlm_head_of(core: Any):  # a transformers masked-LM: its heads are found by attribute name
    """(encoder, head) of the known masked-LM families, or None (then the full forward is used)."""
    prefix = getattr(core, "base_model_prefix", None)
    encoder = getattr(core, prefix, None) if prefix else None
    if encoder is None:
        return None
    if hasattr(core, "cls") and hasattr(core.cls, "predictions"):  # BERT
        return encoder, core.cls
    if hasattr(core, "predictions") and hasattr(core.predictions, "decoder"):  # ALBERT
        return encoder, core.predictions
    if hasattr(core, "generator_lm_head"):  # ELECTRA generator
        return encoder, lambda h: core.generator_lm_head(core.generator_predictions(h))
    if hasattr(core, "lm_head"):  # RoBERTa family
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

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        targets: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        logits = self.masked_logits(input_ids, positions, attention_mask)
        return F.cross_entropy(logits.float(), targets)

    def masked_logits(self, input_ids, positions, attention_mask=None) -> torch.Tensor:
        core = unwrap_peft(self.model)
        parts = mlm_head_of(core)
        if parts is None:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            return logits.reshape(-1, logits.shape[-1]).index_select(0, positions)
        encoder, head = parts
        if attention_mask is None and _sparse_last_layer_ok(core, encoder):
            return head(_bert_sparse_last_layer(encoder, input_ids, positions))
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        return head(hidden)


def _sparse_last_layer_ok(core: nn.Module, encoder: nn.Module) -> bool:
    config = getattr(core, "config", None)
    # ELECTRA's layers are BERT's (its generator is where replaced-token detection spends on the MLM head).
    if getattr(config, "model_type", None) not in ("bert", "electra") or getattr(config, "is_decoder", False):
        return False
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not layers:
        return False
    last = layers[-1]
    return (
        all(hasattr(last, n) for n in ("attention", "intermediate", "output"))
        and hasattr(last.attention, "self")
        and hasattr(last.attention.self, "query")
    )


def _bert_sparse_last_layer(bert: Any, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Hidden states of the masked positions, computing the LAST layer only where they are needed.

    Every layer but the last runs on all positions (later positions attend to them). In the last
    layer only the masked positions' outputs are used, so their queries attend to all keys and
    values, and the attention output projection and the FFN run on those ~15% of the rows: a
    quarter less encoder work on a 4-layer model, the same numbers as the full forward.
    """
    hidden = bert.embeddings(input_ids=input_ids)
    if hasattr(bert, "embeddings_project"):  # ELECTRA: embedding size → hidden size
        hidden = bert.embeddings_project(hidden)
    layers = bert.encoder.layer
    for layer in layers[:-1]:
        hidden = layer(hidden, None)
    last = layers[-1]
    attn = last.attention.self
    B, L, H = hidden.shape
    heads, dim = attn.num_attention_heads, attn.attention_head_size
    chosen = hidden.reshape(-1, H).index_select(0, positions)  # [M, H]
    # Group the masked rows by sequence: row r of sequence b goes to (b, rank); shorter groups are padded.
    batch = torch.div(positions, L, rounding_mode="floor")
    counts = torch.bincount(batch, minlength=B)
    rank = torch.arange(positions.shape[0], device=positions.device) - (torch.cumsum(counts, 0) - counts)[batch]
    width = int(counts.max())
    query = attn.query(chosen)
    query = query.new_zeros(B, width, query.shape[-1]).index_put((batch, rank), query)
    query = query.view(B, width, heads, dim).transpose(1, 2)
    key = attn.key(hidden).view(B, L, heads, dim).transpose(1, 2)
    value = attn.value(hidden).view(B, L, heads, dim).transpose(1, 2)
    context = F.scaled_dot_product_attention(
        query, key, value, dropout_p=attn.dropout.p if attn.training else 0.0, scale=getattr(attn, "scaling", None)
    )
    context = context.transpose(1, 2).reshape(B, width, heads * dim)[batch, rank]  # [M, H]
    attention_output = last.attention.output(context, chosen)
    return last.output(last.intermediate(attention_output), attention_output)
