"""benchmark.md, benchmark.png and the model-card section of the fine-tuning table.

Scores are shown ×100 (as the seed's table: NSMC 90.83, KorSTS 82.27), as mean ± standard deviation
over seeds with the 95% interval of the mean; JSON keeps the raw fractions.
"""

from __future__ import annotations

import math
from pathlib import Path

from domainlm.errors import ModelError
from domainlm.tasks.metrics import METRIC_LABELS, METRICS

# The markers of the fine-tuning table's section in a model card.
CARD_START = "<!-- domainlm:finetune:start -->"
CARD_END = "<!-- domainlm:finetune:end -->"


def pct(value) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def cell(summary: dict, with_interval: bool = True) -> str:
    """`90.83 ± 0.21 [90.31, 91.35]` (one seed: just the score)."""
    if not summary or summary.get("n", 0) == 0:
        return "—"
    text = pct(summary["mean"])
    if summary["n"] > 1:
        text += f" ± {pct(summary['std'])}"
        if with_interval:
            text += f" [{pct(summary['low'])}, {pct(summary['high'])}]"
    return text


def signed(diff: dict) -> str:
    v = diff.get("value")
    if v is None or not math.isfinite(v):
        return "—"
    return f"{100 * v:+.2f} [{100 * diff['low']:+.2f}, {100 * diff['high']:+.2f}]"


def column_title(task) -> str:
    return f"{task.name} ({METRIC_LABELS[task.metric]})"


def table_rows(result) -> list[list[str]]:
    """Rows = models, columns = tasks."""
    rows = []
    for name in result.models:
        rows.append([name] + [cell(result.results[(name, t.name)].summary) for t in result.tasks])
    return rows


