"""Text classification: one text (`single`) or two (`pair`) → a class."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from domainlm.errors import ConfigError, EvaluationError
from domainlm.tasks.data import EncodedExamples, Example, TaskFields
from domainlm.tasks.readers import class_label, read_labelled
from domainlm.tasks.types.base import TaskType


def check_text_task(kind: TaskType, task: TaskFields, metric_rule: str) -> None:
    """The schema rules of a task read from text columns (classification and regression)."""
    want = 1 if kind.name == "single" else 2
    if len(task.text_columns) != want:
        raise ValueError(f"a {kind.name} task needs {want} text column(s) in text_columns")
    if not task.label_column:
        raise ValueError("label_column is required")
    if task.format in ("klue-ner", "naver-ner"):
        raise ValueError(f"format {task.format} is for tokens tasks")
    if task.metric not in kind.metrics:
        raise ValueError(metric_rule)


def label_map_names(task: TaskFields) -> list[str]:
    """Class names in id order: the first raw label of each id (several raw labels of one class read "1|2")."""
    assert task.label_map is not None
    by_id: dict[int, str] = {}
    for raw, i in task.label_map.items():
        by_id[i] = f"{by_id[i]}|{raw}" if i in by_id else raw
    if sorted(by_id) != list(range(len(by_id))):
        raise ConfigError(
            f"Task '{task.name}': label_map ids must be 0..k-1, got {sorted(by_id)}.",
            "Number the classes from 0 without gaps.",
        )
    return [by_id[i] for i in range(len(by_id))]


def encode_texts(examples: list[Example], tokenizer, max_seq_len: int, pair: bool) -> EncodedExamples:
    """Tokenize one text or a pair per example, without padding."""
    names = set(tokenizer.model_input_names)
    first = [ex.texts[0] for ex in examples]
    second = [ex.texts[1] for ex in examples] if pair else None
    enc = tokenizer(first, second, truncation=True, max_length=max_seq_len)
    features = []
    for i, ex in enumerate(examples):
        f = {"input_ids": enc["input_ids"][i], "index": i, "labels": ex.label}
        if "token_type_ids" in names and "token_type_ids" in enc:
            f["token_type_ids"] = enc["token_type_ids"][i]
        features.append(f)
    return EncodedExamples(features, None, sum(len(f["input_ids"]) for f in features))


def text_prediction_lines(task: TaskFields, examples, gold, pred, show) -> list[str]:
    """test_predictions.tsv of a text task: the texts, then gold and predicted as `show` writes them."""
    lines = ["index\t" + "\t".join(task.text_columns) + "\tgold\tpredicted\n"]
    for i, (ex, g, p) in enumerate(zip(examples, gold, pred)):
        texts = "\t".join(t.replace("\t", " ").replace("\n", " ") for t in ex.texts)
        lines.append(f"{i}\t{texts}\t{show(g)}\t{show(p)}\n")
    return lines


class SingleText(TaskType):
    name: ClassVar[str] = "single"
    help: ClassVar[str] = "single (one text → class)"
    metrics: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")
    classification: ClassVar[bool] = True

    def check(self, task: TaskFields) -> None:
        check_text_task(self, task, "a classification task is scored by accuracy or macro_f1")

    def read(self, task: TaskFields, path: Path) -> list[Example]:
        return read_labelled(task, path, class_label)

    def label_names(self, task: TaskFields, seen: list[Example]) -> list[str]:
        return label_map_names(task) if task.label_map is not None else sorted({ex.label for ex in seen})

    def encode_labels(self, task: TaskFields, examples: list[Example], index: dict) -> list[Example]:
        if task.label_map is not None:
            return examples
        for ex in examples:
            if ex.label not in index:
                raise EvaluationError(
                    f"Task '{task.name}': '{ex.source}' line {ex.line} has the label "
                    f"'{ex.label}', never seen in train or dev.",
                    "Give the task a label_map.",
                )
            ex.label = index[ex.label]
        return examples

    def check_split(self, task: TaskFields, examples: list[Example], which: str) -> list[Example]:
        if which == "train" and len({ex.label for ex in examples}) < 2:
            raise EvaluationError(
                f"Task '{task.name}': the training examples hold a single class.",
                "Check label_column and label_map, or raise --max-train.",
            )
        return examples

    def model_kwargs(self) -> dict[str, Any]:
        return {"problem_type": "single_label_classification"}

    def encode(self, examples, tokenizer, max_seq_len: int, label_names, unit_separator: str) -> EncodedExamples:
        return encode_texts(examples, tokenizer, max_seq_len, pair=self.name != "single")

    def prediction_lines(self, task: TaskFields, examples, gold, pred, label_names) -> list[str]:
        return text_prediction_lines(task, examples, gold, pred, lambda label: label_names[label])


class SentencePair(SingleText):
    name: ClassVar[str] = "pair"
    help: ClassVar[str] = "pair (two texts → class)"
