"""Turn `mine-terms` options (a category, explicit corpora, or both) into the arguments of `mine_terms`.

With `--category` the recipe names the category corpora, the reference, the base tokenizer, the
slot budget, the normalisation and the held-out rule; explicit options override each of them.
Without it, --corpus, --reference and --base are all required.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from domainlm.corpus import CorpusSpec, NormalizeConfig, corpus_specs, is_heldout
from domainlm.errors import ConfigError
from domainlm.mining.config import MineConfig


@dataclass
class MineRequest:
    corpus: list[CorpusSpec]
    reference: list[CorpusSpec]
    base: str
    config: MineConfig
    output: Path
    normalize: NormalizeConfig
    category: str | None = None
    keep: Callable[[object], bool] | None = None


def _recipe_keep(recipe) -> Callable[[object], bool] | None:
    """Documents mining may see: not held out (hash rule) and, for mixed streams, routed here."""
    rule = recipe.data.heldout
    fraction = 0.0 if rule.corpus else rule.fraction
    keywords = recipe.data.routing.keywords if recipe.data.routing.apply else []
    if not fraction and not keywords:
        return None
    seed = rule.seed

    def keep(doc) -> bool:
        if fraction and is_heldout(doc.id or doc.text, fraction, seed):
            return False
        return not keywords or any(k in doc.text for k in keywords)

    return keep


def mined_dir(recipe_name: str) -> Path:
    """Where `mine-terms --category X` writes its terms by default, and where `adapt --category X` looks."""
    return Path("mined") / recipe_name


def resolve_request(*, category: str | None = None, corpus: list[str] = (), reference: list[str] = (),
                    base: str | None = None, slots: int | None = None, field: str | None = None,
                    where: dict[str, str] | None = None, output: Path | None = None, data_dir: Path | None = None,
                    **settings) -> MineRequest:
    """Merge a category's recipe (if any) with explicit options; `settings` are MineConfig fields (None: unset)."""
    overrides = {k: v for k, v in settings.items() if v is not None}
    if overrides.get("extractor") not in (None, "wordpiece", "kiwi"):
        raise ConfigError(f"--extractor {overrides['extractor']!r} is not a candidate extractor.", "Use wordpiece or kiwi.")
    if overrides.get("engine") not in (None, "local", "ray"):
        raise ConfigError(f"--engine {overrides['engine']!r} is not a mining engine.", "Use local or ray.")
    if overrides.get("ray_address"):
        if overrides.get("engine", "ray") != "ray":
            raise ConfigError("--ray-address is only used with --engine ray.", "Use --engine ray, or drop --ray-address.")
        overrides["engine"] = "ray"  # an address means the Ray engine
    if slots is not None:
        overrides["slots"] = slots
    if category:
        from domainlm.recipes import resolve_category

        recipe = resolve_category(category, data_dir=data_dir)
        config = recipe.mine.model_copy(update=overrides)
        return MineRequest(
            corpus=corpus_specs(corpus, field=field, where=where) if corpus else list(recipe.data.domain),
            reference=corpus_specs(reference, field=field) if reference else list(recipe.data.reference),
            base=base or recipe.base,
            config=config,
            output=output or mined_dir(recipe.name),
            normalize=recipe.data.normalize, category=recipe.category,
            keep=_recipe_keep(recipe) if not corpus else None)
    missing = [name for name, value in (("--corpus", corpus), ("--reference", reference), ("--base", base)) if not value]
    if missing:
        raise ConfigError(f"Without --category, mine-terms needs {', '.join(missing)}.",
                          "Pass --category NAME (see `domainlm recipe list`), or all of --corpus, --reference and --base.")
    try:
        config = MineConfig(**overrides)
    except ValueError as e:
        raise ConfigError(f"Invalid mining settings: {e}") from None
    return MineRequest(corpus=corpus_specs(corpus, field=field, where=where), reference=corpus_specs(reference, field=field),
                       base=str(base), config=config, output=output or Path("mined") / "terms",
                       normalize=NormalizeConfig())
