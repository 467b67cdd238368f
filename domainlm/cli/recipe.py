"""`domainlm recipe list|show|validate|new|run|export|import|diff` and `domainlm split-categories`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from domainlm.cli.common import PUSH_HELP, console, print_json, print_recipe, print_run_result, stage_printer, table
from domainlm.cli.root import app

recipe_app = typer.Typer(
    help="Domain recipes: one YAML per category naming every input and setting.", no_args_is_help=True
)
app.add_typer(recipe_app, name="recipe")

NAME_HELP = "Category (화장품 or cosmetics), recipe name, or a recipe .yaml file."
SET_HELP = "Override a setting: --set train.max_steps=200 (repeatable; values are YAML scalars)."
DATA_HELP = "Data root that relative corpus paths resolve against (default: $DOMAINLM_DATA, else the current folder)."


def _load(name: str, overrides: list[str] | None, data_dir: Path | None):
    from domainlm.recipes import load_recipe

    return load_recipe(name, overrides or (), data_dir=data_dir)


@recipe_app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The recipes found (DOMAINLM_RECIPES folders, then the shipped ones)."""
    from domainlm.recipes import list_recipes

    entries = list_recipes()
    if as_json:
        print_json(
            [
                {
                    "name": e.name,
                    "category": e.category,
                    "aliases": list(e.aliases),
                    "description": e.description,
                    "path": str(e.path),
                }
                for e in entries
            ]
        )
        return
    t = Table(title="recipes", title_justify="left")
    t.add_column("category", no_wrap=True)
    t.add_column("name", no_wrap=True)
    t.add_column("aliases")
    t.add_column("description", ratio=1)  # takes the width left; rich wraps it between words
    for e in entries:
        # The name is its own column; the aliases column lists only the other names.
        t.add_row(
            escape(e.category),
            escape(e.name),
            escape(", ".join(a for a in e.aliases if a != e.name)),
            escape(short_description(e.description)),
        )
    console.print(t)
    console.print("[dim]Full descriptions: --json; a whole recipe: domainlm recipe show NAME[/]")


def short_description(text: str, width: int = 90) -> str:
    """The first sentence of a description, cut between words (never inside one) to at most `width` characters."""
    import re
    import textwrap

    text = " ".join(text.split())
    first = re.split(r"(?<=[.:;])\s", text, maxsplit=1)[0].rstrip(".:;")
    return textwrap.shorten(first, width=width, placeholder=" …") if first else ""


@recipe_app.command("show")
def show_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    portable: bool = typer.Option(False, "--portable", help="Show paths as written (relative), not resolved."),
) -> None:
    """Print a recipe with every default filled in (and overrides applied)."""
    from domainlm.recipes import dump_recipe

    recipe = _load(name, overrides, data_dir)
    if portable:
        print(dump_recipe(recipe, portable=True), end="")
    else:
        print(dump_recipe(recipe), end="")


@recipe_app.command("validate")
def validate_command(
    names: list[str] = typer.Argument(..., help="Recipes (categories or .yaml files) to check."),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    check_data: bool = typer.Option(
        False, "--check-data", help="Also check that every corpus path exists under the data root."
    ),
) -> None:
    """Check recipes against the schema; every problem is listed with its key path."""
    from domainlm.recipes.load import validate_recipe

    for name in names:
        recipe = validate_recipe(name, overrides or (), data_dir=data_dir, check_data=check_data)
        console.print(
            f"[green]✓[/] {name}: valid ({recipe.category}, {recipe.vocab.slots:,} slots, base {recipe.base})"
        )


