"""`adapt`: fill the free vocabulary slots with mined terms, initialise their rows, continue pretraining.

The library function behind `domainlm adapt`; the CLI only parses options and renders the result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from domainlm.corpus.normalize import Normalizer
from domainlm.errors import ConfigError, ModelError, TrainingError
from domainlm.training.config import TrainConfig
from domainlm.training.output import holding_output_lock


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


def distill_filled_rows(model, base_tokenizer, tokenizer, entries, texts, config: TrainConfig) -> dict:
    """Token Distillation of the filled input rows (see domainlm.modeling.distill); its cost as a dict."""
    from dataclasses import asdict

    from domainlm.modeling.distill import distill_rows

    report = distill_rows(
        model,
        base_tokenizer,
        tokenizer,
        entries,
        texts,
        contexts_per_term=config.distill_contexts,
        max_len=min(config.seq_len, 128),
        lr=config.distill_lr,
        epochs=config.distill_epochs,
        seed=config.seed,
    )
    result = asdict(report)
    result["without_context"] = result["without_context"][:50]
    return result


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
    from domainlm.training.engine import plan_phases

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


def check_seq_len(config: TrainConfig, model) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and config.seq_len > limit:
        raise ConfigError(
            f"seq_len {config.seq_len} is longer than the model's {limit} positions.",
            f"Use --seq-len {limit} or less (train.seq_len).",
        )


def _read_terms(terms) -> list:
    from vocab_tools.terms import Term, read_terms

    if isinstance(terms, (str, os.PathLike)):
        return read_terms(terms)
    return [t if isinstance(t, Term) else Term(str(t)) for t in terms]


def check_filled_from_base(base, base_tokenizer, filled_tokenizer, tok) -> None:
    """Refuse a filled tokenizer that is not the base's vocabulary with slots filled (B15): the model's
    rows follow the base's ids, so any other id that means another token trains the wrong row."""
    from vocab_tools.slots import changed_ids

    old = base_tokenizer.convert_ids_to_tokens(list(range(len(base_tokenizer))))
    new = tok.convert_ids_to_tokens(list(range(len(tok))))
    changed = changed_ids(old, new)
    if changed is None:
        why = f"its vocabulary has {len(new):,} entries, fewer than the base's {len(old):,}"
    elif changed:
        shown = ", ".join(f"id {i}: {old[i]!r} → {new[i]!r}" for i in changed[:3])
        why = (
            f"{len(changed):,} of the base's {len(old):,} ids that are not [unusedN] slots hold other tokens ({shown})"
        )
    else:
        return
    raise ModelError(
        f"The filled tokenizer '{filled_tokenizer}' was not filled from the vocabulary of '{base}': {why}. "
        "A filled tokenizer must be the base's own with [unusedN] slots filled (every other id unchanged).",
        f"Fill the base's tokenizer: domainlm vocab fill {base} TERMS -o filled, or pass --terms instead "
        "of --filled-tokenizer.",
    )


