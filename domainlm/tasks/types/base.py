"""What every task type decides: its schema rules, how its examples are read and labelled, the model
class to build, encoding, loss, prediction and score. One subclass per type (`domainlm.tasks.types`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from domainlm.tasks.data import EncodedExamples, Example, TaskFields
from domainlm.tasks.metrics import MetricData


class TaskType:
    """A kind of task (single-text classification, sentence pair, regression, token tagging)."""

    name: ClassVar[str]
    help: ClassVar[str]  # one phrase for the schema's description of `type`
    metrics: ClassVar[tuple[str, ...]]  # the scores it may report
    auto_model: ClassVar[str] = "AutoModelForSequenceClassification"  # the transformers class built
    model_kind: ClassVar[str] = "sequence"  # as error messages name the model class: sequence-classification
    hub_task_type: ClassVar[str] = "text-classification"  # huggingface_hub EvalResult task_type
    pads_predictions: ClassVar[bool] = False  # predictions of a batch vary in length (padded across processes)
    classification: ClassVar[bool] = False  # labels are classes of a label map

    # ------------------------------------------------------------ schema and reading

    def check(self, task: TaskFields) -> None:
        """Raise ValueError when the task's fields do not fit this type (the schema's check)."""
        raise NotImplementedError

    def read(self, task: TaskFields, path: Path) -> list[Example]:
        raise NotImplementedError

    def label_names(self, task: TaskFields, seen: list[Example]) -> list[str]:
        """The class (or tag) names of the task, from its label map or the labels of `seen`."""
        return []

    def label_index(self, task: TaskFields, names: list[str]) -> dict:
        return {n: i for i, n in enumerate(names)}

    def encode_labels(self, task: TaskFields, examples: list[Example], index: dict) -> list[Example]:
        """Raw labels as ids (in place), refusing labels never seen in train or dev."""
        return examples

    def check_split(self, task: TaskFields, examples: list[Example], which: str) -> list[Example]:
        """Refuse a split that cannot be learned or scored (a single class, constant scores)."""
        return examples

    def unit_separator(self, task: TaskFields) -> str:
        return ""

    def num_labels(self, label_names: list[str]) -> int:
        return len(label_names)

    # ------------------------------------------------------------ model

    def model_kwargs(self) -> dict[str, Any]:
        """The config settings (problem_type) of the model class this type builds."""
        return {}

    def check_saved_head(self, model_path: str, task: TaskFields, config, num_labels: int, head: str):
        """(message, hint) when a checkpoint saved with the task head `head` cannot take this task; None when it can."""
        saved = getattr(config, "num_labels", None)
        if saved != num_labels:
            return (
                f"'{model_path}' is saved with a {saved}-label head ({head}) and "
                f"'{task.name}' has {num_labels} labels.",
                "Fine-tune the encoder it came from (the base or adapted model folder).",
            )
        return None

    def encode(self, examples, tokenizer, max_seq_len: int, label_names, unit_separator: str) -> EncodedExamples:
        raise NotImplementedError

    label_dtype: ClassVar[str] = "long"  # torch dtype of a batch's labels

    def loss(self, logits, labels):
        import torch.nn.functional as F

        return F.cross_entropy(logits.float(), labels)

    def predict(self, logits):
        """Predictions of a batch: class ids (or scores, or a tag id per token)."""
        return logits.argmax(-1)

    def score(self, task: TaskFields, preds: list, examples: list[Example], encoded: EncodedExamples, label_names):
        """(score, gold, pred) in the metric's terms."""
        gold = [ex.label for ex in examples]
        return self.metric_data(task.metric, gold, preds, label_names).score(), gold, preds

    def metric_data(self, metric: str, gold, pred, label_names) -> MetricData:
        classes = list(range(len(label_names))) if metric == "macro_f1" else None
        return MetricData(metric, gold, pred, classes=classes)

    def ceiling_notes(self, task: TaskFields, examples, encoded: EncodedExamples, label_names) -> list[str]:
        """What the best possible predictions would score, where the type cannot reach 1."""
        return []

    def prediction_lines(self, task: TaskFields, examples, gold, pred, label_names) -> list[str]:
        """test_predictions.tsv: the header and one line per test example."""
        raise NotImplementedError
