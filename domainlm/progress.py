"""rich progress bars for library loops, off when nobody is watching.

Library functions wrap their long loops in `progress_bar(...)`; the bar renders on stderr when it
is a terminal (or DOMAINLM_PROGRESS=1) and is a no-op otherwise, so tests and pipes stay clean.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
    DownloadColumn,
)

_enabled: bool | None = None
stderr_console = Console(stderr=True)


def set_progress_enabled(enabled: bool | None) -> None:
    """Force progress bars on or off (None: decide by whether stderr is a terminal)."""
    global _enabled
    _enabled = enabled


def progress_enabled() -> bool:
    if _enabled is not None:
        return _enabled
    env = os.environ.get("DOMAINLM_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false")
    return sys.stderr.isatty()


Update = Callable[..., None]


@contextmanager
def progress_bar(description: str, total: float | None = None, unit: str = "items",
                 fields: str = "") -> Iterator[Update]:
    """Yield `update(completed=None, advance=None, **fields)`.

    `unit="bytes"` shows transfer speed; `fields` is a rich format string over extra fields,
    e.g. "loss {task.fields[loss]:.3f}".
    """
    if not progress_enabled():
        yield lambda *a, **k: None
        return
    columns = [TextColumn("[bold blue]{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn() if total else TextColumn("{task.completed:,.0f} " + unit)]
        columns += [TaskProgressColumn()]
    if fields:
        columns.append(TextColumn(fields))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=stderr_console, transient=False) as progress:
        task = progress.add_task(description, total=total)

        def update(completed: float | None = None, advance: float | None = None, **extra) -> None:
            progress.update(task, completed=completed, advance=advance, **extra)

        yield update
