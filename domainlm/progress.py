"""rich progress bars for library loops, off when nobody is watching.

Library functions wrap their long loops in `progress_bar(...)`; the bar renders on stderr when it
is a terminal (or DOMAINLM_PROGRESS=1) and is a no-op otherwise, so tests and pipes stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column
from rich.text import Text

from domainlm.runtime import is_main_process

_enabled: bool | None = None
stderr_console = Console(stderr=True)


def set_progress_enabled(enabled: bool | None) -> None:
    """Force progress bars on or off (None: decide by whether stderr is a terminal)."""
    global _enabled
    _enabled = enabled


def progress_enabled() -> bool:
    if not is_main_process():  # under torchrun every process would draw its own bar over the others'
        return False
    if _enabled is not None:
        return _enabled
    env = os.environ.get("DOMAINLM_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false")
    return sys.stderr.isatty()


Update = Callable[..., None]


class FieldsColumn(ProgressColumn):
    """A text column over `task.fields` that draws nothing until every field it names is set.

    rich's TextColumn raises KeyError at the first draw when a field is missing, and only in a
    terminal (a redirected stream never draws): the first command of the README once died that way.
    """

    def __init__(self, text_format: str) -> None:
        super().__init__(table_column=Column(no_wrap=True, overflow="ellipsis"))
        self.text_format = text_format

    def render(self, task: Task) -> Text:
        try:
            return Text(self.text_format.format(task=task))
        except (KeyError, ValueError, TypeError):
            return Text("")


@contextmanager
def progress_bar(
    description: str, total: float | None = None, unit: str = "items", fields: str = "", **initial: Any
) -> Iterator[Update]:
    """Yield `update(completed=None, advance=None, **fields)`.

    `unit="bytes"` shows transfer speed; `fields` is a format string over extra fields,
    e.g. "loss {task.fields[loss]:.3f}", whose starting values are given as keywords
    (`loss=float("nan")`); until a field has a value the column stays blank.
    """
    if not progress_enabled():
        yield lambda *a, **k: None
        return
    # At 80 columns a 40-cell bar pushes the numbers onto a second line: shrink it there.
    narrow = stderr_console.width < 110
    columns = [
        TextColumn("[bold blue]{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        BarColumn(bar_width=12 if narrow else 40),
    ]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn() if total else TextColumn("{task.completed:,.0f} " + unit)]
        columns += [TaskProgressColumn()]
    if fields:
        columns.append(FieldsColumn(fields))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=stderr_console, transient=False) as progress:
        task = progress.add_task(description, total=total, **initial)

        def update(completed: float | None = None, advance: float | None = None, **extra) -> None:
            progress.update(task, completed=completed, advance=advance, **extra)

        yield update
