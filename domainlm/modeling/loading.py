"""Load a masked-LM and its tokenizer from a local directory or a hub id, or build a fresh one.

Errors say what is missing and how to fix it: an offline hub names the cache that was searched and
how to pass a local directory instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from domainlm.errors import ModelError

SUPPORTED_FAMILIES = ("bert", "albert", "electra", "roberta", "distilbert")


def _hub_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover - huggingface_hub always comes with transformers
        return os.path.expanduser("~/.cache/huggingface/hub")


def load_tokenizer(name_or_path: str | os.PathLike):
    """A *fast* (Rust) tokenizer: training needs its batch encoding and offsets."""
    from transformers import AutoTokenizer

    name = str(name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise _load_error(name, "tokenizer", e) from None
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"The tokenizer of '{name}' has no fast (Rust) version.",
                         "Save it with tokenizer.json (AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(dir)).")
    if tok.mask_token_id is None:
        raise ModelError(f"The tokenizer of '{name}' has no mask token, so it cannot be used for masked-LM training.",
                         "Use a BERT-style tokenizer with [MASK].")
    return tok


def load_mlm(name_or_path: str | os.PathLike):
    """Return `(model, tokenizer)` of a masked-LM (BERT, ALBERT, ELECTRA generator, RoBERTa …)."""
    from transformers import AutoModelForMaskedLM

    name = str(name_or_path)
    tokenizer = load_tokenizer(name)
    try:
        model = AutoModelForMaskedLM.from_pretrained(name)
    except ValueError as e:
        # AutoModel raises ValueError for a config class it has no masked-LM head for.
        if "Unrecognized configuration class" in str(e) or "masked" in str(e).lower():
            raise ModelError(f"'{name}' is not a model with a masked-LM head ({str(e).splitlines()[0][:160]}).",
                             "Pass a BERT, ALBERT, ELECTRA or RoBERTa masked-LM checkpoint.") from None
        raise _load_error(name, "model", e) from None
    except OSError as e:
        raise _load_error(name, "model", e) from None
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        raise ModelError(f"'{name}': the tokenizer has {len(tokenizer):,} entries but the model only "
                         f"{model.get_input_embeddings().weight.shape[0]:,} embedding rows.",
                         "Use the tokenizer that belongs to this model.")
    return model, tokenizer


def _load_error(name: str, what: str, exc: Exception) -> ModelError:
    path = Path(name)
    if path.exists():
        return ModelError(f"Cannot load the {what} from '{name}': {str(exc).splitlines()[0][:200]}",
                          "The directory must hold a Hugging Face save_pretrained model (config.json, weights) and tokenizer files.")
    looks_local = name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]
    if looks_local:
        return ModelError(f"The {what} directory '{name}' does not exist.", "Check the path passed as --base.")
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")
    reason = "offline mode is on (HF_HUB_OFFLINE)" if offline else "the Hugging Face hub could not be reached"
    return ModelError(
        f"Cannot load the {what} '{name}': it is not a local directory, {reason}, and it is not in the "
        f"cache at {_hub_cache()}.",
        f"Download it where the hub is reachable (`huggingface-cli download {name} --local-dir DIR`) and pass "
        "that directory with --base DIR, or set HF_HOME to a cache that holds it.")


def build_mlm(arch, tokenizer):
    """A freshly initialised masked-LM (`ModelArchConfig`) sized to `tokenizer` — for `pretrain`."""
    from transformers import AlbertConfig, AlbertForMaskedLM, BertConfig, BertForMaskedLM

    if arch.hidden % arch.heads:
        raise ModelError(f"hidden ({arch.hidden}) must be a multiple of heads ({arch.heads}).",
                         "Change --hidden or --heads.")
    common = dict(vocab_size=len(tokenizer), hidden_size=arch.hidden, num_hidden_layers=arch.layers,
                  num_attention_heads=arch.heads, intermediate_size=arch.intermediate or 4 * arch.hidden,
                  max_position_embeddings=arch.max_positions, pad_token_id=tokenizer.pad_token_id or 0)
    if arch.arch == "albert":
        config = AlbertConfig(embedding_size=arch.embedding_size, **common)
        return AlbertForMaskedLM(config)
    return BertForMaskedLM(BertConfig(**common))
