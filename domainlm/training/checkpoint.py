"""Checkpoints: everything a run needs to continue exactly where it stopped.

`<ckpt_dir>/step-000120/` holds `state.pt` (model state in the structure of its phase, optimizer,
scheduler, RNG states, counters) and `metrics.jsonl` up to that step. Each checkpoint directory is
written with `atomic_directory`, so a kill while saving leaves the previous checkpoints intact and
no half-written one; a full disk becomes a `TrainingError` with nothing half-written.
"""

from __future__ import annotations

import errno
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from domainlm.errors import TrainingError
from domainlm.io import atomic_directory
from vocab_tools.atomic import write_failure

PREFIX = "step-"


def checkpoint_dir_for(out_dir: Path) -> Path:
    """Checkpoints live beside the output dir, so the final atomic replace of `out_dir` keeps them."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / "state.pt").exists()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def disk_full_error(path: Path, exc: OSError, what: str) -> TrainingError:
    return TrainingError(
        f"No space left on the device while writing the {what} to '{path}' ({exc.strerror or exc}). "
        "Nothing half-written was left: the previous checkpoints and outputs are intact.",
        "Free disk space (or write to another disk), then rerun the same command with --resume.")


class CheckpointWriteError(TrainingError):
    """A checkpoint could not be written (full disk, no permission); nothing half-written was left."""


def checkpoint_write_error(path: Path, exc: BaseException) -> CheckpointWriteError | None:
    """The wording of a failed checkpoint write, or None when `exc` is not a write failure.

    torch reports a full disk as a RuntimeError from inline_container.cc ("file write failed"),
    not as an OSError; `write_failure` recognises both.
    """
    reason = write_failure(exc)
    if reason is None:
        return None
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or reason.startswith("no space"):
        return CheckpointWriteError(
            f"No space left on the device while writing the checkpoint to '{path}'. "
            "Nothing half-written was left: the previous checkpoints and outputs are intact.",
            "Free disk space (or write to another disk), then rerun the same command with --resume.")
    return CheckpointWriteError(
        f"Could not write the checkpoint to '{path}': {reason}. Nothing half-written was left: the previous "
        "checkpoints and outputs are intact.",
        "Fix the permissions of that folder (or write to another one), then rerun the same command with --resume.")


def save_checkpoint(ckpt_dir: Path, step: int, state: dict, metrics_lines: list[str], keep: int = 2) -> Path:
    path = ckpt_dir / f"{PREFIX}{step:06d}"
    try:
        with atomic_directory(path) as tmp:
            torch.save(state, tmp / "state.pt")
            (tmp / "metrics.jsonl").write_text("".join(metrics_lines), encoding="utf-8")
    except Exception as e:
        error = checkpoint_write_error(path, e)
        if error is None:
            raise
        raise error from None
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path / "state.pt", map_location="cpu", weights_only=False)
    except Exception as e:
        raise TrainingError(f"The checkpoint '{path}' cannot be read: {type(e).__name__}: {e}.",
                            "Delete that checkpoint directory to resume from the one before it.") from None
