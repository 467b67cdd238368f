"""The one exception family of domainlm.

Every error a user can fix is a `DomainLMError` (or the torch-free `vocab_tools.errors.VocabError`):
the message says what is wrong, the hint which command or option fixes it. The CLI turns these into
a red one-paragraph message and exit code 2; a traceback is shown only under `--verbose`.
"""

from __future__ import annotations

import warnings

from vocab_tools.errors import HintedError, OutputError, VocabError


class DomainLMError(HintedError):
    """Base of every user-fixable error in domainlm (message + hint, from `HintedError`)."""


class CorpusError(DomainLMError):
    """A corpus cannot be read: missing, empty, wrong encoding, wrong columns, corrupt archive."""


class ConfigError(DomainLMError):
    """A recipe or setting is invalid (unknown key, wrong type, unknown category)."""


class MiningError(DomainLMError):
    """Term mining cannot proceed (too little text, bad budget)."""


class ModelError(DomainLMError):
    """A model or tokenizer cannot be loaded or is incompatible."""


class TrainingError(DomainLMError):
    """Training failed in a way the user can act on (NaN loss, disk full, bad resume)."""


class EvaluationError(DomainLMError):
    """Evaluation inputs are unusable (empty held-out set, task file without labels)."""


class DomainLMWarning(UserWarning):
    """Something a person should know about a run that still goes on (lines skipped, inputs that look
    wrong). The CLI prints it as one yellow `Warning:` line; a library caller sees a Python warning."""


def warn(message: str) -> None:
    """Issue `message` as a `DomainLMWarning` (shown once per message, as Python warnings are)."""
    warnings.warn(DomainLMWarning(message), stacklevel=2)


# What the CLI boundary catches and renders without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (HintedError,)

__all__ = [
    "DomainLMError",
    "CorpusError",
    "ConfigError",
    "MiningError",
    "ModelError",
    "TrainingError",
    "EvaluationError",
    "DomainLMWarning",
    "warn",
    "VocabError",
    "OutputError",
    "HintedError",
    "USER_ERRORS",
]
