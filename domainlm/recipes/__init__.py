"""Recipes: one YAML file per category naming every input and setting of its adaptation."""

from domainlm.recipes.load import (
    RESOLVED_NAME,
    data_root,
    diff_recipes,
    dump_recipe,
    load_recipe,
    new_recipe,
    recipe_to_dict,
    resolve_category,
    save_resolved,
)
from domainlm.recipes.registry import RecipeEntry, find_recipe_path, list_recipes, recipe_dirs, shipped_recipes_dir
from domainlm.recipes.schema import DataConfig, HeldoutRule, Recipe, RoutingConfig, VocabConfig

__all__ = [
    "Recipe",
    "DataConfig",
    "HeldoutRule",
    "RoutingConfig",
    "VocabConfig",
    "load_recipe",
    "resolve_category",
    "list_recipes",
    "find_recipe_path",
    "recipe_dirs",
    "shipped_recipes_dir",
    "RecipeEntry",
    "dump_recipe",
    "recipe_to_dict",
    "save_resolved",
    "new_recipe",
    "diff_recipes",
    "data_root",
    "RESOLVED_NAME",
]
