"""The root `domainlm` typer app: error handling, --verbose/--version, help rendering.

Command modules import `app` from here and add their commands to it; `domainlm.cli.app` imports
every command module. So no command module imports the module that imports it (no cycle).
User errors (`DomainLMError`, `VocabError`) become a red paragraph and exit code 2; a traceback is
shown only under `--verbose`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import typer
from typer.core import TyperGroup, TyperOption

from domainlm import __version__
from domainlm.cli.common import err_console
from domainlm.errors import USER_ERRORS, DomainLMWarning

_state = {"verbose": False}


def render_user_error(exc: BaseException) -> None:
    message = getattr(exc, "message", str(exc))
    hint = getattr(exc, "hint", None)
    text = f"[bold red]Error:[/] [red]{_escape(message)}[/]"
    if hint:
        text += f"\n[yellow]{_escape(hint)}[/]"
    err_console.print(text, highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class ErrorHandlingGroup(TyperGroup):
    """Catches user errors anywhere below the root command and renders them without a traceback."""

    def invoke(self, ctx):
        try:
            with warnings.catch_warnings():  # DomainLMWarnings as yellow lines, each once, for this command
                warnings.simplefilter("default", DomainLMWarning)
                warnings.showwarning = _warning_printer(warnings.showwarning)
                return super().invoke(ctx)
        except USER_ERRORS as exc:
            if _state["verbose"]:
                err_console.print_exception(show_locals=False)
            render_user_error(exc)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            resumable = ctx.invoked_subcommand in _RESUMABLE
            err_console.print(
                "[bold red]Interrupted.[/] Outputs are written atomically: nothing half-written was left."
                + (" Run the same command with --resume to continue from the last checkpoint." if resumable else "")
            )
            raise typer.Exit(130) from None
        except (OSError, EOFError) as exc:
            # The last net under every command: a failed write (full disk, read-only, permissions) or a
            # truncated compressed input that no reader worded (click would print only "Aborted.").
            error = _as_user_error(exc)
            if error is None:
                raise
            if _state["verbose"]:
                err_console.print_exception(show_locals=False)
            render_user_error(error)
            raise typer.Exit(2) from None


_RESUMABLE = {"adapt", "pretrain"}


def _warning_printer(fallback):
    """A `DomainLMWarning` as one yellow line (not Python's file:line form); other warnings as before."""

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DomainLMWarning):
            err_console.print(
                f"[bold yellow]Warning:[/] [yellow]{_escape(str(message))}[/]", highlight=False, soft_wrap=True
            )
        else:
            fallback(message, category, filename, lineno, file, line)

    return show


def _as_user_error(exc: BaseException):
    from domainlm.errors import CorpusError
    from vocab_tools.atomic import output_error, write_failure

    if isinstance(exc, EOFError):
        return CorpusError(
            f"An input file ended before its end of stream: it is corrupt or truncated ({exc}).",
            "Check the compressed inputs (gzip -t FILE, xz -t FILE) and copy or download them again.",
        )
    if write_failure(exc) is not None:
        where = getattr(exc, "filename", None)
        return output_error(Path(where) if where else Path("the output"), exc)
    return None


def _help_placeholder(self, ctx) -> str | None:
    """What the help shows after an option: nothing for a flag, the choices for a choice, else the type.

    typer 0.29 prints `<bool>` after every flag (`--json <bool>`), which reads as if the flag took a
    value; standard CLIs show a placeholder only for options that take one.
    """
    if self.is_flag or self.count:
        return None
    return _typer_placeholder(self, ctx)


_typer_placeholder = TyperOption.display_type_rich
TyperOption.display_type_rich = _help_placeholder  # type: ignore[method-assign]  # patching typer on purpose


def _whole_option_names() -> None:
    """Keep option names and types whole in `--help` at 80 columns (`--heldout-fracti…` was cut).

    typer lays options out in a rich table whose columns all shrink alike; the name columns get a
    minimum width of their longest entry, so only the type and description columns wrap.
    """
    from rich.table import Table
    from typer import rich_utils

    class WholeNamesTable(Table):
        def add_row(self, *renderables, **kwargs):
            super().add_row(*renderables, **kwargs)
            for column in self.columns[:-2]:  # the last two are the type (it may fold) and the description
                widest = max((getattr(c, "cell_len", 0) for c in column._cells), default=0)
                column.no_wrap, column.min_width = True, widest

    rich_utils.Table = WholeNamesTable  # type: ignore[misc]  # patching typer on purpose


_whole_option_names()


app = typer.Typer(
    cls=ErrorHandlingGroup,
    name="domainlm",
    help="Domain adaptation of pretrained Korean encoder language models: mine category terms, fill "
    "\\[unusedN] vocabulary slots, continue pretraining, and evaluate before and after.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # -h too, as every CLI people know
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"domainlm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["verbose"] = verbose
    if not verbose:
        # transformers' own tqdm bars ("Loading weights", "Writing model shards") would break the
        # rich bars and tables of our commands; --verbose keeps them.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from domainlm.progress import set_progress_enabled

    set_progress_enabled(None)
