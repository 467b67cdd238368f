"""`finetune` (one model, one task, several seeds) and `benchmark` (models × tasks, the seed's table).

Both read and check every input before the first step (tasks, files, labels, models, the output
folder), so a bad input fails in seconds rather than after an hour of training, and both write their
folder atomically. Per task and seed: metrics.json, dev_curve.json and test_predictions.tsv.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.errors import ConfigError
from domainlm.finetune.loop import FinetuneSettings, SeedRun, check_model, run_seed
from domainlm.finetune.metrics import paired_difference, seed_summary
from domainlm.finetune.report import benchmark_markdown, plot_benchmark, update_cards
from domainlm.io import atomic_directory, check_output_dir
from domainlm.runtime import warn_single_process_launch
from domainlm.tasks import Task, TaskData, load_task_data, resolve_tasks
from domainlm.versions import library_versions

SCHEMA = "domainlm.finetune/1"


def parse_seeds(seeds: int | str | Sequence[int]) -> list[int]:
    """3 → [1, 2, 3]; "5,7" → [5, 7]; a list as is."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds}: at least one seed is needed.", "Pass --seeds 3 or --seeds 1,2,3.")
        return list(range(1, seeds + 1))
    if isinstance(seeds, str):
        parts = [p.strip() for p in seeds.split(",") if p.strip()]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(
                f"--seeds '{seeds}' is not a number or a comma-separated list of numbers.",
                "Pass --seeds 3 (seeds 1, 2, 3) or --seeds 13,42.",
            ) from None
        return parse_seeds(values[0]) if len(values) == 1 else parse_seeds(values)
    values = list(seeds)
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"Seeds {values}: give at least one, each once.", "Pass --seeds 3 or --seeds 1,2,3.")
    return values


@dataclass
class TaskResult:
    """One model on one task over its seeds."""

    model: str
    model_path: str
    task: Task
    runs: list[SeedRun]
    sizes: dict
    settings: dict

    @property
    def scores(self) -> list[float]:
        return [r.test_score for r in self.runs]

    @property
    def summary(self) -> dict:
        return seed_summary(self.scores)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_path": self.model_path,
            "task": self.task.name,
            "metric": self.task.metric,
            "summary": _clean(self.summary),
            "sizes": self.sizes,
            "protocol": self.task.split_protocol(),
            "note": self.task.note,
            "settings": self.settings,
            "seeds": [
                {
                    "seed": r.seed,
                    "test": _clean(r.test_score),
                    "best_epoch": r.best_epoch,
                    "best_dev": _clean(r.best_dev),
                    "seconds": round(r.seconds, 2),
                    "tokens_per_second": _clean(r.tokens_per_second),
                }
                for r in self.runs
            ],
            "notes": sorted({n for r in self.runs for n in r.notes}),
        }


@dataclass
class FinetuneResult(TaskResult):
    out_dir: Path | None = None
    seconds: float = 0.0


@dataclass
class Comparison:
    task: str
    metric: str
    reference: str
    model: str
    difference: dict
    verdict: str


@dataclass
class BenchmarkResult:
    out_dir: Path
    models: dict[str, str]
    tasks: list[Task]
    results: dict[tuple[str, str], TaskResult]  # (model, task) → result
    comparisons: list[Comparison] = field(default_factory=list)
    seconds: float = 0.0
    seeds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "models": self.models,
            "seeds": self.seeds,
            "tasks": [
                {"name": t.name, "type": t.type, "metric": t.metric, "protocol": t.split_protocol(), "note": t.note}
                for t in self.tasks
            ],
            "results": [r.to_dict() for r in self.results.values()],
            "comparisons": [
                {
                    "task": c.task,
                    "metric": c.metric,
                    "reference": c.reference,
                    "model": c.model,
                    "difference": _clean(c.difference),
                    "verdict": c.verdict,
                }
                for c in self.comparisons
            ],
            "seconds": round(self.seconds, 1),
            "versions": library_versions(("seqeval",)),
        }


