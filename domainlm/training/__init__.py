"""Continued pretraining (`adapt`) and base pretraining (`pretrain`) of Korean masked-LMs."""

from domainlm.training.config import LoraConfig, ModelArchConfig, PhaseConfig, TrainConfig

__all__ = [
    "TrainConfig",
    "PhaseConfig",
    "LoraConfig",
    "ModelArchConfig",
    "adapt",
    "AdaptResult",
    "pretrain",
    "heldout_mlm_loss",
    "TrainingInterrupted",
]

_LAZY = {
    "adapt": "domainlm.training.adapting",
    "AdaptResult": "domainlm.training.adapting",
    "pretrain": "domainlm.training.pretraining",
    "heldout_mlm_loss": "domainlm.training.heldout",
    "TrainingInterrupted": "domainlm.training.engine",
}


def __getattr__(name: str):
    # torch is imported only when a training function is used, so `import domainlm.training.config`
    # (done by the recipe schema) stays cheap.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'domainlm.training' has no attribute {name!r}")
