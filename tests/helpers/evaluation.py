"""Helpers of the evaluation tests: toy texts, a filled copy of the tiny model, toy task files."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from helpers.tiny import TINY_TEXT

TERMS = ["맛있어요", "배송", "좋아요", "최고", "재구매", "##했어요"]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """Review-like texts built from the fixture sentences, so the tiny tokenizer covers them."""
    words = " ".join(TINY_TEXT).split()
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]


def build_filled_model(tiny_mlm_dir: Path, out: Path) -> Path:
    """The tiny model with some [unusedN] slots filled by vocab_tools (weights unchanged), a metrics log and a card."""
    from vocab_tools.fill import fill_slots

    fill_slots(tiny_mlm_dir, TERMS, out, category="food", source="test")
    for f in tiny_mlm_dir.iterdir():
        if not (out / f.name).exists():
            shutil.copy(f, out / f.name)
    with open(out / "metrics.jsonl", "w", encoding="utf-8") as fh:
        for step in range(1, 21):
            fh.write(json.dumps({"step": step, "loss": 6 - 0.1 * step}) + "\n")
        fh.write(json.dumps({"step": 20, "eval_loss": 4.2}) + "\n")
    (out / "README.md").write_text("# tiny adapted\n\nTrained by a test.\n", encoding="utf-8")
    return out


def build_eval_files(root: Path) -> dict[str, Path]:
    """Held-out and general text files, a labelled toy task (tsv + json spec) and a task file without labels."""
    domain = root / "heldout.txt"
    domain.write_text(
        "\n".join(make_texts(60, seed=1) + ["배송 빠르고 맛있어요 재구매 할게요"]) + "\n", encoding="utf-8"
    )
    general = root / "general.txt"
    general.write_text("\n".join(make_texts(40, seed=2)) + "\n", encoding="utf-8")
    positive, negative = ["좋아요", "최고", "만족합니다", "맛있어요"], ["별로였다", "지루하고", "ㅠㅠ"]
    rng = random.Random(3)
    rows = ["id\ttext\tlabel"]
    for i in range(160):
        label = i % 2
        words = make_texts(1, seed=100 + i)[0].split()[:4] + [rng.choice(positive if label else negative)]
        rows.append(f"{i}\t{' '.join(words)}\t{label}")
    task = root / "task.tsv"
    task.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = {
        "name": "toy-sentiment",
        "train": {"path": str(task)},
        "test": {"path": str(task)},
        "label_field": "label",
        "max_train": 120,
        "max_test": 40,
        "test_fraction": 0.25,
    }
    task_json = root / "task.json"
    task_json.write_text(json.dumps(spec), encoding="utf-8")
    unlabelled = root / "nolabel.tsv"
    unlabelled.write_text("id\ttext\n1\t좋아요\n2\t별로\n", encoding="utf-8")
    nolabel_json = root / "nolabel.json"
    nolabel_json.write_text(
        json.dumps({**spec, "name": "nolabel", "train": {"path": str(unlabelled)}, "test": {"path": str(unlabelled)}}),
        encoding="utf-8",
    )
    return {"domain": domain, "general": general, "task": task, "task_json": task_json, "nolabel_json": nolabel_json}
