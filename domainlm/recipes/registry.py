"""Where recipes live and how a category name finds its recipe.

Shipped recipes are package data (`domainlm/_shipped_recipes` in a wheel, `recipes/` at the root of
a source checkout). Directories in `DOMAINLM_RECIPES` (os.pathsep-separated) are searched first, so
a team can add its own categories without touching the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from domainlm.errors import ConfigError, warn
from domainlm.io import load_yaml

RECIPE_SUFFIXES = (".yaml", ".yml")


def shipped_recipes_dir() -> Path:
    """The folder of the recipes shipped with domainlm."""
    package = Path(__file__).resolve().parents[1]
    wheel = package / "_shipped_recipes"
    if wheel.is_dir():
        return wheel
    return package.parent / "recipes"  # editable install / source checkout


def recipe_dirs() -> list[Path]:
    """User recipe folders (DOMAINLM_RECIPES) first, then the shipped ones."""
    dirs = [Path(p) for p in os.environ.get("DOMAINLM_RECIPES", "").split(os.pathsep) if p]
    dirs.append(shipped_recipes_dir())
    return [d for d in dirs if d.is_dir()]


@dataclass(frozen=True)
class RecipeEntry:
    """What `recipe list` shows, read without validating the whole recipe."""

    name: str
    category: str
    aliases: tuple[str, ...]
    description: str
    path: Path

    def matches(self, query: str) -> bool:
        q = query.strip().casefold()
        return q in {n.casefold() for n in (self.name, self.category, *self.aliases)}


def _entry(path: Path) -> tuple[RecipeEntry | None, str | None]:
    """The entry of a recipe file, or None and why it is not a recipe (`recipe validate` says more)."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot be read as UTF-8 text ({getattr(e, 'strerror', None) or e})"
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return None, f"is not valid plain YAML{where} ({getattr(e, 'problem', None) or str(e).splitlines()[0]})"
    if not isinstance(data, dict) or not data:
        return None, "is not a recipe (a YAML mapping with name, category and the stage settings)"
    wrong = [key for key in ("name", "category", "description") if key in data and not isinstance(data[key], str)]
    if wrong:
        return None, f"has {', '.join(wrong)} that {'is' if len(wrong) == 1 else 'are'} not text"
    aliases = data.get("aliases") or []
    return RecipeEntry(
        name=str(data.get("name", path.stem)),
        category=str(data.get("category", path.stem)),
        aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list) else (),
        description=str(data.get("description", "")).strip(),
        path=path,
    ), None


def list_recipes() -> list[RecipeEntry]:
    """Every recipe found, a user recipe shadowing a shipped one of the same name.

    Said as warnings (P29): a recipe file that cannot be read or is not a recipe (skipped), and a
    recipe whose category or alias another recipe found earlier already has (a name finds the first).
    """
    seen: dict[str, RecipeEntry] = {}
    for d in recipe_dirs():
        for path in sorted(d.iterdir()):
            if path.suffix in RECIPE_SUFFIXES and path.is_file():
                entry, problem = _entry(path)
                if entry is None:
                    warn(
                        f"The recipe file '{path}' {problem}: it is skipped. Check it with "
                        f"`domainlm recipe validate {path}`."
                    )
                elif entry.name not in seen:
                    _warn_shadowed(entry, seen.values())
                    seen[entry.name] = entry
    return list(seen.values())


def _warn_shadowed(entry: RecipeEntry, earlier) -> None:
    mine = {n.casefold() for n in (entry.category, *entry.aliases)}
    for other in earlier:
        shared = sorted(n for n in (other.name, other.category, *other.aliases) if n.casefold() in mine)
        if shared:
            warn(
                f"The recipes '{other.path}' ({other.name}) and '{entry.path}' ({entry.name}) both answer to "
                f"{', '.join(repr(n) for n in dict.fromkeys(shared))}; that name finds '{other.name}' (found first). "
                "Give one of them another category or alias."
            )


def find_recipe_path(name: str) -> Path:
    """The file of the recipe named `name` (category, alias or file name), or ConfigError listing the known ones."""
    entries = list_recipes()
    for entry in entries:
        if entry.matches(name):
            return entry.path
    known = ", ".join(f"{e.category} ({', '.join(dict.fromkeys([e.name, *e.aliases]))})" for e in entries)
    raise ConfigError(
        f"Unknown category '{name}'. Known categories: {known}.",
        "Run `domainlm recipe list`, pass a recipe file path, or create one with `domainlm recipe new NAME --from "
        "화장품`.",
    )
