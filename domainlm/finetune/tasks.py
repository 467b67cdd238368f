"""The fine-tuning tasks: a strict schema, the built-in suite (the seed's table), readers and splits.

A task names its files relative to the shared data layout (`--data-dir`), its columns, label map,
metric and type. Splits are fixed by hashes of the example text, never by the seed: every seed and
every model sees the same train, dev and test examples, which is what makes a paired comparison
paired. Where a task has no dev file, dev is carved from train; where it has no test file, test is
carved first. The test rows are held back behind `TaskData.load_test()`, which only the final
evaluation calls (a test checks that).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domainlm.corpus.filters import heldout_fraction_of
from domainlm.errors import ConfigError, EvaluationError
from domainlm.io import load_yaml

TaskType = Literal["single", "pair", "regression", "tokens"]
Metric = Literal["accuracy", "macro_f1", "spearman", "pearson", "entity_f1"]
FileFormat = Literal["tsv", "jsonl", "klue-json", "klue-ner", "naver-ner"]

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_BIO = re.compile(r"^(O|[BI]-\S+)$")


class FinetuneTask(BaseModel):
    """One fine-tuning task: files, columns, labels, metric and the seed's hyperparameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Task name: lower case with hyphens (nsmc, klue-ner, my-task)")
    type: TaskType = Field(
        description="single (one text → class), pair (two texts → class), regression (two texts → "
        "score), tokens (a tag per character or word)"
    )
    metric: Metric = Field(
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
        if self.type == "tokens":
            if self.format not in ("klue-ner", "naver-ner", "jsonl"):
                raise ValueError("a tokens task reads klue-ner, naver-ner or jsonl (tokens + tags) files")
            if self.metric != "entity_f1":
                raise ValueError("a tokens task is scored by entity_f1")
        else:
            want = 1 if self.type == "single" else 2
            if len(self.text_columns) != want:
                raise ValueError(f"a {self.type} task needs {want} text column(s) in text_columns")
            if not self.label_column:
                raise ValueError("label_column is required")
            if self.format in ("klue-ner", "naver-ner"):
                raise ValueError(f"format {self.format} is for tokens tasks")
            if self.type == "regression" and self.metric not in ("spearman", "pearson"):
                raise ValueError("a regression task is scored by spearman or pearson")
            if self.type != "regression" and self.metric not in ("accuracy", "macro_f1"):
                raise ValueError("a classification task is scored by accuracy or macro_f1")
        return self

    @property
    def is_classification(self) -> bool:
        return self.type in ("single", "pair")

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


_SHARED_NOTE = (
    "the shared data has no train split for this task: trained on a hash-split part of {file}, "
    "smaller than the published protocol"
)

BUILTIN_TASKS: dict[str, FinetuneTask] = {
    t.name: t
    for t in (
        FinetuneTask(
            name="nsmc",
            type="single",
            metric="accuracy",
            train="eval/nsmc_train_40k.tsv",
            test="eval/nsmc_test_10k.tsv",
            text_columns=["document"],
            label_column="label",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="NSMC samples (e9t/nsmc, CC0), shared data eval/",
        ),
        FinetuneTask(
            name="hate-speech",
            type="single",
            metric="macro_f1",
            train="eval/hate_speech_train.tsv",
            test="eval/hate_speech_dev.tsv",
            text_columns=["comments"],
            label_column="hate",
            label_map={"none": 0, "offensive": 1, "hate": 2},
            epochs=10,
            source="kocohub/korean-hate-speech (CC BY-SA 4.0), shared data eval/",
            note="reported on the official dev set, as the seed's table; checkpoints chosen on a dev part "
            "carved from train",
        ),
        FinetuneTask(
            name="question-pair",
            type="pair",
            metric="accuracy",
            train="eval/question_pair_train.tsv",
            dev="eval/question_pair_dev.tsv",
            test="eval/question_pair_test.tsv",
            text_columns=["question1", "question2"],
            label_column="is_duplicate",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="songys/Question_pair v2 (MIT), shared data eval/",
        ),
        FinetuneTask(
            name="kornli",
            type="pair",
            metric="accuracy",
            train="eval/kornli_xnli_dev.tsv",
            test="eval/kornli_xnli_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="gold_label",
            label_map={"entailment": 0, "neutral": 1, "contradiction": 2},
            epochs=5,
            source="KorNLI (kakaobrain/KorNLUDatasets, XNLI part), shared data eval/",
            note=_SHARED_NOTE.format(file="kornli_xnli_dev.tsv"),
        ),
        FinetuneTask(
            name="paws-x",
            type="pair",
            metric="accuracy",
            train="eval/pawsx_ko_dev.tsv",
            test="eval/pawsx_ko_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="label",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="PAWS-X Korean (google-research-datasets/paws), shared data eval/",
            note=_SHARED_NOTE.format(file="pawsx_ko_dev.tsv"),
        ),
        FinetuneTask(
            name="klue-nli",
            type="pair",
            metric="accuracy",
            format="klue-json",
            train="eval/klue_nli_dev.json",
            text_columns=["premise", "hypothesis"],
            label_column="gold_label",
            label_map={"entailment": 0, "neutral": 1, "contradiction": 2},
            epochs=5,
            source="KLUE NLI dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/",
            note=_SHARED_NOTE.format(file="klue_nli_dev.json") + "; test carved from it too",
        ),
        FinetuneTask(
            name="korsts",
            type="regression",
            metric="spearman",
            train="eval/korsts_train.tsv",
            dev="eval/korsts_dev.tsv",
            test="eval/korsts_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="score",
            score_range=(0, 5),
            epochs=15,
            source="KorSTS (kakaobrain/KorNLUDatasets), shared data eval/",
        ),
        FinetuneTask(
            name="klue-sts",
            type="regression",
            metric="pearson",
            format="klue-json",
            train="eval/klue_sts_dev.json",
            text_columns=["sentence1", "sentence2"],
            label_column="labels.label",
            score_range=(0, 5),
            epochs=15,
            source="KLUE STS dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/",
            note=_SHARED_NOTE.format(file="klue_sts_dev.json") + "; test carved from it too",
        ),
        FinetuneTask(
            name="klue-ner",
            type="tokens",
            metric="entity_f1",
            format="klue-ner",
            train="eval/klue_ner_dev.tsv",
            epochs=5,
            source="KLUE NER dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/; it stands in for "
            "Naver NER, which may not be redistributed (pass --task a YAML with format naver-ner)",
            note=_SHARED_NOTE.format(file="klue_ner_dev.tsv") + "; test carved from it too; character-level "
            "entity F1 (seqeval)",
        ),
        FinetuneTask(
            name="shopping-rating",
            type="single",
            metric="accuracy",
            train="reviews/naver_shopping_50k.tsv",
            text_columns=["text"],
            label_column="rating",
            label_map={"1": 0, "2": 0, "4": 1, "5": 1},
            ignore_labels=[""],
            epochs=5,
            source="Naver shopping reviews (bab2min/corpus, public domain), "
            "shared data reviews/; rated rows, 1–2 vs 4–5 stars",
            note="one file: test and dev carved from its rated rows by a hash",
        ),
    )
}

# The seed's table, in its order (KLUE-NER standing in for Naver NER), then the rest.
SUITE_ORDER = (
    "nsmc",
    "klue-ner",
    "paws-x",
    "kornli",
    "korsts",
    "question-pair",
    "hate-speech",
    "klue-nli",
    "klue-sts",
    "shopping-rating",
)


def known_tasks() -> list[str]:
    return list(SUITE_ORDER)


def default_data_dir() -> Path:
    from domainlm.evaluation.tasks import default_data_dir as shared

    return shared()


def load_task_file(path: str | os.PathLike) -> list[FinetuneTask]:
    """One task (a mapping) or several (a list, or a mapping with `tasks:`) from YAML or JSON."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise ConfigError(
            f"Cannot read the task file '{path}': {e}.", "Pass a YAML or JSON file holding a task."
        ) from None
    if isinstance(data, dict) and set(data) == {"tasks"}:
        data = data["tasks"]
    items = data if isinstance(data, list) else [data]
    tasks, problems = [], []
    for i, item in enumerate(items):
        try:
            tasks.append(FinetuneTask.model_validate(item))
        except ValidationError as e:
            where = f"[{i}]." if len(items) > 1 else ""
            problems += [f"{where}{'.'.join(map(str, err['loc'])) or '(task)'}: {err['msg']}" for err in e.errors()]
    if problems:
        raise ConfigError(
            f"The task file '{path}' is invalid: {'; '.join(problems)}.",
            "A task has name, type, metric, train (and optionally dev, test), text_columns, label_column "
            "and label_map; see `domainlm finetune --help` or the built-in tasks in domainlm/finetune/tasks.py.",
        )
    return tasks


def resolve_tasks(value: str | FinetuneTask | list, *, allow_all: bool = True) -> list[FinetuneTask]:
    """`nsmc`, `nsmc,korsts`, `all`, a YAML/JSON task file, a FinetuneTask, or a recipe TaskSpec."""
    if isinstance(value, FinetuneTask):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in resolve_tasks(v, allow_all=allow_all)]
    if not isinstance(value, str):
        return [task_from_spec(value)]
    out: list[FinetuneTask] = []
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        if part == "all" and allow_all:
            out += [BUILTIN_TASKS[n] for n in SUITE_ORDER]
        elif part in BUILTIN_TASKS:
            out.append(BUILTIN_TASKS[part])
        elif Path(part).suffix.lower() in (".yaml", ".yml", ".json") and Path(part).exists():
            out += load_task_file(part)
        else:
            raise ConfigError(
                f"Unknown task '{part}'.",
                f"Known tasks: {', '.join(SUITE_ORDER)}{', or all' if allow_all else ''}; or a YAML "
                "file defining a task (name, type, metric, train, text_columns, label_column, label_map).",
            )
    if not out:
        raise ConfigError("No task given.", f"Pass --task with one of: {', '.join(SUITE_ORDER)}.")
    names = [t.name for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"Task(s) named twice: {', '.join(dupes)}.", "Name each task once.")
    return out


def task_from_spec(spec) -> FinetuneTask:
    """A recipe's `eval.tasks` entry (a probe TaskSpec): a suite task by name, or a single-text task."""
    if spec.name in BUILTIN_TASKS:
        return BUILTIN_TASKS[spec.name]
    if spec.train.field is None:
        raise ConfigError(
            f"Task '{spec.name}': its train file names no text column (field).",
            "Set train.field in the recipe's eval.tasks entry.",
        )
    train, test = spec.train.path, spec.test.path
    name = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-") or "task"
    return FinetuneTask(
        name=name,
        type="single",
        metric="accuracy",
        train=str(train),
        test=None if test == train else str(test),
        text_columns=[spec.train.field],
        label_column=spec.label_field,
        label_map=spec.label_map,
        ignore_labels=[""] if spec.label_map else [],
        test_fraction=spec.test_fraction,
        source=f"the recipe's eval.tasks entry '{spec.name}'",
    )


# ---------------------------------------------------------------- examples and reading


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

    task: FinetuneTask
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
        return 1 if self.task.type == "regression" else len(self.label_names)

    def load_test(self) -> list[Example]:
        """The test examples: called once, by the final evaluation, after the checkpoint is chosen."""
        if self._test is None:
            self._test = self._test_loader()
        self.test_reads += 1
        return self._test


def _path(task: FinetuneTask, name: str, data_dir: Path) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else data_dir / p


def _check_file(task: FinetuneTask, path: Path, which: str, data_dir: Path) -> None:
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
        f"folder '{data_dir}' (--data-dir, default $DOMAINLM_SHARED_DATA or ../shared/data).",
    )


