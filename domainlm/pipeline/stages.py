"""The stages of `recipe run`, each a plain function over (recipe, run folder).

prepare → mine → fill → adapt → evaluate. Each stage declares the material its fingerprint is made
of (settings, corpus hashes, upstream outputs) and runs by calling ONE library function of another
area; the runner (runner.py) decides whether to run, skip or resume it. Where each stage's files are
in the run folder is `RunLayout`'s (layout.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domainlm.corpus import CorpusSpec, Normalizer, clean_and_split
from domainlm.errors import DomainLMError, TrainingError
from domainlm.io import write_json
from domainlm.pipeline.hashing import hash_corpora, hash_path
from domainlm.pipeline.layout import RunLayout
from domainlm.recipes.load import RESOLVED_NAME
from domainlm.recipes.schema import Recipe


@dataclass
class StageContext:
    recipe: Recipe
    out_dir: Path

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.out_dir)


@dataclass
class Stage:
    name: str
    inputs: Callable[[StageContext], Any]  # fingerprint material
    run: Callable[[StageContext, bool], dict]  # (ctx, resume) → summary for stages.json
    outputs: Callable[[StageContext], list[Path]]  # must exist for the stage to count as done
    resumable: bool = False
    # Whether an interrupted run left something to resume from (default: assume it did).
    can_resume: Callable[[StageContext], bool] = lambda ctx: True


# ---------------------------------------------------------------- prepare


def _base_material(recipe: Recipe) -> str:
    return hash_path(recipe.base)


def prepare_inputs(ctx: StageContext) -> Any:
    d = ctx.recipe.data
    material: dict[str, Any] = {
        "domain": hash_corpora(d.domain),
        "heldout_corpus": hash_corpora(d.heldout.corpus),
        "heldout": d.heldout.model_dump(mode="json", exclude={"corpus"}),
        "normalize": d.normalize,
        "filters": d.filters,
        "max_documents": d.max_documents,
        "routing": d.routing,
    }
    if d.routing.apply:
        from domainlm.routing import routing_recipes

        material["router"] = {r.name: r.data.routing.keywords for r in _router_recipes(ctx.recipe, routing_recipes)}
    return material


def _router_recipes(recipe: Recipe, routing_recipes) -> list:
    # The recipe competes against every routing category, itself in its current (overridden) form.
    others = [r for r in routing_recipes() if r.name != recipe.name]
    return [*others, recipe]


def run_prepare_stage(ctx: StageContext, resume: bool) -> dict:
    """Clean the domain corpora, route them if asked, and split off the held-out text."""
    recipe, d = ctx.recipe, ctx.recipe.data
    router = None
    if d.routing.apply:
        from domainlm.routing import router_from_recipes, routing_recipes

        if not d.routing.keywords:
            raise DomainLMError(
                f"The recipe '{recipe.name}' sets data.routing.apply but has no data.routing.keywords.",
                "Add keywords, or set data.routing.apply: false.",
            )
        router = router_from_recipes(_router_recipes(recipe, routing_recipes))
    run = ctx.layout
    split, report = clean_and_split(
        d.domain,
        run.domain_text,
        run.heldout_text,
        normalize=d.normalize,
        filters=d.filters,
        holds_out=d.heldout.holds_out,
        keep=None if router is None else lambda doc: router.route(doc.text)[0] == recipe.name,
        max_documents=d.max_documents,
        max_heldout=d.heldout.max_documents,
        heldout_corpus=d.heldout.corpus,
    )
    counts = {"domain": split.train, "heldout": split.heldout, "routed_away": split.left_out}
    if counts["domain"] == 0:
        raise DomainLMError(
            f"No domain text is left for '{recipe.category}' after cleaning"
            + (" and routing" if router else "")
            + f" ({report.read:,} documents read).",
            "Check data.domain (paths, field, where) and data.routing.keywords.",
        )
    if counts["heldout"] == 0:
        raise DomainLMError(
            f"No held-out text for '{recipe.category}': nothing to measure the adaptation on.",
            "Raise data.heldout.fraction or name a held-out corpus in data.heldout.corpus.",
        )
    summary = {**counts, "read": report.read, "removed": dict(report.removed)}
    write_json(run.prepare_summary, summary)
    return summary


# ---------------------------------------------------------------- mine


def mine_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    return {
        "domain": hash_path(ctx.layout.domain_text),
        "reference": hash_corpora(r.data.reference),
        "mine": r.mine,
        "base": _base_material(r),
    }


# Every stage writes its folder with force=True: the run folder is the runner's (run_recipe checks
# it before any stage), so each stage folder in it is too, also one left by an older domainlm.


def run_mine_stage(ctx: StageContext, resume: bool) -> dict:
    from domainlm.mining import mine_terms

    r = ctx.recipe
    result = mine_terms(
        str(ctx.layout.domain_text),
        list(r.data.reference),
        r.base,
        r.mine,
        out_dir=ctx.layout.mine,
        normalize=r.data.normalize,
        category=r.category,
        force=True,
    )
    if not result.terms:
        raise DomainLMError(
            f"Mining found no terms for '{r.category}'.",
            "Lower mine.min_count, or give more domain text (data.domain).",
        )
    return {"terms": len(result.terms), "estimated_gain": result.estimated_gain}


# ---------------------------------------------------------------- fill


def fill_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    # train.slots auto chooses the terms by the training budget: the settings that size it are inputs.
    budget = {
        k: getattr(r.train, k)
        for k in (
            "slots",
            "max_steps",
            "batch_size",
            "grad_accum",
            "seq_len",
            "replay_ratio",
            "mlm_probability",
            "resize",
        )
    }
    return {
        "terms": hash_path(ctx.layout.terms_tsv),
        "vocab": r.vocab,
        "base": _base_material(r),
        "category": r.category,
        "budget": budget,
    }


def run_fill_stage(ctx: StageContext, resume: bool) -> dict:
    from vocab_tools import fill_slots
    from vocab_tools.loading import vocab_sha256
    from vocab_tools.terms import read_terms

    r, run = ctx.recipe, ctx.layout
    terms = read_terms(run.terms_tsv)[: r.vocab.slots]
    # train.slots (auto by default) keeps the terms the recipe's training budget can teach.
    terms, plan = _planned_terms(r, run, terms)
    if not terms:
        raise TrainingError(
            f"None of the mined terms would be a masked target often enough in {r.train.max_steps:,} steps "
            "to be learned: " + plan.messages()[0] + ".",
            "Raise train.max_steps, or set train.slots to a number (or all) to fill terms anyway.",
        )
    result = fill_slots(
        r.base,
        terms,
        run.tokenizer,
        category=r.category,
        source=r.name,
        truncate=r.vocab.truncate,
        force=True,
        text_normalizer=Normalizer(r.data.normalize),
    )
    summary = {
        "filled": len(result.filled),
        "rejected": len(result.rejected),
        "unreachable": len(result.unreachable),
        "base_vocab_sha256": vocab_sha256(r.base),
    }
    if plan is not None:
        summary["slot_plan"] = plan.to_dict()
    write_json(
        run.fill_summary,
        {
            **summary,
            "rejected_terms": [list(x) for x in result.rejected][:200],
            "unreachable_terms": list(result.unreachable)[:200],
        },
    )
    return summary


def _planned_terms(r, run, terms: list):
    import tempfile

    from domainlm.modeling.loading import load_hf_tokenizer
    from domainlm.training.adapting import choose_terms
    from domainlm.training.data import training_texts

    if r.train.slots == "all" or not terms:
        return terms, None
    texts = training_texts([CorpusSpec(path=str(run.domain_text))], heldout_fraction=r.train.heldout_fraction)
    with tempfile.TemporaryDirectory(prefix="domainlm-slot-plan-") as work:
        return choose_terms(load_hf_tokenizer(r.base), terms, texts, r.train, Path(work))


# ---------------------------------------------------------------- adapt


def adapt_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    return {
        "domain": hash_path(ctx.layout.domain_text),
        "tokenizer": hash_path(ctx.layout.tokenizer),
        "replay": hash_corpora(r.data.replay),
        "train": r.train,
        "base": _base_material(r),
        # Only when set, so that the fingerprints of earlier (masked-LM) runs stay as they were.
        **({"generator": r.generator} if r.generator else {}),
    }


def run_adapt_stage(ctx: StageContext, resume: bool) -> dict:
    from domainlm.training import adapt

    r, run = ctx.recipe, ctx.layout
    # The fill stage already wrote the terms into the slots; adapt initialises those rows and trains.
    result = adapt(
        r.base,
        run.model,
        corpus=[CorpusSpec(path=str(run.domain_text))],
        replay=list(r.data.replay),
        filled_tokenizer=run.tokenizer,
        config=r.train,
        category=r.category,
        resume=resume,
        recipe=r,
        force=True,
        generator=r.generator,
    )
    summary: dict[str, Any] = {"out_dir": str(result.out_dir)}
    for key in ("steps", "tokens", "final_loss", "eval_loss_before", "eval_loss", "slots_filled", "resumed_from"):
        summary[key] = getattr(result, key)
    return summary


# ---------------------------------------------------------------- evaluate


def evaluate_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    tasks = [hash_corpora([t.train, t.test]) for t in r.eval.tasks]
    # The model card (README.md) is rewritten by evaluate itself, and the resolved recipe by the
    # runner: neither changes what is evaluated.
    model = hash_path(ctx.layout.model, exclude=("README.md", RESOLVED_NAME))
    return {
        "model": model,
        "heldout": hash_path(ctx.layout.heldout_text),
        "general": hash_corpora(r.data.general_eval),
        "eval": r.eval,
        "tasks": tasks,
        "base": _base_material(r),
    }


def run_evaluate_stage(ctx: StageContext, resume: bool) -> dict:
    from domainlm.evaluation import evaluate

    r, run = ctx.recipe, ctx.layout
    evaluate(
        r.base,
        run.model,
        run.report,
        domain=[CorpusSpec(path=str(run.heldout_text))],
        general=list(r.data.general_eval) or None,
        config=r.eval,
        train_corpus=[CorpusSpec(path=str(run.domain_text))],
        force=True,
    )
    # The numbers live in report.json (the contract); the stage record only points at the report.
    return {"report": str(run.report_md)}


def adapt_can_resume(ctx: StageContext) -> bool:
    """Whether adapt left a checkpoint to continue from (training's own rule of what one is)."""
    from domainlm.training.checkpoint import latest_checkpoint

    return latest_checkpoint(ctx.layout.checkpoints) is not None


STAGES: list[Stage] = [
    Stage("prepare", prepare_inputs, run_prepare_stage, lambda c: [c.layout.domain_text, c.layout.heldout_text]),
    Stage("mine", mine_inputs, run_mine_stage, lambda c: [c.layout.terms_tsv]),
    Stage("fill", fill_inputs, run_fill_stage, lambda c: [c.layout.slots_json, c.layout.fill_summary]),
    Stage(
        "adapt", adapt_inputs, run_adapt_stage, lambda c: [c.layout.model], resumable=True, can_resume=adapt_can_resume
    ),
    Stage("evaluate", evaluate_inputs, run_evaluate_stage, lambda c: [c.layout.report_json]),
]
STAGE_NAMES = [s.name for s in STAGES]
