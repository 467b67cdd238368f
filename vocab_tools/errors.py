"""Errors of the vocabulary library. Torch-free, stdlib only.

`HintedError` is the root of every user-fixable error in this project: a message saying what is
wrong and a hint saying what to do. `VocabError` is the vocabulary library's; domainlm's
`DomainLMError` derives from the same root, so the CLI catches one family and renders both as one
red paragraph.
"""

from __future__ import annotations


class HintedError(Exception):
    """A problem the user can fix: `message` says what is wrong, `hint` what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class VocabError(HintedError):
    """A vocabulary problem the user can fix: no free slots, a rejected term, a broken file."""


class OutputError(HintedError):
    """An output cannot be written: a folder holding the user's files, a full disk, no permission."""