def prepare_vocab(
    model,
    base_tokenizer,
    *,
    base: str,
    terms,
    filled_tokenizer,
    config: TrainConfig,
    category: str | None,
    work_dir: Path,
    truncate: bool = False,
    term_list: list | None = None,
):
    """Return (tokenizer, slot entries, rejected, slots.json path) and grow the model if --resize.

    More terms than free slots follows `vocab fill`'s one rule: refused unless `truncate` (then
    the first terms, ranked best first, are filled) or --resize (new rows for the rest).
    """
    from transformers import AutoTokenizer

    from vocab_tools.slots import free_slots, read_manifest

    if filled_tokenizer is not None:
        tok = AutoTokenizer.from_pretrained(str(filled_tokenizer), trust_remote_code=False)
        check_filled_from_base(base, base_tokenizer, filled_tokenizer, tok)
        rows = model.get_input_embeddings().weight.shape[0]
        if len(tok) > rows:
            if not config.resize:
                raise ModelError(
                    f"The filled tokenizer '{filled_tokenizer}' has {len(tok):,} entries but the base model "
                    f"only {rows:,} rows.",
                    "Pass --resize to grow the model, or fill the base's own tokenizer.",
                )
            from domainlm.modeling.resize import grow_model

            grow_model(model, len(tok))
        entries = read_manifest(filled_tokenizer)
        return tok, entries, [], Path(filled_tokenizer) / "slots.json"
    if terms is None:
        return base_tokenizer, [], [], None
    term_list = term_list if term_list is not None else _read_terms(terms)
    if not term_list:
        raise TrainingError(
            "The terms file holds no term.", "Run `domainlm mine-terms` first, or pass a non-empty --terms file."
        )
    base_dir = work_dir / "base_tokenizer"
    base_tokenizer.save_pretrained(str(base_dir))
    free = free_slots(base_dir)
    if len(free) < len(term_list) and config.resize:
        from domainlm.modeling.resize import grow_model, tokenizer_with_new_slots

        appended = tokenizer_with_new_slots(base_tokenizer, len(term_list) - len(free), base_dir)
        grow_model(model, len(appended))
        free = free_slots(base_dir)
    elif not free:
        raise ModelError(
            f"The base tokenizer of '{base}' has no free [unusedN] slot to fill with the {len(term_list):,} terms.",
            "Pass --resize to append new rows for them (vocabulary and embedding matrix grow), or use a "
            "base with [unusedN] slots (kykim/bert-kor-base has 2,000).",
        )
    from vocab_tools import fill_slots

    result = fill_slots(
        str(base_dir),
        term_list,
        work_dir / "filled",
        category=category,
        source=str(terms) if isinstance(terms, (str, os.PathLike)) else None,
        truncate=truncate,
        text_normalizer=Normalizer(),
    )  # the training text's normaliser (training.data)
    tok = AutoTokenizer.from_pretrained(str(result.out_dir), trust_remote_code=False)
    return tok, list(result.filled), list(result.rejected), Path(result.out_dir) / "slots.json"


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
    from domainlm.corpus import corpus_specs as as_specs
    from domainlm.modeling.init_rows import init_filled_rows
    from domainlm.training.checkpoint import checkpoint_dir_for, latest_checkpoint
    from domainlm.training.data import PackedStream, training_texts
    from domainlm.training.engine import train
    from domainlm.training.masking import resolved_masking
    from domainlm.training.output import check_model_output
    from domainlm.training.tracking import training_plan

    config = config or TrainConfig()
    config = config.model_copy(update={"masking": resolved_masking(config, from_scratch=False)})
    out_dir = Path(out_dir)
    save = resolve_save_form(save, config)
    # Before anything loads: a folder of the user's own files is refused in the first second.
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
    loaded, user_generator = _load_base_and_generator(base, generator, new_head, config)
    if loaded.discriminator and save == "adapter":
        raise ConfigError(
            "--save adapter cannot hold an ELECTRA base's generator (a whole model, not an adapter).",
            "Use --save both: the adapter goes to adapter/, the merged discriminator and generator beside it.",
        )
    model, base_tokenizer = loaded.model, loaded.tokenizer
    fingerprint = _input_fingerprint(base, corpus_specs, replay_specs, terms, term_list, filled_tokenizer, generator)

    def domain_texts():
        return training_texts(
            corpus_specs,
            heldout_fraction=config.heldout_fraction,
            max_documents=config.max_documents,
            heldout_seed=heldout_seed,
        )

    with tempfile.TemporaryDirectory(prefix="domainlm-adapt-") as work:
        slot_plan = plan_record = None
        if term_list:
            # The CLI prints the plan's messages (result.slot_plan); the card records them.
            term_list, slot_plan = choose_terms(
                base_tokenizer, term_list, domain_texts(), config, Path(work) / "slot-plan"
            )
            plan_record = slot_plan.to_dict() if slot_plan else None
            if not term_list:  # nothing the budget can teach: plain continued pretraining
                terms = term_list = None
        base_rows = model.get_input_embeddings().weight.shape[0]
        tokenizer, entries, rejected, slots_json = prepare_vocab(
            model,
            base_tokenizer,
            base=str(base),
            terms=terms,
            filled_tokenizer=filled_tokenizer,
            config=config,
            category=category,
            work_dir=Path(work),
            truncate=truncate,
            term_list=term_list,
        )
        # distill starts from the mean (it also gives the output rows and decoder bias).
        init_filled_rows(
            model, base_tokenizer, entries, method="mean" if config.init == "distill" else config.init, seed=config.seed
        )
        slot_ids = [e.slot_id for e in entries]
        objective = electra = None
        if loaded.discriminator:
            objective, electra = _electra_objective(model, base_tokenizer, tokenizer, entries, user_generator, config)

        init_report = None
        ckpt_dir = checkpoint_dir_for(out_dir)
        # A resumed run loads its trained rows from the checkpoint: distilling again would be wasted.
        if config.init == "distill" and entries and not (resume and latest_checkpoint(ckpt_dir) is not None):
            init_report = distill_filled_rows(model, base_tokenizer, tokenizer, entries, domain_texts(), config)

        def replay_texts():
            return training_texts(replay_specs, max_documents=config.max_documents)

        heldout, eval_before = _heldout_before(
            model,
            tokenizer,
            corpus_specs,
            config,
            heldout_seed,
            objective,
            scored_before=objective is None or user_generator is not None,
        )
        if tracking is not None and eval_before is not None:
            tracking.first = {"eval/loss": eval_before}
        stream = PackedStream(
            tokenizer,
            domain_texts,
            config.seq_len,
            seed=config.seed,
            replay=replay_texts if replay_specs else None,
            replay_ratio=config.replay_ratio,
        )
        outcome = train(
            build_model=lambda: model,
            tokenizer=tokenizer,
            stream=stream,
            config=config,
            ckpt_dir=ckpt_dir,
            slot_ids=slot_ids,
            resume=resume,
            heldout_sequences=heldout,
            on_step=on_step,
            resume_hint="rerun the same `domainlm adapt` command with --resume",
            description=f"adapt {category or ''}".strip(),
            fingerprint=fingerprint,
            objective=objective,
            tracking=tracking,
        )
        if outcome.adapter is None and save != "merged":
            save = "merged"  # resumed from a final checkpoint written before adapters were kept in it
        if outcome.is_main:
            settings = {
                "command": "adapt",
                "base": str(base),
                "category": category,
                "corpus": spec_names(corpus_specs),
                "replay": spec_names(replay_specs),
                "terms": str(terms)
                if isinstance(terms, (str, os.PathLike))
                else (len(terms) if terms is not None else None),
                "filled_tokenizer": str(filled_tokenizer) if filled_tokenizer else None,
                "slots_filled": len(entries),
                "new_head": loaded.new_head,
                "init_report": init_report,
                "slot_plan": plan_record,
                # --resize: the terms beyond the base's own rows sit in appended rows (ids >= base_rows).
                "base_rows": base_rows,
                "appended_rows": sum(1 for e in entries if e.slot_id >= base_rows),
                "kept_tensors": list(loaded.kept_tensors),
                "train": config.model_dump(mode="json"),
                **outcome.run_facts(config),
                # How often the domain text was re-read (a likely cause when adaptation did not help).
                "domain_reading": stream.reading.to_dict(),
                "save": save,
                "recipe": _recipe_dump(recipe),
            } | (electra or {})
            _write_adapted(
                out_dir,
                outcome,
                tokenizer=tokenizer,
                settings=settings,
                entries=entries,
                eval_before=eval_before,
                slots_json=slots_json,
                filled_tokenizer=filled_tokenizer,
                loaded=loaded,
                objective=objective,
                ckpt_dir=ckpt_dir,
                config=config,
                force=force,
                save=save,
            )
    return AdaptResult(
        out_dir=out_dir,
        steps=outcome.steps,
        tokens=outcome.tokens,
        final_loss=outcome.final_loss,
        eval_loss=outcome.eval_loss,
        eval_loss_before=eval_before,
        slots_filled=len(entries),
        slots_rejected=rejected,
        seconds=outcome.seconds,
        resumed_from=outcome.resumed_from,
        metrics_path=out_dir / "metrics.jsonl",
        init_report=init_report,
        slot_plan=plan_record,
        save=save,
        objective="replaced-token detection" if objective is not None else "masked-LM",
    )


