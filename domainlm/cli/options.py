"""Command-line options generated from the settings models: a setting is declared once, in its pydantic
model (type, bounds, description), and a command only names which settings it exposes.

`setting(MineConfig, "min_count")` is a typer option `--min-count` whose help is the field's description and
whose bounds are the field's `ge` / `le`; its default is None ("not typed"), so the recipe's value or the
model's default applies, decided in `domainlm.recipes.requests`. litgpt and spaCy build their CLIs the same
way from their config classes.
"""

from __future__ import annotations

from typing import Any

import annotated_types
import typer
from pydantic import BaseModel


def setting_help(model: type[BaseModel], name: str, note: str | None = None) -> str:
    """The help of a setting: its description (with the markup typer's rich help would eat escaped), plus a
    note of what the command does when it is not typed."""
    description = model.model_fields[name].description
    if not description:
        raise TypeError(f"{model.__name__}.{name} has no description: every setting is documented in its model.")
    text = description.rstrip(".").replace("[", "\\[") + "."
    return f"{text} {note}" if note else text


def setting(model: type[BaseModel], name: str, *flags: str, note: str | None = None, **extra: Any) -> Any:
    """A typer option for the setting `model.name` (flag `--name-with-dashes` unless `flags` are given).

    The command's parameter must be named `name` and typed as the field is (typer reads the type from the
    signature); `tests/test_cli_settings.py` checks that every generated option agrees with its field."""
    bounds: dict[str, Any] = {}
    for rule in model.model_fields[name].metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds["min"] = rule.ge
        elif isinstance(rule, annotated_types.Le):
            bounds["max"] = rule.le
    return typer.Option(
        None,
        *(flags or (f"--{name.replace('_', '-')}",)),
        help=setting_help(model, name, note),
        **bounds,
        **extra,
    )


def typed_settings(model: type[BaseModel], parameters: dict[str, Any]) -> dict[str, Any]:
    """The command's parameters that are settings of `model`, by name (None: not typed), so a command passes
    its settings on as `**typed_settings(Model, locals())` instead of naming each one again."""
    return {name: value for name, value in parameters.items() if name in model.model_fields}


def set_settings(model: type[BaseModel], parameters: dict[str, Any]) -> dict[str, Any]:
    """The settings of `model` that were typed (not None), ready for `model(**...)`: an untyped one keeps the
    model's default."""
    return {name: value for name, value in typed_settings(model, parameters).items() if value is not None}
