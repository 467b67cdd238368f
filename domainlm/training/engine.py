"""The training loop shared by `adapt` and `pretrain`.

accelerate carries the device placement, bf16 autocast and DDP: the same code runs on one CPU, one
GPU, or N processes started by `accelerate launch` / `torchrun`. The loss is computed only at the
masked positions (`MaskedLMLoss`). Phases run one after another (e.g. new rows, then LoRA); a LoRA
phase is merged into the weights when it ends so the next phase and the saved model are plain
transformers models.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from domainlm.errors import OutputError, TrainingError
from domainlm.modeling.heads import MaskedLMLoss
from domainlm.modeling.modes import apply_mode, merged_model, no_decay_names
from domainlm.progress import progress_bar
from domainlm.training.checkpoint import (CheckpointWriteError, latest_checkpoint, load_checkpoint, rng_state,
                                          save_checkpoint, set_rng_state)
from domainlm.training.config import TrainConfig
from domainlm.training.data import batches
from domainlm.training.heldout import heldout_mlm_loss
from domainlm.training.masking import mask_generator, special_token_ids, whole_word_mask


class TrainingInterrupted(TrainingError):
    """Ctrl-C: a clean checkpoint was written; the message says how to resume."""


@dataclass
class Phase:
    mode: str
    steps: int
    lr: float


def plan_phases(config: TrainConfig) -> list[Phase]:
    if config.mode != "phased":
        return [Phase(config.mode, config.max_steps, config.lr)]
    if not config.phases:
        raise TrainingError("Mode 'phased' needs train.phases (e.g. new-rows for 200 steps, then lora).",
                            "Set train.phases, or choose --mode full / lora / new-rows.")
    return [Phase(p.mode, p.steps, p.lr or config.lr) for p in config.phases]


@dataclass
class TrainOutcome:
    model: torch.nn.Module           # plain transformers model (LoRA merged), on CPU
    steps: int
    tokens: int
    final_loss: float | None
    eval_loss: float | None
    seconds: float
    metrics: list[dict] = field(default_factory=list)
    resumed_from: int | None = None
    is_main: bool = True
    # Everything `keep_final_checkpoint` needs to save the finished state (set by `train`).
    final_checkpoint: Callable[[], Path] | None = None

    def keep_final_checkpoint(self) -> Path | None:
        """Save the trained weights and metrics as a checkpoint `--resume` can write the model from.

        Returns its path, or None when it cannot be written either (the error is not raised: the
        caller is already reporting the failure that made this necessary).
        """
        if self.final_checkpoint is None:
            return None
        try:
            return self.final_checkpoint()
        except (TrainingError, OutputError):
            return None


def _optimizer(model, mode: str, lr: float, weight_decay: float):
    no_decay = no_decay_names(model, mode)
    decay, plain = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (plain if name in no_decay else decay).append(p)
    groups = [g for g in ({"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}) if g["params"]]
    if not groups:
        raise TrainingError("No parameter trains in this mode.", "Check --mode and the filled slots.")
    # The fused kernel (CPU and CUDA) does one pass over each parameter instead of several.
    fused = all(p.dtype in (torch.float32, torch.bfloat16, torch.float16) and p.device.type in ("cpu", "cuda")
                for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, fused=fused)


def _scheduler(optimizer, steps: int, warmup_ratio: float):
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * steps), steps)


def _compile(model) -> None:
    """Compile the encoder in place (keeps state_dict keys; the head sees a varying number of rows)."""
    from domainlm.modeling.heads import mlm_head_of, unwrap_peft

    parts = mlm_head_of(unwrap_peft(model))
    if parts is None:
        return
    layers = getattr(getattr(parts[0], "encoder", None), "layer", None)
    if layers is not None:
        # Layer by layer: the masked-position path calls the layers (and the last layer's parts) itself.
        for layer in layers:
            layer.compile(dynamic=False)
    else:
        parts[0].compile(dynamic=False)


def train(*, build_model: Callable[[], torch.nn.Module], tokenizer, stream, config: TrainConfig, ckpt_dir: Path,
          slot_ids: list[int], resume: bool = False, heldout_sequences=None, on_step: Callable[[int, dict], None] | None = None,
          resume_hint: str = "rerun the same command with --resume", description: str = "training",
          fingerprint: dict | None = None) -> TrainOutcome:
    """Run all phases; return the trained plain model (on the main process) and the metrics.

    `fingerprint` (see `domainlm.training.fingerprint`) names the inputs of the run (corpus,
    terms, base); it is saved in every checkpoint and a resume with other inputs is refused.
    """
    from accelerate import Accelerator

    use_bf16 = config.bf16 and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    # cpu=True is what makes accelerate treat a torchrun / `accelerate launch` CPU job as DDP over gloo.
    accelerator = Accelerator(mixed_precision="bf16" if use_bf16 else "no", cpu=not torch.cuda.is_available())
    rank, world, is_main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    phases = plan_phases(config)
    if config.mask_replace_prob + config.random_replace_prob > 1:
        raise TrainingError(f"mask_replace_prob + random_replace_prob is {config.mask_replace_prob + config.random_replace_prob:g}, over 1.",
                            "Keep their sum at most 1 (BERT: 0.8 and 0.1).")
    # Dropout draws from the global RNG: seed it so that a run is reproducible (a resume restores it).
    from accelerate.utils import set_seed

    set_seed(config.seed)
    total_steps = sum(p.steps for p in phases)

    state = None
    if resume:
        last = latest_checkpoint(ckpt_dir)
        if last is None:
            raise TrainingError(f"--resume was given but '{ckpt_dir}' holds no checkpoint.",
                                "Run without --resume to start from the beginning.")
        state = load_checkpoint(last)
        _check_compatible(state, config, last)
        _check_fingerprint(state, fingerprint, last)
    elif is_main and latest_checkpoint(ckpt_dir) is not None:
        raise TrainingError(f"Checkpoints of an earlier run exist in '{ckpt_dir}'.",
                            "Pass --resume to continue that run, or delete that directory to start over.")

    step = state["step"] if state else 0
    micro = state["micro_batches"] if state else 0
    tokens = state["tokens"] if state else 0
    metrics_lines: list[str] = list(state["metrics"]) if state else []
    metrics: list[dict] = [json.loads(line) for line in metrics_lines]
    last_good = state["step"] if state else None
    # The step this run continues from: `last_good` moves on as this run writes checkpoints.
    resumed_from = state["step"] if state else None
    special = special_token_ids(tokenizer)
    micro_tokens = config.batch_size * config.seq_len
    data = batches(stream, config.batch_size, rank=rank, world=world, skip=micro)
    model = build_model()
    eval_loss = None
    final_loss = None
    started = time.perf_counter()
    if state is not None and state.get("final"):
        # The training had finished; only writing the model failed. Nothing to train again.
        if state["step"] != total_steps:
            raise TrainingError(f"The checkpoint '{latest_checkpoint(ckpt_dir)}' holds a finished training of "
                                f"{state['step']} steps (kept because its model could not be written), not {total_steps}.",
                                f"Resume with --max-steps {state['step']} to write that model, then continue from it "
                                "as a new run (--base the written model).")
        model.load_state_dict(state["model"])
        return _outcome(model.to("cpu"), state["step"], tokens, state.get("final_loss"), state.get("eval_loss"),
                        state.get("seconds", 0.0),
                        metrics, metrics_lines, resumed_from, is_main, ckpt_dir, config, fingerprint, len(phases), micro)
    vocab = model.get_input_embeddings().weight.shape[0]

    # A checkpoint taken at the last step of a phase still belongs to that phase (its structure).
    start_phase = state["phase"] if state else 0
    micro_done, rng_at_step = micro, None
    log_every = config.log_every
    with progress_bar(description, total=total_steps, unit="steps",
                      fields="loss {task.fields[loss]:.3f} · {task.fields[tps]:,.0f} tok/s",
                      loss=float("nan"), tps=0.0) as update:
        update(completed=step, loss=float("nan"), tps=0.0)
        for pi in range(start_phase, len(phases)):
            phase = phases[pi]
            phase_start_step = sum(p.steps for p in phases[:pi])
            model = apply_mode(model, phase.mode, slot_ids, config.lora)
            wrapper = MaskedLMLoss(model)
            optimizer = _optimizer(model, phase.mode, phase.lr, config.weight_decay)
            scheduler = _scheduler(optimizer, phase.steps, config.warmup_ratio)
            if state is not None and state["phase"] == pi:
                wrapper.model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                set_rng_state(state["rng"])
                state = None
            if config.compile:
                _compile(wrapper.model)
            wrapper, optimizer = accelerator.prepare(wrapper, optimizer)
            window_start, window_tokens, window_losses = time.perf_counter(), 0, []
            local_step = step - phase_start_step
            try:
                while local_step < phase.steps:
                    wrapper.train()
                    rng_at_step = rng_state()
                    step_loss = torch.zeros((), device=accelerator.device)
                    for k in range(config.grad_accum):
                        ids, starts = next(data)
                        gen = mask_generator(config.seed, micro, rank)
                        micro += 1
                        inputs, positions, targets = whole_word_mask(
                            ids, starts, special, mask_token_id=tokenizer.mask_token_id, vocab_size=vocab,
                            probability=config.mlm_probability, generator=gen,
                            replace_probability=config.mask_replace_prob, random_probability=config.random_replace_prob)
                        inputs, positions, targets = (t.to(accelerator.device) for t in (inputs, positions, targets))
                        sync = k == config.grad_accum - 1
                        ctx = accelerator.no_sync(wrapper) if not sync and world > 1 else _null()
                        with ctx, accelerator.autocast():
                            loss = wrapper(inputs, positions, targets) / config.grad_accum
                            accelerator.backward(loss)
                        step_loss += loss.detach()
                    mean_loss = accelerator.reduce(step_loss, "mean") if world > 1 else step_loss
                    value = float(mean_loss)
                    if not math.isfinite(value):
                        where = (f"the last good checkpoint is step {last_good} in '{ckpt_dir}'" if last_good
                                 else "no checkpoint was written yet")
                        raise TrainingError(
                            f"The loss became {value} at step {step + 1}; training stopped and nothing was saved "
                            f"after it ({where}).",
                            f"Lower the learning rate (now {phase.lr:g}) or check the data, then "
                            + ("resume from that checkpoint with --resume." if last_good else "start again."))
                    accelerator.clip_grad_norm_([p for p in wrapper.parameters() if p.requires_grad], 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    local_step += 1
                    micro_done = micro
                    step_tokens = micro_tokens * config.grad_accum * world
                    tokens += step_tokens
                    window_tokens += step_tokens
                    window_losses.append(value)
                    final_loss = value
                    record = None
                    if step % log_every == 0 or local_step == phase.steps:
                        elapsed = time.perf_counter() - window_start
                        record = {"step": step, "loss": sum(window_losses) / len(window_losses),
                                  "lr": scheduler.get_last_lr()[0], "tokens": tokens,
                                  "tokens_per_second": window_tokens / elapsed if elapsed > 0 else 0.0,
                                  "phase": pi, "mode": phase.mode}
                        _append(metrics, metrics_lines, record)
                        update(completed=step, loss=record["loss"], tps=record["tokens_per_second"])
                        window_start, window_tokens, window_losses = time.perf_counter(), 0, []
                    if heldout_sequences and config.eval_every and step % config.eval_every == 0:
                        eval_loss = _evaluate(accelerator, wrapper, tokenizer, heldout_sequences, config)
                        _append(metrics, metrics_lines, {"step": step, "eval_loss": eval_loss, "tokens": tokens})
                    if step % config.save_every == 0 and step < total_steps:
                        _save_or_stop(accelerator, ckpt_dir, step, pi, micro, tokens, wrapper, optimizer, scheduler,
                                      metrics_lines, config, fingerprint, last_good=last_good, resume_hint=resume_hint)
                        last_good = step
                    if on_step is not None:
                        on_step(step, record or {})
            except KeyboardInterrupt:
                # The step in flight is dropped; the state after the last finished step is complete.
                path = _save_or_stop(accelerator, ckpt_dir, step, pi, micro_done, tokens, wrapper, optimizer, scheduler,
                                     metrics_lines, config, fingerprint, rng=rng_at_step, last_good=last_good,
                                     resume_hint=resume_hint) if step > 0 else None
                where = f"saved a checkpoint at step {step} in '{path.parent}'" if path else "no step had finished, nothing to save"
                raise TrainingInterrupted(f"Interrupted at step {step} of {total_steps}; {where}.",
                                          f"To continue, {resume_hint}." if path else "Start again without --resume.") from None
            model = accelerator.unwrap_model(wrapper).model
            accelerator.free_memory()
            if phase.mode == "lora":
                model = merged_model(model)
        if heldout_sequences:
            if metrics and metrics[-1].get("step") == step and "eval_loss" in metrics[-1]:
                # eval_every fell on the last step: that record is the final evaluation already.
                eval_loss = metrics[-1]["eval_loss"]
            else:
                eval_loss = _evaluate(accelerator, MaskedLMLoss(model), tokenizer, heldout_sequences, config)
                _append(metrics, metrics_lines, {"step": step, "eval_loss": eval_loss, "tokens": tokens})
    seconds = time.perf_counter() - started
    model = model.to("cpu")
    accelerator.wait_for_everyone()
    return _outcome(model, step, tokens, final_loss, eval_loss, seconds, metrics, metrics_lines, resumed_from, is_main,
                    ckpt_dir, config, fingerprint, len(phases), micro)


def _outcome(model, step, tokens, final_loss, eval_loss, seconds, metrics, metrics_lines, resumed_from, is_main,
             ckpt_dir, config, fingerprint, phases, micro) -> TrainOutcome:
    def final_checkpoint() -> Path:
        # Past the last phase and marked final: a resume loads these weights and trains nothing.
        state = {"step": step, "phase": phases, "micro_batches": micro, "tokens": tokens, "final": True,
                 "model": model.state_dict(), "metrics": list(metrics_lines), "compat": _compat(config),
                 "fingerprint": fingerprint, "eval_loss": eval_loss, "final_loss": final_loss, "seconds": seconds,
                 "rng": rng_state()}
        return save_checkpoint(ckpt_dir, step, state, metrics_lines)

    return TrainOutcome(model=model, steps=step, tokens=tokens, final_loss=final_loss, eval_loss=eval_loss,
                        seconds=seconds, metrics=metrics, resumed_from=resumed_from, is_main=is_main,
                        final_checkpoint=final_checkpoint if is_main else None)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _append(metrics: list[dict], lines: list[str], record: dict) -> None:
    metrics.append(record)
    lines.append(json.dumps(record, ensure_ascii=False) + "\n")


def _evaluate(accelerator, wrapper, tokenizer, sequences, config: TrainConfig) -> float:
    inner = accelerator.unwrap_model(wrapper)
    with accelerator.autocast():
        return heldout_mlm_loss(inner, tokenizer, sequences=sequences, seq_len=config.seq_len,
                                batch_size=config.batch_size, seed=config.seed, mlm_probability=config.mlm_probability)


def _save(accelerator, ckpt_dir, step, phase, micro, tokens, wrapper, optimizer, scheduler, metrics_lines, config,
          fingerprint=None, rng=None):
    path = None
    if accelerator.is_main_process:
        state = {"step": step, "phase": phase, "micro_batches": micro, "tokens": tokens,
                 "model": accelerator.unwrap_model(wrapper).model.state_dict(),
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng or rng_state(),
                 "metrics": list(metrics_lines), "compat": _compat(config), "fingerprint": fingerprint}
        path = save_checkpoint(ckpt_dir, step, state, metrics_lines)
    return path if path is not None else ckpt_dir / f"step-{step:06d}"


def _save_or_stop(*args, last_good: int | None, resume_hint: str, **kwargs):
    """`_save`; a checkpoint that cannot be written stops the run with where the last good one is."""
    try:
        return _save(*args, **kwargs)
    except (CheckpointWriteError, OutputError) as e:
        ckpt_dir = args[1]
        if last_good:
            where = f" The last good checkpoint is step {last_good} in '{ckpt_dir}'."
            hint = (e.hint or "").replace("rerun the same command with --resume", resume_hint)
        else:
            where = " No earlier checkpoint exists, so the run has to start again."
            hint = "Free disk space or fix the permissions (or write to another disk), then run the same command again."
        raise type(e)(e.message + where, hint) from None


def _compat(config: TrainConfig) -> dict:
    """Settings a resume must share with the run it continues (they fix the data order and shapes)."""
    return {k: getattr(config, k) for k in ("seed", "batch_size", "seq_len", "grad_accum", "mode", "replay_ratio",
                                             "mlm_probability")} | {"phases": [p.model_dump() for p in config.phases]}


def _check_fingerprint(state: dict, fingerprint: dict | None, path: Path) -> None:
    from domainlm.training.fingerprint import describe_differences

    diff = describe_differences(state.get("fingerprint"), fingerprint)
    if diff:
        raise TrainingError(f"The checkpoint '{path}' belongs to a run with other inputs ({'; '.join(diff)}), so "
                            "--resume would mix two trainings.",
                            "Resume with the inputs of that run, or start over: delete that checkpoint folder (or "
                            "write to another output folder) and run without --resume.")


def _check_compatible(state: dict, config: TrainConfig, path: Path) -> None:
    saved, now = state.get("compat", {}), _compat(config)
    diff = [f"{k}: {saved[k]!r} → {now[k]!r}" for k in now if k in saved and saved[k] != now[k]]
    if diff:
        raise TrainingError(f"The checkpoint '{path}' was written with other settings ({'; '.join(diff)}).",
                            "Resume with the settings of that run, or start a new run in another output directory.")
