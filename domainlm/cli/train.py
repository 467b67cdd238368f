"""`domainlm adapt` and `domainlm pretrain`: thin wrappers over `domainlm.training`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, List, Optional

import typer

from domainlm.cli.root import app, render_user_error
from domainlm.cli.common import console, err_console, kv_table, print_json

TRAIN_OPTIONS = "Training"


def _train_config(base_config, **options):
    """Explicit CLI options on top of the recipe's (or the default) train settings."""
    from domainlm.errors import ConfigError
    from domainlm.training.config import TrainConfig

    data = (base_config or TrainConfig()).model_dump()
    data.update({k: v for k, v in options.items() if v is not None})
    try:
        return TrainConfig(**data)
    except Exception as e:  # pydantic ValidationError: report every problem with its key
        errors = getattr(e, "errors", lambda: [])()
        lines = "; ".join(f"train.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in errors) or str(e)
        raise ConfigError(f"Invalid training settings: {lines}.", "Fix the option values (see --help).") from None


def _overridden_train(overrides):
    """The default training settings with `--set train.KEY=VALUE` applied (no recipe); None without any."""
    if not overrides:
        return None
    from domainlm.recipes.overrides import override_settings
    from domainlm.training.config import TrainConfig

    return override_settings(TrainConfig(), overrides, "train")


def _run_interruptible(fn):
    from transformers.utils import logging as hf_logging

    from domainlm.training.engine import TrainingInterrupted

    # transformers' own tqdm bars ("Loading weights", "Writing model shards") would break our rich bar.
    hf_logging.disable_progress_bar()

    try:
        return fn()
    except TrainingInterrupted as exc:
        render_user_error(exc)
        raise typer.Exit(130) from None


@app.command("adapt")
def adapt_command(
    base: Optional[str] = typer.Option(None, "--base", help="Base model: a masked-LM (BERT, ALBERT) or an ELECTRA discriminator; hub id or local directory (default: the category recipe's)."),
    category: Optional[str] = typer.Option(None, "--category", "-c", help="Category (Korean name or alias): its recipe names base, corpora and settings."),
    corpus: Optional[List[str]] = typer.Option(None, "--corpus", help="Domain corpus (file, dir, glob); repeatable. Overrides the recipe's."),
    replay: Optional[List[str]] = typer.Option(None, "--replay", help="General text mixed in against forgetting; repeatable."),
    field: Optional[str] = typer.Option(None, "--field", help="Column / field holding the text in --corpus and --replay files."),
    terms: Optional[Path] = typer.Option(None, "--terms", help="terms.tsv / terms.json / .txt from mine-terms: filled into the base's free \\[unusedN] slots."),
    filled_tokenizer: Optional[Path] = typer.Option(None, "--filled-tokenizer", help="A tokenizer already filled by `vocab fill` (with slots.json)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output model directory (written atomically)."),
    mode: Optional[Literal["full", "lora", "new-rows", "phased"]] = typer.Option(None, "--mode", help="Parameters trained: all, LoRA adapters (+ the filled rows), the filled rows only, or new rows then full.", rich_help_panel=TRAIN_OPTIONS),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps.", rich_help_panel=TRAIN_OPTIONS),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate.", rich_help_panel=TRAIN_OPTIONS),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Packed sequences per device per step.", rich_help_panel=TRAIN_OPTIONS),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum", help="Gradient accumulation steps.", rich_help_panel=TRAIN_OPTIONS),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Packed sequence length.", rich_help_panel=TRAIN_OPTIONS),
    init: Optional[Literal["mean", "random", "distill"]] = typer.Option(None, "--init", help="Initialisation of the filled rows: mean of the pieces they replace, random, or distill (Token Distillation from the base's hidden states).", rich_help_panel=TRAIN_OPTIONS),
    replay_ratio: Optional[float] = typer.Option(None, "--replay-ratio", help="Share of sequences from replay text.", rich_help_panel=TRAIN_OPTIONS),
    save_every: Optional[int] = typer.Option(None, "--save-every", help="Checkpoint every N steps.", rich_help_panel=TRAIN_OPTIONS),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Held-out loss every N steps.", rich_help_panel=TRAIN_OPTIONS),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of data order, masking and init.", rich_help_panel=TRAIN_OPTIONS),
    max_documents: Optional[int] = typer.Option(None, "--max-documents", help="Read at most this many documents per corpus.", rich_help_panel=TRAIN_OPTIONS),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the encoder.", rich_help_panel=TRAIN_OPTIONS),
    resize: bool = typer.Option(False, "--resize", help="Append new rows when the base has fewer free \\[unusedN] slots than terms."),
    truncate: bool = typer.Option(False, "--truncate", help="More terms than free slots: fill the first ones (terms files are ranked best first) instead of failing."),
    new_head: bool = typer.Option(False, "--new-head", help="Accept a base without masked-LM head weights and train a new head from scratch."),
    generator: Optional[Path] = typer.Option(None, "--generator", help="ELECTRA base: its generator (ElectraForMaskedLM folder). Without it a small one is built and warmed up first."),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT even if it holds files not made by `domainlm adapt`."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in OUTPUT.checkpoints."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Override any setting, e.g. train.lora.r=8 or train.distill_contexts=50 (with --category: any recipe key). Repeatable."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Root of the recipe's relative data paths (default: DOMAINLM_DATA)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fill the free \\[unusedN] slots with mined terms, initialise their rows, continue pretraining."""
    from domainlm.corpus import CorpusSpec
    from domainlm.errors import ConfigError
    from domainlm.training import adapt

    recipe = None
    if category:
        from domainlm.recipes import load_recipe

        recipe = load_recipe(category, overrides=overrides or (), data_dir=data_dir)
    base = base or (recipe.base if recipe else None)
    if not base:
        raise ConfigError("No base model was given.", "Pass --base MODEL (hub id or directory) or --category NAME.")
    specs = [CorpusSpec(path=c, **({"field": field} if field else {})) for c in corpus] if corpus else (recipe.data.domain if recipe else [])
    replay_specs = [CorpusSpec(path=c, **({"field": field} if field else {})) for c in replay] if replay else (recipe.data.replay if recipe else [])
    if not specs:
        raise ConfigError("No domain corpus was given.", "Pass --corpus FILE (repeatable) or --category NAME.")
    if terms is None and filled_tokenizer is None and recipe is not None:
        from domainlm.mining.request import mined_dir

        mined = mined_dir(recipe.name) / "terms.tsv"
        if mined.exists():
            terms = mined
            err_console.print(f"Filling slots with [bold]{mined}[/] (from `domainlm mine-terms --category {recipe.category}`).")
    if terms is None and filled_tokenizer is None:
        err_console.print("[yellow]No --terms or --filled-tokenizer: continued pretraining without filling slots "
                          "(run `domainlm mine-terms` first, or pass --terms).[/]")
    recipe_train = recipe.train if recipe else _overridden_train(overrides)
    if recipe is not None and init is None:
        init = recipe.vocab.init
    heldout_fraction, heldout_seed = None, "domainlm"
    if recipe is not None and not corpus:
        # Keep out of training exactly the documents the recipe holds out for evaluation.
        rule = recipe.data.heldout
        heldout_fraction, heldout_seed = (0.0 if rule.corpus else rule.fraction), rule.seed
    config = _train_config(recipe_train, heldout_fraction=heldout_fraction, mode=mode, max_steps=max_steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
                           seq_len=seq_len, init=init, replay_ratio=replay_ratio, save_every=save_every, eval_every=eval_every,
                           seed=seed, max_documents=max_documents, compile=compile, resize=resize or None)
    if recipe is not None and not truncate:
        truncate = recipe.vocab.truncate
    result = _run_interruptible(lambda: adapt(
        base, output, corpus=specs, replay=replay_specs, terms=terms, filled_tokenizer=filled_tokenizer, config=config,
        category=recipe.category if recipe else None, resume=resume, recipe=recipe, heldout_seed=heldout_seed,
        force=force, truncate=truncate, new_head=new_head, generator=generator))
    if as_json:
        print_json({k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()})
        return
    loss = "RTD" if result.objective == "replaced-token detection" else "MLM"
    rows = [("slots filled", result.slots_filled), ("steps", result.steps), ("tokens", result.tokens),
            ("final training loss", result.final_loss), (f"held-out {loss} loss before", result.eval_loss_before),
            (f"held-out {loss} loss after", result.eval_loss), ("seconds", round(result.seconds, 1))]
    if result.resumed_from is not None:
        rows.insert(0, ("resumed from step", result.resumed_from))
    if result.init_report:
        r = result.init_report
        rows.insert(1, ("rows distilled (contexts, seconds)",
                        f"{r['distilled']:,} of {r['terms']:,} ({r['contexts']:,}, {r['seconds']:.1f} s)"))
    console.print(kv_table("adapt", rows))
    console.print(f"Wrote [bold]{result.out_dir}[/] (model, tokenizer, slots.json, settings.json, metrics.jsonl, README.md).")


