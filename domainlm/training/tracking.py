"""Experiment trackers (`--report-to tensorboard|wandb|mlflow`) through accelerate's trackers.

A `TrackingPlan` says which trackers, where their files go (OUT.runs beside the output, never in
the model folder) and what the run's hyperparameters are; `make_trackers` builds accelerate's
tracker objects for `Accelerator(log_with=...)`, `tracked` starts them (`init_trackers`) and ends
them, and `tracker_values` turns a metrics.jsonl record into what they log. Only
rank 0 reports: accelerate's trackers do nothing on the other processes.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.runtime import check_trackers_installed, flat_hparams, logging_dir_for

PROJECT = "domainlm"  # the W&B project and MLflow experiment; the run is named after the output folder


@dataclass
class TrackingPlan:
    report_to: list[str]
    logging_dir: Path
    run_name: str
    hparams: dict = field(default_factory=dict)  # nested settings, flattened when logged
    first: dict = field(default_factory=dict)  # values logged at step 0 (adapt's held-out loss before)


def tracking_plan(
    report_to, out_dir, logging_dir=None, *, hparams: dict | None = None, run_name: str | None = None
) -> TrackingPlan | None:
    """The plan for `report_to` (None when empty); refuses a logging folder inside `out_dir` now."""
    if not report_to:
        return None
    return TrackingPlan(
        list(report_to), logging_dir_for(out_dir, logging_dir), run_name or Path(out_dir).name, dict(hparams or {})
    )


def training_plan(config, out_dir, command: str, **inputs) -> TrackingPlan | None:
    """`adapt` / `pretrain`'s plan from `train.report_to` and `train.logging_dir` (None without trackers),
    their packages checked before anything loads; the hyperparameters are the command, its `inputs`
    (base, category, …) and the training settings."""
    check_trackers_installed(config.report_to)
    named = {k: v if isinstance(v, (dict, list, int, float)) else str(v) for k, v in inputs.items() if v is not None}
    return tracking_plan(
        config.report_to,
        out_dir,
        config.logging_dir,
        hparams={"command": command, **named, "train": config.model_dump(mode="json")},
    )


def make_trackers(plan: TrackingPlan | None) -> list | None:
    """accelerate's tracker objects for `Accelerator(log_with=...)`, each writing under the plan's folder."""
    if plan is None:
        return None
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    folder = plan.logging_dir
    made = {
        "tensorboard": lambda: TensorBoardTracker(plan.run_name, str(folder / "tensorboard")),
        "wandb": lambda: WandBTracker(PROJECT, name=plan.run_name, dir=str(folder)),
        "mlflow": lambda: MLflowTracker(PROJECT, run_name=plan.run_name),
    }
    return [made[name]() for name in plan.report_to]


def _local_mlflow_store(folder: Path) -> None:
    """Without MLFLOW_TRACKING_URI, MLflow's file store in the logging folder (not ./mlruns where the
    command happens to run). MLflow 3 keeps the file store behind MLFLOW_ALLOW_FILE_STORE."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return
    import mlflow

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((folder / "mlruns").resolve().as_uri())


@contextmanager
def tracked(accelerator, plan: TrackingPlan | None, facts: dict, *, fresh: bool = True):
    """Start the plan's trackers with the hyperparameters (`plan.hparams` and `facts`), log `plan.first`
    at step 0 on a fresh start, and end them when the block ends."""
    if plan is None or not accelerator.log_with:
        yield
        return
    if accelerator.is_main_process:
        plan.logging_dir.mkdir(parents=True, exist_ok=True)
        if "mlflow" in plan.report_to:
            _local_mlflow_store(plan.logging_dir)
    accelerator.init_trackers(PROJECT, config=flat_hparams(plan.hparams | facts))
    if fresh and plan.first:
        accelerator.log(plan.first, step=0)
    try:
        yield
    finally:
        # Not `accelerator.end_training()`: it also destroys the process group, which the rest of a
        # torchrun run (the barrier before writing, the next fine-tuning seed) still needs.
        for tracker in accelerator.trackers:
            tracker.finish()
        accelerator.trackers.clear()


def tracker_values(record: dict) -> dict:
    """A metrics.jsonl record as tracker scalars: `train/loss`, `train/lr`, `train/tokens_per_second`, …
    and the held-out loss as `eval/loss`."""
    if "eval_loss" in record:
        return {"eval/loss": record["eval_loss"]}
    return {
        f"train/{key}": value
        for key, value in record.items()
        if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