def _clean(value):
    """JSON without NaN: undefined numbers (e.g. a correlation of constant predictions) become null."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(data), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_seed_outputs(seed_dir: Path, result: TaskResult, run: SeedRun) -> None:
    """metrics.json, dev_curve.json and test_predictions.tsv of one seed."""
    task = result.task
    _write_json(
        seed_dir / "metrics.json",
        {
            "schema": SCHEMA,
            "model": result.model,
            "model_path": result.model_path,
            "task": task.name,
            "metric": task.metric,
            "seed": run.seed,
            "test": run.test_score,
            "best_epoch": run.best_epoch,
            "best_dev": run.best_dev,
            "sizes": result.sizes,
            "protocol": task.split_protocol(),
            "note": task.note,
            "settings": result.settings,
            "seconds": run.seconds,
            "train_tokens": run.train_tokens,
            "padded_tokens": run.padded_tokens,
            "tokens_per_second": run.tokens_per_second,
            "notes": run.notes,
            "label_names": run.label_names,
        },
    )
    _write_json(seed_dir / "dev_curve.json", run.dev_curve)
    with open(seed_dir / "test_predictions.tsv", "w", encoding="utf-8") as fh:
        fh.writelines(
            task.kind.prediction_lines(task, run.test_examples, run.test_gold, run.test_pred, run.label_names)
        )


def _sizes(data: TaskData) -> dict:
    return {"train": len(data.train), "dev": len(data.dev)}


def _run_task(
    name: str,
    model_path: str,
    data: TaskData,
    seeds: list[int],
    settings: FinetuneSettings,
    write_dir: Path | None,
    on_event=None,
    prefix: str = "",
    logs: Path | None = None,
) -> TaskResult:
    runs: list[SeedRun] = []
    result = TaskResult(name, model_path, data.task, runs, _sizes(data), settings.resolved(data.task))
    for seed in seeds:
        run = run_seed(
            model_path,
            data,
            seed,
            settings,
            description=f"{prefix}{data.task.name} seed {seed}",
            on_event=on_event,
            tracking=_seed_tracking(logs, settings, result, seed),
        )
        runs.append(run)
        result.sizes["test"] = len(run.test_examples)
        if write_dir is not None:
            write_seed_outputs(write_dir / f"seed-{seed}", result, run)
    return result


def _seed_tracking(logs: Path | None, settings: FinetuneSettings, result: TaskResult, seed: int):
    """The trackers' plan of one seed: a run named MODEL-TASK-seedN in the logging folder (None without trackers)."""
    if logs is None:
        return None
    from domainlm.training.tracking import TrackingPlan

    return TrackingPlan(
        settings.report_to,
        logs,
        f"{_safe(result.model)}-{result.task.name}-seed{seed}",
        {"command": "finetune", "model": result.model_path, "task": result.task.name, "settings": result.settings},
    )


def _tracking_folder(settings: FinetuneSettings, out_dir) -> Path | None:
    """Where the trackers write (None without --report-to); their packages are checked now, before any work."""
    from domainlm.runtime import check_trackers_installed, logging_dir_for, parse_report_to

    settings.report_to = parse_report_to(settings.report_to)
    if not settings.report_to:
        return None
    check_trackers_installed(settings.report_to)
    if out_dir is not None:
        return logging_dir_for(out_dir, settings.logging_dir)
    if not settings.logging_dir:
        raise ConfigError(
            "report_to needs a folder for the trackers' files, and there is no output folder.",
            "Pass an output folder, or logging_dir.",
        )
    return Path(settings.logging_dir)


def _is_main_process() -> bool:
    """Under `accelerate launch` / `torchrun` every process trains; only rank 0 writes the output."""
    return os.environ.get("RANK", "0") == "0"


@contextmanager
def _output(out_dir, command: str, force: bool):
    if _is_main_process():
        with atomic_directory(out_dir, command=command, force=force) as tmp:
            yield Path(tmp)
    else:
        with tempfile.TemporaryDirectory(prefix=f"domainlm-{command}-rank{os.environ.get('RANK')}-") as tmp:
            yield Path(tmp)


def _settings(settings: FinetuneSettings | None, overrides: dict) -> FinetuneSettings:
    settings = settings.model_copy(deep=True) if settings else FinetuneSettings()  # never change the caller's
    unknown = [k for k in overrides if not hasattr(settings, k)]
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
    for k, v in overrides.items():
        if v is not None:
            setattr(settings, k, v)
    return settings


def _load(tasks: list[Task], data_dir, settings: FinetuneSettings) -> list[TaskData]:
    return [
        load_task_data(t, data_dir, max_train=settings.max_train, max_dev=settings.max_dev, max_test=settings.max_test)
        for t in tasks
    ]


