"""`adapt`: fill the free vocabulary slots with mined terms, initialise their rows, continue pretraining.

The library function behind `domainlm adapt`; the CLI only parses options and renders the result. The
model it trains comes ready from `domainlm.modeling.prepare_model`; here the run is checked, its
slot budget chosen, its data streamed, the trainer run and the output folder written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domainlm.corpus import corpus_specs as as_specs
from domainlm.corpus.normalize import Normalizer
from domainlm.errors import ConfigError
from domainlm.modeling.loading import electra_role
from domainlm.modeling.prepare import PreparedModel, prepare_model
from domainlm.training import engine
from domainlm.training.checkpoint import checkpoint_dir_for, latest_checkpoint
from domainlm.training.config import TrainConfig
from domainlm.training.data import PackedStream, fixed_sequences, training_texts
from domainlm.training.engine import TrainOutcome, plan_phases
from domainlm.training.masking import resolved_masking
from domainlm.training.output import check_model_output, holding_output_lock
from domainlm.training.tracking import training_plan


@dataclass
class AdaptResult:
    out_dir: Path
    steps: int
    tokens: int
    final_loss: float | None
    eval_loss: float | None
    eval_loss_before: float | None
    slots_filled: int
    slots_rejected: list
    seconds: float
    resumed_from: int | None
    metrics_path: Path
    init_report: dict | None = None  # init distill: contexts, steps, seconds, loss (its cost)
    objective: str = "masked-LM"  # or "replaced-token detection" (an ELECTRA discriminator)
    slot_plan: dict | None = None  # how many terms were filled and the masked-target exposure of each (slot_budget)
    save: str = "merged"  # what out_dir holds: the merged model, the LoRA adapter (adapter/), or both


def spec_names(specs) -> list[str]:
    """The paths (or dataset names) of corpus specs, as settings.json records them."""
    return [s.path for s in specs]


def choose_terms(base_tokenizer, term_list: list, texts, config: TrainConfig, work_dir: Path):
    """(the terms to fill, the slot plan or None) under `config.slots`: auto keeps the terms the
    planned training can teach, a number the first N as given (more than the free slots then follows
    `vocab fill`'s rule), all every term. `texts`: the training side of the domain corpus."""
    plan = plan_fill(base_tokenizer, term_list, texts, config, work_dir)
    if plan is None or config.slots == "all":
        return term_list, plan
    if config.slots == "auto":
        chosen = set(plan.chosen)
        return [t for t in term_list if t.term in chosen], plan
    return term_list[: config.slots], plan


def plan_fill(base_tokenizer, term_list: list, texts, config: TrainConfig, work_dir: Path):
    """The slot plan of a run (see domainlm.training.slot_budget): every candidate filled into a scratch
    copy of the base tokenizer, a sample of the training text counted with it, the terms chosen."""
    from domainlm.training.slot_budget import plan_slots, planned_domain_tokens, term_counts
    from vocab_tools import fill_slots
    from vocab_tools.slots import append_slots, free_slots

    base_dir = work_dir / "base"
    base_tokenizer.save_pretrained(str(base_dir))
    free = len(free_slots(base_dir))
    if config.resize and free < len(term_list):
        append_slots(base_dir, len(term_list) - free)
    elif not free:
        return None
    filled = fill_slots(str(base_dir), term_list, work_dir / "filled", truncate=True, text_normalizer=Normalizer())
    counts, tokens = term_counts(
        Path(filled.out_dir) / "tokenizer.json", {e.slot_id: e.term for e in filled.filled}, texts
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return plan_slots(
        [e.term for e in filled.filled],
        counts,
        tokens,
        domain_tokens=planned_domain_tokens(config, world),
        mlm_probability=config.mlm_probability,
        slots=config.slots,
        free_slots=None if config.resize else free,
    )


def resolve_save_form(save: str | None, config: TrainConfig) -> str:
    """What adapt writes: the merged model, the LoRA adapter (on the filled base) or both.

    Unset: both where the run ends as an adapter on the filled base (mode lora, or phased new-rows
    then lora), else merged; an adapter asked of any other run is refused before training.
    """
    from domainlm.modeling.adapters import SAVE_FORMS, adapter_possible

    possible = adapter_possible([p.mode for p in plan_phases(config)]) if config.max_steps else False
    if save is None:
        return "both" if possible else "merged"
    if save not in SAVE_FORMS:
        raise ConfigError(f"--save {save!r} is not a save form.", f"Use one of: {', '.join(SAVE_FORMS)}.")
    if save != "merged" and not possible:
        raise ConfigError(
            f"--save {save} keeps a LoRA adapter, but mode {config.mode!r} trains no adapter on the filled base.",
            "Use --mode lora (or phased: new-rows then lora), or --save merged.",
        )
    return save


def _read_terms(terms) -> list:
    from vocab_tools.terms import Term, read_terms

    if isinstance(terms, (str, os.PathLike)):
        return read_terms(terms)
    return [t if isinstance(t, Term) else Term(str(t)) for t in terms]


@holding_output_lock
def adapt(
    base,
    out_dir,
    *,
    corpus,
    replay=(),
    terms=None,
    filled_tokenizer=None,
    config: TrainConfig | None = None,
    category: str | None = None,
    resume: bool = False,
    recipe=None,
    on_step=None,
    heldout_seed: str = "domainlm",
    force: bool = False,
    truncate: bool = False,
    new_head: bool = False,
    generator=None,
    save: str | None = None,
) -> AdaptResult:
    """Fill slots (from `terms` or a `filled_tokenizer`), initialise their rows, and continue MLM pretraining.

    `corpus` / `replay`: CorpusSpec, path, or lists of them. Writes the model directory `out_dir`
    atomically; checkpoints go to `<out_dir>.checkpoints` (see `resume`). Documents with
    `is_heldout(id or text, config.heldout_fraction, heldout_seed)` never train; they give the
    held-out MLM loss before and after.

    `out_dir` must be absent, empty or an earlier `adapt` output (checked before anything loads),
    unless `force`. More terms than free slots are refused unless `truncate`. A base without
    masked-LM head weights is refused unless `new_head`. Every tensor of the base checkpoint the
    masked-LM class leaves out (BERT's pooler and NSP head) is saved unchanged with the model.

    An ELECTRA discriminator base trains by replaced-token detection (`domainlm.training.electra`)
    with `generator` (a folder of its ElectraForMaskedLM) or, without one, a small new generator
    that learns alone for `train.electra.generator_warmup_steps` first; the output holds the
    discriminator and, in `generator/`, the generator.

    `save` (`merged`, `adapter`, `both`; unset: both for a LoRA run, else merged): a LoRA run also
    writes its peft adapter to `adapter/` (see `domainlm.modeling.adapters`); `adapter` leaves the
    merged weights out (the tokenizer, slots.json, settings and card stay at the top).
    """
    job = _checked_job(
        base, Path(out_dir), corpus, replay, terms, filled_tokenizer, generator, config, category, force, save
    )
    job.heldout_seed, job.recipe = heldout_seed, recipe  # read later, checked by nothing
    with tempfile.TemporaryDirectory(prefix="domainlm-adapt-") as work:
        budget = _SlotBudget(job, Path(work) / "slot-plan")
        prepared = _prepare(job, budget, Path(work), truncate=truncate, new_head=new_head)
        run = _train_prepared(job, prepared, resume=resume, on_step=on_step)
        if run.outcome.adapter is None and job.save != "merged":
            job.save = "merged"  # resumed from a final checkpoint written before adapters were kept in it
        if run.outcome.is_main:
            _write_adapted(job, prepared, run, _settings(job, prepared, run, budget))
    return _result(job, prepared, run, budget)


@dataclass
class _AdaptJob:
    """What an adapt run was asked, checked before anything loads: what every later step reads."""

    base: Any
    out_dir: Path
    config: TrainConfig
    corpus_specs: list
    replay_specs: list
    terms: Any  # as given: a path, a list of terms or None
    term_list: list | None  # the terms read
    filled_tokenizer: Any
    generator: Any
    category: str | None
    force: bool
    save: str
    tracking: Any
    fingerprint: dict
    heldout_seed: str = "domainlm"
    recipe: Any = None

    def domain_texts(self):
        return training_texts(
            self.corpus_specs,
            heldout_fraction=self.config.heldout_fraction,
            max_documents=self.config.max_documents,
            heldout_seed=self.heldout_seed,
        )

    def replay_texts(self):
        return training_texts(self.replay_specs, max_documents=self.config.max_documents)


def _checked_job(
    base, out_dir: Path, corpus, replay, terms, filled_tokenizer, generator, config, category, force, save
) -> _AdaptJob:
    """The run's settings and inputs, every refusal that needs no model said first (the output folder's
    in the first second)."""
    config = config or TrainConfig()
    config = config.model_copy(update={"masking": resolved_masking(config, from_scratch=False)})
    save = resolve_save_form(save, config)
    inputs = [base, filled_tokenizer, generator, *as_specs(corpus), *as_specs(replay)]
    inputs += [terms] if isinstance(terms, (str, os.PathLike)) else []
    force = check_model_output(out_dir, "adapt", force, inputs=[i for i in inputs if i is not None])
    tracking = training_plan(config, out_dir, "adapt", base=base, category=category)
    if terms is not None and filled_tokenizer is not None:
        raise ConfigError(
            "Pass either terms or a filled tokenizer, not both.",
            "--terms fills the base's slots here; --filled-tokenizer uses slots filled by `vocab fill`.",
        )
    corpus_specs, replay_specs = as_specs(corpus), as_specs(replay)
    if not corpus_specs:
        raise ConfigError("No domain corpus was given.", "Pass --corpus (or --category with a recipe that names one).")
    term_list = _read_terms(terms) if terms is not None else None
    if save == "adapter" and electra_role(base) == "discriminator":  # what load_base reads the base as
        raise ConfigError(
            "--save adapter cannot hold an ELECTRA base's generator (a whole model, not an adapter).",
            "Use --save both: the adapter goes to adapter/, the merged discriminator and generator beside it.",
        )
    fingerprint = _input_fingerprint(base, corpus_specs, replay_specs, terms, term_list, filled_tokenizer, generator)
    return _AdaptJob(
        base=base,
        out_dir=out_dir,
        config=config,
        corpus_specs=corpus_specs,
        replay_specs=replay_specs,
        terms=terms,
        term_list=term_list,
        filled_tokenizer=filled_tokenizer,
        generator=generator,
        category=category,
        force=force,
        save=save,
        tracking=tracking,
        fingerprint=fingerprint,
    )


class _SlotBudget:
    """adapt's choice of the terms to fill (`choose_terms`), made once the base tokenizer is loaded;
    the plan is kept for the CLI's messages and the card."""

    def __init__(self, job: _AdaptJob, work_dir: Path) -> None:
        self.job, self.work_dir = job, work_dir
        self.record: dict | None = None
        self.chose_none = False  # nothing the budget can teach: plain continued pretraining

    def __call__(self, base_tokenizer, term_list: list) -> list:
        chosen, plan = choose_terms(base_tokenizer, term_list, self.job.domain_texts(), self.job.config, self.work_dir)
        self.record = plan.to_dict() if plan else None
        self.chose_none = not chosen
        return chosen


def _prepare(job: _AdaptJob, budget: _SlotBudget, work_dir: Path, *, truncate: bool, new_head: bool) -> PreparedModel:
    config = job.config
    return prepare_model(
        job.base,
        work_dir=work_dir,
        terms=job.term_list,
        terms_source=str(job.terms) if isinstance(job.terms, (str, os.PathLike)) else None,
        filled_tokenizer=job.filled_tokenizer,
        select_terms=budget,
        init=config.init,
        seed=config.seed,
        resize=config.resize,
        truncate=truncate,
        category=job.category,
        new_head=new_head,
        seq_len=config.seq_len,
        generator=job.generator,
        generator_fraction=config.electra.generator_fraction,
    )


@dataclass
class _Trained:
    """What training the prepared model gave, with what was measured on the way."""

    outcome: TrainOutcome
    stream: PackedStream
    objective: Any  # replaced-token detection, or None (masked-LM)
    electra: dict | None  # what the settings record of the ELECTRA objective
    init_report: dict | None
    eval_before: float | None
    ckpt_dir: Path


def _train_prepared(job: _AdaptJob, prepared: PreparedModel, *, resume: bool, on_step) -> _Trained:
    """Learn the rows (distill), measure the held-out loss before, stream the domain text and train."""
    config = job.config
    objective, electra = _electra_objective(prepared, config)
    ckpt_dir = checkpoint_dir_for(job.out_dir)
    # A resumed run loads its trained rows from the checkpoint: learning them again would be wasted.
    resumed = resume and latest_checkpoint(ckpt_dir) is not None
    init_report = None if resumed else prepared.learn_rows(job.domain_texts, config)
    heldout, eval_before = _heldout_before(
        prepared.model,
        prepared.tokenizer,
        job.corpus_specs,
        config,
        job.heldout_seed,
        objective,
        scored_before=objective is None or prepared.generator_given,
    )
    if job.tracking is not None and eval_before is not None:
        job.tracking.first = {"eval/loss": eval_before}
    stream = PackedStream(
        prepared.tokenizer,
        job.domain_texts,
        config.seq_len,
        seed=config.seed,
        replay=job.replay_texts if job.replay_specs else None,
        replay_ratio=config.replay_ratio,
    )
    outcome = engine.train(  # through the module: a test (or a launcher) may wrap it
        build_model=lambda: prepared.model,
        tokenizer=prepared.tokenizer,
        stream=stream,
        config=config,
        ckpt_dir=ckpt_dir,
        slot_ids=prepared.slot_ids,
        resume=resume,
        heldout_sequences=heldout,
        on_step=on_step,
        resume_hint="rerun the same `domainlm adapt` command with --resume",
        description=f"adapt {job.category or ''}".strip(),
        fingerprint=job.fingerprint,
        objective=objective,
        tracking=job.tracking,
    )
    return _Trained(outcome, stream, objective, electra, init_report, eval_before, ckpt_dir)


def _electra_objective(prepared: PreparedModel, config: TrainConfig):
    """The replaced-token detection objective of an ELECTRA base and what the settings record of it
    (None, None for a masked-LM). A generator built here learns alone for its warm-up first."""
    if not prepared.discriminator:
        return None, None
    from domainlm.training.electra import ReplacedTokenDetection, generator_warmup

    generator = prepared.generator
    warmup = (
        0 if prepared.generator_given else generator_warmup(config.electra.generator_warmup_steps, config.max_steps)
    )
    objective = ReplacedTokenDetection(prepared.tokenizer, config, generator, warmup_steps=warmup)
    shown = (
        "the given one"
        if prepared.generator_given
        else f"built here, hidden {generator.config.hidden_size} of {prepared.model.config.hidden_size}"
    )
    return objective, {"objective": "replaced-token detection", "generator": shown, "generator_warmup_steps": warmup}


def _settings(job: _AdaptJob, prepared: PreparedModel, run: _Trained, budget: _SlotBudget) -> dict:
    """settings.json of the adapted model: what was asked, what was filled, how the run ran."""
    terms = None if budget.chose_none else job.terms
    return {
        "command": "adapt",
        "base": str(job.base),
        "category": job.category,
        "corpus": spec_names(job.corpus_specs),
        "replay": spec_names(job.replay_specs),
        "terms": str(terms) if isinstance(terms, (str, os.PathLike)) else (len(terms) if terms is not None else None),
        "filled_tokenizer": str(job.filled_tokenizer) if job.filled_tokenizer else None,
        "slots_filled": len(prepared.entries),
        "new_head": prepared.new_head,
        "init_report": run.init_report,
        "slot_plan": budget.record,
        # --resize: the terms beyond the base's own rows sit in appended rows (ids >= base_rows).
        "base_rows": prepared.base_rows,
        "appended_rows": prepared.appended_rows,
        "kept_tensors": list(prepared.kept_tensors),
        "train": job.config.model_dump(mode="json"),
        **run.outcome.run_facts(job.config),
        # How often the domain text was re-read (a likely cause when adaptation did not help).
        "domain_reading": run.stream.reading.to_dict(),
        "save": job.save,
        "recipe": _recipe_dump(job.recipe),
    } | (run.electra or {})


def _result(job: _AdaptJob, prepared: PreparedModel, run: _Trained, budget: _SlotBudget) -> AdaptResult:
    outcome = run.outcome
    return AdaptResult(
        out_dir=job.out_dir,
        steps=outcome.steps,
        tokens=outcome.tokens,
        final_loss=outcome.final_loss,
        eval_loss=outcome.eval_loss,
        eval_loss_before=run.eval_before,
        slots_filled=len(prepared.entries),
        slots_rejected=prepared.rejected,
        seconds=outcome.seconds,
        resumed_from=outcome.resumed_from,
        metrics_path=job.out_dir / "metrics.jsonl",
        init_report=run.init_report,
        slot_plan=budget.record,
        save=job.save,
        objective="replaced-token detection" if run.objective is not None else "masked-LM",
    )


def _input_fingerprint(base, corpus_specs, replay_specs, terms, term_list, filled_tokenizer, generator) -> dict:
    """What a resume must find unchanged (see domainlm.training.fingerprint)."""
    from domainlm.training import fingerprint as fp

    return {
        "base": fp.folder_entry(base),
        "corpus": fp.corpus_entry(corpus_specs),
        "replay": fp.corpus_entry(replay_specs) if replay_specs else None,
        "terms": fp.terms_entry(terms, term_list) if term_list is not None else None,
        "filled_tokenizer": fp.folder_entry(filled_tokenizer, ("tokenizer.json", "vocab.txt", "slots.json"))
        if filled_tokenizer is not None
        else None,
        "generator": fp.folder_entry(generator) if generator is not None else None,
    }


def _heldout_before(
    model, tokenizer, corpus_specs, config: TrainConfig, heldout_seed: str, objective, *, scored_before: bool
):
    """(held-out sequences, the held-out loss before training): the documents the hash rule keeps out
    of training. A new ELECTRA generator is random before training, so its corruptions would say
    nothing of the base: then `scored_before` is False and the loss before is None."""
    from domainlm.training.heldout import heldout_mlm_loss

    if not (config.eval_documents and config.heldout_fraction > 0):
        return None, None
    texts = training_texts(
        corpus_specs,
        heldout_fraction=config.heldout_fraction,
        heldout=True,
        max_documents=config.eval_documents,
        heldout_seed=heldout_seed,
    )
    heldout = fixed_sequences(tokenizer, texts, config.seq_len, limit=256) or None
    if heldout is None or not scored_before:
        return heldout, None
    if objective is not None:
        return heldout, objective.evaluate(model, heldout)
    return heldout, heldout_mlm_loss(
        model,
        tokenizer,
        sequences=heldout,
        seq_len=config.seq_len,
        batch_size=config.batch_size,
        seed=config.seed,
        mlm_probability=config.mlm_probability,
        masking=config.masking or "whole-word",
    )


def _write_adapted(job: _AdaptJob, prepared: PreparedModel, run: _Trained, settings: dict) -> None:
    """The adapted model folder (or, when it cannot be written, the kept checkpoint that says so)."""
    from domainlm.training.card import model_card
    from domainlm.training.output import write_model_dir, write_or_keep_checkpoint
    from domainlm.versions import library_versions

    # The model is the base with its rows initialised, also when resuming (the checkpoint is
    # loaded later, inside train), so this is the "before" of this run either way.
    outcome = run.outcome
    metrics = outcome.metrics
    if run.eval_before is not None:
        metrics = [{"step": 0, "eval_loss": run.eval_before, "tokens": 0}] + metrics
    versions = library_versions()
    card = model_card(
        kind="adapt",
        base=settings["base"],
        category=settings["category"],
        settings=settings,
        outcome=outcome,
        slots=prepared.entries,
        eval_before=run.eval_before,
        versions=versions,
        folder_name=job.out_dir.name,
        mask_token=prepared.tokenizer.mask_token or "[MASK]",
        electra=run.objective is not None,
    )
    slots_json = prepared.slots_json
    tokenizer_dir = Path(job.filled_tokenizer) if job.filled_tokenizer else (slots_json.parent if slots_json else None)
    write_or_keep_checkpoint(
        lambda: write_model_dir(
            job.out_dir,
            model=outcome.model,
            tokenizer=prepared.tokenizer,
            settings=settings,
            versions=versions,
            metrics=metrics,
            card=card,
            slots_json=slots_json,
            command="adapt",
            force=job.force,
            kept_tensors=prepared.kept_tensors,
            generator=run.objective.generator if run.objective is not None else None,
            tokenizer_dir=tokenizer_dir,
            save=job.save,
            adapter=outcome.adapter,
            base_name=settings["base"],
        ),
        outcome,
        ckpt_dir=run.ckpt_dir,
        command="adapt",
    )
    if not job.config.keep_checkpoints:
        shutil.rmtree(run.ckpt_dir, ignore_errors=True)


def _recipe_dump(recipe):
    if recipe is None:
        return None
    if hasattr(recipe, "model_dump"):
        return recipe.model_dump(mode="json")
    return recipe
