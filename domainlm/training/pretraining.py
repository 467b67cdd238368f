"""`pretrain`: train a fresh BERT / ALBERT masked-LM, or an ELECTRA discriminator with its generator.

The same trainer as `adapt` (packing, whole-word masking, checkpoints); the objective is masked-LM
or replaced-token detection (`--arch electra`). This is how the demo and the benchmarks get a
small Korean base model without the hub.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from domainlm.corpus import corpus_specs
from domainlm.errors import ConfigError, ModelError
from domainlm.modeling import build_mlm, load_hf_tokenizer
from domainlm.modeling.electra import build_electra
from domainlm.training import engine
from domainlm.training import fingerprint as fp
from domainlm.training.adapting import spec_names
from domainlm.training.card import model_card
from domainlm.training.checkpoint import checkpoint_dir_for
from domainlm.training.config import ModelArchConfig, TrainConfig
from domainlm.training.data import PackedStream, fixed_sequences, training_texts
from domainlm.training.electra import ReplacedTokenDetection
from domainlm.training.masking import resolved_masking
from domainlm.training.output import check_model_output, holding_output_lock, write_model_dir, write_or_keep_checkpoint
from domainlm.training.tracking import training_plan
from domainlm.versions import library_versions


def check_hangul_kept(tokenizer, name: str) -> None:
    """Refuse a tokenizer whose normaliser NFD-decomposes Hangul into jamo (the check `vocab fill` runs).

    BertNormalizer(lowercase=True) with strip_accents unset strips accents, which decomposes every
    syllable: a model pretrained on it never sees a Korean syllable, and nothing says so.
    """
    from vocab_tools.info import NFD_FIX
    from vocab_tools.loading import HANGUL_PROBE

    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    if normalizer is None:
        return
    seen = normalizer.normalize_str(HANGUL_PROBE)
    if seen != HANGUL_PROBE:
        raise ModelError(
            f"The normaliser of the tokenizer '{name}' NFD-decomposes Hangul into jamo "
            f"({HANGUL_PROBE!r} becomes {len(seen)} characters instead of {len(HANGUL_PROBE)}), so the model "
            "would be pretrained on jamo and never see a Korean syllable.",
            NFD_FIX,
        )


@holding_output_lock
def pretrain(
    tokenizer_dir,
    corpus,
    out_dir,
    *,
    arch: ModelArchConfig | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
    on_step=None,
    force: bool = False,
) -> Path:
    """Train a fresh model on `corpus`; write the model directory `out_dir` atomically and return it.

    `out_dir` must be absent, empty or an earlier `pretrain` output (checked first), unless `force`.
    """
    arch = arch or ModelArchConfig()
    config = config or TrainConfig()
    config = config.model_copy(update={"masking": resolved_masking(config, from_scratch=True)})
    out_dir = Path(out_dir)
    force = check_model_output(out_dir, "pretrain", force, inputs=[tokenizer_dir, *corpus_specs(corpus)])
    tracking = training_plan(config, out_dir, "pretrain", tokenizer=tokenizer_dir, arch=arch.model_dump(mode="json"))
    _check_settings(config, arch)
    tokenizer = load_hf_tokenizer(tokenizer_dir, option="--tokenizer")
    check_hangul_kept(tokenizer, str(tokenizer_dir))
    model, generator = _fresh_model(arch, tokenizer, config.seed)
    # From scratch both start random and learn together, as in the paper: no generator warm-up.
    objective = ReplacedTokenDetection(tokenizer, config, generator, warmup_steps=0) if generator is not None else None
    specs = corpus_specs(corpus)
    if not specs:
        raise ConfigError("No corpus was given.", "Pass the text to pretrain on.")
    heldout = _heldout(specs, tokenizer, config)
    stream = PackedStream(tokenizer, lambda: _texts(specs, config), config.seq_len, seed=config.seed)
    ckpt_dir = checkpoint_dir_for(out_dir)
    outcome = engine.train(  # through the module: a test (or a launcher) may wrap it
        build_model=lambda: model,
        tokenizer=tokenizer,
        stream=stream,
        config=config,
        ckpt_dir=ckpt_dir,
        slot_ids=[],
        resume=resume,
        heldout_sequences=heldout,
        on_step=on_step,
        resume_hint="rerun the same `domainlm pretrain` command with --resume",
        description="pretrain",
        fingerprint=_input_fingerprint(tokenizer_dir, specs, arch),
        objective=objective,
        tracking=tracking,
    )
    settings = {
        "command": "pretrain",
        "tokenizer": str(tokenizer_dir),
        "corpus": spec_names(specs),
        "arch": arch.model_dump(mode="json"),
        "train": config.model_dump(mode="json"),
        **outcome.run_facts(config),
    }
    if outcome.is_main:
        _write_pretrained(out_dir, outcome, settings, tokenizer, tokenizer_dir, generator, ckpt_dir, force)
        if not config.keep_checkpoints:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    return out_dir


def _check_settings(config: TrainConfig, arch: ModelArchConfig) -> None:
    if config.max_steps < 1:
        raise ConfigError(
            "pretrain needs at least one step: a new model is random until it trains.",
            "Set --max-steps (train.max_steps) to 1 or more; 0 is for `adapt` (fill the slots only).",
        )
    if config.mode != "full":
        raise ConfigError(
            f"pretrain trains every parameter; mode '{config.mode}' needs an existing model.",
            "Use train.mode full for pretrain, or `domainlm adapt` to adapt an existing model.",
        )
    if config.seq_len > arch.max_positions:
        raise ConfigError(
            f"seq_len {config.seq_len} is longer than the model's {arch.max_positions} positions.",
            f"Use --seq-len {arch.max_positions} or less, or raise --max-positions.",
        )


def _fresh_model(arch: ModelArchConfig, tokenizer, seed: int):
    """(the new model, its ELECTRA generator or None), their initial weights seeded."""
    torch.manual_seed(seed)
    if arch.arch == "electra":
        return build_electra(arch, tokenizer)
    return build_mlm(arch, tokenizer), None


def _texts(specs, config: TrainConfig):
    return training_texts(specs, heldout_fraction=config.heldout_fraction, max_documents=config.max_documents)


def _heldout(specs, tokenizer, config: TrainConfig):
    """The held-out sequences (the documents the hash rule keeps out of training), or None."""
    if not (config.eval_documents and config.heldout_fraction > 0):
        return None
    held = training_texts(
        specs, heldout_fraction=config.heldout_fraction, heldout=True, max_documents=config.eval_documents
    )
    return fixed_sequences(tokenizer, held, config.seq_len, limit=256) or None


def _input_fingerprint(tokenizer_dir, specs, arch: ModelArchConfig) -> dict:
    """What a resume must find unchanged (see domainlm.training.fingerprint)."""
    return {
        "tokenizer": fp.folder_entry(tokenizer_dir, ("tokenizer.json", "vocab.txt")),
        "corpus": fp.corpus_entry(specs),
        "arch": {
            "shown": str(arch.model_dump(mode="json")),
            "digest": str(sorted(arch.model_dump(mode="json").items())),
        },
    }


def _write_pretrained(
    out_dir: Path, outcome, settings: dict, tokenizer, tokenizer_dir, generator, ckpt_dir, force
) -> None:
    """The pretrained model folder (or, when it cannot be written, the kept checkpoint that says so)."""
    versions = library_versions()
    card = model_card(
        kind="pretrain",
        base=None,
        category=None,
        settings=settings,
        outcome=outcome,
        slots=[],
        eval_before=None,
        versions=versions,
        arch=settings["arch"],
        folder_name=out_dir.name,
        mask_token=tokenizer.mask_token or "[MASK]",
        electra=generator is not None,
    )
    slots = Path(tokenizer_dir) / "slots.json"
    write_or_keep_checkpoint(
        lambda: write_model_dir(
            out_dir,
            model=outcome.model,
            tokenizer=tokenizer,
            settings=settings,
            versions=versions,
            metrics=outcome.metrics,
            card=card,
            slots_json=slots if slots.exists() else None,
            tokenizer_dir=Path(tokenizer_dir),
            command="pretrain",
            force=force,
            generator=generator,
        ),
        outcome,
        ckpt_dir=ckpt_dir,
        command="pretrain",
    )
