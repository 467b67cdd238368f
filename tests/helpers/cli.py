"""Helpers of the CLI tests: what a person reads in an output, without rich's panel frames."""

from __future__ import annotations

import re


def shown(output: str) -> str:
    """`output` as one line of words: the error panel's frame and the line breaks removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())
