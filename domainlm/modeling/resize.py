"""Grow a model and its tokenizer by new `[unusedN]` rows (`--resize`).

For a base with too few free slots (KcBERT has none). Filling existing slots is always preferred:
it keeps every shape. The tokenizer's files gain the new slots through vocab_tools
(`vocab_tools.slots.append_slots`: numbered after the last slot, written atomically), and the
embedding / decoder / bias grow by the same number of rows here.
"""

from __future__ import annotations

from pathlib import Path

from vocab_tools import slots


def tokenizer_with_new_slots(tokenizer, count: int, out_dir: Path):
    """Write a copy of `tokenizer` with `count` new [unusedN] entries to `out_dir`; return it reloaded."""
    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    tokenizer.save_pretrained(str(out_dir))
    slots.append_slots(out_dir, count)
    return AutoTokenizer.from_pretrained(str(out_dir), trust_remote_code=False)


def grow_model(model, new_size: int) -> None:
    """Grow embeddings, (tied) decoder and bias to `new_size` rows; new rows get init later."""
    if model.get_input_embeddings().weight.shape[0] < new_size:
        model.resize_token_embeddings(new_size, mean_resizing=False)
