"""The fine-tuning suite: the seed's table (NSMC, NER, PAWS-X, KorNLI, KorSTS, Question Pair, hate speech
and more), checkpoints chosen on dev, test read once, several seeds, paired model comparisons.

transformers and accelerate load only when a function runs (torch comes with domainlm.evaluation,
whose bootstrap statistics the suite reuses); the CLI imports this package only inside its commands.
"""

from __future__ import annotations

from domainlm.finetune.engine import FinetuneSettings
from domainlm.finetune.run import BenchmarkResult, FinetuneResult, TaskResult, benchmark, finetune, parse_seeds
from domainlm.finetune.tasks import BUILTIN_TASKS, SUITE_ORDER, FinetuneTask, known_tasks, load_task_data, resolve_tasks

__all__ = ["finetune", "benchmark", "FinetuneSettings", "FinetuneTask", "FinetuneResult", "BenchmarkResult",
           "TaskResult", "BUILTIN_TASKS", "SUITE_ORDER", "known_tasks", "load_task_data", "resolve_tasks",
           "parse_seeds"]
