"""PNG charts of the report (matplotlib `Figure` objects rendered by Agg: no display, no pyplot state).

Labels are ASCII on purpose: a CI machine or a server often has no font with Hangul glyphs, and
matplotlib would then draw empty boxes and emit one warning per missing glyph. Task names that are
not ASCII are transliterated to a safe label, and glyph warnings are silenced as a second guard.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

from domainlm.evaluation.report import Report, Row

BEFORE_COLOR = "#8c8c8c"
AFTER_COLOR = "#1f77b4"


@contextmanager
def _quiet_matplotlib():
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


def _interval(value: float, estimate) -> tuple[float, float]:
    """The error bar below and above `value`: none when there is no finite interval (one fine-tuning
    seed gives a mean without a spread: B12), rather than a NaN that breaks the axis limits."""
    if estimate is None or not all(math.isfinite(x) for x in (value, estimate.low, estimate.high)):
        return 0.0, 0.0
    return max(0.0, value - estimate.low), max(0.0, estimate.high - value)


def _bar_panel(ax, row: Row) -> None:
    values = [row.before.value if row.before else float("nan"), row.after.value if row.after else float("nan")]
    bars = [_interval(v, e) for v, e in zip(values, (row.before, row.after))]
    lows, highs = [b[0] for b in bars], [b[1] for b in bars]
    ax.bar([0, 1], values, color=[BEFORE_COLOR, AFTER_COLOR], yerr=[lows, highs], capsize=6, width=0.6)
    ax.set_xticks([0, 1], ["before", "after"])
    title = ascii_label(row.metric)
    ax.set_title(title + f"\n({row.better} is better)", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    verdict = row.verdict
    if verdict:
        ax.text(
            0.5,
            0.97,
            verdict,
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=8,
            color={"better": "green", "worse": "red"}.get(verdict, "dimgray"),
        )
    if row.unit == "AUC":
        # An AUC reads against chance (0.5) and its ceiling (1), not against the taller bar.
        ax.axhline(0.5, color="dimgray", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1.1)
        return
    finite = [v + h for v, h in zip(values, highs) if math.isfinite(v + h)]
    if finite:
        ax.set_ylim(min(0.0, *finite) * 1.2, max(0.0, *finite) * 1.2 or 1)


def plot_metrics(report: Report, path: Path) -> Path:
    """Before/after bars with 95% intervals, one panel per metric of the summary table."""
    from matplotlib.figure import Figure

    # A metric that is exactly 0 on both sides (UNK rate of a vocab that covers the text) is an empty panel.
    rows = [
        r
        for r in report.rows
        if r.before is not None
        and r.after is not None
        and not (r.before.value == r.after.value == r.before.high == r.after.high == 0)
    ]
    with _quiet_matplotlib():
        cols = min(4, max(1, len(rows)))
        nrows = (len(rows) + cols - 1) // cols
        fig = Figure(figsize=(3.2 * cols, 3.2 * nrows))
        axes = fig.subplots(nrows, cols, squeeze=False)
        for ax, row in zip(axes.flat, rows):
            _bar_panel(ax, row)
        for ax in list(axes.flat)[len(rows) :]:
            ax.axis("off")
        fig.suptitle("domainlm: before vs after (95% bootstrap intervals)", fontsize=11)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return path


def read_metrics_log(model_dir: str | Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(training loss points, eval loss points) from a training run's metrics.jsonl; empty if absent."""
    path = Path(model_dir) / "metrics.jsonl"
    train: list[tuple[int, float]] = []
    evals: list[tuple[int, float]] = []
    if not path.exists():
        return train, evals
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted run
            if not isinstance(rec, dict) or "step" not in rec:
                continue
            if rec.get("eval_loss") is not None:
                evals.append((int(rec["step"]), float(rec["eval_loss"])))
            elif rec.get("loss") is not None:
                train.append((int(rec["step"]), float(rec["loss"])))
    return train, evals


def plot_loss_curve(model_dir: str | Path, path: Path, ylabel: str = "MLM loss (nats per masked token)") -> Path | None:
    """Training (and held-out) loss by step, or None when the model has no metrics log."""
    from matplotlib.figure import Figure

    train, evals = read_metrics_log(model_dir)
    if not train and not evals:
        return None
    with _quiet_matplotlib():
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.subplots()
        if train:
            ax.plot(*zip(*train), color=AFTER_COLOR, linewidth=1.2, label="training loss")
        if evals:
            ax.plot(*zip(*evals), color="#d62728", marker="o", linewidth=1.2, label="held-out loss")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        ax.set_title("continued pretraining")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return path
