"""The training modes, by name: what `--mode`, `train.mode` and `train.phases[].mode` choose (`apply_mode`).

A mode is a function `apply(model, slot_ids, lora) -> the model to train` (setting requires_grad) plus
one `register_mode` call carrying its name and how `--mode`'s help describes it. The built-ins (full,
lora, new-rows, partial; implemented in `domainlm.modeling.modes`, named as "module:function" so that this
module stays torch-free and imports nothing of it) are registered at the end of this file; a new
mode is one more registration, here or in a module imported here. `phased` is not a mode but a
schedule of them (train.phases), accepted beside the registered names by `train.mode`. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from domainlm.modeling.registry import RegisteredName, Registry

PHASED = "phased"  # train.mode: the phases listed in train.phases, one mode each


@dataclass(frozen=True)
class TrainingMode:
    name: str
    help: str  # how --mode's help describes it ("the filled rows only")
    # apply(model, slot_ids, lora) -> the model to train; or "module:function", imported when first applied (the
    # built-ins live in torch code, and this registry must load without torch for the CLI's choices)
    apply: Callable[..., Any] | str

    def function(self) -> Callable[..., Any]:
        """The mode's `apply`, imported if it was registered by name."""
        if callable(self.apply):
            return self.apply
        import importlib

        module, _, name = self.apply.partition(":")
        return getattr(importlib.import_module(module), name)


MODES: Registry[TrainingMode] = Registry("training mode")


def register_mode(name: str, *, apply: Callable[..., Any] | str, help: str | None = None) -> TrainingMode:
    """Make `name` a choice of `--mode` / `train.mode` / `train.phases[].mode` (see `TrainingMode`)."""
    return MODES.add(name, TrainingMode(name, help or name, apply))


def unregister_mode(name: str) -> None:
    MODES.remove(name)


def mode_names() -> tuple[str, ...]:
    """The registered modes (what a phase may train)."""
    return MODES.names()


def run_mode_names() -> tuple[str, ...]:
    """What train.mode accepts: a registered mode, or phased."""
    return (*MODES.names(), PHASED)


def mode_help() -> str:
    """The modes as --mode's help describes them: `name: what trains; ...`."""
    return "; ".join(f"{m.name}: {m.help}" for m in MODES)


# What train.phases[].mode holds (a registered mode) and what train.mode holds (one, or phased); checked
# against the registry when read.
PhaseModeName = Annotated[str, RegisteredName(mode_names)]
ModeName = Annotated[str, RegisteredName(run_mode_names)]


# ---------------------------------------------------------------- the built-in modes


register_mode("full", apply="domainlm.modeling.modes:train_everything", help="all")
register_mode("lora", apply="domainlm.modeling.modes:lora_model", help="LoRA adapters (+ the filled rows)")
register_mode("new-rows", apply="domainlm.modeling.modes:train_filled_rows", help="the filled rows only")
register_mode(
    "partial",
    apply="domainlm.modeling.modes:train_outer_layers",
    help="the filled rows, the output bias, the first and last layers",
)
