"""Where tasks come from: the shared data folder, task files (YAML or JSON), `--task` values and a
recipe's `eval.tasks` entries."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from domainlm.errors import ConfigError, DomainLMError, EvaluationError
from domainlm.io import load_yaml
from domainlm.tasks.builtins import BUILTIN_TASKS, SUITE_ORDER
from domainlm.tasks.schema import Task, TaskSpec


def default_data_dir() -> Path:
    """The shared data folder: $DOMAINLM_SHARED_DATA, $DOMAINLM_DATA, else ../shared/data."""
    for var in ("DOMAINLM_SHARED_DATA", "DOMAINLM_DATA"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path.cwd().parent / "shared" / "data"


# What a file of each schema's tasks is refused with: the error class and the hint.
_FILE_RULES: dict[type[BaseModel], tuple[type[DomainLMError], str]] = {
    Task: (
        ConfigError,
        "A task has name, type, metric, train (and optionally dev, test), text_columns, label_column "
        "and label_map; see `domainlm finetune --help` or the built-in tasks in domainlm/tasks/builtins.py.",
    ),
    TaskSpec: (
        EvaluationError,
        "A task has name, train, test (each {path, field}), label_field and optionally label_map.",
    ),
}


def load_task_file(path: str | os.PathLike, schema: type[BaseModel] = Task) -> list:
    """One task (a mapping) or several (a list, or a mapping with `tasks:`) from YAML or JSON, as `schema`
    (a `Task`, or a probe's `TaskSpec`)."""
    import yaml

    error, hint = _FILE_RULES[schema]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as e:  # a duplicate key too (load_yaml)
        raise error(f"Cannot read the task file '{path}': {e}.", "Pass a YAML or JSON file holding a task.") from None
    if isinstance(data, dict) and set(data) == {"tasks"}:
        data = data["tasks"]
    items = data if isinstance(data, list) else [data]
    tasks, problems = [], []
    for i, item in enumerate(items):
        try:
            tasks.append(schema.model_validate(item))
        except ValidationError as e:
            where = f"[{i}]." if len(items) > 1 else ""
            problems += [f"{where}{'.'.join(map(str, err['loc'])) or '(task)'}: {err['msg']}" for err in e.errors()]
    if problems:
        raise error(f"The task file '{path}' is invalid: {'; '.join(problems)}.", hint)
    return tasks


def is_task_file(value: str) -> bool:
    return Path(value).suffix.lower() in (".yaml", ".yml", ".json") and Path(value).exists()


def resolve_tasks(value: str | Task | list, *, allow_all: bool = True) -> list[Task]:
    """`nsmc`, `nsmc,korsts`, `all`, a YAML/JSON task file, a Task, or a recipe TaskSpec."""
    if isinstance(value, Task):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in resolve_tasks(v, allow_all=allow_all)]
    if not isinstance(value, str):
        return [task_from_spec(value)]
    out: list[Task] = []
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        if part == "all" and allow_all:
            out += [BUILTIN_TASKS[n] for n in SUITE_ORDER]
        elif part in BUILTIN_TASKS:
            out.append(BUILTIN_TASKS[part])
        elif is_task_file(part):
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


def task_from_spec(spec) -> Task:
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
    return Task(
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
