"""Dotted overrides on top of a recipe: `--set train.max_steps=200`.

Values are parsed as YAML scalars (`200` → int, `0.5` → float, `true` → bool, `[a, b]` → list,
`null` → None), except where the schema says the field is a string: there the raw text is kept, so
`--set category=true` or `--set data.heldout.seed=0042` mean the strings the user typed.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any, Union

import yaml
from pydantic import BaseModel

from domainlm.io import load_yaml


class OverrideProblem(Exception):
    """One unusable override; collected and reported with the validation errors."""


def parse_override(text: str) -> tuple[list[str], str]:
    """Split `a.b.c=value` into (["a", "b", "c"], "value")."""
    if "=" not in text:
        raise OverrideProblem(f"--set {text}: expected KEY.PATH=VALUE, e.g. --set train.max_steps=200")
    key, value = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        raise OverrideProblem(f"--set {text}: the key path '{key}' has an empty part")
    return parts, value


def concrete_types(annotation: Any) -> list[Any]:
    """The concrete types behind Optional / Union / Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return concrete_types(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out.extend(concrete_types(arg))
        return out
    return [annotation]


def annotation_at(model: type[BaseModel], parts: list[str]) -> Any:
    """The schema type at a dotted path, or raise OverrideProblem naming the allowed keys.

    List indexes (`data.domain.0.path`) and dict keys (`data.domain.0.where.split`) are followed.
    """
    current: Any = model
    walked: list[str] = []
    for part in parts:
        options = concrete_types(current)
        nxt = None
        for opt in options:
            origin = typing.get_origin(opt)
            if isinstance(opt, type) and issubclass(opt, BaseModel):
                if part in opt.model_fields:
                    nxt = opt.model_fields[part].annotation
                    break
                import difflib

                allowed = list(opt.model_fields)
                close = difflib.get_close_matches(part, allowed, n=1)
                where = ".".join(walked) or "the top level"
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise OverrideProblem(f"unknown key '{part}' under {where}{hint}; allowed keys: {', '.join(allowed)}")
            if origin in (list, tuple):
                if not part.isdigit():
                    raise OverrideProblem(f"'{'.'.join(walked)}' is a list: use a number to pick an item, not '{part}'")
                nxt = typing.get_args(opt)[0]
                break
            if origin is dict:
                nxt = typing.get_args(opt)[1]
                break
        if nxt is None:
            raise OverrideProblem(f"'{'.'.join(walked)}' is a single value and has no key '{part}'")
        current = nxt
        walked.append(part)
    return current


def typed_value(model: type[BaseModel], parts: list[str], raw: str) -> Any:
    """Parse `raw` as a YAML scalar, unless the field at `parts` is a plain string."""
    annotation = annotation_at(model, parts)
    concrete = concrete_types(annotation)
    if concrete and all(t is str for t in concrete):
        return raw
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise OverrideProblem(f"the value '{raw}' is not valid YAML ({e.problem})") from None
    if (
        isinstance(value, str) is False
        and str in concrete
        and not isinstance(value, (list, dict))
        and value is not None
    ):
        # e.g. `str | None`: `null` means None, anything else is the text as typed.
        return raw
    return value


def set_path(data: dict, parts: list[str], value: Any) -> None:
    """Assign into nested dicts/lists, creating missing mappings on the way."""
    current: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(current, list):
            idx = int(part)
            if idx >= len(current):
                raise OverrideProblem(f"index {idx} is past the end of '{'.'.join(parts[:i])}' ({len(current)} items)")
            if isinstance(current[idx], str):  # a bare path shorthand becomes a mapping to set a key on
                current[idx] = {"path": current[idx]}
            current = current[idx]
            continue
        nxt = current.get(part)
        if nxt is None:
            nxt = current[part] = {}
        elif isinstance(nxt, str) and parts[i + 1] != "0":
            nxt = current[part] = [{"path": nxt}] if parts[i + 1].isdigit() else nxt
        current = nxt
    last = parts[-1]
    if isinstance(current, list):
        idx = int(last)
        if idx >= len(current):
            raise OverrideProblem(f"index {idx} is past the end of '{'.'.join(parts[:-1])}' ({len(current)} items)")
        current[idx] = value
    elif isinstance(current, dict):
        current[last] = value
    else:
        raise OverrideProblem(f"'{'.'.join(parts[:-1])}' is not a mapping")


def apply_overrides(data: dict, overrides: Iterable[str], model: type[BaseModel]) -> list[str]:
    """Apply `key.path=value` overrides in order; return the problems (empty when all applied)."""
    problems = []
    for text in overrides:
        try:
            parts, raw = parse_override(text)
            value = typed_value(model, parts, raw)
            set_path(data, parts, value)
        except OverrideProblem as e:
            msg = str(e)
            problems.append(msg if msg.startswith("--set") else f"--set {text}: {msg}")
    return problems


def with_fields_set(settings: BaseModel, names) -> BaseModel:
    """`settings` rebuilt from a full dump, told again which fields were given (pydantic's
    `model_fields_set`): a rule that asks whether a value was chosen (a phased run's max_steps) must
    not see every default as chosen."""
    object.__setattr__(settings, "__pydantic_fields_set__", set(names) & set(type(settings).model_fields))
    return settings


def override_settings(settings: BaseModel, overrides: Iterable[str], prefix: str) -> BaseModel:
    """`--set PREFIX.KEY=VALUE` on one settings model, without a recipe (adapt's and pretrain's
    TrainConfig: `--set train.lora.r=8`). All problems are reported together, with their keys."""
    from pydantic import ValidationError

    from domainlm.errors import ConfigError

    overrides = list(overrides)
    outside = [o for o in overrides if not o.split("=", 1)[0].strip().startswith(prefix + ".")]
    if outside:
        raise ConfigError(
            f"Without a recipe only {prefix}.* settings can be set: {', '.join(outside)}.",
            f"Write them as --set {prefix}.KEY=VALUE, or pass --category to override a recipe's other keys.",
        )
    data = settings.model_dump()
    problems = [
        p.replace("under the top level", f"under {prefix}")
        for p in apply_overrides(data, [o.split(".", 1)[1] for o in overrides], type(settings))
    ]
    try:
        validated = type(settings)(**data)
    except ValidationError as e:  # wrong types and ranges, reported beside the unknown keys
        problems += [f"{prefix}.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    if not problems:
        return with_fields_set(
            validated, settings.model_fields_set | {o.split(".")[1].split("=")[0].strip() for o in overrides}
        )
    raise ConfigError(
        f"Invalid --set ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n  - "
        + "\n  - ".join(p.replace("--set ", f"--set {prefix}.", 1) if p.startswith("--set ") else p for p in problems),
        f"See the {prefix} settings and their types: domainlm recipe show demo.",
    )
