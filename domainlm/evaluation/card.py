"""Put the evaluation table into the adapted model's model card (README.md).

The table lives between two markers and is replaced in place on every run, so evaluating twice
leaves one table, and whatever the training step or a person wrote around it is kept.
"""

from __future__ import annotations

from pathlib import Path

from domainlm.io import atomic_write

START = "<!-- domainlm:evaluation:start -->"
END = "<!-- domainlm:evaluation:end -->"


def update_model_card(model_dir: str | Path, section: str, markers: tuple[str, str] = (START, END)) -> Path:
    """Insert or replace the marked section of `model_dir/README.md` (the evaluation table by
    default; the fine-tuning table passes its own markers); returns the path."""
    path = Path(model_dir) / "README.md"
    first, last = markers
    block = f"{first}\n{section.strip()}\n{last}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = text.find(first), text.find(last)
    if start != -1 and end > start:
        new = text[:start] + block + text[end + len(last):]
    elif text.strip():
        new = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        new = f"# {Path(model_dir).resolve().name}\n\n{block}\n"
    if new != text:
        with atomic_write(path) as fh:
            fh.write(new)
    return path
