"""PNG charts of the report (matplotlib `Figure` objects rendered by Agg: no display, no pyplot state).

Labels are ASCII and glyph warnings silenced (`domainlm.charts`): a server often has no Hangul font.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from domainlm.charts import ascii_label, quiet_matplotlib
from domainlm.evaluation.report import Report, Row

BEFORE_COLOR = "#8c8c8c"
AFTER_COLOR = "#1f77b4"


def _interval(value: float, estimate) -> tuple[float, float]:
    """The error bar below and above `value`: none when there is no finite interval (one fine-tuning
    seed gives a mean without a spread: B12), rather than a NaN that breaks the axis limits."""
    if estimate is None or not all(math.isfinite(x) for x in (value, estimate.low, estimate.high)):
        return 0.0, 0.0
    return max(0.0, value - estimate.low), max(0.0, estimate.high - value)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "—"


def _change_panel(ax, row: Row) -> None:
    """One metric as its paired change (after − before) with the 95% interval the verdict reads.

    Two unpaired before/after bars with their own intervals can overlap while the paired difference
    is clearly away from 0 (or the reverse), so the panel draws the estimate the verdict is about;
    the two levels are written in the title.
    """
    before = row.before.value if row.before else float("nan")
    after = row.after.value if row.after else float("nan")
    change = row.change
    verdict = row.verdict
    color = {"better": "green", "worse": "red"}.get(verdict or "", "dimgray")
    ax.axhline(0, color="black", linewidth=0.8)
    if change is not None and math.isfinite(change.value):
        low, high = _interval(change.value, change)
        ax.errorbar([0], [change.value], yerr=[[low], [high]], fmt="o", color=color, capsize=8, markersize=7)
        # No change at all (an UNK rate both models share) still gets a readable scale, not ±1e-9.
        reach = abs(change.value) + max(low, high)
        if reach < 1e-12:
            reach = 0.05 * max(abs(before), abs(after), 1e-3)
        ax.set_ylim(-1.3 * reach, 1.3 * reach)
    ax.set_xlim(-1, 1)
    ax.set_xticks([])
    ax.set_ylabel("after − before", fontsize=8)
    ax.set_title(f"{ascii_label(row.metric)}\n{_fmt(before)} → {_fmt(after)} ({row.better} is better)", fontsize=8.5)
    ax.tick_params(axis="y", labelsize=8)
    if verdict:
        ax.text(0.5, 0.97, verdict, transform=ax.transAxes, ha="center", va="top", fontsize=8, color=color)


def plot_metrics(report: Report, path: Path) -> Path:
    """One panel per metric of the summary table: the paired change with its 95% interval."""
    from matplotlib.figure import Figure

    # A metric that is exactly 0 on both sides (UNK rate of a vocab that covers the text) is an empty panel.
    rows = [
        r
        for r in report.rows
        if r.before is not None
        and r.after is not None
        and not (r.before.value == r.after.value == r.before.high == r.after.high == 0)
    ]
    with quiet_matplotlib():
        cols = min(4, max(1, len(rows)))
        nrows = (len(rows) + cols - 1) // cols
        fig = Figure(figsize=(3.2 * cols, 3.2 * nrows))
        axes = fig.subplots(nrows, cols, squeeze=False)
        for ax, row in zip(axes.flat, rows):
            _change_panel(ax, row)
        for ax in list(axes.flat)[len(rows) :]:
            ax.axis("off")
        fig.suptitle("domainlm: change after adaptation (paired 95% bootstrap intervals; 0 = no change)", fontsize=11)
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
    with quiet_matplotlib():
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.subplots()
        if train:
            ax.plot(*zip(*train), color=AFTER_COLOR, linewidth=1.2, label="training loss")
        if evals:
            # Measured points only: a line through two or three held-out measurements would draw a
            # trajectory nobody measured (the ecosystem review's "2 points joined by a line").
            ax.plot(*zip(*evals), color="#d62728", marker="o", linestyle="none", markersize=6, label="held-out loss")
            for step, loss in evals:
                ax.annotate(
                    f"{loss:.3f}",
                    (step, loss),
                    textcoords="offset points",
                    xytext=(0, 7),
                    ha="center",
                    fontsize=7,
                    color="#d62728",
                )
        ax.margins(y=0.12)  # room for the held-out values written above their points
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        ax.set_title("continued pretraining")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return path
