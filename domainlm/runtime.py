"""How a run executes: its numeric precision, the trackers that watch it, the processes that run it.

Torch-free, so the settings models and the CLI can declare `--precision`, `--report-to` and
`--logging-dir` with these descriptions without importing torch. Training (`domainlm.training`),
fine-tuning and evaluation resolve `precision` with `resolve_precision`; the trackers themselves are
built in `domainlm.training.tracking`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from domainlm.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16"]

# `auto` on a CPU with native bf16: bf16 autocast, as decided by benchmarks/precision_benchmark.py (300 steps x 64 x 128
# of the shared 4 x 256 base on shopping reviews, 2 AVX512-BF16 cores): 1.71x faster in whole runs (1.47x in
# alternated steps) at the same held-out loss (7.5269 against 7.5270 nats in fp32; a second fp32 seed: 7.5209).
# DOMAINLM_CPU_AUTO_BF16=0 keeps `auto` at fp32 on every CPU (the tests set it: their numbers must not depend on the
# CPU they run on).
CPU_AUTO_BF16 = True
CPU_AUTO_BF16_ENV = "DOMAINLM_CPU_AUTO_BF16"

PRECISION_HELP = (
    "Numeric precision: auto (bf16 autocast on a GPU that supports it and on a CPU with AVX512-BF16 or AMX, "
    "where it trained 1.7x faster at the same held-out loss; fp32 elsewhere), fp32, or bf16 (autocast wherever "
    "it runs: emulated and slower on other CPUs; results shift slightly)"
)

TRACKERS = ("tensorboard", "wandb", "mlflow")
Tracker = Literal["tensorboard", "wandb", "mlflow"]

REPORT_TO_HELP = (
    "Experiment trackers that watch the run: tensorboard, wandb, mlflow (several: repeat or "
    "comma-separate), or none. They get the loss, lr, tokens/s, the held-out loss and the settings "
    "as hyperparameters; rank 0 reports"
)
LOGGING_DIR_HELP = (
    "Folder of the trackers' files (TensorBoard events, the MLflow store unless MLFLOW_TRACKING_URI "
    "is set, W&B's offline runs); default: OUTPUT.runs beside the output, never inside the model "
    "folder (it would be pushed with the model)"
)

# The pip extra (pyproject.toml) and the module each tracker needs.
TRACKER_PACKAGES = {
    "tensorboard": ("tensorboard", ("tensorboard", "tensorboardX")),
    "wandb": ("wandb", ("wandb",)),
    "mlflow": ("mlflow", ("mlflow",)),
}


# ---------------------------------------------------------------- trackers


def parse_report_to(value) -> list[str]:
    """`tensorboard`, `tensorboard,wandb`, a list of those, `none` or None → the tracker names, in order, once each."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        for part in str(item).split(","):
            name = part.strip().lower()
            if name in ("", "none"):
                continue
            if name not in TRACKERS:
                raise ConfigError(
                    f"Unknown tracker '{part.strip()}' in report_to.",
                    f"Use {', '.join(TRACKERS)} or none (several: repeat --report-to or comma-separate).",
                )
            if name not in names:
                names.append(name)
    return names


def check_trackers_installed(names) -> None:
    """Refuse, before any work, a tracker whose package is missing (accelerate would silently drop it)."""
    missing = [n for n in names if not any(importlib.util.find_spec(m) for m in TRACKER_PACKAGES[n][1])]
    if missing:
        extras = ",".join(TRACKER_PACKAGES[n][0] for n in missing)
        raise ConfigError(
            f"--report-to {', '.join(missing)}: the package{'s are' if len(missing) > 1 else ' is'} not installed.",
            f"pip install 'domainlm[{extras}]' (or 'domainlm[track]' for all three), or leave --report-to out.",
        )


def logging_dir_for(out_dir, logging_dir=None) -> Path:
    """Where the trackers write: `logging_dir`, else OUT.runs beside `out_dir`; never inside `out_dir`
    (the model folder is what gets pushed to the Hub)."""
    out = Path(out_dir)
    chosen = Path(logging_dir) if logging_dir else out.with_name(out.name + ".runs")
    if _inside(chosen, out):
        raise ConfigError(
            f"The logging folder '{chosen}' is inside the output folder '{out}': the trackers' files "
            "would be written into the model (and pushed with it).",
            f"Leave --logging-dir out (default '{out.name}.runs' beside it) or choose a folder outside.",
        )
    return chosen


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.expanduser().resolve(), folder.expanduser().resolve()
    return path == folder or folder in path.parents


