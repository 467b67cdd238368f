"""A task's examples as read (`Example`), split (`TaskData`, test held back) and tokenized (`EncodedExamples`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domainlm.tasks.schema import Task


@dataclass
class Example:
    """texts: one text, a pair, or (tokens tasks) the units: characters or words. label: a class id,
    a score, or a tag id per unit."""

    texts: tuple[str, ...]
    label: Any
    source: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        return "\x00".join(self.texts)


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


@dataclass
class EncodedExamples:
    features: list[dict]  # input_ids (+ token_type_ids), label(s), index
    unit_tokens: list | None  # tokens tasks: per example, per unit (first token, starts there) or None
    real_tokens: int
