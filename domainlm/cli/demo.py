"""`domainlm demo`: the whole flow on real reviews shipped with the package, ending with the before/after table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from domainlm.cli.common import console
from domainlm.cli.root import app


@app.command("demo")
def demo_command(
    output: Path = typer.Option(
        Path("domainlm-demo"), "--output", "-o", help="Folder for the demo data, tiny base, run and report."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Run a real recipe on real data from this data root instead (e.g. ../shared/data)."
    ),
    category: str | None = typer.Option(None, "--category", help="Recipe to run with --data-dir (default 화장품)."),
    overrides: list[str] | None = typer.Option(
        None, "--set", help="Override a recipe setting: --set train.max_steps=50 (repeatable)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Rerun every stage even if unchanged (and write into a folder that holds other files)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout (progress goes to stderr)."),
) -> None:
    """Mine → fill → adapt → evaluate on real cosmetics reviews shipped with domainlm and a tiny base \
built on the fly (about 40 s on 2 idle CPU cores)."""
    from domainlm.cli.common import print_json, print_run_result, recipe_summary, stage_printer
    from domainlm.demo import demo_intro, demo_notes, run_demo

    if data_dir is None and not as_json:
        console.print(f"[bold]domainlm demo[/]: {escape(demo_intro())}")
    # One line for the recipe: the whole of it is saved in the run folder (recipe.resolved.yaml).
    result = run_demo(
        output,
        data_dir=data_dir,
        category=category,
        overrides=overrides or (),
        force=force,
        on_stage=None if as_json else stage_printer(),
        on_recipe=None if as_json else lambda r: console.print(escape(recipe_summary(r)), highlight=False),
    )
    if as_json:
        print_json(
            {
                **result.run.to_dict(),
                "notes": dict(demo_notes(result)),
                "seconds": round(result.seconds, 1),
                "base_dir": str(result.base_dir) if result.base_dir else None,
            }
        )
        return
    # What the output is comes first, so that the run still ends with its table and report path.
    for title, text in demo_notes(result):
        console.print(f"[bold]{title}[/]: {escape(text)}", highlight=False)
    print_run_result(result.run)
    console.print(
        f"Demo finished in {result.seconds:.0f} s"
        + (f" (tiny base: {result.base_seconds:.0f} s)" if result.base_dir else "")
        + "."
    )
