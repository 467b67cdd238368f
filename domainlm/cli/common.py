"""Shared rendering helpers of the CLI: consoles, tables, JSON output, and the renderers several
commands use (the before/after summary, a recipe, a recipe run's stages and result)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domainlm.runtime import is_main_process

# Help texts of the corpus options every command shares.
FIELD_HELP = "Column (csv/tsv/parquet) or field (jsonl) holding the text."
ENCODING_HELP = "Text encoding (default: detect utf-8 / utf-8-sig / cp949)."
WHERE_HELP = "Keep only rows whose COLUMN equals VALUE (e.g. split=test; a,b for either). Repeatable."
PUSH_HELP = (
    "Push the finished model to this Hugging Face Hub repo (created if missing), as `domainlm push` does; "
    "the login is checked before any work."
)

# Two folders, two names: --data-dir is the root of a recipe's relative corpus paths (mine-terms, adapt, recipe);
# --task-data is the folder of the shared data the built-in fine-tuning and probe tasks read.
TASK_DATA_HELP = "Folder of the shared data the built-in tasks read (default: $DOMAINLM_SHARED_DATA or ../shared/data)."


def task_data_folder(task_data, old_data_dir):
    """--task-data, or the old name (--data-dir, kept hidden for scripts written before the rename), with a note."""
    if old_data_dir is not None:
        import warnings

        from domainlm.errors import DomainLMWarning

        warnings.warn(
            "--data-dir is now --task-data on evaluate, finetune and benchmark (--data-dir names a recipe's data "
            "root on mine-terms, adapt and recipe).",
            DomainLMWarning,
            stacklevel=2,
        )
    return task_data if task_data is not None else old_data_dir


# Under torchrun every process runs the whole command: only rank 0 prints (two --json documents on
# one stdout do not parse, and each message would show once per process).
_OTHER_RANK = not is_main_process()
console = Console(quiet=_OTHER_RANK)
err_console = Console(stderr=True, quiet=_OTHER_RANK)


def named_paths(items: Sequence[str], option: str, *, bare: bool = False) -> dict[str, str]:
    """The one NAME=PATH parser: `--model base=out/base` → {"base": "out/base"}.

    With `bare`, a plain PATH is accepted too (an existing path containing "=" is a path) and named after its
    folder; two such names that collide become NAME#2, NAME#3. A NAME given twice is refused: the person meant
    two different things and only they know which name goes with which.
    """
    from domainlm.errors import ConfigError

    named: dict[str, str] = {}
    for item in items:
        name, sep, path = (part.strip() for part in item.partition("="))
        derived = bare and (not sep or (item.strip() and Path(item).exists()))
        if derived:
            name, path = Path(item.rstrip("/")).name or item, item
        if not path.strip() or (not derived and (not sep or not name)):
            example = f"{option} PATH or {option} NAME=PATH" if bare else f"{option} NAME=PATH"
            raise ConfigError(
                f"{option} '{item}' is not NAME=PATH."
                if not bare
                else f"{option} '{item}' is an empty spec: it names no path.",
                f"Write {example}, e.g. {option} base=out/base {option} adapted=out/adapted.",
            )
        if name in named and not derived:
            raise ConfigError(f"The name '{name}' is given twice in {option}.", f"Give each {option} its own NAME.")
        first, k = name, 2
        while name in named:
            name, k = f"{first}#{k}", k + 1
        named[name] = path
    return named


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no rich markup), for machines; rank 0 only."""
    if not _OTHER_RANK:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def kv_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, fmt(value))
    return table


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], justify_numbers: bool = True) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*[fmt(v) for v in row])
    return t


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if value is None:
        return "—"
    return str(value)