def _load_base_and_generator(base, generator, new_head: bool, config: TrainConfig):
    """The base (its dropped tensors kept) and, for an ELECTRA base, the user's generator or None."""
    from domainlm.modeling.loading import load_base

    loaded = load_base(base, new_head=new_head)
    check_seq_len(config, loaded.model)
    if generator is None:
        return loaded, None
    if not loaded.discriminator:
        raise ConfigError(
            f"--generator was given but the base '{base}' is not an ELECTRA discriminator.",
            "Leave --generator out: masked-LM bases (BERT, ALBERT) need no generator.",
        )
    from domainlm.modeling.electra import load_generator

    return loaded, load_generator(generator, loaded.model, loaded.tokenizer)


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
    from domainlm.training.data import fixed_sequences, training_texts
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


def _write_adapted(
    out_dir: Path,
    outcome,
    *,
    tokenizer,
    settings: dict,
    entries,
    eval_before,
    slots_json,
    filled_tokenizer,
    loaded,
    objective,
    ckpt_dir: Path,
    config: TrainConfig,
    force: bool,
    save: str = "merged",
) -> None:
    """The adapted model folder (or, when it cannot be written, the kept checkpoint that says so)."""
    from domainlm.training.card import model_card
    from domainlm.training.output import write_model_dir, write_or_keep_checkpoint
    from domainlm.versions import library_versions

    # The model is the base with its rows initialised, also when resuming (the checkpoint is
    # loaded later, inside train), so this is the "before" of this run either way.
    metrics = outcome.metrics
    if eval_before is not None:
        metrics = [{"step": 0, "eval_loss": eval_before, "tokens": 0}] + metrics
    versions = library_versions()
    card = model_card(
        kind="adapt",
        base=settings["base"],
        category=settings["category"],
        settings=settings,
        outcome=outcome,
        slots=entries,
        eval_before=eval_before,
        versions=versions,
        folder_name=out_dir.name,
        mask_token=tokenizer.mask_token or "[MASK]",
        electra=objective is not None,
    )
    tokenizer_dir = Path(filled_tokenizer) if filled_tokenizer else (slots_json.parent if slots_json else None)
    write_or_keep_checkpoint(
        lambda: write_model_dir(
            out_dir,
            model=outcome.model,
            tokenizer=tokenizer,
            settings=settings,
            versions=versions,
            metrics=metrics,
            card=card,
            slots_json=slots_json,
            command="adapt",
            force=force,
            kept_tensors=loaded.kept_tensors,
            generator=objective.generator if objective is not None else None,
            tokenizer_dir=tokenizer_dir,
            save=save,
            adapter=outcome.adapter,
            base_name=settings["base"],
        ),
        outcome,
        ckpt_dir=ckpt_dir,
        command="adapt",
    )
    if not config.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)


