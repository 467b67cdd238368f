"""Before/after evaluation of an adapted encoder: MW-BPC (detection AUC for ELECTRA discriminators),
tokenization, downstream probes, report.

Importing this package is cheap: torch and transformers load only when a function runs.
"""

from __future__ import annotations

from domainlm.evaluation.config import EvalConfig, TaskSpec
from domainlm.evaluation.detection import (
    DetectionComparison,
    DetectionResult,
    ReplacementPlan,
    compare_detection,
    load_discriminator,
    plan_replacements,
    score_detection,
)

# Bound after the submodule import, so `domainlm.evaluation.evaluate` is the function, not the module.
from domainlm.evaluation.evaluate import evaluate
from domainlm.evaluation.mwbpc import BpcResult, masked_word_bpc
from domainlm.evaluation.report import SCHEMA, Report

__all__ = [
    "EvalConfig",
    "TaskSpec",
    "evaluate",
    "masked_word_bpc",
    "BpcResult",
    "Report",
    "SCHEMA",
    "plan_replacements",
    "score_detection",
    "compare_detection",
    "load_discriminator",
    "ReplacementPlan",
    "DetectionResult",
    "DetectionComparison",
]
