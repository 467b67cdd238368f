"""The stage runner of `domainlm recipe run`: run, skip or resume each stage.

`stages.json` in the run folder records, per stage, the fingerprint of its inputs and whether it
finished. A stage is skipped when it finished with the same fingerprint and its outputs exist; a
stage that started with the same fingerprint but never finished (interrupted) is resumed when it
can be (adapt picks up its last checkpoint), else rerun. A rerun stage invalidates the stages
after it through their fingerprints, which include the hashes of its outputs.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from domainlm.errors import ConfigError, OutputError
from domainlm.io import write_json
from domainlm.pipeline.hashing import fingerprint
from domainlm.pipeline.layout import RunLayout, checkpoints_of
from domainlm.pipeline.stages import STAGE_NAMES, STAGES, Stage, StageContext
from domainlm.recipes.load import save_portable, save_resolved
from domainlm.recipes.schema import Recipe
from domainlm.runtime import check_trackers_installed
from vocab_tools.atomic import MARKER_NAME, output_lock, output_owner, write_failure

RUN_COMMAND = "recipe run"  # named in the marker of run folders (vocab_tools.atomic)


@dataclass
class StageOutcome:
    name: str
    status: str  # "ran", "resumed", "skipped", "not run"
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)


@dataclass
class RunResult:
    out_dir: Path
    stages: list[StageOutcome]
    report_md: Path | None
    report_json: Path | None
    seconds: float

    @property
    def report(self) -> dict | None:
        import json

        return (
            json.loads(self.report_json.read_text(encoding="utf-8"))
            if self.report_json and self.report_json.exists()
            else None
        )

    def to_dict(self) -> dict:
        """What `recipe run --json` prints: the stages, the report's summary and where everything is."""
        report = self.report or {}
        return {
            "out_dir": str(self.out_dir),
            "seconds": round(self.seconds, 1),
            "stages": [
                {"name": s.name, "status": s.status, "seconds": round(s.seconds, 1), "summary": s.summary}
                for s in self.stages
            ],
            "report_md": str(self.report_md) if self.report_md else None,
            "report_json": str(self.report_json) if self.report_json else None,
            "summary": report.get("summary"),
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_state(out_dir: Path) -> dict:
    import json

    path = RunLayout(out_dir).state
    if not path.exists():
        return {"stages": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"stages": {}}  # a damaged state only costs a rerun
    state.setdefault("stages", {})
    return state


def default_run_dir(recipe: Recipe) -> Path:
    return Path("runs") / recipe.name


def _check_stage_names(names: Iterable[str] | None, what: str) -> list[str]:
    names = list(names or [])
    bad = [n for n in names if n not in STAGE_NAMES]
    if bad:
        raise ConfigError(
            f"Unknown stage {', '.join(repr(b) for b in bad)} in {what}; the stages are: {', '.join(STAGE_NAMES)}."
        )
    return names


def run_recipe(
    recipe: Recipe,
    out_dir: str | os.PathLike | None = None,
    *,
    until: str | None = None,
    force: Sequence[str] | bool = (),
    resume: bool = True,
    on_stage: Callable[[str, str, dict], None] | None = None,
) -> RunResult:
    """Run prepare → mine → fill → adapt → evaluate for `recipe` into `out_dir` (default runs/<name>).

    `until`: stop after this stage. `force`: stage names (or True for all) to rerun even when
    unchanged. `resume`: continue an interrupted adapt from its last checkpoint (False: start over).
    `on_stage(name, event, info)` is called with event "start", "skip", "resume" or "done".
    """
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else default_run_dir(recipe)
    if until is not None:
        _check_stage_names([until], "--until")
    forced = set(STAGE_NAMES) if force is True else set(_check_stage_names(force or [], "--force"))
    check_run_folder(out, take=force is True)
    check_trackers_installed(recipe.train.report_to)  # now, not when the adapt stage starts
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"Cannot create the run folder '{out}': {write_failure(e) or e}.",
            "Choose another run folder with -o / --output.",
        ) from None
    # One run at a time per folder: two runs would interleave their stages' files.
    with output_lock(out):
        try:
            return _run_stages(
                recipe, out, until=until, forced=forced, resume=resume, on_stage=on_stage, started=started
            )
        except OSError as e:
            reason = write_failure(e)
            if reason is None:
                raise
            raise OutputError(
                f"Could not write into the run folder '{out}': {reason}. The stages that finished are kept; "
                "the one that was running left its previous output, if any.",
                "Free space on that disk or fix its permissions, then run the same command again: "
                "finished stages are skipped.",
            ) from None


