"""Before/after evaluation of an adapted encoder: MW-BPC (detection AUC for ELECTRA discriminators),
tokenization, downstream probes, report.

Importing this package is cheap (the CLI builds its options from `EvalConfig`): torch and transformers load
only when a function is used.
"""

from __future__ import annotations

from domainlm.evaluation.config import EvalConfig, TaskSpec

_LAZY = {
    "evaluate": "domainlm.evaluation.run",
    "masked_word_bpc": "domainlm.evaluation.mwbpc",
    "BpcResult": "domainlm.evaluation.mwbpc",
    "Report": "domainlm.evaluation.report",
    "SCHEMA": "domainlm.evaluation.report",
    "plan_replacements": "domainlm.evaluation.detection",
    "score_detection": "domainlm.evaluation.detection",
    "compare_detection": "domainlm.evaluation.detection",
    "load_discriminator": "domainlm.evaluation.detection",
    "ReplacementPlan": "domainlm.evaluation.detection",
    "DetectionResult": "domainlm.evaluation.detection",
    "DetectionComparison": "domainlm.evaluation.detection",
}

__all__ = ["EvalConfig", "TaskSpec", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'domainlm.evaluation' has no attribute {name!r}")
