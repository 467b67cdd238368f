"""Load a recipe: YAML → overrides → validation (all errors at once) → paths resolved to the data root."""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from domainlm.corpus.reader import CorpusSpec
from domainlm.errors import ConfigError
from domainlm.io import load_yaml
from domainlm.recipes.overrides import OverrideProblem, annotation_at, apply_overrides, concrete_types
from domainlm.recipes.registry import RECIPE_SUFFIXES, find_recipe_path
from domainlm.recipes.schema import Recipe

RESOLVED_NAME = "recipe.resolved.yaml"
FIX_HINT = (
    "Fix these keys in the recipe file or in --set; `domainlm recipe show NAME` prints every key, "
    "and `domainlm recipe validate FILE` checks a file."
)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $DOMAINLM_DATA, else the current directory."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    env = os.environ.get("DOMAINLM_DATA")
    return Path(env).expanduser().resolve() if env else Path.cwd()


def read_recipe_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"Cannot read the recipe '{path}': {e.strerror}.", "Check the path.") from None
    try:
        data = load_yaml(text)  # duplicate keys refused (P28)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"The recipe '{path}' is not valid YAML{where}: {getattr(e, 'problem', e)}.",
            "Fix the YAML syntax (indentation, a missing colon or quote).",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"The recipe '{path}' must be a YAML mapping of keys, not a {type(data).__name__}.")
    return data


def _loc_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(recipe)"


def _allowed_keys(loc: tuple) -> list[str]:
    try:
        annotation = annotation_at(Recipe, [str(p) for p in loc])
    except OverrideProblem:
        return []
    for t in concrete_types(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return list(t.model_fields)
    return []


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: `key.path: what is wrong (got …)`, with allowed keys for unknown ones."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _loc_path(loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            line = f"{path}: unknown key"
            if close:
                line += f" (did you mean '{close[0]}'?)"
            if allowed:
                line += f"; allowed keys: {', '.join(allowed)}"
            lines.append(line)
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "missing":
            lines.append(f"{path}: required key is missing")
            continue
        got = err.get("input")
        if err["type"] not in ("value_error",) and not isinstance(got, (dict, list)):
            msg += f" (got {got!r})"
        lines.append(f"{path}: {msg}")
    return lines


def validate_data(data: dict, *, source: str, problems: Iterable[str] = ()) -> Recipe:
    """Validate a recipe mapping; raise ONE ConfigError listing every problem with its key path."""
    problems = list(problems)
    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        problems.extend(describe_errors(e))
    if problems or recipe is None:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        body = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"The recipe {source} is invalid ({count}):\n{body}", FIX_HINT)
    return recipe


def _resolve_path(path: str, root: Path) -> str:
    if path.startswith("hf:") or os.path.isabs(os.path.expanduser(path)):
        return os.path.expanduser(path)
    return str(root / path)


def _resolve_specs(model: Any, root: Path) -> Any:
    """A copy of `model` with every CorpusSpec path made absolute under `root` (walks nested models)."""
    if isinstance(model, CorpusSpec):
        return model.model_copy(update={"path": _resolve_path(model.path, root)})
    if isinstance(model, BaseModel):
        updates = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            new = _resolve_specs(value, root)
            if new is not value:
                updates[name] = new
        return model.model_copy(update=updates) if updates else model
    if isinstance(model, list):
        new_items = [_resolve_specs(v, root) for v in model]
        return new_items if any(a is not b for a, b in zip(new_items, model)) else model
    return model


def resolve_base(base: str, root: Path) -> str:
    """A local base under the data root wins over a hub name of the same spelling."""
    expanded = os.path.expanduser(base)
    if os.path.isabs(expanded):
        return expanded
    if base.startswith(("./", "../")) or (root / base).exists():
        return str((root / base).resolve())
    return base


def resolve_paths(recipe: Recipe, root: Path) -> Recipe:
    resolved = _resolve_specs(recipe, root)
    resolved = resolved.model_copy(
        update={
            "base": resolve_base(recipe.base, root),
            "generator": resolve_base(recipe.generator, root) if recipe.generator else None,
        }
    )
    return resolved


def load_recipe(
    name_or_path: str | os.PathLike | Recipe, overrides: Iterable[str] = (), data_dir: str | os.PathLike | None = None
) -> Recipe:
    """A validated recipe with overrides applied and paths resolved against the data root.

    `name_or_path`: a recipe file, or a category name / alias / recipe name (see `resolve_category`).
    `overrides`: `key.path=value` strings. Raises `ConfigError` listing every problem at once.
    """
    if isinstance(name_or_path, Recipe):
        raw = copy.deepcopy(name_or_path.portable or name_or_path.model_dump(mode="json", exclude_unset=False))
        path = name_or_path.source
    else:
        text = str(name_or_path)
        candidate = Path(text).expanduser()
        if candidate.suffix in RECIPE_SUFFIXES or candidate.is_file():
            if not candidate.is_file():
                raise ConfigError(
                    f"The recipe file '{text}' does not exist.",
                    "Check the path, or name a category (`domainlm recipe list`).",
                )
            path = candidate
        else:
            path = find_recipe_path(text)
        raw = read_recipe_file(path)
    overrides = list(overrides)
    problems = apply_overrides(raw, overrides, Recipe)
    source = f"'{path}'" if path else "(in memory)"
    recipe = validate_data(raw, source=source, problems=problems)
    root = data_root(data_dir)
    return resolve_paths(recipe, root).record_origin(path, root, raw)