def finetune(
    model: str | os.PathLike,
    task: str | Task,
    out_dir: str | os.PathLike | None,
    *,
    seeds: int | str | Sequence[int] = 3,
    data_dir: str | os.PathLike | None = None,
    settings: FinetuneSettings | None = None,
    force: bool = False,
    on_event: Callable[..., None] | None = None,
    **overrides,
) -> FinetuneResult:
    """Fine-tune `model` on one task with several seeds; write `out_dir` (finetune.json + seed-N/)."""
    started = time.perf_counter()
    tasks = resolve_tasks(task, allow_all=False)
    if len(tasks) != 1:
        raise ConfigError(
            f"finetune runs one task; got {', '.join(t.name for t in tasks)}.",
            "Use `domainlm benchmark --tasks ...` for several.",
        )
    settings = _settings(settings, overrides)
    seed_list = parse_seeds(seeds)
    if out_dir is not None:
        check_output_dir(out_dir, "finetune", force)
    logs = _tracking_folder(settings, out_dir)
    warn_single_process_launch()
    (data,) = _load(tasks, data_dir, settings)
    model = str(model)
    check_model(model, data, settings.resolved(data.task)["max_seq_len"])
    if out_dir is None:
        base = _run_task(Path(model).name, model, data, seed_list, settings, None, on_event, logs=logs)
        return FinetuneResult(**base.__dict__, seconds=time.perf_counter() - started)
    with _output(out_dir, "finetune", force) as tmp:
        base = _run_task(Path(model).name, model, data, seed_list, settings, Path(tmp), on_event, logs=logs)
        result = FinetuneResult(**base.__dict__, out_dir=Path(out_dir), seconds=time.perf_counter() - started)
        _write_json(
            Path(tmp) / "finetune.json",
            {
                "schema": SCHEMA,
                **result.to_dict(),
                "seeds_run": seed_list,
                "seconds": round(result.seconds, 1),
                "versions": library_versions(("seqeval",)),
            },
        )
    return result


def benchmark(
    models: Mapping[str, str | os.PathLike],
    tasks: str | Sequence,
    out_dir: str | os.PathLike,
    *,
    seeds: int | str | Sequence[int] = 3,
    data_dir: str | os.PathLike | None = None,
    settings: FinetuneSettings | None = None,
    force: bool = False,
    update_card: bool = True,
    resamples: int = 1000,
    on_event: Callable[..., None] | None = None,
    **overrides,
) -> BenchmarkResult:
    """Fine-tune every model on every task with the same seeds and examples; write the table.

    Writes benchmark.json, benchmark.md, benchmark.png and runs/MODEL/TASK/seed-N/. With two or more
    models, each later model is compared with the first, paired by seed and test example. An adapted
    model (a local folder with slots.json) gets the table in its model card unless `update_card=False`.
    """
    started = time.perf_counter()
    if not models:
        raise ConfigError("No model given.", "Pass --model NAME=PATH (repeatable).")
    paths: dict[str, str] = {str(k): str(v) for k, v in models.items()}
    task_list = resolve_tasks(list(tasks) if not isinstance(tasks, str) else tasks)
    settings = _settings(settings, overrides)
    seed_list = parse_seeds(seeds)
    check_output_dir(out_dir, "benchmark", force)
    logs = _tracking_folder(settings, out_dir)
    warn_single_process_launch()
    datas = _load(task_list, data_dir, settings)
    for data in datas:
        for path in paths.values():
            check_model(path, data, settings.resolved(data.task)["max_seq_len"])
    results: dict[tuple[str, str], TaskResult] = {}
    with _output(out_dir, "benchmark", force) as tmp:
        for data in datas:
            for name, path in paths.items():
                results[(name, data.task.name)] = _run_task(
                    name,
                    path,
                    data,
                    seed_list,
                    settings,
                    tmp / "runs" / _safe(name) / data.task.name,
                    on_event,
                    prefix=f"{name}: ",
                    logs=logs,
                )
        comparisons = compare_finetuned(paths, task_list, results, resamples=resamples)
        result = BenchmarkResult(
            Path(out_dir), paths, task_list, results, comparisons, time.perf_counter() - started, seed_list
        )
        _write_json(tmp / "benchmark.json", result.to_dict())
        (tmp / "benchmark.md").write_text(benchmark_markdown(result), encoding="utf-8")
        plot_benchmark(result, tmp / "benchmark.png")
    if update_card and _is_main_process():
        update_cards(result)
    return result


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^\w.-]+", "_", name) or "model"


def compare_finetuned(
    models: Mapping[str, str], tasks: list[Task], results, *, resamples: int = 1000
) -> list[Comparison]:
    """Each later model minus the first, per task: paired by seed and test example."""
    names = list(models)
    out = []
    for task in tasks:
        ref = results[(names[0], task.name)]
        for other in names[1:]:
            res = results[(other, task.name)]
            diff, verdict = paired_difference(
                [r.metric_data() for r in ref.runs], [r.metric_data() for r in res.runs], resamples=resamples, seed=0
            )
            out.append(
                Comparison(task.name, task.metric, names[0], other, diff.to_dict() | {"verdict": verdict}, verdict)
            )
    return out


__all__ = [
    "finetune",
    "benchmark",
    "FinetuneResult",
    "BenchmarkResult",
    "TaskResult",
    "Comparison",
    "parse_seeds",
]
