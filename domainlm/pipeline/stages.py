"""The stages of `recipe run`, each a plain function over (recipe, run folder).

prepare → mine → fill → adapt → evaluate. Each stage declares the material its fingerprint is made
of (settings, corpus hashes, upstream outputs) and runs by calling ONE library function of another
area; the runner (runner.py) decides whether to run, skip or resume it.

Layout of a run folder:
    prepare/domain.txt, prepare/heldout.txt, prepare/prepare.json
    mine/terms.tsv, mine/terms.json
    fill/tokenizer/ (filled vocab.txt + tokenizer.json + slots.json), fill/fill.json
    model/          (adapted model, from domainlm.training.adapt)
    report/         (report.json, report.md, charts, from domainlm.evaluation.evaluate)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from domainlm.corpus import CleanReport, clean_documents, is_heldout, iter_documents
from domainlm.corpus.reader import CorpusSpec
from domainlm.errors import DomainLMError
from domainlm.io import atomic_write, write_json
from domainlm.pipeline.hashing import hash_corpora, hash_path
from domainlm.recipes.schema import Recipe


@dataclass
class StageContext:
    recipe: Recipe
    out_dir: Path

    def path(self, *parts: str) -> Path:
        return self.out_dir.joinpath(*parts)


@dataclass
class Stage:
    name: str
    inputs: Callable[[StageContext], Any]       # fingerprint material
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
        "domain": hash_corpora(d.domain), "heldout_corpus": hash_corpora(d.heldout.corpus),
        "heldout": d.heldout.model_dump(mode="json", exclude={"corpus"}), "normalize": d.normalize,
        "filters": d.filters, "max_documents": d.max_documents, "routing": d.routing,
    }
    if d.routing.apply:
        from domainlm.routing import routing_recipes

        material["router"] = {r.name: r.data.routing.keywords for r in _router_recipes(ctx.recipe, routing_recipes)}
    return material


def _router_recipes(recipe: Recipe, routing_recipes) -> list:
    # The recipe competes against every routing category, itself in its current (overridden) form.
    others = [r for r in routing_recipes() if r.name != recipe.name]
    return [*others, recipe]


def run_prepare(ctx: StageContext, resume: bool) -> dict:
    """Clean the domain corpora, route them if asked, and split off the held-out text."""
    recipe, d = ctx.recipe, ctx.recipe.data
    router = None
    if d.routing.apply:
        from domainlm.routing import router_from_recipes, routing_recipes

        if not d.routing.keywords:
            raise DomainLMError(f"The recipe '{recipe.name}' sets data.routing.apply but has no data.routing.keywords.",
                                "Add keywords, or set data.routing.apply: false.")
        router = router_from_recipes(_router_recipes(recipe, routing_recipes))
    explicit = bool(d.heldout.corpus)
    report = CleanReport()
    counts = {"domain": 0, "heldout": 0, "routed_away": 0}
    out = ctx.path("prepare")
    with atomic_write(out / "domain.txt") as train_fh, atomic_write(out / "heldout.txt") as held_fh:
        for doc in clean_documents(iter_documents(d.domain), d.normalize, d.filters, report):
            if router is not None and router.route(doc.text)[0] != recipe.name:
                counts["routed_away"] += 1
                continue
            if not explicit and is_heldout(doc.id or doc.text, d.heldout.fraction, d.heldout.seed):
                if counts["heldout"] < d.heldout.max_documents:
                    held_fh.write(doc.text + "\n")
                    counts["heldout"] += 1
                continue  # held-out text never reaches mining or training, even past the cap
            train_fh.write(doc.text + "\n")
            counts["domain"] += 1
            if d.max_documents and counts["domain"] >= d.max_documents:
                break
        if explicit:
            for doc in clean_documents(iter_documents(d.heldout.corpus), d.normalize, d.filters):
                held_fh.write(doc.text + "\n")
                counts["heldout"] += 1
                if counts["heldout"] >= d.heldout.max_documents:
                    break
    if counts["domain"] == 0:
        raise DomainLMError(f"No domain text is left for '{recipe.category}' after cleaning"
                            + (" and routing" if router else "") + f" ({report.read:,} documents read).",
                            "Check data.domain (paths, field, where) and data.routing.keywords.")
    if counts["heldout"] == 0:
        raise DomainLMError(f"No held-out text for '{recipe.category}': nothing to measure the adaptation on.",
                            "Raise data.heldout.fraction or name a held-out corpus in data.heldout.corpus.")
    summary = {**counts, "read": report.read, "removed": dict(report.removed)}
    write_json(out / "prepare.json", summary)
    return summary


# ---------------------------------------------------------------- mine

def mine_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    return {"domain": hash_path(ctx.path("prepare", "domain.txt")), "reference": hash_corpora(r.data.reference),
            "mine": r.mine, "base": _base_material(r)}


# Every stage writes its folder with force=True: the run folder is the runner's (run_recipe checks
# it before any stage), so each stage folder in it is too, also one left by an older domainlm.

def run_mine(ctx: StageContext, resume: bool) -> dict:
    from domainlm.mining import mine_terms

    r = ctx.recipe
    result = mine_terms(str(ctx.path("prepare", "domain.txt")), list(r.data.reference), r.base, r.mine,
                        out_dir=ctx.path("mine"), normalize=r.data.normalize, category=r.category, force=True)
    if not result.terms:
        raise DomainLMError(f"Mining found no terms for '{r.category}'.",
                            "Lower mine.min_count, or give more domain text (data.domain).")
    return {"terms": len(result.terms), "estimated_gain": result.estimated_gain}


# ---------------------------------------------------------------- fill

def fill_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    return {"terms": hash_path(ctx.path("mine", "terms.tsv")), "vocab": r.vocab, "base": _base_material(r),
            "category": r.category}


def run_fill(ctx: StageContext, resume: bool) -> dict:
    from vocab_tools import fill_slots
    from vocab_tools.loading import vocab_sha256
    from vocab_tools.terms import read_terms

    r = ctx.recipe
    terms = read_terms(ctx.path("mine", "terms.tsv"))[: r.vocab.slots]
    result = fill_slots(r.base, terms, ctx.path("fill", "tokenizer"), category=r.category, source=r.name,
                        truncate=r.vocab.truncate, force=True)
    summary = {"filled": len(result.filled), "rejected": len(result.rejected), "unreachable": len(result.unreachable),
               "base_vocab_sha256": vocab_sha256(r.base)}
    write_json(ctx.path("fill", "fill.json"), {**summary, "rejected_terms": [list(x) for x in result.rejected][:200],
                                               "unreachable_terms": list(result.unreachable)[:200]})
    return summary


# ---------------------------------------------------------------- adapt

def adapt_inputs(ctx: StageContext) -> Any:
    r = ctx.recipe
    return {"domain": hash_path(ctx.path("prepare", "domain.txt")), "tokenizer": hash_path(ctx.path("fill", "tokenizer")),
            "replay": hash_corpora(r.data.replay), "train": r.train, "base": _base_material(r)}


def run_adapt(ctx: StageContext, resume: bool) -> dict:
    from domainlm.training import adapt

    r = ctx.recipe
    # The fill stage already wrote the terms into the slots; adapt initialises those rows and trains.
    result = adapt(r.base, ctx.path("model"), corpus=[CorpusSpec(path=str(ctx.path("prepare", "domain.txt")))],
                   replay=list(r.data.replay), filled_tokenizer=ctx.path("fill", "tokenizer"),
                   config=r.train, category=r.category, resume=resume, recipe=r, force=True)
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
    model = hash_path(ctx.path("model"), exclude=("README.md", "recipe.resolved.yaml"))
    return {"model": model, "heldout": hash_path(ctx.path("prepare", "heldout.txt")),
            "general": hash_corpora(r.data.general_eval), "eval": r.eval, "tasks": tasks, "base": _base_material(r)}


def run_evaluate(ctx: StageContext, resume: bool) -> dict:
    from domainlm.evaluation import evaluate

    r = ctx.recipe
    evaluate(r.base, ctx.path("model"), ctx.path("report"),
             domain=[CorpusSpec(path=str(ctx.path("prepare", "heldout.txt")))],
             general=list(r.data.general_eval) or None, config=r.eval,
             train_corpus=[CorpusSpec(path=str(ctx.path("prepare", "domain.txt")))], force=True)
    # The numbers live in report.json (the contract); the stage record only points at the report.
    return {"report": str(ctx.path("report", "report.md"))}


STAGES: list[Stage] = [
    Stage("prepare", prepare_inputs, run_prepare,
          lambda c: [c.path("prepare", "domain.txt"), c.path("prepare", "heldout.txt")]),
    Stage("mine", mine_inputs, run_mine, lambda c: [c.path("mine", "terms.tsv")]),
    Stage("fill", fill_inputs, run_fill, lambda c: [c.path("fill", "tokenizer", "slots.json"), c.path("fill", "fill.json")]),
    Stage("adapt", adapt_inputs, run_adapt, lambda c: [c.path("model")], resumable=True,
          # adapt checkpoints into `model.checkpoints/step-N/state.pt` (domainlm.training.checkpoint).
          can_resume=lambda c: any(c.path("model.checkpoints").glob("step-*/state.pt"))),
    Stage("evaluate", evaluate_inputs, run_evaluate, lambda c: [c.path("report", "report.json")]),
]
STAGE_NAMES = [s.name for s in STAGES]
