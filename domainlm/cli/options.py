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


def _default_note(model: type[BaseModel], name: str, recipe: bool) -> str | None:
    """What applies when the option is not typed: the model's default (a recipe's value first, if the command
    reads a recipe)."""
    default = model.model_fields[name].get_default(call_default_factory=True)
    if default is None or default == [] or isinstance(default, BaseModel):
        return "Default: the recipe's." if recipe else None
    shown = str(default).lower() if isinstance(default, bool) else default
    return f"Default: the recipe's, else {shown}." if recipe else f"Default: {shown}."


def setting(
    model: type[BaseModel], name: str, *flags: str, note: str | None = None, recipe: bool = False, **extra: Any
) -> Any:
    """A typer option for the setting `model.name` (flag `--name-with-dashes` unless `flags` are given); its
    help ends with a `note` of the command's, then what applies when it is not typed (`recipe`: the command
    reads a category's recipe first).

    The command's parameter must be named `name` and typed as the field is (typer reads the type from the
    signature); `tests/test_cli_settings.py` checks that every generated option agrees with its field."""
    default = _default_note(model, name, recipe)
    note = " ".join(n for n in (note, default) if n) or None
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


def validated_settings(model: type[BaseModel], values: dict[str, Any], what: str) -> Any:
    """`model(**values)`, every problem reported with its key as one `ConfigError` (no traceback)."""
    from pydantic import ValidationError

    from domainlm.errors import ConfigError
    from domainlm.recipes.requests import validation_message

    try:
        return model(**values)
    except ValidationError as e:
        raise ConfigError(
            f"Invalid {what} settings: {validation_message(e)}.", "Fix the option values (see --help)."
        ) from None