def _get(row: dict, column: str):
    """A column of a row; dotted paths reach into nested JSON (`labels.label`)."""
    if column in row:
        return row[column]
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _open_text(path: Path):
    """A task file as text, the way the corpus reader opens corpora (B11): any compression it knows,
    UTF-8 (with or without BOM), cp949 / EUC-KR or BOM-marked UTF-16 detected, binary refused."""
    import io

    from domainlm.corpus.reader import SNIFF_BYTES, detect_encoding, open_binary

    stream, _ = open_binary(path)
    try:
        sample = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(stream, "peek") else b""
        encoding = detect_encoding(sample, path) if sample else "utf-8"
    except BaseException:
        stream.close()
        raise
    return io.TextIOWrapper(stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=None)


def _read_rows(task: FinetuneTask, path: Path) -> list[tuple[int, dict]]:
    """(line, row dict) of a tsv / jsonl / klue-json file."""
    try:
        return _read_rows_of(task, path)
    except UnicodeDecodeError as e:
        raise EvaluationError(
            f"Task '{task.name}': '{path}' cannot be decoded ({e.encoding}, byte {e.start}).",
            "Save the file as UTF-8 (cp949 and UTF-16 with a byte-order mark are read too).",
        ) from None


def _read_rows_of(task: FinetuneTask, path: Path) -> list[tuple[int, dict]]:
    rows: list[tuple[int, dict]] = []
    with _open_text(path) as fh:
        if task.format == "tsv":
            # Korean review text holds stray quotes: read tab-separated fields literally (no CSV quoting).
            header = fh.readline().rstrip("\r\n").split("\t")
            for i, line in enumerate(fh, start=2):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                values = line.split("\t")
                rows.append((i, dict(zip(header, values + [""] * (len(header) - len(values))))))
            columns = header
        elif task.format == "jsonl":
            for i, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        rows.append((i, json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise EvaluationError(
                            f"Task '{task.name}': '{path}' line {i} is not JSON ({e.msg}).",
                            "A jsonl file holds one JSON object a line.",
                        ) from None
            columns = sorted(rows[0][1]) if rows else []
        else:  # klue-json: one JSON array of objects
            try:
                data = json.load(fh)
            except json.JSONDecodeError as e:
                raise EvaluationError(
                    f"Task '{task.name}': '{path}' is not a JSON array ({e.msg}).",
                    "format klue-json reads KLUE's own JSON files (a list of objects).",
                ) from None
            rows = [(i + 1, r) for i, r in enumerate(data if isinstance(data, list) else [])]
            columns = sorted(rows[0][1]) if rows else []
    if rows:
        assert task.label_column is not None  # required of every task but tokens (FinetuneTask's check)
        wanted = [*task.text_columns, task.label_column]
        missing = [c for c in wanted if _get(rows[0][1], c) is None and c.split(".")[0] not in columns]
        if missing:
            raise EvaluationError(
                f"Task '{task.name}': '{path}' has no column(s) {', '.join(missing)}; its columns are: "
                f"{', '.join(columns) or '(none)'}.",
                "Fix text_columns / label_column of the task (dotted paths reach into nested JSON).",
            )
    return rows


def _labelled(task: FinetuneTask, path: Path) -> list[Example]:
    examples: list[Example] = []
    outside: dict[str, int] = {}
    label_column = task.label_column
    assert label_column is not None  # required of every task but tokens (FinetuneTask's check)
    for line, row in _read_rows(task, path):
        texts = tuple(str(_get(row, c) or "").strip() for c in task.text_columns)
        raw = _get(row, label_column)
        raw = "" if raw is None else str(raw).strip()
        if raw in task.ignore_labels:
            continue
        if not all(texts):
            continue  # an empty text carries no example (NSMC has a few blank reviews)
        if task.type == "regression":
            try:
                label: Any = float(raw)
            except ValueError:
                raise EvaluationError(
                    f"Task '{task.name}': '{path}' line {line}: the score '{raw}' is not a number.",
                    "A regression task's label_column holds numbers.",
                ) from None
            _check_score(task, path, line, raw, label)
        elif task.label_map is not None:
            if raw not in task.label_map:
                outside.setdefault(raw, line)
                continue
            label = task.label_map[raw]
        else:
            label = raw  # mapped to ids once all splits are read
        examples.append(Example(texts, label, str(path), line))
    if outside:
        shown = ", ".join(f"'{k}' (line {v})" for k, v in list(outside.items())[:5])
        raise EvaluationError(
            f"Task '{task.name}': '{path}' has labels outside the label map: {shown}"
            f"{' …' if len(outside) > 5 else ''}; the map knows {', '.join(repr(k) for k in task.label_map or {})}.",
            "Add them to label_map, list them in ignore_labels to skip their rows, or fix label_column.",
        )
    return examples


def _check_scores_vary(task: FinetuneTask, examples: list[Example], which: str) -> list[Example]:
    """P16: gold scores that are all equal give a NaN score (a correlation of a constant is undefined)
    with no word of why; a split of at least two examples must hold two different scores."""
    if task.type != "regression" or len(examples) < 2:
        return examples
    scores = {ex.label for ex in examples}
    if len(scores) == 1:
        raise EvaluationError(
            f"Task '{task.name}': all {len(examples):,} {which} examples have the same gold score ({scores.pop():g}): "
            f"{task.metric.capitalize() if task.metric else 'A correlation'} is undefined when the gold scores do "
            "not vary, and a model learns nothing from a constant.",
            "Check label_column (it should hold the similarity scores), or pass files whose scores differ.",
        )
    return examples


def _check_score(task: FinetuneTask, path: Path, line: int, raw: str, score: float) -> None:
    """B23: nan and inf trained as gold scores (and a nan loss was blamed on the learning rate)."""
    if not math.isfinite(score):
        raise EvaluationError(
            f"Task '{task.name}': '{path}' line {line}: the score '{raw}' is not a finite number.",
            "Fix or drop that row: a gold score must be a real number.",
        )
    if task.score_range is not None and not task.score_range[0] <= score <= task.score_range[1]:
        low, high = task.score_range
        raise EvaluationError(
            f"Task '{task.name}': '{path}' line {line}: the score {raw} is outside the task's "
            f"range [{low:g}, {high:g}].",
            "Fix that row, or the task's score_range.",
        )


def _naver_tag(tag: str) -> str:
    """Naver NER tags (PER_B, PER_I, '-') as BIO (B-PER, I-PER, O)."""
    if tag in ("-", "O"):
        return "O"
    m = re.match(r"^(.+)_([BI])$", tag)
    return f"{m.group(2)}-{m.group(1)}" if m else tag


def _tagged(task: FinetuneTask, path: Path) -> list[Example]:
    """Sentences of a klue-ner (character, tag), naver-ner (index, word, tag) or jsonl (tokens, tags) file."""
    sentences: list[Example] = []
    bad: dict[str, int] = {}

    def add(units, tags, line):
        if not units:
            return
        for t in tags:
            if not _BIO.match(t):
                bad.setdefault(t, line)
        sentences.append(Example(tuple(units), list(tags), str(path), line))

    if task.format == "jsonl":
        for line, row in ((i, json.loads(text)) for i, text in enumerate(_open_text(path), 1) if text.strip()):
            tokens, tags = row.get("tokens"), row.get("tags")
            if not isinstance(tokens, list) or not isinstance(tags, list) or len(tokens) != len(tags):
                raise EvaluationError(
                    f"Task '{task.name}': '{path}' line {line} needs 'tokens' and 'tags' lists of the same length.",
                    'A tokens jsonl file holds {"tokens": [...], "tags": [...]} a line.',
                )
            add([str(t) for t in tokens], [str(t) for t in tags], line)
    else:
        units: list[str] = []
        tags = []
        start = 1
        with _open_text(path) as fh:
            for i, raw in enumerate(fh, start=1):
                line = raw.rstrip("\r\n")
                if line.startswith("##"):
                    continue  # KLUE's comment lines (file header, the sentence with its markup)
                # KLUE-NER's spaces are units (" \tO"): only an empty line ends a sentence there.
                blank = line == "" if task.format == "klue-ner" else not line.strip()
                if blank:
                    add(units, tags, start)
                    units, tags, start = [], [], i + 1
                    continue
                parts = line.split("\t")
                if task.format == "klue-ner":
                    if len(parts) != 2:
                        raise EvaluationError(
                            f"Task '{task.name}': '{path}' line {i} is not 'character<TAB>tag'.",
                            "format klue-ner reads KLUE-NER's files; Naver NER files are format naver-ner.",
                        )
                    units.append(parts[0])
                    tags.append(parts[1].strip())
                else:
                    if len(parts) == 3:
                        parts = parts[1:]  # the word index
                    if len(parts) != 2:
                        raise EvaluationError(
                            f"Task '{task.name}': '{path}' line {i} is not '[index<TAB>]word<TAB>tag'.",
                            "format naver-ner reads Naver NER files (index, word, tag per line).",
                        )
                    units.append(parts[0])
                    tags.append(_naver_tag(parts[1].strip()))
            add(units, tags, start)
    if bad:
        shown = ", ".join(f"'{k}' (line {v})" for k, v in list(bad.items())[:5])
        raise EvaluationError(
            f"Task '{task.name}': '{path}' has NER tags that are not BIO: {shown}.",
            "Tags must be O, B-TYPE or I-TYPE (Naver's PER_B / PER_I / '-' are converted by format naver-ner).",
        )
    if task.label_map is not None:
        outside = sorted({t for s in sentences for t in s.label if t not in task.label_map})
        if outside:
            raise EvaluationError(
                f"Task '{task.name}': '{path}' has tags outside the label map: {', '.join(outside[:8])}.",
                "Add them to label_map or leave label_map out (then the tags of the data are used).",
            )
    return sentences


def _read(task: FinetuneTask, path: Path) -> list[Example]:
    examples = _tagged(task, path) if task.type == "tokens" else _labelled(task, path)
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


def load_task_data(
    task: FinetuneTask,
    data_dir: str | os.PathLike | None = None,
    *,
    max_train: int | None = None,
    max_dev: int | None = None,
    max_test: int | None = None,
) -> TaskData:
    """Read and split a task. Train and dev are read now; test only when `load_test()` is called."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    paths = {"train": _path(task, task.train, data_dir)}
    for which in ("dev", "test"):
        if getattr(task, which):
            paths[which] = _path(task, getattr(task, which), data_dir)
    for which, p in paths.items():
        _check_file(task, p, which, data_dir)
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

    # Label names: the label map (ids → first raw label of each id), or the labels of train and dev.
    if task.type == "regression":
        names: list[str] = []
    elif task.label_map is not None:
        by_id: dict[int, str] = {}
        for raw, i in task.label_map.items():  # several raw labels of one class read "1|2"
            by_id[i] = f"{by_id[i]}|{raw}" if i in by_id else raw
        if sorted(by_id) != list(range(len(by_id))):
            raise ConfigError(
                f"Task '{task.name}': label_map ids must be 0..k-1, got {sorted(by_id)}.",
                "Number the classes from 0 without gaps.",
            )
        names = [by_id[i] for i in range(len(by_id))]
    else:
        seen = {t for ex in train + dev for t in (ex.label if task.type == "tokens" else [ex.label])}
        if task.type == "tokens":
            # O first, then each type's B and I together: a readable, stable order.
            names = ["O"] + sorted(seen - {"O"}, key=lambda t: (t[2:], t[0]))
        else:
            names = sorted(seen)
    index = {n: i for i, n in enumerate(names)}
    if task.type == "tokens" and task.label_map is not None:
        index = dict(task.label_map)

    def encode(examples: list[Example]) -> list[Example]:
        if task.type == "tokens":
            for ex in examples:
                if any(t not in index for t in ex.label):
                    unknown = sorted({t for t in ex.label if t not in index})
                    raise EvaluationError(
                        f"Task '{task.name}': '{ex.source}' line {ex.line} has tags never seen in "
                        f"train or dev: {', '.join(unknown)}.",
                        "Give the task a label_map with every tag.",
                    )
                ex.label = [index[t] for t in ex.label]
        elif task.is_classification and task.label_map is None:
            for ex in examples:
                if ex.label not in index:
                    raise EvaluationError(
                        f"Task '{task.name}': '{ex.source}' line {ex.line} has the label "
                        f"'{ex.label}', never seen in train or dev.",
                        "Give the task a label_map.",
                    )
                ex.label = index[ex.label]
        return examples

    train = encode(_budget(train, max_train, f"finetune-order-{task.name}"))
    dev = encode(_budget(dev, max_dev, f"finetune-order-{task.name}"))
    if task.is_classification and len({ex.label for ex in train}) < 2:
        raise EvaluationError(
            f"Task '{task.name}': the training examples hold a single class.",
            "Check label_column and label_map, or raise --max-train.",
        )
    _check_scores_vary(task, train, "train")
    _check_scores_vary(task, dev, "dev")

    notes: list[str] = []
    train_keys = {ex.key for ex in train}
    shared_dev = sum(ex.key in train_keys for ex in dev)
    if shared_dev:
        notes.append(
            f"{shared_dev:,} of {len(dev):,} dev examples are also train examples: the epoch is chosen "
            "on text the model trained on"
        )

    def read_test() -> list[Example]:
        rows = carved_test if task.test is None else _read(task, paths["test"])
        # B24: a test file equal to (or overlapping) train scores memory, not generalisation.
        shared = sum(ex.key in train_keys for ex in rows)
        if shared:
            notes.append(
                f"{shared:,} of {len(rows):,} test examples are also train examples: the test score is not "
                "held out"
                + (
                    " (the test file is the train file)"
                    if task.test is not None and paths["test"].resolve() == paths["train"].resolve()
                    else ""
                )
            )
        return _check_scores_vary(task, encode(_budget(rows, max_test, f"finetune-order-{task.name}")), "test")

    separator = " " if task.format == "naver-ner" or (task.type == "tokens" and task.format == "jsonl") else ""
    files = {k: str(v) for k, v in paths.items()}
    return TaskData(task, train, dev, names, separator, files, _test_loader=read_test, notes=notes)
