"""The fine-tuning suite: the seed's table (NSMC, NER, PAWS-X, KorNLI, KorSTS, Question Pair, hate speech
and more), checkpoints chosen on dev, test read once, several seeds, paired model comparisons.

The tasks (schema, types, readers, metrics) are `domainlm.tasks`, re-exported here; transformers and
accelerate load only when a function runs; the CLI imports this package only inside its commands.
"""

from __future__ import annotations

import sys
import types

from domainlm.finetune.loop import FinetuneSettings
from domainlm.finetune.run import BenchmarkResult, FinetuneResult, TaskResult, benchmark, finetune, parse_seeds
from domainlm.tasks import BUILTIN_TASKS, SUITE_ORDER, Task, known_tasks, load_task_data, resolve_tasks

__all__ = [
    "finetune",
    "benchmark",
    "FinetuneSettings",
    "Task",
    "FinetuneResult",
    "BenchmarkResult",
    "TaskResult",
    "BUILTIN_TASKS",
    "SUITE_ORDER",
    "known_tasks",
    "load_task_data",
    "resolve_tasks",
    "parse_seeds",
]


class _CallablePackage(types.ModuleType):
    """`domainlm.finetune` is both this package and the API's `finetune` function.

    Once any `domainlm.finetune.*` module is imported, Python binds the name `finetune` of `domainlm` to
    this package, so `domainlm.finetune(model, task, out)` would call a module: calling the package runs
    the function, whichever of the two the name holds.
    """

    def __call__(self, *args, **kwargs):
        return finetune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