def benchmark_markdown(result) -> str:
    tasks = result.tasks
    lines = [
        "# Fine-tuning benchmark",
        "",
        f"Seeds {', '.join(map(str, result.seeds))}; mean ± standard deviation over seeds [95% interval of the "
        "mean], scores ×100. Checkpoints (epochs) chosen on dev only; each test set read once, at the end.",
        "",
        "| model | " + " | ".join(column_title(t) for t in tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for row in table_rows(result):
        lines.append("| " + " | ".join(row) + " |")
    if result.comparisons:
        lines += [
            "",
            "## Paired comparison",
            "",
            "Difference of the mean over seeds (model − reference) ×100, 95% interval from a bootstrap over the "
            "same seeds and the same test examples.",
            "",
            "| task | reference | model | difference | verdict |",
            "|---|---|---|---:|---|",
        ]
        for c in result.comparisons:
            lines.append(
                f"| {c.task} ({METRIC_LABELS[c.metric]}) | {c.reference} | {c.model} | {signed(c.difference)} "
                f"| {c.verdict} |"
            )
    lines += ["", "## Protocol", "", "| task | train / dev / test examples | splits | settings |", "|---|---|---|---|"]
    first = next(iter(result.models))
    for t in tasks:
        r = result.results[(first, t.name)]
        s = r.settings
        sizes = f"{r.sizes.get('train', 0):,} / {r.sizes.get('dev', 0):,} / {r.sizes.get('test', 0):,}"
        lines.append(
            f"| {t.name} | {sizes} | {t.split_protocol()} | {s['epochs']} epochs, batch {s['batch_size']}, "
            f"lr {s['lr']:g}, max {s['max_seq_len']} tokens |"
        )
    notes = [(t.name, t.note) for t in tasks if t.note]
    if notes:
        lines += ["", "Notes:", ""] + [f"- **{n}**: {text}" for n, text in notes]
    model_notes = sorted({(name, n) for (name, _), r in result.results.items() for n in r.to_dict()["notes"]})
    lines += [f"- **{name}**: {n}" for name, n in model_notes]
    lines += [
        "",
        "Models: " + ", ".join(f"`{k}` = `{v}`" for k, v in result.models.items()),
        f"Total time {result.seconds / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def plot_benchmark(result, path: Path) -> Path:
    """Grouped bars: one group per task, one bar per model, error bars = 95% interval over seeds."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from domainlm.charts import ascii_label, quiet_matplotlib

    tasks, names = result.tasks, list(result.models)
    width = 0.8 / max(len(names), 1)
    fig = Figure(figsize=(max(6.0, 1.2 * len(tasks) + 2), 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(tasks))
    with quiet_matplotlib():
        for m, name in enumerate(names):
            means, lo, hi = [], [], []
            for t in tasks:
                s = result.results[(name, t.name)].summary
                v = 100 * s["mean"] if s["n"] and math.isfinite(s["mean"]) else float("nan")
                means.append(v)
                ok = s["n"] > 1 and math.isfinite(s["low"])
                lo.append(v - 100 * s["low"] if ok else 0.0)
                hi.append(100 * s["high"] - v if ok else 0.0)
            ax.bar(
                x + (m - (len(names) - 1) / 2) * width, means, width, yerr=[lo, hi], capsize=3, label=ascii_label(name)
            )
        ax.set_xticks(x, [ascii_label(f"{t.name}\n({METRIC_LABELS[t.metric]})") for t in tasks], fontsize=8)
        ax.set_ylabel("score x100 (mean over seeds, 95% interval)", fontsize=8)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.legend(fontsize=8)
        ax.set_title(f"Fine-tuning benchmark ({len(result.seeds)} seed(s))", fontsize=10)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
    return path


def card_section(result, model: str) -> str:
    tasks = result.tasks
    lines = [
        "## Fine-tuning benchmark",
        "",
        f"`domainlm benchmark`, seeds {', '.join(map(str, result.seeds))}; mean ± std over seeds [95% interval], "
        "×100; checkpoints chosen on dev, test read once.",
        "",
        "| model | " + " | ".join(column_title(t) for t in tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for row in table_rows(result):
        lines.append("| " + " | ".join(row) + " |")
    mine = [c for c in result.comparisons if c.model == model]
    if mine:
        lines += [
            "",
            f"Paired with `{mine[0].reference}`: "
            + "; ".join(f"{c.task} {signed(c.difference)} ({c.verdict})" for c in mine)
            + ".",
        ]
    return "\n".join(lines)


# Built-in tasks whose data is on the Hub under this id (and config): the model-index names it, so the
# hub links the score to the dataset. Other tasks are named by their task name.
HUB_DATASETS = {
    "nsmc": ("e9t/nsmc", None),
    "klue-nli": ("klue/klue", "nli"),
    "klue-sts": ("klue/klue", "sts"),
    "klue-ner": ("klue/klue", "ner"),
    "paws-x": ("google-research-datasets/paws-x", "ko"),
}


def card_results(result, model: str) -> list:
    """The model-index entries (huggingface_hub EvalResults) of `model`'s fine-tuning scores: task,
    metric and dataset of each task, the mean over seeds as a fraction."""
    from huggingface_hub import EvalResult

    out = []
    for task in result.tasks:
        run = result.results.get((model, task.name))
        summary = run.summary if run is not None else {}
        if not summary.get("n") or not math.isfinite(summary["mean"]):
            continue
        dataset, config = HUB_DATASETS.get(task.name, (task.name, None))
        metric, args = METRICS[task.metric].hub
        out.append(
            EvalResult(
                task_type=task.kind.hub_task_type,
                task_name=f"{task.name} fine-tuning",
                dataset_type=dataset,
                dataset_config=config,
                dataset_name=task.source or task.name,
                metric_type=metric,
                metric_args=args,
                metric_value=round(float(summary["mean"]), 6),
                metric_name=f"{METRIC_LABELS[task.metric]}, mean of {summary['n']} seed(s)",
            )
        )
    return out


def update_cards(result) -> list[Path]:
    """Put the table (and the model-index entries) into the model card of each adapted model (a local
    folder with slots.json)."""
    from domainlm.card import update_model_card

    written = []
    for name, path in result.models.items():
        folder = Path(path).expanduser()
        if not (folder.is_dir() and (folder / "slots.json").is_file()):
            continue
        try:
            written.append(
                update_model_card(
                    folder,
                    card_section(result, name),
                    markers=(CARD_START, CARD_END),
                    results=card_results(result, name),
                )
            )
        except (OSError, ModelError):
            continue  # a read-only folder, or a card with unreadable front matter, keeps its card (benchmark.md has it)
    return written
