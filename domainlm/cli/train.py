"""`domainlm adapt` and `domainlm pretrain`: thin wrappers over `domainlm.training`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from domainlm.cli.common import PUSH_HELP, TASK_DATA_HELP, console, err_console, kv_table, print_json
from domainlm.cli.options import set_settings, setting, typed_settings
from domainlm.cli.root import app, render_user_error
from domainlm.modeling.config import ModelArchConfig
from domainlm.modeling.init_methods import row_init_names
from domainlm.modeling.train_modes import PHASED, mode_help, run_mode_names
from domainlm.runtime import Precision
from domainlm.training.config import TrainConfig

TRAIN_OPTIONS = "Training"
WATCH_OPTIONS = "Precision and tracking"
# Training settings are declared once, in TrainConfig / ModelArchConfig (type, bounds, description): the
# options below are generated from them (domainlm.cli.options.setting) and passed on by name.
# The choices of --mode and --init are the registered training modes and row-init methods (those registered
# when the CLI is imported), as a Literal: typer shows and checks them as it does any Literal.
if TYPE_CHECKING:
    ModeChoice = str
    InitChoice = str
else:
    ModeChoice = Literal[run_mode_names()]
    InitChoice = Literal[row_init_names()]
MODE_NOTE = (
    f"{mode_help()}; {PHASED}: the phases you list in train.phases (e.g. --set "
    "'train.phases=[{mode: new-rows, steps: 40}, {mode: full, steps: 960}]'), whose steps are the run's."
)


def _train_settings(parameters: dict) -> dict:
    """The command's training settings as `TrainConfig` values (None: not typed, the recipe's stays)."""
    from domainlm.runtime import parse_report_to

    typed = typed_settings(TrainConfig, parameters)
    if "slots" in typed:
        typed["slots"] = _slot_count(typed["slots"])
    if "new_rows_lr" in typed:
        typed["new_rows_lr"] = _rows_rate(typed["new_rows_lr"])
    if typed.get("report_to") is not None:
        typed["report_to"] = parse_report_to(typed["report_to"])
    if typed.get("logging_dir") is not None:
        typed["logging_dir"] = str(typed["logging_dir"])
    return typed


def _say_where_logs_are(config, output: Path) -> None:
    if config.report_to:
        from domainlm.runtime import logging_dir_for

        folder = logging_dir_for(output, config.logging_dir)
        extra = f" (tensorboard --logdir {folder / 'tensorboard'})" if "tensorboard" in config.report_to else ""
        console.print(f"Tracker logs ({', '.join(config.report_to)}): [bold]{folder}[/]{extra}.", soft_wrap=True)


def _run_interruptible(fn):
    from domainlm.training.engine import TrainingInterrupted

    try:
        return fn()
    except TrainingInterrupted as exc:
        render_user_error(exc)
        raise typer.Exit(130) from None


def _slot_count(value: str | None) -> int | str | None:
    """--slots: 'auto', 'all' or a whole number (the settings check the range)."""
    if value is None or value in ("auto", "all"):
        return value
    if value.isdigit():
        return int(value)
    from domainlm.errors import ConfigError

    raise ConfigError(
        f"--slots {value!r} is not a slot count.", "Use --slots auto, --slots all or a number such as --slots 500."
    )


def _rows_rate(value: str | None) -> float | str | None:
    """--new-rows-lr: 'auto', 'none' (the phase's rate) or a learning rate (the settings check the range)."""
    if value is None or value == "auto":
        return value
    if value == "none":
        return "none"  # kept apart from None (not typed): the recipe's value must not win over it
    try:
        return float(value)
    except ValueError:
        from domainlm.errors import ConfigError

        raise ConfigError(
            f"--new-rows-lr {value!r} is not a learning rate.",
            "Use --new-rows-lr auto, --new-rows-lr none (the phase's rate) or a number such as --new-rows-lr 2e-3.",
        ) from None


@app.command("adapt")
def adapt_command(
    base: str | None = typer.Option(
        None,
        "--base",
        help="Base model: a masked-LM (BERT, ALBERT) or an ELECTRA discriminator; hub id or local directory (default: "
        "the category recipe's).",
    ),
    category: str | None = typer.Option(
        None, "--category", "-c", help="Category (Korean name or alias): its recipe names base, corpora and settings."
    ),
    corpus: list[str] | None = typer.Option(
        None, "--corpus", help="Domain corpus (file, dir, glob); repeatable. Overrides the recipe's."
    ),
    replay: list[str] | None = typer.Option(
        None, "--replay", help="General text mixed in against forgetting; repeatable."
    ),
    field: str | None = typer.Option(
        None, "--field", help="Column / field holding the text in --corpus and --replay files."
    ),
    terms: Path | None = typer.Option(
        None,
        "--terms",
        help="terms.tsv / terms.json / .txt from mine-terms: filled into the base's free \\[unusedN] slots.",
    ),
    filled_tokenizer: Path | None = typer.Option(
        None, "--filled-tokenizer", help="A tokenizer already filled by `vocab fill` (with slots.json)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output model directory (written atomically)."),
    mode: ModeChoice | None = setting(TrainConfig, "mode", recipe=True, note=MODE_NOTE, rich_help_panel=TRAIN_OPTIONS),
    max_steps: int | None = setting(TrainConfig, "max_steps", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    lr: float | None = setting(TrainConfig, "lr", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    new_rows_lr: str | None = setting(TrainConfig, "new_rows_lr", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    batch_size: int | None = setting(TrainConfig, "batch_size", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    grad_accum: int | None = setting(TrainConfig, "grad_accum", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    seq_len: int | None = setting(TrainConfig, "seq_len", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    slots: str | None = setting(TrainConfig, "slots", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    init: InitChoice | None = setting(TrainConfig, "init", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    replay_ratio: float | None = setting(TrainConfig, "replay_ratio", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    save_every: int | None = setting(TrainConfig, "save_every", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    eval_every: int | None = setting(TrainConfig, "eval_every", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    seed: int | None = setting(TrainConfig, "seed", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    max_documents: int | None = setting(TrainConfig, "max_documents", recipe=True, rich_help_panel=TRAIN_OPTIONS),
    compile: bool | None = setting(
        TrainConfig, "compile", "--compile/--no-compile", recipe=True, rich_help_panel=TRAIN_OPTIONS
    ),
    save: Literal["merged", "adapter", "both"] | None = typer.Option(
        None,
        "--save",
        help="LoRA runs: the merged model, the peft adapter (in OUTPUT/adapter/, loaded on the filled base), or both "
        "(the default for --mode lora; merged otherwise).",
        rich_help_panel=TRAIN_OPTIONS,
    ),
    precision: Precision | None = setting(TrainConfig, "precision", recipe=True, rich_help_panel=WATCH_OPTIONS),
    report_to: list[str] | None = setting(TrainConfig, "report_to", recipe=True, rich_help_panel=WATCH_OPTIONS),
    logging_dir: Path | None = setting(TrainConfig, "logging_dir", recipe=True, rich_help_panel=WATCH_OPTIONS),
    resize: bool | None = setting(TrainConfig, "resize", "--resize", recipe=True),
    truncate: bool = typer.Option(
        False,
        "--truncate",
        help="More terms than free slots: fill the first ones (terms files are ranked best first) instead of failing.",
    ),
    new_head: bool = typer.Option(
        False, "--new-head", help="Accept a base without masked-LM head weights and train a new head from scratch."
    ),
    generator: Path | None = typer.Option(
        None,
        "--generator",
        help="ELECTRA base: its generator (ElectraForMaskedLM folder). Without it a small one is built and warmed up "
        "first.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace OUTPUT even if it holds files not made by `domainlm adapt`."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in OUTPUT.checkpoints."),
    overrides: list[str] | None = typer.Option(
        None,
        "--set",
        help="Override any setting, e.g. train.lora.r=8 or train.distill_contexts=50 (with --category: any recipe "
        "key). Repeatable.",
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Root of the recipe's relative data paths (default: DOMAINLM_DATA)."
    ),
    check_task: str | None = typer.Option(
        None,
        "--check-task",
        help="After adapting, fine-tune the base and the adapted model on this task (nsmc, shopping-rating, "
        "hate-speech … or a task YAML) with the same seeds and examples; the paired verdict is printed and written "
        "into the card. Outputs in OUTPUT.check/.",
        rich_help_panel="Did it help?",
    ),
    task_data: Path | None = typer.Option(
        None, "--task-data", help=TASK_DATA_HELP + " For --check-task.", rich_help_panel="Did it help?"
    ),
    check_seeds: int = typer.Option(
        5, "--check-seeds", min=1, help="Seeds of --check-task (paired).", rich_help_panel="Did it help?"
    ),
    check_max_train: int | None = typer.Option(
        None,
        "--check-max-train",
        min=1,
        help="Training examples of --check-task at most (the label budget).",
        rich_help_panel="Did it help?",
    ),
    push_to_hub: str | None = typer.Option(None, "--push-to-hub", help=PUSH_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fill the free \\[unusedN] slots with mined terms, initialise their rows, continue pretraining."""
    from domainlm.recipes.requests import adapt_request

    request = adapt_request(
        base=base,
        category=category,
        corpus=corpus,
        replay=replay,
        field_name=field,
        terms=terms,
        filled_tokenizer=filled_tokenizer,
        overrides=overrides or (),
        data_dir=data_dir,
        truncate=truncate,
        generator=generator,
        **_train_settings(locals()),
    )
    if push_to_hub:
        from domainlm.hub import check_can_push

        check_can_push(push_to_hub)  # not logged in: said now, not after the training
    for note in request.notes:
        err_console.print(note)
    result = _run_interruptible(lambda: request.run(output, resume=resume, force=force, new_head=new_head, save=save))
    check = None
    if check_task:
        from domainlm.finetune.check import check_adaptation

        check = check_adaptation(
            request.base,
            output,
            check_task,
            Path(f"{output}.check"),
            seeds=check_seeds,
            data_dir=task_data,
            max_train=check_max_train,
        )
    if as_json:
        print_json(_adapt_json(result, check, output, push_to_hub))
        return
    _print_adapted(result)
    _say_where_logs_are(request.config, output)
    if check is not None:
        _print_check(check)
    if push_to_hub:
        from domainlm.cli.hub import push_finished

        push_finished(output, push_to_hub)


def _adapt_json(result, check, output: Path, push_to_hub: str | None) -> dict:
    """What `adapt --json` prints: the result, the --check-task verdict and the push."""
    out = {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()}
    if check is not None:
        out["check"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in check.__dict__.items()}
    if push_to_hub:
        from domainlm.cli.hub import push_finished

        out["push"] = push_finished(output, push_to_hub, as_json=True).to_dict()
    return out


def _print_adapted(result) -> None:
    """The slot plan's messages, the run's table and what was written."""
    for message in (result.slot_plan or {}).get("messages", []):
        err_console.print(f"[yellow]{message}[/]" if message.startswith("warning") else message)
    loss = "RTD" if result.objective == "replaced-token detection" else "MLM"
    rows = [
        ("slots filled", result.slots_filled),
        ("steps", result.steps),
        ("tokens", result.tokens),
        ("final training loss", result.final_loss),
        (f"held-out {loss} loss before", result.eval_loss_before),
        (f"held-out {loss} loss after", result.eval_loss),
        ("seconds", round(result.seconds, 1)),
    ]
    if result.resumed_from is not None:
        rows.insert(0, ("resumed from step", result.resumed_from))
    if result.init_report and "distilled" in result.init_report:  # distill's cost (another method's report differs)
        r = result.init_report
        rows.insert(
            1,
            (
                "rows distilled (contexts, seconds)",
                f"{r['distilled']:,} of {r['terms']:,} ({r['contexts']:,}, {r['seconds']:.1f} s)",
            ),
        )
    console.print(kv_table("adapt", rows))
    kept = {"merged": "model", "adapter": "LoRA adapter in adapter/", "both": "model, LoRA adapter in adapter/"}[
        result.save
    ]
    console.print(
        f"Wrote [bold]{result.out_dir}[/] ({kept}, tokenizer, slots.json, settings.json, metrics.jsonl, README.md"
        + (", generator/" if loss == "RTD" else "")
        + ")."
    )


def _print_check(check) -> None:
    """The --check-task verdict and its advice."""
    colour = {"better": "green", "worse": "yellow"}.get(check.verdict, "default")
    head, *advice = check.messages()
    console.print(f"[{colour}]{head}[/]")
    for message in advice:
        console.print(message)
    console.print(
        f"Did it help? The fine-tuning runs and table: [bold]{check.out_dir}[/] (the verdict is in the card)."
    )


@app.command("pretrain")
def pretrain_command(
    tokenizer: Path = typer.Option(
        ..., "--tokenizer", "-t", help="Tokenizer directory (from `vocab build`, or any BERT tokenizer dir)."
    ),
    corpus: list[str] = typer.Option(..., "--corpus", help="Text to pretrain on (file, dir, glob); repeatable."),
    field: str | None = typer.Option(None, "--field", help="Column / field holding the text."),
    output: Path = typer.Option(..., "--output", "-o", help="Output model directory (written atomically)."),
    arch: Literal["bert", "albert", "electra"] | None = setting(ModelArchConfig, "arch"),
    layers: int | None = setting(ModelArchConfig, "layers"),
    hidden: int | None = setting(ModelArchConfig, "hidden"),
    heads: int | None = setting(ModelArchConfig, "heads"),
    intermediate: int | None = setting(ModelArchConfig, "intermediate"),
    embedding_size: int | None = setting(ModelArchConfig, "embedding_size"),
    generator_fraction: float | None = setting(ModelArchConfig, "generator_fraction"),
    max_positions: int | None = setting(ModelArchConfig, "max_positions"),
    max_steps: int | None = setting(TrainConfig, "max_steps", rich_help_panel=TRAIN_OPTIONS),
    lr: float | None = setting(TrainConfig, "lr", rich_help_panel=TRAIN_OPTIONS),
    batch_size: int | None = setting(TrainConfig, "batch_size", rich_help_panel=TRAIN_OPTIONS),
    grad_accum: int | None = setting(TrainConfig, "grad_accum", rich_help_panel=TRAIN_OPTIONS),
    seq_len: int | None = setting(TrainConfig, "seq_len", rich_help_panel=TRAIN_OPTIONS),
    save_every: int | None = setting(TrainConfig, "save_every", rich_help_panel=TRAIN_OPTIONS),
    eval_every: int | None = setting(TrainConfig, "eval_every", rich_help_panel=TRAIN_OPTIONS),
    seed: int | None = setting(TrainConfig, "seed", rich_help_panel=TRAIN_OPTIONS),
    max_documents: int | None = setting(TrainConfig, "max_documents", rich_help_panel=TRAIN_OPTIONS),
    compile: bool | None = setting(TrainConfig, "compile", "--compile/--no-compile", rich_help_panel=TRAIN_OPTIONS),
    precision: Precision | None = setting(TrainConfig, "precision", rich_help_panel=WATCH_OPTIONS),
    report_to: list[str] | None = setting(TrainConfig, "report_to", rich_help_panel=WATCH_OPTIONS),
    logging_dir: Path | None = setting(TrainConfig, "logging_dir", rich_help_panel=WATCH_OPTIONS),
    force: bool = typer.Option(
        False, "--force", help="Replace OUTPUT even if it holds files not made by `domainlm pretrain`."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in OUTPUT.checkpoints."),
    overrides: list[str] | None = typer.Option(
        None, "--set", help="Override a training setting, e.g. train.warmup_ratio=0.1 (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout (progress on stderr)."),
) -> None:
    """Pretrain a fresh BERT / ALBERT masked-LM, or an ELECTRA discriminator and generator, \
on a vocabulary from `vocab build`."""
    from domainlm.recipes.requests import arch_settings, corpus_list, train_settings
    from domainlm.training import pretrain

    arch_config = arch_settings(**set_settings(ModelArchConfig, locals()))
    config = train_settings(None, overrides or (), **_train_settings(locals()))
    out = _run_interruptible(
        lambda: pretrain(
            tokenizer, corpus_list(corpus, field), output, arch=arch_config, config=config, resume=resume, force=force
        )
    )
    if as_json:
        print_json(_pretrain_summary(Path(out)))
        return
    console.print(
        f"Wrote [bold]{out}[/] (model, tokenizer, settings.json, metrics.jsonl, README.md"
        + (", generator/" if arch_config.arch == "electra" else "")
        + ")."
    )
    _say_where_logs_are(config, output)


def _pretrain_summary(out: Path) -> dict:
    """What `pretrain --json` prints: the folder, the last training and held-out losses, and the settings."""
    import json

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]
    last = {key: r[key] for r in records for key in ("step", "loss", "eval_loss", "tokens") if key in r}
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    return {
        "out_dir": str(out),
        "steps": last.get("step"),
        "tokens": last.get("tokens"),
        "final_loss": last.get("loss"),
        "eval_loss": last.get("eval_loss"),
        "settings": settings,
    }
