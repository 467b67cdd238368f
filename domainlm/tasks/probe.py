"""Labelled texts of downstream probes (evaluation's linear probes): built-in presets and reading a `TaskSpec`.

Text and label are read as two streams of the same file and joined on (file, line), so a row
whose label is missing or unmapped is dropped without shifting every later label onto the wrong text.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domainlm.corpus import CorpusSpec, Normalizer, is_heldout, iter_documents
from domainlm.corpus.rows import columns_of
from domainlm.errors import EvaluationError
from domainlm.tasks.files import default_data_dir, is_task_file, load_task_file
from domainlm.tasks.schema import TaskSpec

PRESETS = ("nsmc", "shopping")


def preset_task(
    name: str, data_dir: str | os.PathLike | None = None, *, max_train: int = 2000, max_test: int = 1000
) -> TaskSpec:
    """`nsmc`: NSMC movie-review sentiment (eval/nsmc_*); `shopping`: Naver shopping ratings 1–2 vs 4–5."""
    data = Path(data_dir) if data_dir else default_data_dir()
    if name == "nsmc":
        return TaskSpec(
            name="nsmc",
            train=CorpusSpec(path=str(data / "eval" / "nsmc_train_40k.tsv"), field="document"),
            test=CorpusSpec(path=str(data / "eval" / "nsmc_test_10k.tsv"), field="document"),
            label_field="label",
            max_train=max_train,
            max_test=max_test,
        )
    if name == "shopping":
        spec = CorpusSpec(path=str(data / "reviews" / "naver_shopping_50k.tsv"), field="text")
        return TaskSpec(
            name="shopping",
            train=spec,
            test=spec,
            label_field="rating",
            label_map={"1": 0, "2": 0, "4": 1, "5": 1},
            max_train=max_train,
            max_test=max_test,
        )
    raise EvaluationError(
        f"Unknown task '{name}'.",
        f"Built-in tasks: {', '.join(PRESETS)}; or pass a .json/.yaml file holding a task "
        "(name, train, test, label_field, label_map).",
    )


def resolve_task(value: str, data_dir: str | os.PathLike | None = None) -> list[TaskSpec]:
    """A `--task` value: a preset name or a task file."""
    if value in PRESETS:
        return [preset_task(value, data_dir)]
    if is_task_file(value):
        return load_task_file(value, TaskSpec)
    return [preset_task(value, data_dir)]  # raises with the list of presets


@dataclass
class LabelledData:
    texts: list[str]
    labels: np.ndarray  # class ids 0..k-1

    def __len__(self) -> int:
        return len(self.texts)


def _labelled_texts(task: TaskSpec, spec: CorpusSpec, which: str, normalizer: Normalizer) -> list[tuple[str, str]]:
    columns = columns_of(spec)
    if columns is not None and task.label_field not in columns:
        raise EvaluationError(
            f"Task '{task.name}': the {which} file '{spec.path}' has no label column '{task.label_field}'; "
            f"its columns are: {', '.join(columns) if columns else '(none: plain text, one example a line)'}.",
            "Name the label column with label_field, or use a .tsv/.csv/.jsonl file that holds labels.",
        )
    labels = {
        (d.source, d.line): d.text.strip()
        for d in iter_documents(spec.model_copy(update={"field": task.label_field, "limit": None}))
    }
    rows = []
    for doc in iter_documents(spec):
        label = labels.get((doc.source, doc.line), "")
        text = normalizer(doc.text)
        if text and label:
            rows.append((text, label))
    return rows


def load_task(
    task: TaskSpec, *, seed: int, normalizer: Normalizer | None = None
) -> tuple[LabelledData, LabelledData, list[str]]:
    """(train, test, class names) of a task, each a seeded sample within the task's budget."""
    normalizer = normalizer or Normalizer()
    train_rows = _labelled_texts(task, task.train, "train", normalizer)
    same_file = task.train.model_dump() == task.test.model_dump()
    if same_file:
        # One file for both: split by a hash of the text so that no review is on both sides.
        test_rows = [r for r in train_rows if is_heldout(r[0], task.test_fraction, seed=f"probe-{task.name}")]
        train_rows = [r for r in train_rows if not is_heldout(r[0], task.test_fraction, seed=f"probe-{task.name}")]
    else:
        test_rows = _labelled_texts(task, task.test, "test", normalizer)

    def mapped(rows):
        if task.label_map is None:
            return rows
        return [(t, str(task.label_map[lab])) for t, lab in rows if lab in task.label_map]

    train_rows, test_rows = mapped(train_rows), mapped(test_rows)
    classes = sorted({lab for _, lab in train_rows} | {lab for _, lab in test_rows}, key=_label_key)
    if len(classes) < 2 or not train_rows or not test_rows:
        raise EvaluationError(
            f"Task '{task.name}' has {len(train_rows)} train and {len(test_rows)} test examples with "
            f"{len(classes)} class(es) after label mapping; a probe needs both splits and at least 2 classes.",
            "Check label_field and label_map (unmapped labels are dropped).",
        )
    index = {c: i for i, c in enumerate(classes)}
    rng = random.Random(f"{seed}\x00{task.name}")

    def sample(rows, budget):
        rows = list(rows)
        rng.shuffle(rows)
        rows = rows[:budget]
        return LabelledData([t for t, _ in rows], np.asarray([index[lab] for _, lab in rows], dtype=np.int64))

    return sample(train_rows, task.max_train), sample(test_rows, task.max_test), classes


def _label_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
