"""The one task schema (`Task`: files, columns, labels, type, metric and the seed's hyperparameters) and
the recipe's short form of a single-text classification task (`TaskSpec`, the `eval.tasks` entries and
evaluation's probes), which `domainlm.tasks.files.task_from_spec` turns into a `Task`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domainlm.corpus.spec import CorpusSpec
from domainlm.tasks.metrics import METRICS
from domainlm.tasks.types import TASK_TYPES, TYPE_HELP, TaskType, TaskTypeName

if TYPE_CHECKING:  # a type checker sees a name; pydantic sees the metric registry's names as choices
    MetricName = str
else:
    MetricName = Literal[tuple(METRICS)]
FileFormat = Literal["tsv", "jsonl", "klue-json", "klue-ner", "naver-ner"]

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Task(BaseModel):
    """One fine-tuning task: files, columns, labels, metric and the seed's hyperparameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Task name: lower case with hyphens (nsmc, klue-ner, my-task)")
    type: TaskTypeName = Field(description=TYPE_HELP)
    metric: MetricName = Field(
        description="The score reported: accuracy, macro_f1, spearman, pearson or entity_f1 (seqeval)"
    )
    format: FileFormat = Field(
        "tsv",
        description="File format: tsv (header line), jsonl, klue-json (a JSON array), "
        "klue-ner (character + tag lines), naver-ner (index, word, tag lines)",
    )
    train: str = Field(description="Training file, relative to the data folder or absolute")
    dev: str | None = Field(None, description="Dev file (checkpoint selection); none: carved from train by a hash")
    test: str | None = Field(None, description="Test file (read once, at the end); none: carved from train by a hash")
    text_columns: list[str] = Field(
        default_factory=list,
        description="Column(s) of the text, two for a pair (dotted paths for klue-json); empty for tokens",
    )
    label_column: str | None = Field(None, description="Column of the label or score (dotted path for klue-json)")
    label_map: dict[str, int] | None = Field(
        None,
        description="Raw label → class id, e.g. {'1': 0, '2': 0, '4': 1, "
        "'5': 1}; a label outside it is an error; tokens: tag → id",
    )
    score_range: tuple[float, float] | None = Field(
        None, description="[low, high] of a regression score (e.g. [0, 5] for STS); a score outside is an error"
    )
    ignore_labels: list[str] = Field(
        default_factory=list, description="Raw labels whose rows are skipped (e.g. '' for unrated reviews)"
    )
    dev_fraction: float = Field(
        0.1, gt=0, lt=1, description="Share of train carved out as dev when there is no dev file"
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of train carved out as test when there is no test file"
    )
    epochs: int = Field(5, ge=1, description="Training epochs (the seed's per-task setting)")
    batch_size: int = Field(32, ge=1, description="Training batch size")
    lr: float = Field(3e-5, gt=0, description="Peak learning rate (AdamW, linear decay)")
    max_seq_len: int = Field(128, ge=8, description="Longest input in tokens (longer inputs are cut)")
    source: str = Field("", description="Where the task's data comes from (shown when a file is missing)")
    note: str | None = Field(None, description="A protocol remark printed under the table (e.g. no train split here)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("lower case letters, digits and hyphens, e.g. 'my-task'")
        return v

    @model_validator(mode="after")
    def _shape(self):
        self.kind.check(self)
        return self

    @property
    def kind(self) -> TaskType:
        """The task's type: what model it builds, how it is encoded, trained and scored."""
        return TASK_TYPES[self.type]

    @property
    def is_classification(self) -> bool:
        return self.kind.classification

    def split_protocol(self) -> str:
        """One line saying where train, dev and test come from (printed under the table)."""
        parts = [f"train {Path(self.train).name}"]
        if self.test is None:
            parts[0] += f" minus {self.test_fraction:.0%} test"
        if self.dev is None:
            parts[0] += (
                f" minus {self.dev_fraction:.0%} dev" if self.test is not None else f" and {self.dev_fraction:.0%} dev"
            )
            parts.append("dev carved from train by a hash")
        else:
            parts.append(f"dev {Path(self.dev).name}")
        parts.append(
            f"test {Path(self.test).name}" if self.test else f"test carved from {Path(self.train).name} by a hash"
        )
        return "; ".join(parts)


class TaskSpec(BaseModel):
    """A downstream probe: a labelled text classification task."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Task name shown in the report")
    train: CorpusSpec = Field(description="Training examples (field = text column)")
    test: CorpusSpec = Field(description="Test examples (field = text column)")
    label_field: str = Field("label", description="Column holding the label")
    label_map: dict[str, int] | None = Field(
        None, description="Map raw labels to classes, e.g. {'1': 0, '2': 0, '4': 1, '5': 1}; unmapped rows are dropped"
    )
    max_train: int = Field(2000, ge=10, description="Training examples used (fixed budget)")
    max_test: int = Field(1000, ge=10, description="Test examples used")
    test_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="When train and test name the same file, the share of its rows (by a hash of the text) used as "
        "test",
    )
