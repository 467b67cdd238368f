"""Reading and splitting a task into `TaskData`.

Splits are fixed by hashes of the example text, never by the seed: every seed and every model sees the
same train, dev and test examples, which is what makes a paired comparison paired. Where a task has no
dev file, dev is carved from train; where it has no test file, test is carved first. The test rows are
held back behind `TaskData.load_test()`, which only the final evaluation calls (a test checks that).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainlm.corpus.filters import heldout_fraction_of
from domainlm.errors import EvaluationError
from domainlm.tasks.data import Example
from domainlm.tasks.files import default_data_dir
from domainlm.tasks.schema import Task


@dataclass
class TaskData:
    """Train and dev examples of a task; the test rows stay behind `load_test()`."""

    task: Task
    train: list[Example]
    dev: list[Example]
    label_names: list[str]  # class names, tag names; [] for regression
    unit_separator: str = ""  # tokens: "" (characters, whitespace kept as units) or " " (words)
    files: dict = field(default_factory=dict)
    _test_loader: Any = None
    _test: list[Example] | None = None
    test_reads: int = 0
    notes: list[str] = field(default_factory=list)  # what the reader found that a score should carry (overlaps)

    @property
    def num_labels(self) -> int:
        return self.task.kind.num_labels(self.label_names)

    def load_test(self) -> list[Example]:
        """The test examples: called once, by the final evaluation, after the checkpoint is chosen."""
        if self._test is None:
            self._test = self._test_loader()
        self.test_reads += 1
        return self._test


def _path(task: Task, name: str, data_dir: Path) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else data_dir / p


def _check_file(task: Task, path: Path, which: str, data_dir: Path) -> None:
    if path.is_file():
        return
    given = getattr(task, which)
    if path.is_dir():  # P4: a folder is not "missing"
        raise EvaluationError(
            f"Task '{task.name}': its {which} file '{path}' is a folder.",
            f"Name the {which} file itself in the task definition.",
        )
    if path.is_symlink():
        raise EvaluationError(
            f"Task '{task.name}': its {which} file '{path}' is a broken link.",
            "Point the link at the file, or name the file itself.",
        )
    if Path(given).expanduser().is_absolute():  # P14: the data folder is irrelevant to an absolute path
        raise EvaluationError(
            f"Task '{task.name}': its {which} file '{path}' does not exist.",
            f"Fix the {which} path of the task definition.",
        )
    raise EvaluationError(
        f"Task '{task.name}': its {which} file '{path}' does not exist.",
        f"The task's data comes from {task.source or 'the file its definition names'}; it is read from the data "
        f"folder '{data_dir}' (--task-data, default $DOMAINLM_SHARED_DATA or ../shared/data).",
    )


def _read(task: Task, path: Path) -> list[Example]:
    examples = task.kind.read(task, path)
    if not examples:
        raise EvaluationError(
            f"Task '{task.name}': '{path}' holds no usable examples.",
            "Check the file, text_columns, label_column and ignore_labels.",
        )
    return examples


def _split(examples: list[Example], fraction: float, salt: str) -> tuple[list[Example], list[Example]]:
    """(rest, carved): a hash of the text decides, so duplicates of one text land on one side."""
    rest: list[Example] = []
    carved: list[Example] = []
    for ex in examples:
        (carved if heldout_fraction_of(ex.key, salt) < fraction else rest).append(ex)
    return rest, carved


def _budget(examples: list[Example], limit: int | None, salt: str) -> list[Example]:
    """At most `limit` examples, chosen by a hash (the same ones for every seed and model)."""
    if limit is None or len(examples) <= limit:
        return examples
    ranked = sorted(range(len(examples)), key=lambda i: (heldout_fraction_of(examples[i].key, salt), i))
    return [examples[i] for i in sorted(ranked[:limit])]


def _task_paths(task: Task, data_dir: Path) -> dict[str, Path]:
    """The task's files (train, and dev and test where it names them), each checked to exist."""
    paths = {"train": _path(task, task.train, data_dir)}
    for which in ("dev", "test"):
        if getattr(task, which):
            paths[which] = _path(task, getattr(task, which), data_dir)
    for which, p in paths.items():
        _check_file(task, p, which, data_dir)
    return paths


def _train_dev_test(task: Task, paths: dict[str, Path]) -> tuple[list[Example], list[Example], list[Example]]:
    """Train and dev as read or carved from train; the test rows carved from train ([] with a test file)."""
    train = _read(task, paths["train"])
    carved_test: list[Example] = []
    if task.test is None:
        train, carved_test = _split(train, task.test_fraction, f"finetune-test-{task.name}")
    if task.dev is None:
        train, dev = _split(train, task.dev_fraction, f"finetune-dev-{task.name}")
    else:
        dev = _read(task, paths["dev"])
    if not train or not dev:
        raise EvaluationError(
            f"Task '{task.name}' has {len(train)} train and {len(dev)} dev examples.",
            "A task needs both; give it more rows or a dev file.",
        )
    return train, dev, carved_test


def _overlap_note(shared: int, total: int, which: str, what: str) -> str:
    return f"{shared:,} of {total:,} {which} examples are also train examples: {what}"


def load_task_data(
    task: Task,
    data_dir: str | os.PathLike | None = None,
    *,
    max_train: int | None = None,
    max_dev: int | None = None,
    max_test: int | None = None,
) -> TaskData:
    """Read and split a task. Train and dev are read now; test only when `load_test()` is called."""
    kind = task.kind
    paths = _task_paths(task, Path(data_dir) if data_dir else default_data_dir())
    train, dev, carved_test = _train_dev_test(task, paths)
    names = kind.label_names(task, train + dev)
    index = kind.label_index(task, names)
    salt = f"finetune-order-{task.name}"
    train = kind.encode_labels(task, _budget(train, max_train, salt), index)
    dev = kind.encode_labels(task, _budget(dev, max_dev, salt), index)
    kind.check_split(task, train, "train")
    kind.check_split(task, dev, "dev")

    notes: list[str] = []
    train_keys = {ex.key for ex in train}
    shared_dev = sum(ex.key in train_keys for ex in dev)
    if shared_dev:
        notes.append(_overlap_note(shared_dev, len(dev), "dev", "the epoch is chosen on text the model trained on"))

    def read_test() -> list[Example]:
        rows = carved_test if task.test is None else _read(task, paths["test"])
        # B24: a test file equal to (or overlapping) train scores memory, not generalisation.
        shared = sum(ex.key in train_keys for ex in rows)
        if shared:
            same = task.test is not None and paths["test"].resolve() == paths["train"].resolve()
            what = "the test score is not held out" + (" (the test file is the train file)" if same else "")
            notes.append(_overlap_note(shared, len(rows), "test", what))
        return kind.check_split(task, kind.encode_labels(task, _budget(rows, max_test, salt), index), "test")

    files = {k: str(v) for k, v in paths.items()}
    return TaskData(task, train, dev, names, kind.unit_separator(task), files, _test_loader=read_test, notes=notes)
