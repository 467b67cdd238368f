"""Before/after evaluation of an adapted encoder: MW-BPC, tokenization, downstream probes, report.

Importing this package is cheap: torch and transformers load only when a function runs.
"""

from __future__ import annotations

from domainlm.evaluation.config import EvalConfig, TaskSpec
# Bound after the submodule import, so `domainlm.evaluation.evaluate` is the function, not the module.
from domainlm.evaluation.evaluate import evaluate
from domainlm.evaluation.mwbpc import BpcResult, masked_word_bpc
from domainlm.evaluation.report import SCHEMA, Report

__all__ = ["EvalConfig", "TaskSpec", "evaluate", "masked_word_bpc", "BpcResult", "Report", "SCHEMA"]
