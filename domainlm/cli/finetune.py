"""`domainlm finetune` and `domainlm benchmark`: thin wrappers over `domainlm.finetune`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from domainlm.cli.common import (
    TASK_DATA_HELP,
    complete_finetune_task,
    console,
    named_paths,
    print_json,
    task_data_folder,
)
from domainlm.cli.options import set_settings, setting, validated_settings
from domainlm.cli.root import app
from domainlm.finetune.loop import FinetuneSettings
from domainlm.runtime import Precision

TASK_HELP = (
    "Task: nsmc, klue-ner, paws-x, kornli, korsts, question-pair, hate-speech, klue-nli, klue-sts, "
    "shopping-rating, or a YAML/JSON file defining one."
)


def _finetune_settings(parameters: dict) -> FinetuneSettings:
    """The command's settings (generated from FinetuneSettings' fields) as FinetuneSettings; untyped: the default."""
    from domainlm.runtime import parse_report_to

    typed = set_settings(FinetuneSettings, parameters)
    if "report_to" in typed:
        typed["report_to"] = parse_report_to(typed["report_to"])
    if "logging_dir" in typed:
        typed["logging_dir"] = str(typed["logging_dir"])
    return validated_settings(FinetuneSettings, typed, "fine-tuning")


def benchmark_table(result) -> Table:
    from domainlm.finetune.report import cell, column_title

    t = Table(title=f"fine-tuning, {len(result.seeds)} seed(s): mean ± std [95% interval], ×100", title_justify="left")
    t.add_column("model")
    for task in result.tasks:
        t.add_column(escape(column_title(task)), justify="right")
    for name in result.models:
        t.add_row(escape(name), *[cell(result.results[(name, task.name)].summary) for task in result.tasks])
    return t


def comparison_table(result) -> Table:
    from domainlm.finetune.report import signed
    from domainlm.tasks.metrics import METRIC_LABELS

    t = Table(title="paired comparison (same seeds, same test examples), ×100", title_justify="left")
    for c in ("task", "model − reference", "difference [95%]", "verdict"):
        t.add_column(c, justify="right" if c.startswith("difference") else "left")
    colours = {"better": "green", "worse": "red", "within noise": "dim"}
    for c in result.comparisons:
        t.add_row(
            escape(f"{c.task} ({METRIC_LABELS[c.metric]})"),
            escape(f"{c.model} − {c.reference}"),
            signed(c.difference),
            f"[{colours.get(c.verdict, 'default')}]{c.verdict}[/]",
        )
    return t


def _print_finetune(result, model: str, out: Path, settings, as_json: bool) -> None:
    from domainlm.finetune.report import cell

    if as_json:
        print_json(result.to_dict())
        return
    t = Table(title=f"{result.task.name} ({result.task.metric}) on {escape(model)}", title_justify="left")
    for c in ("seed", "best epoch", "dev", "test"):
        t.add_column(c, justify="right")
    for r in result.runs:
        t.add_row(str(r.seed), str(r.best_epoch), f"{100 * r.best_dev:.2f}", f"{100 * r.test_score:.2f}")
    console.print(t)
    console.print(f"mean ± std [95% interval] ×100: [bold]{cell(result.summary)}[/]")
    console.print(
        escape(
            f"splits: {result.task.split_protocol()}; {result.sizes.get('train', 0):,} train, "
            f"{result.sizes.get('dev', 0):,} dev, {result.sizes.get('test', 0):,} test examples"
        ),
        soft_wrap=True,
    )
    if result.task.note:
        console.print(f"[yellow]note:[/] {escape(result.task.note)}", soft_wrap=True)
    console.print(
        f"Wrote [bold]{escape(str(out))}[/] (finetune.json, seed-N/metrics.json, dev_curve.json, "
        f"test_predictions.tsv) in {result.seconds:.1f} s.",
        soft_wrap=True,
    )
    if settings.report_to:
        from domainlm.runtime import logging_dir_for

        console.print(
            f"Tracker logs ({', '.join(settings.report_to)}): [bold]"
            f"{escape(str(logging_dir_for(out, settings.logging_dir)))}[/] (a run per seed).",
            soft_wrap=True,
        )


@app.command("finetune")
def finetune_command(
    model: str = typer.Argument(
        ..., help="Model folder (HF save_pretrained, with its tokenizer) or a cached hub name."
    ),
    task: str = typer.Option(..., "--task", "-t", help=TASK_HELP, autocompletion=complete_finetune_task),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder (default: finetune-TASK)."),
    task_data: Path | None = typer.Option(None, "--task-data", help=TASK_DATA_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", hidden=True, help="Old name of --task-data."),
    seeds: str = typer.Option("3", "--seeds", help="Number of seeds (3: seeds 1, 2, 3) or a comma-separated list."),
    epochs: int | None = setting(FinetuneSettings, "epochs"),
    max_train: int | None = setting(FinetuneSettings, "max_train"),
    max_dev: int | None = setting(FinetuneSettings, "max_dev"),
    max_test: int | None = setting(FinetuneSettings, "max_test"),
    max_seq_len: int | None = setting(FinetuneSettings, "max_seq_len"),
    batch_size: int | None = setting(FinetuneSettings, "batch_size"),
    lr: float | None = setting(FinetuneSettings, "lr"),
    precision: Precision | None = setting(FinetuneSettings, "precision"),
    threads: int | None = setting(FinetuneSettings, "threads"),
    device: str | None = setting(FinetuneSettings, "device"),
    report_to: list[str] | None = setting(FinetuneSettings, "report_to"),
    logging_dir: Path | None = setting(FinetuneSettings, "logging_dir"),
    force: bool = typer.Option(False, "--force", help="Replace an output folder that holds other files."),
    as_json: bool = typer.Option(False, "--json", help="Print finetune.json's summary instead of a table."),
) -> None:
    """Fine-tune MODEL on one task with several seeds: epoch chosen on dev, test read once at the end."""
    from domainlm.finetune import finetune

    settings = _finetune_settings(locals())
    out = output or Path(f"finetune-{Path(task).stem if task.endswith(('.yaml', '.yml', '.json')) else task}")
    result = finetune(
        model, task, out, seeds=seeds, data_dir=task_data_folder(task_data, data_dir), settings=settings, force=force
    )
    _print_finetune(result, model, out, settings, as_json)


@app.command("benchmark")
def benchmark_command(
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="NAME=PATH of a model to fine-tune (repeatable; the first is the reference of the paired comparison).",
    ),
    tasks: str = typer.Option("all", "--tasks", help="Comma-separated tasks, YAML task files, or 'all'."),
    output: Path = typer.Option(Path("benchmark"), "--output", "-o", help="Output folder."),
    task_data: Path | None = typer.Option(None, "--task-data", help=TASK_DATA_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", hidden=True, help="Old name of --task-data."),
    seeds: str = typer.Option("3", "--seeds", help="Number of seeds (3: seeds 1, 2, 3) or a comma-separated list."),
    epochs: int | None = setting(FinetuneSettings, "epochs"),
    max_train: int | None = setting(FinetuneSettings, "max_train"),
    max_dev: int | None = setting(FinetuneSettings, "max_dev"),
    max_test: int | None = setting(FinetuneSettings, "max_test"),
    max_seq_len: int | None = setting(FinetuneSettings, "max_seq_len"),
    batch_size: int | None = setting(FinetuneSettings, "batch_size"),
    lr: float | None = setting(FinetuneSettings, "lr"),
    precision: Precision | None = setting(FinetuneSettings, "precision"),
    threads: int | None = setting(FinetuneSettings, "threads"),
    device: str | None = setting(FinetuneSettings, "device"),
    report_to: list[str] | None = setting(FinetuneSettings, "report_to"),
    logging_dir: Path | None = setting(FinetuneSettings, "logging_dir"),
    no_card: bool = typer.Option(False, "--no-card", help="Do not add the table to adapted models' README.md."),
    force: bool = typer.Option(False, "--force", help="Replace an output folder that holds other files."),
    as_json: bool = typer.Option(False, "--json", help="Print benchmark.json instead of tables."),
) -> None:
    """Fine-tune each model on each task (same seeds, same examples); print and write the seed's table."""
    from domainlm.finetune import benchmark

    models = named_paths(model, "--model")
    settings = _finetune_settings(locals())
    result = benchmark(
        models,
        tasks,
        output,
        seeds=seeds,
        data_dir=task_data_folder(task_data, data_dir),
        settings=settings,
        force=force,
        update_card=not no_card,
    )
    _print_benchmark(result, output, as_json)


def _print_benchmark(result, output: Path, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    console.print(benchmark_table(result))
    if result.comparisons:
        console.print(comparison_table(result))
    for t in result.tasks:
        if t.note:
            console.print(f"[yellow]{escape(t.name)}:[/] {escape(t.note)}", soft_wrap=True)
    console.print(
        f"Wrote [bold]{escape(str(output / 'benchmark.md'))}[/], benchmark.json, benchmark.png and runs/ "
        f"in {result.seconds / 60:.1f} min.",
        soft_wrap=True,
    )