def _electra_objective(discriminator, base_tokenizer, tokenizer, entries, user_generator, config: TrainConfig):
    """The replaced-token detection objective of an ELECTRA base, and what the settings record of it.

    The user's generator gets its filled rows (and their output bias) initialised like the
    discriminator's, then both share one embedding module; without one, a new small generator is
    built on the discriminator's embeddings and warmed up alone.
    """
    from domainlm.modeling.config import default_generator_fraction
    from domainlm.modeling.electra import build_generator, share_embeddings
    from domainlm.modeling.init_rows import init_filled_rows
    from domainlm.training.electra import ReplacedTokenDetection, generator_warmup

    rows = discriminator.get_input_embeddings().weight.shape[0]
    if user_generator is not None:
        if user_generator.get_input_embeddings().weight.shape[0] < rows:  # --resize grew the discriminator
            user_generator.resize_token_embeddings(rows)
        # On the generator's own copy of the embeddings (dropped by sharing): what matters is its output bias.
        init_filled_rows(user_generator, base_tokenizer, entries, method="mean", seed=config.seed)
        share_embeddings(user_generator, discriminator)
        generator, warmup = user_generator, 0
    else:
        import torch

        torch.manual_seed(config.seed)  # the new generator's initial weights, reproducibly
        fraction = config.electra.generator_fraction or default_generator_fraction(discriminator.config.hidden_size)
        warmup = generator_warmup(config.electra.generator_warmup_steps, config.max_steps)
        generator = build_generator(discriminator, fraction)
    objective = ReplacedTokenDetection(tokenizer, config, generator, warmup_steps=warmup)
    shown = (
        "the given one"
        if user_generator is not None
        else f"built here, hidden {generator.config.hidden_size} of {discriminator.config.hidden_size}"
    )
    return objective, {"objective": "replaced-token detection", "generator": shown, "generator_warmup_steps": warmup}


def _recipe_dump(recipe):
    if recipe is None:
        return None
    if hasattr(recipe, "model_dump"):
        return recipe.model_dump(mode="json")
    return recipe
