"""Append new `[unusedN]` slots to a tokenizer and the model's matrices (`--resize`).

For a base with too few free slots (KcBERT has none). Filling existing slots is always preferred:
it keeps every shape. Here the new entries are appended at the end of vocab.txt and tokenizer.json
as special added tokens (the layout of the original slots), so vocab_tools finds them as free
slots, and the embedding / decoder / bias grow by the same number of rows.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from domainlm.errors import ModelError

_UNUSED = re.compile(r"^\[unused(\d+)\]$")


def append_slots(tokenizer, count: int, out_dir: Path):
    """Write a copy of `tokenizer` with `count` new [unusedN] entries to `out_dir`; return it reloaded."""
    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    tokenizer.save_pretrained(str(out_dir))
    path = out_dir / "tokenizer.json"
    if not path.exists():
        raise ModelError("The base tokenizer has no tokenizer.json, so slots cannot be appended.",
                         "Save it as a fast tokenizer first.")
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    if not isinstance(vocab, dict):
        raise ModelError("--resize supports WordPiece tokenizers (vocab.txt / tokenizer.json with a vocab map) only.")
    size = max(max(vocab.values()) + 1, max((t["id"] for t in data.get("added_tokens", [])), default=-1) + 1)
    used = [int(m.group(1)) for tok in vocab if (m := _UNUSED.match(tok))]
    first = max(used, default=-1) + 1
    new = []
    for k in range(count):
        token = f"[unused{first + k}]"
        vocab[token] = size + k
        data.setdefault("added_tokens", []).append({"id": size + k, "content": token, "single_word": False,
                                                     "lstrip": False, "rstrip": False, "normalized": False,
                                                     "special": True})
        new.append(token)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    vocab_txt = out_dir / "vocab.txt"
    if vocab_txt.exists():
        lines = vocab_txt.read_text(encoding="utf-8").splitlines()
        lines += new
        vocab_txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return AutoTokenizer.from_pretrained(str(out_dir))


def grow_model(model, new_size: int) -> None:
    """Grow embeddings, (tied) decoder and bias to `new_size` rows; new rows get init later."""
    if model.get_input_embeddings().weight.shape[0] < new_size:
        model.resize_token_embeddings(new_size, mean_resizing=False)


def copy_tokenizer_files(src: Path, dst: Path) -> None:
    for f in Path(src).iterdir():
        if f.is_file():
            shutil.copy(f, dst / f.name)
