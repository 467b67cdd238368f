"""Checkpoints: everything a run needs to continue exactly where it stopped.

`<ckpt_dir>/step-000120/` holds `state.pt` (model state in the structure of its phase, optimizer,
scheduler, RNG states, counters) and `metrics.jsonl` up to that step. Each checkpoint directory is
written with `atomic_directory`, so a kill while saving leaves the previous checkpoints intact and
no half-written one; a full disk becomes a `TrainingError` with nothing half-written.

A checkpoint is untrusted input (a shared run folder, `recipe run`'s automatic resume): `state.pt`
holds only tensors and plain containers (dict, list, tuple, str, int, float, bool, None; the RNG
states as tensors), so it is read with `torch.load(weights_only=True)`, whose unpickler builds
nothing else and calls no function a file names. A file that needs anything more is refused with
a `TrainingError`, never executed (see docs/THREAT_MODEL.md).
"""

from __future__ import annotations

import errno
import pickle
import random
import re
import shutil
import warnings
from collections import OrderedDict
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
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def rng_state() -> dict:
    """Every RNG a step draws from, as tensors and plain values (loadable with weights_only=True)."""
    version, internal, gauss = random.getstate()
    algorithm, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": None if gauss is None else float(gauss),
        },
        "numpy": {
            "algorithm": str(algorithm),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        (n["algorithm"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# What `state.pt` may hold: what torch's weights_only unpickler rebuilds without running anything.
_PLAIN = (str, int, float, bool, type(None), torch.dtype, torch.device, torch.Size)


def check_plain(value, where: str = "state") -> None:
    """Raise TypeError unless `value` is tensors and plain containers only (what a resume can load).

    Checked when saving, so a checkpoint domainlm writes always loads with weights_only=True.
    """
    if isinstance(value, (torch.Tensor, *_PLAIN)):
        return
    if isinstance(value, (dict, OrderedDict)):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint key {key!r} in {where} is a {type(key).__name__}, not str/int")
            check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__name__}, which a checkpoint cannot "
        "hold (tensors and plain containers only: it is loaded with weights_only=True)"
    )


def disk_full_error(path: Path, exc: OSError, what: str) -> TrainingError:
    return TrainingError(
        f"No space left on the device while writing the {what} to '{path}' ({exc.strerror or exc}). "
        "Nothing half-written was left: the previous checkpoints and outputs are intact.",
        "Free disk space (or write to another disk), then rerun the same command with --resume.",
    )


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
            "Free disk space (or write to another disk), then rerun the same command with --resume.",
        )
    return CheckpointWriteError(
        f"Could not write the checkpoint to '{path}': {reason}. Nothing half-written was left: the previous "
        "checkpoints and outputs are intact.",
        "Fix the permissions of that folder (or write to another one), then rerun the same command with --resume.",
    )


def save_checkpoint(ckpt_dir: Path, step: int, state: dict, metrics_lines: list[str], keep: int = 2) -> Path:
    path = ckpt_dir / f"{PREFIX}{step:06d}"
    check_plain(state)
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


# The keys and types every domainlm checkpoint has; anything else is not one of ours.
_REQUIRED = {
    "step": int,
    "phase": int,
    "micro_batches": int,
    "tokens": int,
    "metrics": list,
    "model": dict,
    "compat": dict,
    "rng": dict,
}
_REFUSED_HINT = (
    "Delete that checkpoint directory (and every other one you did not write yourself) and run "
    "again; never resume from a checkpoint of unknown origin."
)


def load_checkpoint(path: Path) -> dict:
    """The saved state of the checkpoint folder `path`, read as plain data only.

    `weights_only=True`: torch's restricted unpickler rebuilds tensors and plain containers and
    refuses any other object, so a crafted `state.pt` (a pickle that would run code) is refused
    with a TrainingError and nothing in it runs.
    """
    file = Path(path) / "state.pt"
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle protocol; the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # The restricted unpickler met a global it does not allow: a pickle that asks to build or
        # call something (that is how a payload runs). Name it, do not run it.
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a request for an object: a damaged file, or opcodes the safe reader lacks
            lines = [
                line.strip()
                for line in str(e).splitlines()
                if line.strip()
                and not line.lstrip().startswith(
                    ("Weights only load failed", "Check the documentation", "Please file", "(1)", "(2)", "In PyTorch")
                )
            ]
            raise TrainingError(
                f"The checkpoint '{path}' cannot be read: its state.pt is damaged or not a domainlm checkpoint "
                f"({(lines[-1] if lines else 'unreadable')[:200]}). Nothing in it was run.",
                "Delete that checkpoint directory to resume from the one before it.",
            ) from None
        raise TrainingError(
            f"The checkpoint '{path}' was refused: its state.pt holds more than tensors and plain data (it asks "
            f"for `{found.group(1)}`), and loading it could run code. Nothing in it was run. domainlm writes "
            "checkpoints of plain data only; this one was written by something else or by an older domainlm, or "
            "was tampered with.",
            _REFUSED_HINT,
        ) from None
    except Exception as e:
        raise TrainingError(
            f"The checkpoint '{path}' cannot be read: {type(e).__name__}: {str(e)[:300]}.",
            "Delete that checkpoint directory to resume from the one before it.",
        ) from None
    if not isinstance(state, dict):
        raise TrainingError(
            f"The checkpoint '{path}' is not a domainlm checkpoint (its state.pt holds a "
            f"{type(state).__name__}, not the saved state of a run).",
            _REFUSED_HINT,
        )
    wrong = [
        f"'{k}' missing" if k not in state else f"'{k}' is a {type(state[k]).__name__}"
        for k, kind in _REQUIRED.items()
        if k not in state or not isinstance(state[k], kind) or (kind is int and isinstance(state[k], bool))
    ]
    if not wrong and not all(isinstance(line, str) for line in state["metrics"]):
        wrong.append("'metrics' holds non-text entries")
    if wrong:
        raise TrainingError(
            f"The checkpoint '{path}' is not a domainlm checkpoint ({'; '.join(wrong)}).", _REFUSED_HINT
        )
    return state
