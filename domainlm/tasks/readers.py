"""Reading a task's files: rows of tsv / jsonl / klue-json files (any compression and encoding the corpus
reader knows, through its `open_binary` and `detect_encoding`), and labelled examples from them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domainlm.errors import EvaluationError
from domainlm.tasks.data import Example, TaskFields


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


def open_text(path: Path):
    """A task file as text, the way the corpus reader opens corpora (B11): any compression it knows,
    UTF-8 (with or without BOM), cp949 / EUC-KR or BOM-marked UTF-16 detected, binary refused."""
    import io

    from domainlm.corpus.files import SNIFF_BYTES, detect_encoding, open_binary

    stream, _ = open_binary(path)
    try:
        sample = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(stream, "peek") else b""
        encoding = detect_encoding(sample, path) if sample else "utf-8"
    except BaseException:
        stream.close()
        raise
    return io.TextIOWrapper(stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=None)


def read_rows(task: TaskFields, path: Path) -> list[tuple[int, dict]]:
    """(line, row dict) of a tsv / jsonl / klue-json file."""
    try:
        return _rows_of(task, path)
    except UnicodeDecodeError as e:
        raise EvaluationError(
            f"Task '{task.name}': '{path}' cannot be decoded ({e.encoding}, byte {e.start}).",
            "Save the file as UTF-8 (cp949 and UTF-16 with a byte-order mark are read too).",
        ) from None


def _rows_of(task: TaskFields, path: Path) -> list[tuple[int, dict]]:
    rows: list[tuple[int, dict]] = []
    with open_text(path) as fh:
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
        assert task.label_column is not None  # required of every task but tokens (Task's check)
        wanted = [*task.text_columns, task.label_column]
        missing = [c for c in wanted if _get(rows[0][1], c) is None and c.split(".")[0] not in columns]
        if missing:
            raise EvaluationError(
                f"Task '{task.name}': '{path}' has no column(s) {', '.join(missing)}; its columns are: "
                f"{', '.join(columns) or '(none)'}.",
                "Fix text_columns / label_column of the task (dotted paths reach into nested JSON).",
            )
    return rows


# A label parser: (task, path, line, raw label) → the label, or OUTSIDE for a label outside the label map.
LabelOf = Callable[[TaskFields, Path, int, str], Any]
OUTSIDE = object()


def read_labelled(task: TaskFields, path: Path, label_of: LabelOf) -> list[Example]:
    """The examples of a text-column task: its text column(s) and `label_of` its label column."""
    examples: list[Example] = []
    outside: dict[str, int] = {}
    label_column = task.label_column
    assert label_column is not None  # required of every task but tokens (Task's check)
    for line, row in read_rows(task, path):
        texts = tuple(str(_get(row, c) or "").strip() for c in task.text_columns)
        raw = _get(row, label_column)
        raw = "" if raw is None else str(raw).strip()
        if raw in task.ignore_labels:
            continue
        if not all(texts):
            continue  # an empty text carries no example (NSMC has a few blank reviews)
        label = label_of(task, path, line, raw)
        if label is OUTSIDE:
            outside.setdefault(raw, line)
            continue
        examples.append(Example(texts, label, str(path), line))
    if outside:
        shown = ", ".join(f"'{k}' (line {v})" for k, v in list(outside.items())[:5])
        raise EvaluationError(
            f"Task '{task.name}': '{path}' has labels outside the label map: {shown}"
            f"{' …' if len(outside) > 5 else ''}; the map knows {', '.join(repr(k) for k in task.label_map or {})}.",
            "Add them to label_map, list them in ignore_labels to skip their rows, or fix label_column.",
        )
    return examples


def class_label(task: TaskFields, path: Path, line: int, raw: str) -> Any:
    """A class: its id in the label map, or the raw label (mapped to ids once all splits are read)."""
    if task.label_map is None:
        return raw
    return task.label_map[raw] if raw in task.label_map else OUTSIDE


def score_label(task: TaskFields, path: Path, line: int, raw: str) -> float:
    """A regression score: a finite number inside the task's score_range."""
    try:
        score = float(raw)
    except ValueError:
        raise EvaluationError(
            f"Task '{task.name}': '{path}' line {line}: the score '{raw}' is not a number.",
            "A regression task's label_column holds numbers.",
        ) from None
    _check_score(task, path, line, raw, score)
    return score


def _check_score(task: TaskFields, path: Path, line: int, raw: str, score: float) -> None:
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