def summary_table(rows: list[dict], title: str = "before vs after (95% intervals)") -> Table:
    """The before/after table from report.json's `summary` rows (also what `recipe run` and `demo` show)."""
    from domainlm.evaluation.report import fmt_number

    def interval(d: dict | None, signed: bool = False) -> str:
        if not d:
            return "—"
        sign = "+" if signed and d["value"] > 0 else ""
        return f"{sign}{fmt_number(d['value'])} [{fmt_number(d['low'])}, {fmt_number(d['high'])}]"

    t = Table(title=title, title_justify="left")
    for c in ("metric", "before", "after", "change", "n", "verdict"):
        t.add_column(c, justify="left" if c in ("metric", "verdict") else "right")
    colours = {"better": "green", "worse": "red", "within noise": "dim"}
    for r in rows:
        verdict = r.get("verdict") or ""
        t.add_row(
            escape(r["metric"]),
            interval(r["before"]),
            interval(r["after"]),
            interval(r["change"], signed=True),
            f"{r['n']:,}",
            f"[{colours.get(verdict, 'default')}]{verdict}[/]" if verdict else "",
        )
    return t


def print_recipe(recipe, title: str = "Resolved recipe") -> None:
    from rich.syntax import Syntax

    from domainlm.recipes import dump_recipe

    console.print(f"[bold]{title}[/] [dim]{recipe.name} ({recipe.category}), data root {recipe.data_root}[/]")
    console.print(Syntax(dump_recipe(recipe), "yaml", theme="ansi_dark", background_color="default", word_wrap=True))


def recipe_summary(recipe) -> str:
    """One line for a recipe about to run (the demo): the whole resolved recipe is saved with the run."""
    t = recipe.train
    slots = recipe.vocab.slots
    return (
        f"Recipe {recipe.name} ({recipe.category}): base {recipe.base}; {slots} slots; "
        f"{t.mode} training, {t.max_steps:,} steps × {t.batch_size} × {t.seq_len} tokens; data root "
        f"{recipe.data_root}. Every resolved value is saved as recipe.resolved.yaml in the run folder."
    )


def stage_printer():
    """on_stage callback printing one line per stage event."""
    icons = {"start": "[blue]▶[/]", "resume": "[yellow]↻[/]", "skip": "[dim]⏭[/]", "done": "[green]✓[/]"}

    def on_stage(name: str, event: str, info: dict) -> None:
        if event == "skip":
            console.print(f"{icons[event]} {name}: unchanged, skipped")
        elif event == "done":
            details = ", ".join(
                f"{k} {round(v, 4) if isinstance(v, float) else v}"
                for k, v in info.items()
                if k not in ("out_dir", "report", "base_vocab_sha256")
                and v is not None
                and not isinstance(v, (dict, list))
            )
            console.print(f"{icons[event]} {name} done" + (f" ({details})" if details else ""))
            for message in (info.get("slot_plan") or {}).get("messages", []):  # the fill stage's --slots plan
                console.print(f"  [yellow]{message}[/]" if message.startswith("warning") else f"  {message}")
        else:
            console.print(
                f"{icons[event]} {name}: {'resuming from the last checkpoint' if event == 'resume' else 'running'}…"
            )

    return on_stage


def print_run_result(result) -> None:
    console.print(
        table("stages", ["stage", "status", "seconds"], [(s.name, s.status, s.seconds) for s in result.stages])
    )
    report = result.report
    if report is not None and report.get("summary"):
        console.print(summary_table(report["summary"], title="before → after (95% intervals)"))
    if result.report_md is not None:
        console.print(f"Report: [bold]{result.report_md}[/]")
    console.print(f"Run folder: [bold]{result.out_dir}[/] ({result.seconds:.0f} s)")


def complete_finetune_task(incomplete: str) -> list[str]:
    """Shell completion of --task: the built-in fine-tuning tasks (a YAML path completes as a file)."""
    from domainlm.tasks import known_tasks

    return [name for name in known_tasks() if name.startswith(incomplete)]


def complete_probe_task(incomplete: str) -> list[str]:
    """Shell completion of evaluate's --task: its probe presets."""
    from domainlm.tasks.probe import PRESETS

    return [name for name in PRESETS if name.startswith(incomplete)]
