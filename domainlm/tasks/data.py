"""A task's examples as read (`Example`) and tokenized (`EncodedExamples`), and what the readers and task
types read of a task (`TaskFields`). The split examples (`TaskData`) live in `domainlm.tasks.load`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class TaskFields(Protocol):
    """The fields of a task (`domainlm.tasks.schema.Task`) that its readers and its type read. The modules under
    the schema name a task by this, so the schema (which validates against the task types) is the only one of
    them that imports the other way."""

    @property
    def name(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def text_columns(self) -> list[str]: ...
    @property
    def label_column(self) -> str | None: ...
    @property
    def label_map(self) -> dict[str, int] | None: ...
    @property
    def score_range(self) -> tuple[float, float] | None: ...
    @property
    def ignore_labels(self) -> list[str]: ...
    @property
    def kind(self) -> Any: ...


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
class EncodedExamples:
    features: list[dict]  # input_ids (+ token_type_ids), label(s), index
    unit_tokens: list | None  # tokens tasks: per example, per unit (first token, starts there) or None
    real_tokens: int
