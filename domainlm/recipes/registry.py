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

from domainlm.errors import ConfigError

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


def _entry(path: Path) -> RecipeEntry | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None  # listed by `recipe validate`, not here
    if not isinstance(data, dict):
        return None
    aliases = data.get("aliases") or []
    return RecipeEntry(name=str(data.get("name", path.stem)), category=str(data.get("category", path.stem)),
                       aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list) else (),
                       description=str(data.get("description", "")).strip(), path=path)


def list_recipes() -> list[RecipeEntry]:
    """Every recipe found, a user recipe shadowing a shipped one of the same name."""
    seen: dict[str, RecipeEntry] = {}
    for d in recipe_dirs():
        for path in sorted(d.iterdir()):
            if path.suffix in RECIPE_SUFFIXES and path.is_file():
                entry = _entry(path)
                if entry is not None and entry.name not in seen:
                    seen[entry.name] = entry
    return list(seen.values())


def find_recipe_path(name: str) -> Path:
    """The file of the recipe named `name` (category, alias or file name), or ConfigError listing the known ones."""
    entries = list_recipes()
    for entry in entries:
        if entry.matches(name):
            return entry.path
    known = ", ".join(f"{e.category} ({', '.join(dict.fromkeys([e.name, *e.aliases]))})" for e in entries)
    raise ConfigError(f"Unknown category '{name}'. Known categories: {known}.",
                      "Run `domainlm recipe list`, pass a recipe file path, or create one with `domainlm recipe new NAME --from 화장품`.")
