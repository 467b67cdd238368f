"""Which parameters train: the built-in modes `full`, `lora`, `new-rows`, `partial` (registered by name
in `domainlm.modeling.train_modes`, which `apply_mode` looks them up in).

- full: everything.
- new-rows: only the filled slot rows of the (tied) embedding matrix and their decoder-bias entries.
  The whole embedding parameter stays trainable and a gradient hook zeroes every other row, so the
  tied decoder keeps pointing at the same tensor. Those parameters must get no weight decay (see
  `no_decay_names`): AdamW decays a parameter whatever its gradient, which would shrink frozen rows.
- partial: the filled rows as in new-rows, the whole output bias (the cheapest way to move the
  model's word frequencies to the domain's) and the first and last encoder layers; the rest frozen.
  Partial unfreezing after vocabulary expansion limits forgetting (Yamaguchi et al. 2024 train the
  embeddings, the head and the two outermost layers at each end).
- lora: peft LoRA on attention and FFN layers, the filled rows trainable through peft's
  `trainable_token_indices`. peft's TrainableTokens wrapper of a tied Linear decoder drops the
  decoder bias before peft 0.22 (peft issue 3649), so an untrained adapter would change the logits;
  `_keep_decoder_bias` puts the bias back where a probe shows it missing.
"""

from __future__ import annotations

import types
from typing import Any, cast

import torch
from torch import nn

from domainlm.errors import TrainingError
from domainlm.modeling.init_rows import decoder_bias, input_embeddings, output_embeddings
from domainlm.modeling.train_modes import MODES, PHASED, mode_names

_ROW_HOOKS = "_domainlm_row_hooks"  # the gradient hooks of new-rows, removed when the next phase starts


def apply_mode(model: nn.Module, mode: str, slot_ids: list[int], lora=None) -> nn.Module:
    """Return the model to train in `mode` (a registered mode: a `PeftModel` for lora); sets requires_grad."""
    # A phase after new-rows must not inherit its row mask: the hooks live on the parameters.
    for handle in getattr(model, _ROW_HOOKS, ()):
        handle.remove()
    setattr(model, _ROW_HOOKS, [])
    registered = MODES.lookup(mode)
    if registered is None:
        raise TrainingError(f"Unknown training mode '{mode}'.", f"Use one of: {', '.join(mode_names())}, {PHASED}.")
    return registered.function()(model, slot_ids, lora)


def train_everything(model: nn.Module, slot_ids: list[int] | None = None, lora=None) -> nn.Module:
    """Mode full: every parameter trains."""
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def train_filled_rows(model: nn.Module, slot_ids: list[int], lora=None) -> nn.Module:
    """Mode new-rows: only the filled rows (and their decoder-bias entries) train."""
    if not slot_ids:
        raise TrainingError(
            "Mode 'new-rows' needs filled slots, but no slot was filled.",
            "Pass --terms (or --filled-tokenizer), or use --mode full / lora.",
        )
    _freeze_all_but_rows(model, slot_ids)
    return model


def train_outer_layers(model: nn.Module, slot_ids: list[int], lora=None) -> nn.Module:
    """Mode partial: the filled rows, the whole output bias, and the first and last encoder layers
    (without filled slots: the bias and those layers)."""
    _freeze_all_but_rows(model, slot_ids, whole_bias=True)
    layers = encoder_layers(model)
    for layer in {id(m): m for m in (layers[0], layers[-1])}.values():
        for p in layer.parameters():
            p.requires_grad_(True)
    return model


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer layers (BERT, ELECTRA: `encoder.layer`; ALBERT: its shared layer groups)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) and name.rsplit(".", 2)[-2:-1] == ["encoder"]:
            return module
    raise TrainingError(
        f"Mode 'partial' found no encoder layer stack in {type(model).__name__}.",
        "Use --mode new-rows, full or lora with this architecture.",
    )


def _freeze_all_but_rows(model: nn.Module, slot_ids: list[int], *, whole_bias: bool = False) -> None:
    for p in model.parameters():
        p.requires_grad_(False)
    emb = input_embeddings(model).weight
    targets = [emb]
    out = output_embeddings(model)
    if out is not None and out.weight is not emb:
        targets.append(cast(torch.Tensor, out.weight))
    bias = decoder_bias(model)
    if bias is not None and whole_bias:
        bias.requires_grad_(True)
    elif bias is not None:
        targets.append(bias)
    hooks = []
    for param in targets if slot_ids else []:
        keep = torch.zeros(param.shape[0], dtype=torch.bool)
        keep[torch.tensor(sorted(set(slot_ids)), dtype=torch.long)] = True
        shape = (-1,) + (1,) * (param.dim() - 1)
        mask = keep.view(shape).to(param.device)
        param.requires_grad_(True)
        # The hook runs on every gradient reaching the parameter (input and tied output use alike).
        hooks.append(param.register_hook(lambda g, m=mask: g * m.to(g.dtype)))
    setattr(model, _ROW_HOOKS, hooks)


