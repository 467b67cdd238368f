"""Helpers every PNG chart shares (the evaluation report's, the fine-tuning benchmark's).

Labels are ASCII on purpose: a CI machine or a server often has no font with Hangul glyphs, and
matplotlib would then draw empty boxes and emit one warning per missing glyph. Task names that are
not ASCII are transliterated to a safe label, and glyph warnings are silenced as a second guard.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager


@contextmanager
def quiet_matplotlib():
    """Silence matplotlib's missing-glyph warnings and font-manager logging while a chart is drawn."""
    import logging

    font_logger = logging.getLogger("matplotlib.font_manager")
    level = font_logger.level
    font_logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from.*")
        warnings.filterwarnings("ignore", message=r".*missing from (current )?font.*")
        try:
            yield
        finally:
            font_logger.setLevel(level)


def ascii_label(text: str) -> str:
    """A label that renders with any font: non-ASCII runs become '?' groups, kept short."""
    if text.isascii():
        return text
    cleaned = re.sub(r"[^\x20-\x7e]+", "?", text).strip()
    return cleaned if cleaned.strip("? ") else "task"