def flat_hparams(settings: dict | list | tuple, prefix: str = "") -> dict:
    """Nested settings as `a.b.c` keys with scalar values (what every tracker takes as hyperparameters);
    lists become indexed keys, None is left out."""
    flat: dict = {}
    items = settings.items() if isinstance(settings, dict) else enumerate(settings)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list, tuple)):
            flat.update(flat_hparams(value, name + "."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = str(value)
    return flat


# ---------------------------------------------------------------- precision


def cpu_has_native_bf16() -> bool:
    """True on a CPU with bf16 instructions (AVX512-BF16 or AMX), where bf16 autocast is about 2x faster
    than fp32; elsewhere it would be emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:  # not Linux: no cheap way to tell, so fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device_type: str, *, cuda_bf16: bool = False) -> Literal["fp32", "bf16"]:
    """What `precision` means on `device_type` ("cuda", "cpu", …); `cuda_bf16`: the GPU supports bf16."""
    if precision == "fp32":
        return "fp32"
    if precision == "bf16":
        if device_type == "cuda" and not cuda_bf16:
            raise ConfigError("--precision bf16: this GPU does not support bf16.", "Use --precision auto or fp32.")
        return "bf16"
    if precision != "auto":
        raise ConfigError(f"Unknown precision '{precision}'.", "Use --precision auto, fp32 or bf16.")
    if device_type == "cuda":
        return "bf16" if cuda_bf16 else "fp32"
    return "bf16" if device_type == "cpu" and cpu_auto_bf16() and cpu_has_native_bf16() else "fp32"


def cpu_auto_bf16() -> bool:
    """Whether `auto` may pick bf16 on a CPU (`CPU_AUTO_BF16`, unless DOMAINLM_CPU_AUTO_BF16=0 says fp32)."""
    return CPU_AUTO_BF16 and os.environ.get(CPU_AUTO_BF16_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def accelerator_for(precision: str, *, cpu: bool, log_with=None):
    """An `accelerate.Accelerator` running in `precision` ("fp32" or "bf16", resolved).

    accelerate keeps one process-wide state and refuses a second Accelerator with another mixed
    precision ("restart your runtime"): `adapt` in bf16 and then fine-tuning in fp32 in one process
    (a recipe run, a benchmark, a notebook) would fail. The earlier state is dropped first, as
    transformers' Trainer does; the process group (PartialState) stays.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    mixed = "bf16" if precision == "bf16" else "no"
    if AcceleratorState._shared_state and AcceleratorState._shared_state.get("_mixed_precision") != mixed:
        AcceleratorState._reset_state()
    return Accelerator(mixed_precision=mixed, cpu=cpu, log_with=log_with)


# ---------------------------------------------------------------- processes


def process_rank() -> int:
    """This process's rank under torchrun / `accelerate launch` / MPI (0 when run alone)."""
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def is_main_process() -> bool:
    """Only rank 0 prints and writes: every process runs the whole command."""
    return process_rank() == 0


def single_process_launch_hint() -> str | None:
    """What to say when `accelerate launch --cpu --num_processes N` started one process, not N.

    accelerate's `--cpu` takes its simple launcher, which sets MASTER_ADDR / MASTER_PORT for N > 1
    but starts one process without WORLD_SIZE: the run is a plain single-process run.
    """
    env = os.environ
    launched_by_accelerate = env.get("ACCELERATE_USE_CPU", "").lower() in ("true", "1", "yes")
    if launched_by_accelerate and "MASTER_PORT" in env and "WORLD_SIZE" not in env:
        return (
            "accelerate launch --cpu started one process, not several (its --cpu launcher runs the script "
            "once): this run uses 1 process. For N CPU processes start it with torchrun --nproc_per_node N "
            "-m domainlm …"
        )
    return None


def warn_single_process_launch() -> None:
    hint = single_process_launch_hint()
    if hint and is_main_process():
        from domainlm.errors import warn

        warn(hint)