@app.command("pretrain")
def pretrain_command(
    tokenizer: Path = typer.Option(..., "--tokenizer", "-t", help="Tokenizer directory (from `vocab build`, or any BERT tokenizer dir)."),
    corpus: List[str] = typer.Option(..., "--corpus", help="Text to pretrain on (file, dir, glob); repeatable."),
    field: Optional[str] = typer.Option(None, "--field", help="Column / field holding the text."),
    output: Path = typer.Option(..., "--output", "-o", help="Output model directory (written atomically)."),
    arch: Literal["bert", "albert", "electra"] = typer.Option("bert", "--arch", help="Model family (electra: a discriminator and its generator, by replaced-token detection)."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    hidden: int = typer.Option(256, "--hidden", help="Hidden size."),
    heads: int = typer.Option(4, "--heads", help="Attention heads."),
    intermediate: Optional[int] = typer.Option(None, "--intermediate", help="FFN size (default 4 × hidden)."),
    embedding_size: int = typer.Option(128, "--embedding-size", help="ALBERT / ELECTRA factorised embedding size."),
    generator_fraction: Optional[float] = typer.Option(None, "--generator-fraction", help="ELECTRA: generator hidden size as a share of the discriminator's (default 1/4 up to hidden 256, else 1/3)."),
    max_positions: int = typer.Option(512, "--max-positions", help="Maximum sequence length of the model."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps.", rich_help_panel=TRAIN_OPTIONS),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate.", rich_help_panel=TRAIN_OPTIONS),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Packed sequences per device per step.", rich_help_panel=TRAIN_OPTIONS),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum", help="Gradient accumulation steps.", rich_help_panel=TRAIN_OPTIONS),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Packed sequence length.", rich_help_panel=TRAIN_OPTIONS),
    save_every: Optional[int] = typer.Option(None, "--save-every", help="Checkpoint every N steps.", rich_help_panel=TRAIN_OPTIONS),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Held-out loss every N steps.", rich_help_panel=TRAIN_OPTIONS),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed.", rich_help_panel=TRAIN_OPTIONS),
    max_documents: Optional[int] = typer.Option(None, "--max-documents", help="Read at most this many documents.", rich_help_panel=TRAIN_OPTIONS),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the encoder.", rich_help_panel=TRAIN_OPTIONS),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT even if it holds files not made by `domainlm pretrain`."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in OUTPUT.checkpoints."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Override a training setting, e.g. train.warmup_ratio=0.1 (repeatable)."),
) -> None:
    """Pretrain a fresh BERT / ALBERT masked-LM, or an ELECTRA discriminator and generator, on a vocabulary from `vocab build`."""
    from domainlm.corpus import CorpusSpec
    from domainlm.errors import ConfigError
    from domainlm.training import pretrain
    from domainlm.training.config import ModelArchConfig

    try:
        arch_config = ModelArchConfig(arch=arch, layers=layers, hidden=hidden, heads=heads, intermediate=intermediate,
                                      embedding_size=embedding_size, max_positions=max_positions,
                                      generator_fraction=generator_fraction)
    except Exception as e:
        errors = getattr(e, "errors", lambda: [])()
        raise ConfigError("Invalid model settings: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errors) + ".",
                          "Fix the option values (see --help).") from None
    config = _train_config(_overridden_train(overrides), max_steps=max_steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum, seq_len=seq_len,
                           save_every=save_every, eval_every=eval_every, seed=seed, max_documents=max_documents, compile=compile)
    specs = [CorpusSpec(path=c, **({"field": field} if field else {})) for c in corpus]
    out = _run_interruptible(lambda: pretrain(tokenizer, specs, output, arch=arch_config, config=config, resume=resume,
                                                 force=force))
    console.print(f"Wrote [bold]{out}[/] (model, tokenizer, settings.json, metrics.jsonl, README.md"
                  + (", generator/" if arch == "electra" else "") + ").")
