"""The registry of task types. Adding a type: one module with a `TaskType` subclass, one line in `_TYPES`.

The schema's `type` choices (`TaskTypeName`) and their description are generated from the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from domainlm.tasks.types.base import TaskType
from domainlm.tasks.types.classification import SentencePair, SingleText
from domainlm.tasks.types.regression import Regression
from domainlm.tasks.types.tokens import TokenTagging

_TYPES: tuple[type[TaskType], ...] = (SingleText, SentencePair, Regression, TokenTagging)

TASK_TYPES: dict[str, TaskType] = {cls.name: cls() for cls in _TYPES}
if TYPE_CHECKING:  # a type checker sees a name; pydantic and typer see the registry's names as choices
    TaskTypeName = str
else:
    TaskTypeName = Literal[tuple(TASK_TYPES)]
TYPE_HELP = ", ".join(kind.help for kind in TASK_TYPES.values())

__all__ = ["TASK_TYPES", "TYPE_HELP", "TaskType", "TaskTypeName"]