@recipe_app.command("new")
def new_command(
    name: str = typer.Argument(..., help="Short ASCII name of the new recipe (e.g. furniture)."),
    from_: str = typer.Option(..., "--from", help="Recipe to start from (category, name or file)."),
    category: str | None = typer.Option(None, "--category", help="Category name, e.g. 가구 (default: NAME)."),
    aliases: list[str] | None = typer.Option(None, "--alias", help="Another accepted name (repeatable)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File or folder to write (default: ./NAME.yaml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Start a recipe for a new category from an existing one."""
    from domainlm.recipes import new_recipe

    path = new_recipe(name, from_recipe=from_, category=category, aliases=aliases or (), out=output, force=force)
    console.print(
        f"Wrote [bold]{path}[/]. Edit its data and routing keywords, then: "
        f"domainlm recipe validate {path} && domainlm recipe run {path}"
    )


@recipe_app.command("run")
def run_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Run folder (default: runs/<name>)."),
    until: str | None = typer.Option(
        None, "--until", help="Stop after this stage: prepare, mine, fill, adapt or evaluate."
    ),
    force: list[str] | None = typer.Option(
        None,
        "--force",
        help="Rerun this stage even if unchanged (repeatable; 'all' for every stage, which also runs into a folder "
        "that is not a run folder).",
    ),
    no_resume: bool = typer.Option(
        False, "--no-resume", help="Restart an interrupted adapt from scratch instead of its last checkpoint."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the resolved recipe."),
    push_to_hub: str | None = typer.Option(None, "--push-to-hub", help=PUSH_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout (progress goes to stderr)."),
) -> None:
    """Run mine → fill → adapt → evaluate, skipping stages whose inputs have not changed."""
    from domainlm.pipeline import run_recipe

    recipe = _load(name, overrides, data_dir)
    if push_to_hub:
        _check_push(push_to_hub, until)
    if not quiet and not as_json:
        print_recipe(recipe)
    forced = True if force and "all" in force else (force or ())
    result = run_recipe(
        recipe, output, until=until, force=forced, resume=not no_resume, on_stage=None if as_json else stage_printer()
    )
    if as_json:
        print_json(result.to_dict())
    else:
        print_run_result(result)
    if push_to_hub:
        from domainlm.cli.hub import push_finished
        from domainlm.pipeline.layout import RunLayout

        push_finished(RunLayout(result.out_dir).model, push_to_hub)


def _check_push(repo_id: str, until: str | None) -> None:
    """--push-to-hub needs the adapted model, and a login: both said before any stage runs."""
    from domainlm.errors import ConfigError
    from domainlm.hub import check_can_push

    if until in ("prepare", "mine", "fill"):
        raise ConfigError(
            f"--push-to-hub needs the adapted model, but --until {until} stops before the adapt stage.",
            "Drop --until (or use --until adapt), or push later with: domainlm push RUN/model REPO_ID.",
        )
    check_can_push(repo_id)


@recipe_app.command("export")
def export_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    run_dir: Path | None = typer.Option(
        None, "--run-dir", help="Folder of a finished `recipe run` (default: runs/<name>)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Archive to write (default: <name>.domainlm.tar.gz)."
    ),
    include_model: bool = typer.Option(False, "--include-model", help="Also pack the adapted model (large)."),
    overrides: list[str] | None = typer.Option(
        None,
        "--set",
        help="Override a setting (only for runs of older "
        "versions: a run records the settings it was made with, and those are exported).",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing file that is not a domainlm bundle."),
) -> None:
    """Pack recipe (as run), terms, slots manifest, report and sha256 checksums into one .tar.gz."""
    from domainlm.pipeline import default_run_dir, export_bundle

    recipe = _load(name, overrides, data_dir)
    path = export_bundle(recipe, run_dir or default_run_dir(recipe), output, include_model=include_model, force=force)
    console.print(
        f"Wrote [bold]{path}[/] ({path.stat().st_size / 1e6:.2f} MB). Import with: domainlm recipe import {path}"
    )


@recipe_app.command("import")
def import_command(
    archive: Path = typer.Argument(..., help="A bundle written by `domainlm recipe export`."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder to unpack into (default: ./<name>, in the current folder)."
    ),
    base: str | None = typer.Option(
        None, "--base", help="Base model/tokenizer the bundle must match (default: the bundle's own base)."
    ),
    no_check_base: bool = typer.Option(
        False, "--no-check-base", help="Skip the base vocabulary check (checksums are always verified)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace the folder named with -o when it holds other files (its content is deleted); needs -o.",
    ),
) -> None:
    """Verify a bundle's checksums and base vocabulary, then unpack it.

    A bundle is integrity-checked, not authenticated: its checksums are written by whoever made it,
    so they prove it is intact, not who made it. Import bundles from people you trust.
    """
    from domainlm.pipeline import import_bundle

    result = import_bundle(archive, output, base=base, check_base=not no_check_base, force=force)
    m = result.manifest
    console.print(
        f"[green]✓[/] {len(result.files)} files verified (sha256)"
        + (f", base vocabulary matches {result.base}" if result.base_checked else ", base vocabulary NOT checked")
    )
    console.print(
        "[dim]The checksums are the bundle's own: they show it is intact, not who made it "
        "(integrity-checked, not authenticated).[/]"
    )
    console.print(
        f"Imported '{m['name']}' ({m['category']}) into [bold]{result.out_dir}[/]. "
        f"Its terms: {result.out_dir / 'terms.tsv'}; re-run it with: domainlm recipe run "
        f"{result.out_dir / 'recipe.yaml'}"
    )


@recipe_app.command("diff")
def diff_command(
    first: str = typer.Argument(..., help="First recipe (category, name or file)."),
    second: str = typer.Argument(..., help="Second recipe."),
    overrides: list[str] | None = typer.Option(
        None, "--set", help="Override applied to the SECOND recipe (see what a change does)."
    ),
) -> None:
    """Every setting that differs between two recipes, defaults included."""
    from domainlm.recipes import diff_recipes, load_recipe

    diffs = diff_recipes(load_recipe(first), load_recipe(second, overrides or ()))
    if not diffs:
        console.print("No differences.")
        return

    def short(v):
        text = str(v)
        return text if len(text) <= 60 else text[:57] + "…"

    console.print(table(f"{first} → {second}", ["key", first, second], [(k, short(a), short(b)) for k, a, b in diffs]))


@app.command("split-categories")
def split_categories_command(
    inputs: list[str] = typer.Argument(..., help="Review files (tsv/csv/jsonl/txt, compressed allowed)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for <category>.jsonl, ambiguous.jsonl, unassigned.jsonl, routing.json."
    ),
    categories: list[str] | None = typer.Option(
        None, "--category", help="Route to these categories only (repeatable; default: the shopping categories)."
    ),
    field: str = typer.Option("text", "--field", help="Column or field holding the review text."),
    encoding: str | None = typer.Option(None, "--encoding", help="Text encoding (default: detect)."),
    force: bool = typer.Option(
        False, "--force", help="Replace an output folder that holds other files (its content is deleted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Route a mixed review stream into per-category corpora by the recipes' keywords.

    Rule: count how often each category's keywords occur in a review; the most hits wins, a tie
    between the top categories goes to `ambiguous`, no hit to `unassigned`. Rows keep all columns.
    """
    from domainlm.routing import split_categories

    report = split_categories(inputs, output, categories=categories, field=field, encoding=encoding, force=force)
    if as_json:
        print_json(report.to_dict())
        return
    rows = [
        (
            f"{name} ({report.categories.get(name, '—')})" if name in report.categories else name,
            n,
            f"{n / max(report.total, 1):.1%}",
        )
        for name, n in report.counts.items()
    ]
    rows.append(("total", report.total, "100%"))
    console.print(table("reviews per category", ["bucket", "reviews", "share"], rows))
    console.print(f"Rule: {report.rule}. Wrote [bold]{output}[/].")
