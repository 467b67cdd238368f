"""The adapted model's model card (README.md) after training: marked sections and hub metadata.

Sections (the evaluation table, the fine-tuning table, the lineage) live between two markers and
are replaced in place on every run, so evaluating twice leaves one table, and whatever the training
step or a person wrote around them is kept.

Results also go into the card's `model-index` as huggingface_hub `EvalResult`s, so the hub's
evaluation widget reads them, not only people. The metadata is built by huggingface_hub's own
`ModelCard` / `ModelCardData` and every card is parsed back strictly before it is written: a card
the hub's library cannot read is never written. `base_model` and `license` follow the lineage
(`lineage.py`). Paths in a card are relative to the card (the hub has no other folder).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from domainlm.errors import ModelError
from domainlm.io import atomic_write

START = "<!-- domainlm:evaluation:start -->"
END = "<!-- domainlm:evaluation:end -->"
LINEAGE_START = "<!-- domainlm:lineage:start -->"
LINEAGE_END = "<!-- domainlm:lineage:end -->"


def update_model_card(
    model_dir: str | Path, section: str, markers: tuple[str, str] = (START, END), results: Sequence = ()
) -> Path:
    """Insert or replace the marked section of `model_dir/README.md` (the evaluation table by
    default; the fine-tuning table passes its own markers) and merge `results` (EvalResults) into
    its model-index; returns the path."""
    path = Path(model_dir) / "README.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = replace_section(text, section, markers, title=Path(model_dir).resolve().name)
    if results:
        new = with_results(new, results, model_name=Path(model_dir).resolve().name, where=str(path))
    _write_if_changed(path, text, with_lineage(new, model_dir))
    return path


def replace_section(text: str, section: str, markers: tuple[str, str], title: str = "model") -> str:
    first, last = markers
    block = f"{first}\n{section.strip()}\n{last}"
    start, end = text.find(first), text.find(last)
    if start != -1 and end > start:
        return text[:start] + block + text[end + len(last) :]
    if text.strip():
        return text.rstrip("\n") + "\n\n" + block + "\n"
    return f"# {title}\n\n{block}\n"


def _write_if_changed(path: Path, old: str, new: str) -> None:
    if new != old:
        with atomic_write(path) as fh:
            fh.write(new)


def parse_card(text: str, where: str = "README.md"):
    """`text` as a huggingface_hub ModelCard; a card without front matter gets an empty one
    (huggingface_hub would log a warning for it). Front matter it cannot read is an error, not
    dropped: rewriting the card without it would lose what a person wrote there."""
    import yaml
    from huggingface_hub import ModelCard

    if not text.lstrip().startswith("---"):
        text = "---\n\n---\n" + text
    try:
        return ModelCard(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ModelError(
            f"The model card '{where}' has front matter huggingface_hub cannot read: {e}",
            "Fix the YAML between the --- lines at its top (or pass --no-card), then run again.",
        ) from None


def render(card) -> str:
    """The card as text, read back strictly by huggingface_hub; no empty front matter (`{}`)."""
    return checked(str(card) if card.data.to_dict() else card.text)


def checked(text: str) -> str:
    """`text`, once huggingface_hub has read it strictly (model-index included); else ValueError."""
    from huggingface_hub import ModelCard

    ModelCard(text)
    return text


def _identity(result) -> tuple:
    # The same measurement (task, data, metric) measured again replaces the old value; any other is kept.
    return result.unique_identifier + (result.task_name, result.metric_type)


def with_results(text: str, results: Sequence, model_name: str, where: str = "README.md") -> str:
    """The card with `results` merged into its model-index (a result measured again replaces its old value)."""
    card = parse_card(text, where)
    new = {_identity(r) for r in results}
    kept = [r for r in card.data.eval_results or [] if _identity(r) not in new]
    card.data.eval_results = kept + list(results)
    card.data.model_name = card.data.model_name or model_name
    return render(card)


# ---------------------------------------------------------------- lineage, before a push


def with_lineage(text: str, model_dir: str | Path) -> str:
    """The card with `base_model`, `license` and its lineage section as the base folders say
    (`lineage.py`); values a person set in the front matter are kept."""
    from domainlm.lineage import model_lineage

    lineage = model_lineage(model_dir)
    if lineage is None:
        return text
    text = replace_section(
        text,
        "## Lineage\n\n" + "\n".join(lineage.lines),
        (LINEAGE_START, LINEAGE_END),
        title=Path(model_dir).resolve().name,
    )
    card = parse_card(text, str(Path(model_dir) / "README.md"))
    if lineage.known:
        card.data.base_model = card.data.base_model or lineage.base_model
        card.data.license = card.data.license or lineage.license
    return render(card)


def refresh_card_metadata(model_dir: str | Path, *, model_name: str | None = None, write: bool = True) -> str:
    """The card with its lineage brought up to date and its model-index named `model_name` (the hub
    repo's name); written back when `write` and changed."""
    path = Path(model_dir) / "README.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = with_lineage(text, model_dir)
    card = parse_card(new, str(path))
    if model_name and card.data.eval_results and card.data.model_name != model_name:
        card.data.model_name = model_name
        new = render(card)
    if write:
        _write_if_changed(path, text, new)
    return new


def report_link(report_md: Path, model_dir: Path) -> str:
    """Where the report is, relative to the card (an absolute path would mean nothing on the hub)."""
    try:
        return Path(os.path.relpath(Path(report_md).resolve(), Path(model_dir).resolve())).as_posix()
    except ValueError:  # another drive (Windows): only the name means anything
        return Path(report_md).name


# ---------------------------------------------------------------- EvalResults of an evaluation report


def _number(value) -> float | None:
    value = None if value is None else float(value)
    return None if value is None or not math.isfinite(value) else round(value, 6)


def dataset_of(source: str) -> tuple[str, str]:
    """(dataset id, name shown) of a text set: an `hf:` corpus is its hub id; a local file, its name."""
    from domainlm.training.card import shown_source

    parts = [p for p in str(source).split(", ") if p]
    hub = [p[3:] for p in parts if p.startswith("hf:")]
    shown = ", ".join(shown_source(p) for p in parts) or "texts"
    return (hub[0] if len(hub) == 1 and len(parts) == 1 else shown), shown


def _before_after(
    task_type: str, task_name: str, source: str, what: str, metric: str, label: str, better: str, before, after, change
) -> list:
    """One text set's before / after / change as three metrics of one task and dataset."""
    from huggingface_hub import EvalResult

    dataset, shown = dataset_of(source)
    sign = "negative" if better == "lower" else "positive"
    values = (
        (metric, f"{label} ({better} is better)", after),
        (f"{metric}_base", f"{label} of the base model, before adaptation", before),
        (f"{metric}_change", f"{label} change, after − before ({sign} is better)", change),
    )
    return [
        EvalResult(
            task_type=task_type,
            task_name=task_name,
            dataset_type=dataset,
            dataset_name=f"{what}: {shown}",
            metric_type=kind,
            metric_name=name,
            metric_value=_number(value),
        )
        for kind, name, value in values
        if _number(value) is not None
    ]


def report_results(report) -> list:
    """EvalResults of an evaluation report: MW-BPC (or detection AUC) before / after per text set, probes."""
    from huggingface_hub import EvalResult

    what = {"domain": "held-out domain text", "general": "general text"}
    out = []
    for name, comp in report.bpc.items():
        out += _before_after(
            "fill-mask",
            f"Masked-word bits per character, {what.get(name, name)}",
            comp.source,
            what.get(name, name),
            "mw_bpc",
            "MW-BPC in bits/char",
            "lower",
            comp.before.bpc.value,
            comp.after.bpc.value,
            comp.difference.value,
        )
    for name, comp in report.detection.items():
        out += _before_after(
            "token-classification",
            f"Replaced-word detection, {what.get(name, name)}",
            comp.source,
            what.get(name, name),
            "roc_auc",
            "detection AUC",
            "higher",
            comp.before.auc.value,
            comp.after.auc.value,
            comp.difference.value,
        )
    for p in report.probes:
        for key, metric, args in (("accuracy", "accuracy", None), ("macro_f1", "f1", {"average": "macro"})):
            value = _number(p.after[key].value)
            if value is not None:
                out.append(
                    EvalResult(
                        task_type="text-classification",
                        task_name=f"{p.method} probe",
                        dataset_type=p.task,
                        dataset_name=f"{p.task} ({p.n_test} test examples)",
                        metric_type=metric,
                        metric_name=f"probe {key.replace('_', '-')}",
                        metric_value=value,
                        metric_args=args,
                    )
                )
    return out