def resolve_category(name: str, *, data_dir: str | os.PathLike | None = None) -> Recipe:
    """The validated `Recipe` of a category, by its Korean name, an alias or its file name."""
    return load_recipe(find_recipe_path(name), data_dir=data_dir)


def missing_corpora(recipe: Recipe) -> list[str]:
    """`key.path: path` of every corpus the recipe names that does not exist (hub datasets are not checked)."""
    import glob

    found: list[str] = []

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, CorpusSpec):
            if not obj.path.startswith("hf:") and not glob.glob(obj.path) and not os.path.exists(obj.path):
                found.append(f"{key}: {obj.path}")
        elif isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                walk(getattr(obj, name), f"{key}.{name}" if key else name)
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                walk(value, f"{key}.{i}")

    walk(recipe, "")
    return found


def validate_recipe(
    name_or_path: str | os.PathLike,
    overrides: Iterable[str] = (),
    *,
    data_dir: str | os.PathLike | None = None,
    check_data: bool = False,
) -> Recipe:
    """`recipe validate`: the recipe loaded (every schema problem listed), and with `check_data` every corpus
    it names found under the data root, else one `ConfigError` listing the missing ones."""
    recipe = load_recipe(name_or_path, overrides, data_dir=data_dir)
    missing = missing_corpora(recipe) if check_data else []
    if missing:
        raise ConfigError(
            f"The recipe '{name_or_path}' names corpora that do not exist under {recipe.data_root}:\n"
            + "\n".join(f"  - {m}" for m in missing),
            "Pass --data-dir (or set DOMAINLM_DATA) to the folder that holds them.",
        )
    return recipe


# ---------------------------------------------------------------- writing


def recipe_to_dict(recipe: Recipe, *, portable: bool = False) -> dict:
    """Every key with its value (defaults included). `portable`: paths as written, not resolved."""
    if portable:
        return (
            Recipe.model_validate(copy.deepcopy(recipe.portable)).model_dump(mode="json")
            if recipe.portable
            else recipe.model_dump(mode="json")
        )
    return recipe.model_dump(mode="json")


def dump_recipe(recipe: Recipe, *, portable: bool = False) -> str:
    return yaml.safe_dump(recipe_to_dict(recipe, portable=portable), allow_unicode=True, sort_keys=False, width=100)


def save_resolved(recipe: Recipe, out_dir: str | os.PathLike) -> Path:
    """Write `recipe.resolved.yaml` (every value as used, paths absolute) into `out_dir`."""
    from domainlm.io import atomic_write

    path = Path(out_dir) / RESOLVED_NAME
    with atomic_write(path) as fh:
        fh.write(f"# The resolved recipe '{recipe.name}' ({recipe.category}): every setting as used.\n")
        if recipe.data_root:
            fh.write(f"# Data root: {recipe.data_root}\n")
        fh.write(dump_recipe(recipe))
    return path


PORTABLE_NAME = "recipe.yaml"


def save_portable(recipe: Recipe, out_dir: str | os.PathLike) -> Path:
    """Write `recipe.yaml`: the recipe as run (overrides applied), paths relative to the data root,
    loadable with `load_recipe(path, data_dir=...)`; what `recipe export` shares."""
    from domainlm.io import atomic_write

    path = Path(out_dir) / PORTABLE_NAME
    with atomic_write(path) as fh:
        fh.write(
            f"# The recipe '{recipe.name}' ({recipe.category}) as run: overrides applied, paths relative to the "
            "data root.\n"
        )
        fh.write(dump_recipe(recipe, portable=True))
    return path


def new_recipe(
    name: str,
    *,
    from_recipe: str,
    category: str | None = None,
    aliases: Iterable[str] = (),
    out: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Start a recipe for a new category from an existing one; returns the written file."""
    from domainlm.io import atomic_write

    src_path = Path(from_recipe) if Path(from_recipe).is_file() else find_recipe_path(from_recipe)
    data = read_recipe_file(src_path)
    data["name"] = name
    data["category"] = category or name
    data["aliases"] = list(aliases)
    data["description"] = f"Started from the recipe '{src_path.stem}'; edit its data and routing keywords."
    validate_data(data, source=f"'{name}' (new)")
    path = Path(out) if out else Path.cwd() / f"{name}.yaml"
    if path.is_dir():
        path = path / f"{name}.yaml"
    if path.exists() and not force:
        raise ConfigError(
            f"'{path}' already exists.", "Pass --force to overwrite it, or choose another name / --output."
        )
    with atomic_write(path) as fh:
        fh.write(f"# Recipe '{name}', started from '{src_path.name}'.\n")
        fh.write(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))
    return path


def diff_recipes(a: Recipe, b: Recipe) -> list[tuple[str, Any, Any]]:
    """(key path, value in a, value in b) for every setting that differs, defaults included."""
    out: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, prefix: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in list(dict.fromkeys([*x, *y])):
                walk(x.get(key), y.get(key), f"{prefix}.{key}" if prefix else str(key))
        elif x != y:
            out.append((prefix, x, y))

    walk(recipe_to_dict(a, portable=True), recipe_to_dict(b, portable=True), "")
    return out
