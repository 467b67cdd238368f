"""Helpers of the modeling / training tests: a hand-filled tokenizer (no dependency on vocab_tools.fill_slots)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def fill_by_hand(tok_dir: Path, terms: list[str], out_dir: Path) -> Path:
    """Copy a tokenizer dir and write `terms` into its first free [unusedN] slots, with a slots.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in Path(tok_dir).iterdir():
        if f.is_file():
            shutil.copy(f, out_dir / f.name)
    data = json.loads((out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    by_id = {i: t for t, i in vocab.items()}
    free = sorted(i for t, i in vocab.items() if t.startswith("[unused"))
    entries = []
    for term, slot in zip(terms, free):
        old = by_id[slot]
        del vocab[old]
        vocab[term] = slot
        data["added_tokens"] = [t for t in data.get("added_tokens", []) if t["id"] != slot]
        entries.append(
            {
                "slot_id": slot,
                "old_token": old,
                "term": term,
                "kind": "continuation" if term.startswith("##") else "word",
            }
        )
    (out_dir / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    decoder = config.get("added_tokens_decoder", {})
    for e in entries:
        decoder.pop(str(e["slot_id"]), None)
    config_path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    if (out_dir / "vocab.txt").exists():
        lines = (out_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        for e in entries:
            lines[e["slot_id"]] = e["term"]
        (out_dir / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "slots.json").write_text(
        json.dumps({"format": 1, "slots": entries}, ensure_ascii=False), encoding="utf-8"
    )
    return out_dir


def write_corpus(path: Path, texts: list[str], repeat: int = 1) -> Path:
    path.write_text("\n".join(list(texts) * repeat) + "\n", encoding="utf-8")
    return path


def tiny_corpus(folder: Path, limit: int | None = None) -> Path:
    """`domain.txt` in `folder`: the shared tiny corpus (its first `limit` texts; a short cut is repeated so
    that training still has enough sequences)."""
    from helpers.tiny import tiny_corpus_texts

    texts = tiny_corpus_texts()[:limit]
    return write_corpus(folder / "domain.txt", texts, repeat=1 if len(texts) > 100 else 60)


# What the tests' tiny training runs share (a few steps of 4 x 32-token sequences, no replay, a small held-out
# part); each test file states only what it changes.
TINY_TRAIN = dict(
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=100,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=20,
    replay_ratio=0.0,
    seed=3,
)


def tiny_train_config(defaults: dict, **overrides):
    """A TrainConfig for a few steps of a tiny model: a test file's `defaults`, then `overrides`.

    Every given term fills a slot (slots: all): a few steps could teach none, and `--slots auto` has
    tests of its own (test_slot_budget.py)."""
    from domainlm.training import TrainConfig

    return TrainConfig(**{"slots": "all", **defaults, **overrides})


class Killed(Exception):
    """Stands for a kill of the process in the middle of a training (raised from `on_step`)."""


def kill_at(step: int):
    """An `on_step` callback that raises `Killed` once step `step` has finished."""

    def on_step(done: int, record: dict) -> None:
        if done == step:
            raise Killed()

    return on_step
