"""`domainlm mine-terms`: which words does a category need in its vocabulary?"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape
from rich.table import Table

from domainlm.cli.common import console, fmt, print_json
from domainlm.cli.options import setting, typed_settings
from domainlm.cli.root import app
from domainlm.mining.config import MineConfig


def _terms_table(terms, total: int, category: str | None) -> Table:
    title = f"top {len(terms)} of {total:,} terms" + (f" — {category}" if category else "")
    t = Table(title=title, title_justify="left")
    # Widths in cells (a Hangul syllable takes two): the example column gives way on narrow terminals.
    columns: tuple[tuple[str, Literal["left", "right"], int], ...] = (
        ("term", "left", 10),
        ("kind", "left", 4),
        ("saved", "right", 6),
        ("count", "right", 6),
        ("ref", "right", 5),
        ("z", "right", 5),
        ("base pieces", "left", 11),
    )
    for name, justify, width in columns:
        t.add_column(name, justify=justify, no_wrap=True, min_width=width)
    t.add_column("example", no_wrap=True, overflow="ellipsis", min_width=0, max_width=40)
    for term in terms:
        t.add_row(
            term.term,
            "cont" if term.kind == "continuation" else term.kind,
            fmt(term.tokens_saved),
            fmt(term.category_count),
            fmt(term.reference_count),
            f"{term.specificity_z:.1f}",
            " ".join(term.base_pieces),
            term.example,
        )
    return t


@app.command("mine-terms")
def mine_terms_command(
    category: str | None = typer.Option(
        None,
        "--category",
        "-c",
        help="Category (Korean name, alias or recipe file): its recipe names the corpora, base and slot budget.",
    ),
    corpus: list[str] = typer.Option(
        [], "--corpus", help="Category corpus (file, directory, glob; repeatable). Overrides the recipe's."
    ),
    reference: list[str] = typer.Option(
        [], "--reference", help="General-domain reference corpus (repeatable). Overrides the recipe's."
    ),
    base: str | None = typer.Option(
        None, "--base", help="Base tokenizer: hub id, tokenizer directory, tokenizer.json or vocab.txt."
    ),
    slots: int | None = setting(MineConfig, "slots", recipe=True),
    field: str | None = typer.Option(
        None, "--field", help="Column / field holding the text in --corpus and --reference files."
    ),
    where: list[str] = typer.Option(
        [], "--where", help="Keep only --corpus rows with COLUMN=VALUE (repeatable), e.g. split=train."
    ),
    min_count: int | None = setting(MineConfig, "min_count", recipe=True),
    specificity_weight: float | None = setting(MineConfig, "specificity_weight", recipe=True),
    extractor: Literal["wordpiece", "kiwi"] | None = setting(MineConfig, "extractor", recipe=True),
    workers: int | None = setting(MineConfig, "workers", recipe=True),
    max_documents: int | None = setting(MineConfig, "max_documents", recipe=True),
    engine: Literal["local", "ray"] | None = setting(MineConfig, "engine", recipe=True),
    ray_address: str | None = setting(MineConfig, "ray_address", recipe=True),
    force: bool = typer.Option(
        False, "--force", help="Replace an output folder that holds files mine-terms did not write."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Root that a recipe's relative corpus paths resolve against (default: DOMAINLM_DATA)."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Output directory for terms.tsv, terms.json, mining.json (default: mined/<category>).",
    ),
    top: int = typer.Option(30, "--top", min=0, help="Rows of the terms table."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and terms as JSON."),
) -> None:
    """Mine category terms: count candidates, score specificity and tokens saved, select a slot budget."""
    from domainlm.corpus import parse_where
    from domainlm.recipes.requests import mine_request

    request = mine_request(
        category=category,
        corpus=corpus,
        reference=reference,
        base=base,
        field=field,
        where=parse_where(where),
        output=output,
        data_dir=data_dir,
        **typed_settings(MineConfig, locals()),
    )
    result = request.run(force=force)
    if as_json:
        print_json({"stats": result.stats, "terms": [t.to_dict() for t in result.terms[:top] if top]})
    else:
        _render_mining(result, request.category, top)


def _render_mining(result, category: str | None, top: int) -> None:
    """The terms table, what was selected from how much text, and the next command."""
    s = result.stats
    console.print(_terms_table(result.terms[:top], len(result.terms), category))
    console.print(
        f"Selected [bold]{len(result.terms):,}[/] of {s['slots']:,} slots from {s['candidates']:,} candidates; "
        f"estimated compression gain on the mined text [bold]{result.estimated_gain:.1%}[/] "
        f"({s['tokens_before']:,} → {s['tokens_after']:,} tokens). "
        f"{s['category_bytes'] / 1e6:,.1f} MB of category text in {s['seconds']['total']:.1f} s"
        + (" (reference counts from the cache)." if s["seconds"]["reference_cached"] else ".")
    )
    assert result.out_dir is not None  # the command always writes its output folder
    terms_path = escape(str(result.out_dir / "terms.tsv"))
    console.print(
        f"Wrote [bold]{terms_path}[/], terms.json and mining.json. Next: "
        f"`domainlm vocab fill {escape(str(s['base']))} {terms_path} -o filled-tokenizer`"
    )
