"""`domainlm push`: a thin wrapper over `domainlm.hub.push_model` (also used by `--push-to-hub`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from domainlm.cli.common import console, err_console, print_json
from domainlm.cli.root import app


def print_push_result(result) -> None:
    what = "Would push" if result.dry_run else "Pushed"
    where = result.url or result.repo_id
    branch = f" (branch {result.revision})" if result.revision else ""
    console.print(
        f"{what} {len(result.files)} files to [bold]{escape(where)}[/]{branch}: "
        + ", ".join(escape(f) for f in result.files)
        + ".",
        soft_wrap=True,
    )
    card = result.card
    if card:
        console.print(
            f"Card: base_model {escape(str(card.get('base_model') or '—'))}, license "
            f"{escape(str(card.get('license') or '—'))}, {card.get('results', 0)} results in its model-index."
        )
    for warning in result.warnings:
        err_console.print(f"[yellow]{escape(warning)}[/]", soft_wrap=True)


def push_finished(model_dir: Path, repo_id: str, as_json: bool = False):
    """`--push-to-hub`: push a model a command has just written; a failure says the model is kept."""
    from domainlm.hub import HubError, push_model

    try:
        result = push_model(model_dir, repo_id)
    except HubError as e:
        raise HubError(
            f"{e.message} The model itself is complete in '{model_dir}'.",
            (f"{e.hint} " if e.hint else "") + f"Then push it with: domainlm push {model_dir} {repo_id}",
        ) from None
    if not as_json:
        print_push_result(result)
    return result


@app.command("push")
def push_command(
    model_dir: Path = typer.Argument(
        ..., metavar="MODEL_DIR", help="Model folder: the output of adapt or pretrain (or a recipe run's model/)."
    ),
    repo_id: str = typer.Argument(
        ..., metavar="REPO_ID", help="Hub repo, e.g. my-user/bert-kor-cosmetics (created if missing)."
    ),
    private: bool = typer.Option(
        False, "--private", help="Create the repo private (an existing one keeps its visibility)."
    ),
    revision: str | None = typer.Option(
        None, "--revision", help="Branch to push to (created if missing; default: main)."
    ),
    token: str | None = typer.Option(
        None, "--token", help="Hub token (default: HF_TOKEN, else the one `hf auth login` saved)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go up; upload nothing (no network needed)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Upload a model folder to the Hugging Face Hub: model, tokenizer, slots.json, card, settings (never
    checkpoints, reports or caches). The card's base_model, license and model-index are updated first."""
    from domainlm.hub import push_model

    result = push_model(model_dir, repo_id, private=private, revision=revision, token=token, dry_run=dry_run)
    if as_json:
        print_json(result.to_dict())
        return
    print_push_result(result)
