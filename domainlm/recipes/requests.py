"""From what a person typed to a concrete job: the decisions behind `adapt`, `pretrain` and `mine-terms`.

A category name brings its recipe (base, corpora, held-out rule, vocab and training settings); the
options a person typed go on top; `--set key.path=value` overrides work with or without a recipe.
The CLI parses options, calls `adapt_request` / `pretrain_request` and renders the result; a Python
user can call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from domainlm.corpus import CorpusSpec, NormalizeConfig, corpus_specs
from domainlm.errors import ConfigError

if TYPE_CHECKING:  # the recipes layer imports mining and training only inside the functions that use them
    from domainlm.mining.config import MineConfig
    from domainlm.recipes.schema import Recipe
    from domainlm.training.config import TrainConfig

Note = Callable[[str], None]


def validation_message(error: Exception, prefix: str = "") -> str:
    """Every problem of a pydantic ValidationError with its key path, in one line."""
    errors: list[dict] = getattr(error, "errors", lambda: [])()
    lines = "; ".join(f"{prefix}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return lines or str(error)


def train_settings(base_config=None, overrides: Sequence[str] = (), **options):
    """`TrainConfig`: `base_config` (a recipe's, or the defaults), then `--set train.*` overrides
    (without a recipe; a recipe applies its own), then the options a person typed (None: not
    typed). All problems are reported together."""
    from domainlm.training.config import TrainConfig

    config = base_config or TrainConfig()
    if overrides:
        from domainlm.recipes.overrides import override_settings

        config = override_settings(config, overrides, "train")
    data = config.model_dump()
    typed = {k: v for k, v in options.items() if v is not None}
    data.update(typed)
    try:
        result = TrainConfig(**data)
    except Exception as e:  # pydantic ValidationError
        raise ConfigError(
            f"Invalid training settings: {validation_message(e, 'train.')}.", "Fix the option values (see --help)."
        ) from None
    # What was set stays what was set, not every field of the dump: a phased run refuses a max_steps
    # that was given and disagrees with its phases (P22), and a default one is no conflict.
    from domainlm.recipes.overrides import with_fields_set

    return with_fields_set(result, config.model_fields_set | set(typed))


def arch_settings(**options):
    from domainlm.modeling.config import ModelArchConfig

    try:
        return ModelArchConfig(**options)
    except Exception as e:
        raise ConfigError(
            f"Invalid model settings: {validation_message(e)}.", "Fix the option values (see --help)."
        ) from None


def mine_settings(values: dict):
    """`MineConfig` from `values`, every problem reported with its key (the Literal choices included)."""
    from domainlm.mining.config import MineConfig

    try:
        return MineConfig(**values)
    except Exception as e:  # pydantic ValidationError
        raise ConfigError(
            f"Invalid mining settings: {validation_message(e, 'mine.')}.",
            "Fix the option values (see `domainlm mine-terms --help`).",
        ) from None


def corpus_list(paths: Sequence[str] | None, field_name: str | None) -> list:
    """--corpus paths as CorpusSpecs reading `field_name` (the one helper: `domainlm.corpus.corpus_specs`)."""
    return corpus_specs(paths, field=field_name)


@dataclass
class AdaptRequest:
    """Everything `domainlm.training.adapt` is called with, decided."""

    base: str
    corpus: list
    replay: list
    terms: Path | None
    filled_tokenizer: Path | None
    config: TrainConfig
    category: str | None = None
    recipe: Recipe | None = None
    heldout_seed: str = "domainlm"
    truncate: bool = False
    generator: Path | None = None
    notes: list[str] = field(default_factory=list)

    def run(
        self,
        output: Path,
        *,
        resume: bool = False,
        force: bool = False,
        new_head: bool = False,
        on_step=None,
        save: str | None = None,
    ):
        """The job: `domainlm.training.adapt` with everything decided here; returns its `AdaptResult`."""
        from domainlm.training import adapt

        return adapt(
            self.base,
            output,
            corpus=self.corpus,
            replay=self.replay,
            terms=self.terms,
            filled_tokenizer=self.filled_tokenizer,
            config=self.config,
            category=self.category,
            resume=resume,
            recipe=self.recipe,
            heldout_seed=self.heldout_seed,
            force=force,
            truncate=self.truncate,
            new_head=new_head,
            generator=self.generator,
            on_step=on_step,
            save=save,
        )


def adapt_request(
    *,
    base: str | None = None,
    category: str | None = None,
    corpus: Sequence[str] | None = None,
    replay: Sequence[str] | None = None,
    field_name: str | None = None,
    terms: Path | None = None,
    filled_tokenizer: Path | None = None,
    overrides: Sequence[str] = (),
    data_dir: Path | None = None,
    truncate: bool = False,
    generator: Path | None = None,
    **train_options,
) -> AdaptRequest:
    """Decide the adapt job: recipe defaults for base, corpora, terms (its mined `terms.tsv`), the
    held-out rule and settings, under what was typed. `notes` say what was chosen for the person."""
    recipe = None
    if category:
        from domainlm.recipes import load_recipe

        recipe = load_recipe(category, overrides=overrides or (), data_dir=data_dir)
    base = base or (recipe.base if recipe else None)
    generator = generator or (Path(recipe.generator) if recipe and recipe.generator else None)
    if not base:
        raise ConfigError("No base model was given.", "Pass --base MODEL (hub id or directory) or --category NAME.")
    specs = corpus_list(corpus, field_name) or (list(recipe.data.domain) if recipe else [])
    replay_specs = corpus_list(replay, field_name) or (list(recipe.data.replay) if recipe else [])
    if not specs:
        raise ConfigError("No domain corpus was given.", "Pass --corpus FILE (repeatable) or --category NAME.")
    notes = []
    if terms is None and filled_tokenizer is None and recipe is not None:
        mined = mined_dir(recipe.name) / "terms.tsv"
        if mined.exists():
            terms = mined
            notes.append(
                f"Filling slots with [bold]{mined}[/] (from `domainlm mine-terms --category {recipe.category}`)."
            )
    if terms is None and filled_tokenizer is None:
        notes.append(
            "[yellow]No --terms or --filled-tokenizer: continued pretraining without filling slots "
            "(run `domainlm mine-terms` first, or pass --terms).[/]"
        )
    heldout_fraction, heldout_seed = None, "domainlm"
    if recipe is not None:
        if train_options.get("init") is None:
            train_options["init"] = recipe.vocab.init
        truncate = truncate or recipe.vocab.truncate
        if not corpus:
            # Keep out of training exactly the documents the recipe holds out for evaluation.
            rule = recipe.data.heldout
            heldout_fraction, heldout_seed = rule.hash_fraction, rule.seed
    config = train_settings(
        recipe.train if recipe else None,
        () if recipe else overrides,
        heldout_fraction=heldout_fraction,
        **train_options,
    )
    return AdaptRequest(
        base=base,
        corpus=specs,
        replay=replay_specs,
        terms=terms,
        filled_tokenizer=filled_tokenizer,
        config=config,
        category=recipe.category if recipe else None,
        recipe=recipe,
        heldout_seed=heldout_seed,
        truncate=truncate,
        generator=generator,
        notes=notes,
    )


# ---------------------------------------------------------------- mine-terms


@dataclass
class MineRequest:
    """Everything `domainlm.mining.mine_terms` is called with, decided."""

    corpus: list[CorpusSpec]
    reference: list[CorpusSpec]
    base: str
    config: MineConfig
    output: Path
    normalize: NormalizeConfig
    category: str | None = None
    keep: Callable[[object], bool] | None = None

    def run(self, *, force: bool = False):
        """The job: `domainlm.mining.mine_terms` with everything decided here; returns its `MiningResult`."""
        from domainlm.mining.mine import mine_terms

        return mine_terms(
            self.corpus,
            self.reference,
            self.base,
            self.config,
            self.output,
            normalize=self.normalize,
            category=self.category,
            keep=self.keep,
            force=force,
        )


def _recipe_keep(recipe) -> Callable[[object], bool] | None:
    """Documents mining may see: not held out (the recipe's rule) and, for mixed streams, routed here."""
    rule = recipe.data.heldout
    keywords = recipe.data.routing.keywords if recipe.data.routing.apply else []
    if not rule.hash_fraction and not keywords:
        return None

    def keep(doc) -> bool:
        return not rule.holds_out(doc) and (not keywords or any(k in doc.text for k in keywords))

    return keep


def mined_dir(recipe_name: str) -> Path:
    """Where `mine-terms --category X` writes its terms by default, and where `adapt --category X` looks."""
    return Path("mined") / recipe_name


def mine_request(
    *,
    category: str | None = None,
    corpus: Sequence[str] = (),
    reference: Sequence[str] = (),
    base: str | None = None,
    slots: int | None = None,
    field: str | None = None,
    where: dict[str, str | list[str]] | None = None,
    output: Path | None = None,
    data_dir: Path | None = None,
    **settings,
) -> MineRequest:
    """Merge a category's recipe (if any) with explicit options; `settings` are MineConfig fields (None: unset)."""
    overrides = {k: v for k, v in settings.items() if v is not None}
    if overrides.get("ray_address"):
        if overrides.get("engine", "ray") != "ray":
            raise ConfigError(
                "--ray-address is only used with --engine ray.", "Use --engine ray, or drop --ray-address."
            )
        overrides["engine"] = "ray"  # an address means the Ray engine
    if slots is not None:
        overrides["slots"] = slots
    if category:
        from domainlm.recipes.load import resolve_category

        recipe = resolve_category(category, data_dir=data_dir)
        config = mine_settings({**recipe.mine.model_dump(), **overrides})
        return MineRequest(
            corpus=corpus_specs(corpus, field=field, where=where) if corpus else list(recipe.data.domain),
            reference=corpus_specs(reference, field=field) if reference else list(recipe.data.reference),
            base=base or recipe.base,
            config=config,
            output=output or mined_dir(recipe.name),
            normalize=recipe.data.normalize,
            category=recipe.category,
            keep=_recipe_keep(recipe) if not corpus else None,
        )
    missing = [
        name for name, value in (("--corpus", corpus), ("--reference", reference), ("--base", base)) if not value
    ]
    if missing:
        raise ConfigError(
            f"Without --category, mine-terms needs {', '.join(missing)}.",
            "Pass --category NAME (see `domainlm recipe list`), or all of --corpus, --reference and --base.",
        )
    config = mine_settings(overrides)
    return MineRequest(
        corpus=corpus_specs(corpus, field=field, where=where),
        reference=corpus_specs(reference, field=field),
        base=str(base),
        config=config,
        output=output or Path("mined") / "terms",
        normalize=NormalizeConfig(),
    )


def _evaluation_dir(after: str) -> Path:
    """AFTER.evaluation beside the model, never inside it: the model folder is what `domainlm push` uploads."""
    folder = Path(after)
    if not folder.is_dir():
        return Path("evaluation")
    if folder.name in ("", ".."):  # "." or "..": name the report after the folder's real name
        folder = folder.resolve()
    return folder.with_name(f"{folder.name}.evaluation")


def evaluate_request(
    before: str,
    after: str,
    out_dir: str | Path | None = None,
    *,
    domain: Sequence[str],
    general: Sequence[str] | None = None,
    domain_field: str | None = None,
    general_field: str | None = None,
    tasks: Sequence[str] = (),
    data_dir: str | Path | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
    finetune: Sequence[str] = (),
    finetune_seeds: int = 3,
    finetune_max_train: int | None = None,
    train_corpus: Sequence[str] | None = None,
    update_card: bool = True,
    on_warning: Note | None = None,
    force: bool = False,
    **settings,
):
    """`domainlm evaluate`: its options decided (probe tasks with their budgets, the fine-tuning suite,
    `EvalConfig` with `settings` such as max_texts, seed, probe, precision; the report folder, by default
    AFTER.evaluation beside the model) and the evaluation run; returns the `Report`."""
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.evaluation.config import SuiteConfig
    from domainlm.tasks.probe import resolve_task

    budgets = {k: v for k, v in (("max_train", max_train), ("max_test", max_test)) if v is not None}
    probes = [spec.model_copy(update=budgets) for value in tasks for spec in resolve_task(value, data_dir)]
    suite = SuiteConfig(
        tasks=list(finetune),
        seeds=finetune_seeds,
        max_train=finetune_max_train,
        data_dir=str(data_dir) if data_dir else None,
    )
    config = EvalConfig(tasks=probes, suite=suite, **settings)
    return evaluate(
        before,
        after,
        Path(out_dir) if out_dir else _evaluation_dir(after),
        domain=corpus_list(domain, domain_field) or None,
        general=corpus_list(general, general_field) or None,
        config=config,
        train_corpus=list(train_corpus) if train_corpus else None,
        update_card=update_card,
        on_warning=on_warning,
        force=force,
    )
