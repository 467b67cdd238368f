"""A LoRA run kept as a peft adapter: what `adapt --mode lora --save adapter|both` writes in `adapter/`.

The folder holds what peft itself writes (`adapter_config.json`, `adapter_model.safetensors`: the
LoRA matrices and, under `...word_embeddings.token_adapter.trainable_tokens_delta`, the trained
values of the filled rows, which peft's `trainable_token_indices` stores whole, not as differences),
plus `filled_rows.safetensors`: what the filled base needs that the adapter does not carry. The
decoder bias of the filled rows (and an untied output embedding's rows) was initialised by
domainlm and does not train under LoRA, so peft never saves it; without it the logits differ.

The filled base is then: the base model, grown to the filled tokenizer's length (`--resize`), with
those rows written in (`fill_base`). `PeftModel.from_pretrained(filled_base, adapter_dir)` gives
the merged model's logits.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from domainlm.errors import ModelError
from domainlm.modeling.init_rows import input_embeddings

ADAPTER_FOLDER = "adapter"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
FILLED_ROWS_FILE = "filled_rows.safetensors"
SAVE_FORMS = ("merged", "adapter", "both")


@dataclass
class LoraAdapter:
    """A trained adapter in memory (kept through merging and in the final checkpoint)."""

    config_json: str  # adapter_config.json as peft wrote it
    weights: dict[str, torch.Tensor]  # adapter_model.safetensors
    filled_rows: dict[str, torch.Tensor] = field(default_factory=dict)  # filled_rows.safetensors
    vocab_size: int = 0  # rows of the filled base (grown by --resize)

    def to_state(self) -> dict:
        """Plain containers only: a checkpoint is loaded with weights_only=True."""
        return {
            "config_json": self.config_json,
            "weights": self.weights,
            "filled_rows": self.filled_rows,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_state(cls, state: dict | None) -> LoraAdapter | None:
        return cls(**state) if state else None


def adapter_possible(modes: list[str]) -> bool:
    """A run ends as an adapter on the filled base when its last phase is LoRA and every earlier
    one trained the filled rows only (their values are in the filled base); a full or an earlier
    LoRA phase changed the base itself."""
    return bool(modes) and modes[-1] == "lora" and all(m == "new-rows" for m in modes[:-1])


def merge_keeping_adapter(peft_model, slot_ids: list[int]):
    """(the merged plain model, the `LoraAdapter` it came from)."""
    from domainlm.modeling.modes import merged_model

    config_json, weights = _peft_files(peft_model)
    model = merged_model(peft_model)
    rows = filled_rows(model, slot_ids)
    return model, LoraAdapter(config_json, weights, rows, input_embeddings(model).weight.shape[0])


def _peft_files(peft_model) -> tuple[str, dict]:
    """The adapter exactly as peft saves it (its own key names and config), read back into memory.

    `save_embedding_layers=False`: the filled rows travel as trainable tokens; peft's "auto" would
    look the base up on the hub and could save the whole embedding matrix.
    """
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory(prefix="domainlm-adapter-") as tmp:
        peft_model.save_pretrained(tmp, save_embedding_layers=False)
        config_json = (Path(tmp) / CONFIG_FILE).read_text(encoding="utf-8")
        weights = load_file(str(Path(tmp) / WEIGHTS_FILE))
    return config_json, weights


def filled_rows(model, slot_ids: list[int]) -> dict[str, torch.Tensor]:
    """The filled rows' values that the adapter does not carry, from a plain (merged) model."""
    from domainlm.modeling.init_rows import decoder_bias

    if not slot_ids:
        return {}
    index = torch.tensor(sorted(set(int(i) for i in slot_ids)))
    rows = {"slot_ids": index}
    bias = decoder_bias(model)
    if bias is not None:
        rows["decoder_bias"] = bias.detach().index_select(0, index).clone()
    out = model.get_output_embeddings()
    if out is not None and out.weight is not model.get_input_embeddings().weight:
        rows["output_embeddings"] = out.weight.detach().index_select(0, index).clone()
    return rows


def write_adapter(adapter: LoraAdapter, folder: Path, base_name: str | None = None) -> None:
    """adapter_config.json, adapter_model.safetensors and filled_rows.safetensors in `folder`.

    `base_name`: the base as the user named it (peft records the path the model was loaded from).
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads(adapter.config_json)
    if base_name:
        config["base_model_name_or_path"] = base_name
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    save_file(
        {k: v.contiguous() for k, v in adapter.weights.items()}, str(folder / WEIGHTS_FILE), metadata={"format": "pt"}
    )
    save_file(
        {k: v.contiguous() for k, v in adapter.filled_rows.items()},
        str(folder / FILLED_ROWS_FILE),
        metadata={"format": "pt", "vocab_size": str(adapter.vocab_size)},
    )


def copy_beside_adapter(model_dir: Path, names) -> None:
    """Copy the tokenizer files (and slots.json) of `model_dir` into its adapter folder, so the
    adapter folder loads on its own (its tokenizer loads from the adapter folder alone)."""
    for name in names:
        if (model_dir / name).is_file():
            shutil.copyfile(model_dir / name, model_dir / ADAPTER_FOLDER / name)


@torch.no_grad()
def fill_base(model, adapter_dir) -> None:
    """Make a plain base model the filled base of `adapter_dir`: grown to the filled vocabulary and
    with the filled rows the adapter does not carry written in."""
    from safetensors import safe_open

    from domainlm.modeling.init_rows import decoder_bias
    from domainlm.modeling.resize import grow_model

    path = Path(adapter_dir) / FILLED_ROWS_FILE
    if not path.is_file():
        raise ModelError(
            f"'{adapter_dir}' has no {FILLED_ROWS_FILE}.",
            "Pass the adapter/ folder written by `domainlm adapt --mode lora`.",
        )
    with safe_open(str(path), framework="pt") as f:
        vocab_size = int(f.metadata().get("vocab_size") or 0)
        rows = {k: f.get_tensor(k) for k in f.keys()}
    grow_model(model, vocab_size)
    if "slot_ids" not in rows:
        return
    index = rows["slot_ids"]
    bias = decoder_bias(model)
    if bias is not None and "decoder_bias" in rows:
        bias.index_copy_(0, index, rows["decoder_bias"].to(bias))
    out = model.get_output_embeddings()
    if "output_embeddings" in rows and out is not None:
        out.weight.index_copy_(0, index, rows["output_embeddings"].to(out.weight))


def load_adapted(adapter_dir, base: str | None = None):
    """(PeftModel, tokenizer) of an adapter folder: the base it names (or `base`), filled, plus the adapter."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from domainlm.modeling.loading import load_mlm

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    model, _ = load_mlm(base or config["base_model_name_or_path"])
    fill_base(model, adapter_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir), trust_remote_code=False)
    return PeftModel.from_pretrained(model, str(adapter_dir)), tokenizer
