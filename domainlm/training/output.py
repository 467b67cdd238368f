"""Write a trained model directory in one atomic step."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

from domainlm.errors import TrainingError
from domainlm.io import atomic_directory
from domainlm.training.checkpoint import disk_full_error


TOKENIZER_FILES = {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json"}


def write_model_dir(out_dir: Path, *, model, tokenizer, settings: dict, versions: dict, metrics: list[dict],
                    card: str, slots_json: Path | None = None, tokenizer_dir: Path | None = None) -> Path:
    """HF model + tokenizer, slots.json, settings.json, versions.json, metrics.jsonl, README.md.

    All files go to a temporary sibling first and replace `out_dir` in one rename: a kill or a full
    disk leaves the previous `out_dir` (or none) and no half model.
    """
    out_dir = Path(out_dir)
    try:
        with atomic_directory(out_dir) as tmp:
            model.save_pretrained(str(tmp))
            if tokenizer_dir is not None and (Path(tokenizer_dir) / "tokenizer.json").exists():
                # Copy the tokenizer files as they are (vocab.txt and tokenizer.json kept in step, as
                # vocab_tools wrote them) rather than re-serialising them.
                for f in Path(tokenizer_dir).iterdir():
                    if f.is_file() and f.name in TOKENIZER_FILES:
                        shutil.copy(f, tmp / f.name)
            else:
                tokenizer.save_pretrained(str(tmp))
            if slots_json is not None and Path(slots_json).exists():
                shutil.copy(slots_json, tmp / "slots.json")
            else:
                (tmp / "slots.json").write_text(json.dumps({"format": 1, "slots": []}, indent=1) + "\n", encoding="utf-8")
            (tmp / "settings.json").write_text(json.dumps(settings, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
            (tmp / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
            (tmp / "metrics.jsonl").write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in metrics), encoding="utf-8")
            (tmp / "README.md").write_text(card, encoding="utf-8")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise disk_full_error(out_dir, e, "model") from None
        raise TrainingError(f"Cannot write the model to '{out_dir}': {e.strerror or e}.",
                            "Check that the directory is writable; rerun with --resume to continue from the last checkpoint.") from None
    return out_dir