def check_run_folder(out: Path, take: bool = False) -> None:
    """Refuse a non-empty folder that is not a run folder, unless `take` (`--force all`).

    A run folder is written stage by stage, not swapped whole, so `take` keeps what is there and
    only replaces the stage outputs and records it makes (prepare/ mine/ fill/ model/ report/,
    stages.json, recipe.yaml, recipe.resolved.yaml).
    """
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"The run folder '{out}' exists and is a file.", "Choose another run folder with -o / --output."
        )
    if take or not out.is_dir():
        return
    owner = output_owner(out)
    if owner == RUN_COMMAND or (owner is None and RunLayout(out).state.is_file()):  # a run of an older domainlm
        return
    entries = sorted(p.name for p in out.iterdir() if p.name != MARKER_NAME)
    if not entries and owner is None:
        return
    shown = ", ".join(entries[:5]) + (" …" if len(entries) > 5 else "")
    made_by = f"the output of `domainlm {owner}`" if owner else "files domainlm did not make"
    raise OutputError(
        f"The folder '{out}' is not a run folder of `domainlm recipe run`: it holds {made_by} ({shown}).",
        "Choose another run folder with -o / --output, or pass --force all to run every stage into it "
        "anyway (files of the stages' names are replaced, everything else is kept).",
    )


def _mark_run_folder(out: Path) -> None:
    if output_owner(out) != RUN_COMMAND:
        write_json(out / MARKER_NAME, {"command": RUN_COMMAND, "written": _now()})


def _run_stages(recipe: Recipe, out: Path, *, until, forced: set, resume: bool, on_stage, started: float) -> RunResult:
    _mark_run_folder(out)
    save_resolved(recipe, out)
    save_portable(recipe, out)
    state = read_state(out)
    state["recipe"] = recipe.name
    state["category"] = recipe.category
    ctx = StageContext(recipe=recipe, out_dir=out)
    notify = on_stage or (lambda *a: None)
    outcomes: list[StageOutcome] = []
    stop = False
    for stage in STAGES:
        if stop:
            outcomes.append(StageOutcome(stage.name, "not run"))
            continue
        outcomes.append(_skip_or_run(stage, ctx, state, forced=forced, resume=resume, notify=notify))
        if until is not None and stage.name == until:
            stop = True
    run = ctx.layout
    return RunResult(
        out_dir=out,
        stages=outcomes,
        report_md=run.report_md if run.report_md.exists() else None,
        report_json=run.report_json if run.report_json.exists() else None,
        seconds=round(time.perf_counter() - started, 2),
    )


def _skip_or_run(stage: Stage, ctx: StageContext, state: dict, *, forced: set, resume: bool, notify) -> StageOutcome:
    """Skip `stage` when it finished on the same inputs and its outputs exist, else resume or run it."""
    material = stage.inputs(ctx)
    fp = fingerprint(material)
    # Per-input fingerprints, so `stages.json` tells which input made a stage rerun.
    parts = {k: fingerprint(v)[:16] for k, v in material.items()} if isinstance(material, dict) else {}
    prev = state["stages"].get(stage.name, {})
    outputs_exist = all(p.exists() for p in stage.outputs(ctx))
    if stage.name not in forced and prev.get("status") == "done" and prev.get("fingerprint") == fp and outputs_exist:
        notify(stage.name, "skip", prev.get("summary", {}))
        return StageOutcome(stage.name, "skipped", 0.0, prev.get("summary", {}))
    resuming = (
        stage.resumable
        and resume
        and stage.name not in forced
        and prev.get("status") == "running"
        and prev.get("fingerprint") == fp
        and stage.can_resume(ctx)
    )
    if not resuming and stage.resumable:
        _drop_checkpoints(stage, ctx)
    changed = sorted(k for k in parts if prev.get("inputs", {}).get(k) != parts[k]) if prev else []
    state["stages"][stage.name] = {"status": "running", "fingerprint": fp, "inputs": parts, "started": _now()}
    write_json(ctx.layout.state, state)
    notify(stage.name, "resume" if resuming else "start", {})
    t0 = time.perf_counter()
    summary = stage.run(ctx, resuming) or {}
    seconds = round(time.perf_counter() - t0, 2)
    state["stages"][stage.name] = {
        "status": "done",
        "fingerprint": fp,
        "inputs": parts,
        "changed": changed,
        "started": state["stages"][stage.name]["started"],
        "finished": _now(),
        "seconds": seconds,
        "resumed": resuming,
        "summary": summary,
    }
    write_json(ctx.layout.state, state)
    # Every output folder carries the recipe that made it (written before the next stage
    # fingerprints the folder, so a rerun sees the same hash).
    for folder in {p if p.is_dir() else p.parent for p in stage.outputs(ctx)}:
        save_resolved(ctx.recipe, folder)
    notify(stage.name, "done", {**summary, "seconds": seconds})
    return StageOutcome(stage.name, "resumed" if resuming else "ran", seconds, summary)


def _drop_checkpoints(stage: Stage, ctx: StageContext) -> None:
    """Delete the checkpoints beside `stage`'s outputs: a changed input makes them wrong to continue from
    (training keeps them beside its output). The previous output itself stays until the stage writes its
    new one in one swap: a failed rerun leaves it intact."""
    for p in stage.outputs(ctx):
        checkpoints = checkpoints_of(p)
        if checkpoints.is_dir():
            shutil.rmtree(checkpoints, ignore_errors=True)
