"""Errors of the vocabulary library. Torch-free, stdlib only.

`VocabError` carries a message saying what is wrong and a hint saying what to do; the domainlm
CLI renders both as one red paragraph (see `domainlm.errors.USER_ERRORS`).
"""

from __future__ import annotations


class VocabError(Exception):
    """A vocabulary problem the user can fix: no free slots, a rejected term, a broken file."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"
