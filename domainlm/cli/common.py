"""Shared rendering helpers of the CLI: consoles, tables, JSON output."""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

# Help texts of the corpus options every command shares.
FIELD_HELP = "Column (csv/tsv/parquet) or field (jsonl) holding the text."
ENCODING_HELP = "Text encoding (default: detect utf-8 / utf-8-sig / cp949)."
WHERE_HELP = "Keep only rows whose COLUMN equals VALUE (e.g. split=test; a,b for either). Repeatable."

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no rich markup), for machines."""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def kv_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, fmt(value))
    return table


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], justify_numbers: bool = True) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*[fmt(v) for v in row])
    return t


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if value is None:
        return "—"
    return str(value)
