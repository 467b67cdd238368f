"""Tasks under both evaluation and fine-tuning: the one schema (`Task`, and the recipe's short form
`TaskSpec`), the task types (`domainlm.tasks.types`: model class, encoding, loss, prediction, score),
the metrics, the built-in tasks, task files and readers, and the hash splits (`load_task_data`).

Torch and transformers load only inside the task types' methods that need them.
"""

from __future__ import annotations

from domainlm.tasks.builtins import BUILTIN_TASKS, SUITE_ORDER, known_tasks
from domainlm.tasks.data import EncodedExamples, Example, TaskFields
from domainlm.tasks.files import default_data_dir, load_task_file, resolve_tasks, task_from_spec
from domainlm.tasks.load import TaskData, load_task_data
from domainlm.tasks.schema import Task, TaskSpec
from domainlm.tasks.types import TASK_TYPES, TaskType

__all__ = [
    "BUILTIN_TASKS",
    "SUITE_ORDER",
    "TASK_TYPES",
    "EncodedExamples",
    "Example",
    "Task",
    "TaskData",
    "TaskFields",
    "TaskSpec",
    "TaskType",
    "default_data_dir",
    "known_tasks",
    "load_task_data",
    "load_task_file",
    "resolve_tasks",
    "task_from_spec",
]