def filled_row_tensors(model: nn.Module, slot_ids: list[int]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Where the filled rows train: (tensor, the slot rows in it, or None when all of it is those rows).

    The embedding matrix (and an untied decoder) and the decoder bias hold them as rows; under LoRA,
    peft's trainable-token deltas are the rows themselves. Only tensors that train are listed."""
    if not slot_ids:
        return []
    deltas = [p for name, p in model.named_parameters() if "trainable_tokens_delta" in name and p.requires_grad]
    if deltas:
        return [(p, None) for p in deltas]
    index = torch.tensor(sorted(set(slot_ids)), dtype=torch.long)
    tensors: list[torch.Tensor] = [input_embeddings(model).weight]
    out = output_embeddings(model)
    if out is not None and out.weight is not tensors[0]:
        tensors.append(cast(torch.Tensor, out.weight))
    bias = decoder_bias(model)
    if bias is not None:
        tensors.append(bias)
    return [(t, index.to(t.device)) for t in tensors if t.requires_grad]


def no_decay_names(model: nn.Module, mode: str) -> set[str]:
    """Parameter names that must not get weight decay: biases, LayerNorm, and masked-row params."""
    names = set()
    row_params = set()
    if mode in ("new-rows", "partial"):
        row_params = {id(input_embeddings(model).weight)}
        out = output_embeddings(model)
        if out is not None:
            row_params.add(id(out.weight))
        b = decoder_bias(model)
        if b is not None:
            row_params.add(id(b))
    for name, p in model.named_parameters():
        if p.dim() < 2 or "LayerNorm" in name or "layer_norm" in name or id(p) in row_params:
            names.add(name)
    return names


def lora_model(model: nn.Module, slot_ids: list[int], lora) -> nn.Module:
    """Mode lora: peft LoRA on the attention and FFN layers, the filled rows trainable through peft."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    if lora is None:
        from domainlm.modeling.config import LoraConfig

        lora = LoraConfig()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in lora.target_modules if t in present]
    if not targets:
        raise TrainingError(
            f"None of the LoRA target modules {lora.target_modules} exist in this model.",
            f"Set train.lora.target_modules to module names it has, e.g. {sorted(present)[:12]}.",
        )
    emb_name = _embedding_module_name(model)
    kwargs: dict[str, Any] = {}
    if slot_ids:
        kwargs["trainable_token_indices"] = {emb_name: sorted(set(int(i) for i in slot_ids))}
    config = PeftLoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, bias="none", **kwargs
    )
    peft_model = get_peft_model(model, config)
    _keep_decoder_bias(peft_model)
    return peft_model


def _embedding_module_name(model: nn.Module) -> str:
    emb = input_embeddings(model)
    for name, module in model.named_modules():
        if module is emb:
            return name.rsplit(".", 1)[-1]
    return "word_embeddings"


def _keep_decoder_bias(peft_model: nn.Module) -> int:
    """Patch peft TrainableTokens layers wrapping a Linear with a bias to add the bias back.

    peft before 0.22 computes `F.linear(x, merged_weight)` without the base layer's bias on its
    adapter path; the disabled and merged paths call the base layer and are right already. Whether a
    layer drops its bias is probed, not read from peft's version: an untrained adapter must give the
    base layer's output, so a layer whose adapter output differs from it by exactly the bias is patched.
    """
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    patched = 0
    for module in peft_model.modules():
        if (
            isinstance(module, TrainableTokensLayer)
            and isinstance(module.base_layer, nn.Linear)
            and module.base_layer.bias is not None
            and not getattr(module, "_domainlm_bias_fix", False)
            and _drops_bias(module)
        ):
            original = module.forward_adapters

            def forward_adapters(self, x, active_adapters, *args, _orig=original, **kwargs):
                result = _orig(x, active_adapters, *args, **kwargs)
                if not (self.disable_adapters or not active_adapters or self.merged):
                    result = result + self.base_layer.bias.to(result.dtype)
                return result

            # Replacing the bound method on this one layer is the patch.
            module.forward_adapters = types.MethodType(forward_adapters, module)  # type: ignore[method-assign]
            module._domainlm_bias_fix = True  # type: ignore[assignment]  # torch types Module attributes as Tensor | Module
            patched += 1
    return patched


def _drops_bias(layer: Any) -> bool:
    """True when the untrained adapter path of `layer` (a peft TrainableTokensLayer) returns the base output
    minus its bias."""
    base: nn.Linear = layer.base_layer
    probe = torch.linspace(-1.0, 1.0, base.in_features, dtype=base.weight.dtype, device=base.weight.device)
    with torch.no_grad():
        expected = base(probe[None])
        got = layer.forward_adapters(probe[None], layer.active_adapters)
    return not torch.allclose(got, expected, atol=1e-5) and torch.allclose(got + base.bias, expected, atol=1e-5)


def merged_model(model: nn.Module) -> nn.Module:
    """A plain transformers model: LoRA and trainable tokens merged into the weights."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; for new-rows the masked rows only."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
