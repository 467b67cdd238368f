"""Regression: two texts → a score (semantic similarity, KorSTS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from domainlm.errors import EvaluationError
from domainlm.tasks.data import EncodedExamples, Example, TaskFields
from domainlm.tasks.readers import read_labelled, score_label
from domainlm.tasks.types.base import TaskType
from domainlm.tasks.types.classification import check_text_task, encode_texts, text_prediction_lines


class Regression(TaskType):
    name: ClassVar[str] = "regression"
    help: ClassVar[str] = "regression (two texts → score)"
    metrics: ClassVar[tuple[str, ...]] = ("spearman", "pearson")
    label_dtype: ClassVar[str] = "float32"

    def check(self, task: TaskFields) -> None:
        check_text_task(self, task, "a regression task is scored by spearman or pearson")

    def read(self, task: TaskFields, path: Path) -> list[Example]:
        return read_labelled(task, path, score_label)

    def check_split(self, task: TaskFields, examples: list[Example], which: str) -> list[Example]:
        """P16: gold scores that are all equal give a NaN score (a correlation of a constant is undefined)
        with no word of why; a split of at least two examples must hold two different scores."""
        if len(examples) < 2:
            return examples
        scores = {ex.label for ex in examples}
        if len(scores) == 1:
            raise EvaluationError(
                f"Task '{task.name}': all {len(examples):,} {which} examples have the same gold score "
                f"({scores.pop():g}): {task.metric.capitalize() if task.metric else 'A correlation'} is undefined "
                "when the gold scores do not vary, and a model learns nothing from a constant.",
                "Check label_column (it should hold the similarity scores), or pass files whose scores differ.",
            )
        return examples

    def num_labels(self, label_names: list[str]) -> int:
        return 1

    def model_kwargs(self) -> dict[str, Any]:
        return {"problem_type": "regression"}

    def check_saved_head(self, model_path: str, task: TaskFields, config, num_labels: int, head: str):
        saved = getattr(config, "num_labels", None)
        if saved != 1 or getattr(config, "problem_type", None) not in (None, "regression"):
            return (
                f"'{model_path}' is saved as a classifier ({head}, {saved} labels) and "
                f"'{task.name}' is a regression task: its head cannot predict a score.",
                "Fine-tune the encoder it came from (the base or adapted model folder), not a classifier.",
            )
        return None

    def encode(self, examples, tokenizer, max_seq_len: int, label_names, unit_separator: str) -> EncodedExamples:
        return encode_texts(examples, tokenizer, max_seq_len, pair=True)

    def loss(self, logits, labels):
        import torch.nn.functional as F

        return F.mse_loss(logits.float().squeeze(-1), labels.float())

    def predict(self, logits):
        return logits.float().squeeze(-1)

    def prediction_lines(self, task: TaskFields, examples, gold, pred, label_names) -> list[str]:
        return text_prediction_lines(task, examples, gold, pred, repr)
