"""`domainlm corpus stats|clean`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from domainlm.cli.common import ENCODING_HELP, FIELD_HELP, WHERE_HELP, console, err_console, kv_table, print_json, table
from domainlm.cli.options import set_settings, setting
from domainlm.cli.root import app
from domainlm.corpus.filters import FilterConfig

corpus_app = typer.Typer(
    help="Inspect and clean corpora (txt, jsonl, csv, tsv, parquet; gz/bz2/xz/zst; utf-8 or cp949).",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="corpus")


def _warn(warnings: list[str], stderr: bool = False) -> None:
    for warning in warnings:
        (err_console if stderr else console).print(
            f"[bold yellow]Warning:[/] [yellow]{escape(warning)}[/]", soft_wrap=True
        )


SPLIT_HELP = (
    "Split of a `datasets` dataset (a save_to_disk DatasetDict, or hf:NAME; hf:NAME:CONFIG:SPLIT "
    "also works anywhere a corpus goes). Default: train."
)


def _specs(paths: list[str], where: list[str], split: str | None = None):
    from domainlm.corpus import corpus_specs, parse_where

    return corpus_specs(paths, where=parse_where(where), split=split)


@corpus_app.command("stats")
def stats_command(
    paths: list[str] = typer.Argument(..., help="Corpus files, directories or globs."),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] = typer.Option([], "--where", help=WHERE_HELP),
    split: str | None = typer.Option(None, "--split", help=SPLIT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Documents, characters, eojeols, Hangul share, duplicates, length percentiles."""
    from domainlm.corpus import corpus_stats
    from domainlm.corpus.files import describe_bytes

    s = corpus_stats(_specs(paths, where, split), field=field, encoding=encoding)
    if as_json:
        print_json(s.to_dict())
        _warn(s.warnings, stderr=True)
        return
    p = s.length_percentiles
    rows = [
        ("files", s.files),
        ("megabytes", round(s.bytes / 1e6, 1)),
        ("documents", s.documents),
        ("empty documents", s.empty_documents),
        ("characters", s.characters),
        ("eojeols", s.eojeols),
        ("eojeols per document", round(s.eojeols_per_document, 2)),
        ("Hangul share", f"{s.hangul_share:.1%}"),
        ("exact duplicates", s.duplicates),
        ("length p50 / p90 / p99 / max (chars)", f"{p.get('p50')} / {p.get('p90')} / {p.get('p99')} / {p.get('max')}"),
        (f"lines skipped: over {describe_bytes(s.max_line_bytes)}", s.skipped_long_lines),
        ("seconds", round(s.seconds, 1)),
    ]
    console.print(kv_table("corpus statistics", rows))
    _warn(s.warnings)
    if s.dedupe_saturated:
        console.print("[yellow]The dedupe memory filled up; duplicates among later documents were not all counted.[/]")


@corpus_app.command("clean")
def clean_command(
    paths: list[str] = typer.Argument(..., help="Corpus files, directories or globs."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Output file (.txt one document a line, or .jsonl; .gz allowed)."
    ),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] = typer.Option([], "--where", help=WHERE_HELP),
    min_chars: int | None = setting(FilterConfig, "min_chars"),
    max_chars: int | None = setting(FilterConfig, "max_chars"),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="Keep exact duplicates."),
    mask: bool = typer.Option(True, "--mask/--no-mask", help="Mask URLs, e-mails and phone numbers."),
    heldout_fraction: float = typer.Option(
        0.0,
        "--heldout-fraction",
        min=0.0,
        max=0.5,
        help="Share of documents (by hash of id or text) written to the held-out file.",
    ),
    split: str | None = typer.Option(None, "--split", help=SPLIT_HELP),
    heldout_output: Path | None = typer.Option(
        None, "--heldout-output", help="Held-out file (default: heldout.<OUTPUT name>)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace output files that `corpus clean` did not write."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Normalise, filter, dedupe (and split off a held-out set); write atomically."""
    from domainlm.corpus import NormalizeConfig, clean_corpus
    from domainlm.corpus.files import MAX_LINE_BYTES, describe_bytes

    report = clean_corpus(
        _specs(paths, where, split),
        output,
        field=field,
        encoding=encoding,
        normalize=NormalizeConfig(mask_urls=mask, mask_emails=mask, mask_phones=mask),
        filters=FilterConfig(**set_settings(FilterConfig, locals()), dedupe=not no_dedupe),
        heldout_fraction=heldout_fraction,
        heldout_output=heldout_output,
        force=force,
    )
    if as_json:
        print_json(report.to_dict())
        _warn(report.warnings, stderr=True)
        return
    rows = []
    if report.skipped_long_lines:
        rows.append(
            (f"lines skipped: over {describe_bytes(MAX_LINE_BYTES)} (not documents)", report.skipped_long_lines)
        )
    rows += [("read", report.read)] + [(f"removed: {k}", v) for k, v in report.removed.items()]
    rows += [("written", report.written)]
    if report.heldout_output:
        rows.append(("held out", report.heldout))
    console.print(table("corpus clean", ["", "documents"], rows))
    _warn(report.warnings)
    console.print(
        f"Wrote [bold]{report.output}[/]" + (f" and [bold]{report.heldout_output}[/]" if report.heldout_output else "")
    )
