"""`domainlm evaluate`: before vs after on held-out domain text, general text and probes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape

from domainlm.cli.common import (
    TASK_DATA_HELP,
    complete_probe_task,
    console,
    err_console,
    print_json,
    summary_table,
    task_data_folder,
)
from domainlm.cli.options import set_settings, setting
from domainlm.cli.root import app
from domainlm.evaluation.config import EvalConfig
from domainlm.runtime import Precision


@app.command("evaluate")
def evaluate_command(
    before: str = typer.Option(..., "--before", help="Base model: HF directory (or a cached hub name)."),
    after: str = typer.Option(..., "--after", help="Adapted model directory."),
    domain: list[str] = typer.Option(
        ...,
        "--domain",
        help="Held-out category text (file, directory or glob; repeatable). "
        "Never the text the terms were mined from or trained on.",
    ),
    general: list[str] | None = typer.Option(
        None, "--general", help="General text for forgetting (e.g. general/ud_korean_sentences.txt)."
    ),
    domain_field: str | None = typer.Option(
        None, "--domain-field", help="Text column/field of the domain corpus (csv/tsv/jsonl)."
    ),
    general_field: str | None = typer.Option(None, "--general-field", help="Text column/field of the general corpus."),
    task: list[str] | None = typer.Option(
        None,
        "--task",
        help="Downstream probe: 'nsmc', 'shopping', or a .json/.yaml task file (repeatable).",
        autocompletion=complete_probe_task,
    ),
    task_data: Path | None = typer.Option(None, "--task-data", help=TASK_DATA_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", hidden=True, help="Old name of --task-data."),
    train_corpus: list[str] | None = typer.Option(
        None, "--train-corpus", help="Training text, checked for held-out texts that leaked into it."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Report directory (default: AFTER.evaluation, beside the model folder, not inside it).",
    ),
    max_texts: int | None = setting(EvalConfig, "max_texts"),
    max_train: int | None = typer.Option(
        None, "--max-train", min=10, help="Training examples per task (overrides its own budget)."
    ),
    max_test: int | None = typer.Option(
        None, "--max-test", min=10, help="Test examples per task (overrides its own budget)."
    ),
    probe: Literal["linear", "finetune"] | None = setting(EvalConfig, "probe"),
    finetune: list[str] | None = typer.Option(
        None,
        "--finetune",
        help="Fine-tuning suite task run on both models (nsmc, kornli, klue-ner, shopping-rating …, or a YAML task "
        "file; repeatable): the seed's protocol, paired before/after.",
    ),
    finetune_seeds: int = typer.Option(3, "--finetune-seeds", min=1, help="Seeds per suite task and model."),
    finetune_max_train: int | None = typer.Option(
        None, "--finetune-max-train", min=1, help="Training examples per suite task at most (a CPU budget)."
    ),
    seed: int | None = setting(EvalConfig, "seed"),
    batch_size: int | None = setting(EvalConfig, "batch_size"),
    bootstrap: int | None = setting(EvalConfig, "bootstrap"),
    device: str | None = setting(EvalConfig, "device"),
    precision: Precision | None = setting(EvalConfig, "precision"),
    no_card: bool = typer.Option(
        False, "--no-card", help="Do not add the table and results to AFTER/README.md (the model card)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace a report folder that holds other files (its content is deleted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print report.json instead of tables."),
) -> None:
    """Measure MW-BPC (domain gain, forgetting), tokenization and probes before and after; write the report.

    ELECTRA discriminators (no MLM head) are measured by replaced-word detection AUC instead of MW-BPC."""
    from domainlm.recipes.requests import evaluate_request

    def warn(message: str) -> None:
        err_console.print(f"[bold yellow]Warning:[/] [yellow]{escape(message)}[/]", soft_wrap=True)

    report = evaluate_request(
        before,
        after,
        output,
        domain=domain,
        general=general,
        domain_field=domain_field,
        general_field=general_field,
        tasks=task or [],
        data_dir=task_data_folder(task_data, data_dir),
        max_train=max_train,
        max_test=max_test,
        finetune=finetune or [],
        finetune_seeds=finetune_seeds,
        finetune_max_train=finetune_max_train,
        train_corpus=train_corpus,
        update_card=not no_card,
        on_warning=warn,
        force=force,
        **set_settings(EvalConfig, locals()),
    )
    _render(report, as_json)


def _render(report, as_json: bool) -> None:
    from domainlm.evaluation.report import headline

    if as_json:
        print_json(report.to_dict())
        return
    console.print(summary_table([r.to_dict() for r in report.rows]))
    for line in headline(report):
        console.print(escape(line), soft_wrap=True)
    if report.filled_terms:
        emitted = sum(1 for t in report.filled_terms if t["emitted_domain"])
        console.print(
            f"Filled slots ({report.filled_source}): {len(report.filled_terms):,}, "
            f"{emitted:,} emitted on the domain text."
        )
    console.print(
        f"Wrote [bold]{escape(str(report.out_dir / 'report.md'))}[/], report.json and charts "
        f"in {report.seconds.get('total', 0):.1f} s.",
        soft_wrap=True,
    )
