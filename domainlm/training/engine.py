"""The trainer shared by `adapt` and `pretrain`, for every objective (masked-LM, replaced-token detection).

accelerate carries the device placement, bf16 autocast and DDP: the same code runs on one CPU, one
GPU, or N processes started by `accelerate launch` / `torchrun`. What is optimised is a component
(`domainlm.training.objectives`); the masked-LM one computes the loss only at the masked positions.
Phases run one after another (e.g. new rows, then LoRA); a LoRA
phase is merged into the weights when it ends so the next phase and the saved model are plain
transformers models. A run that ends in LoRA on the filled base also keeps its adapter
(`domainlm.modeling.adapters`), for `adapt --save adapter|both`.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch
from torch import nn

from domainlm.errors import ConfigError, OutputError, TrainingError
from domainlm.modeling.adapters import LoraAdapter, adapter_possible, merge_keeping_adapter
from domainlm.modeling.init_rows import input_embeddings
from domainlm.modeling.modes import apply_mode, filled_row_tensors, merged_model, no_decay_names
from domainlm.progress import progress_bar
from domainlm.runtime import accelerator_for, cpu_has_native_bf16, resolve_precision, warn_single_process_launch  # noqa: F401 (re-export)
from domainlm.training.checkpoint import (
    CheckpointWriteError,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from domainlm.training.config import TrainConfig
from domainlm.training.data import batches
from domainlm.training.masking import mask_generator
from domainlm.training.objectives import MaskedLM, Objective
from domainlm.training.optim import RowLearningRate, adamw, decay_groups, linear_schedule
from domainlm.training.tracking import TrackingPlan, make_trackers, tracked, tracker_values


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
    if not config.phases:  # P21: no split is guessed; the message writes one out
        rows = max(1, min(40, config.max_steps // 5))
        example = (
            f"--set 'train.phases=[{{mode: new-rows, steps: {rows}, lr: 2e-3}}, "
            f"{{mode: full, steps: {max(1, config.max_steps - rows)}}}]'"
        )
        raise ConfigError(
            "Mode 'phased' trains the phases listed in train.phases, and none is set.",
            f"Give them, e.g. {example} (new rows alone first, then everything: the phased arm of "
            "benchmarks/adaptation_benchmark.py), or choose --mode full / lora / new-rows.",
        )
    total = sum(p.steps for p in config.phases)
    if "max_steps" in config.model_fields_set and config.max_steps not in (0, total):
        # P22: a phased run takes its length from its phases; a different max_steps was silently ignored.
        raise ConfigError(
            f"--max-steps {config.max_steps} (train.max_steps) and train.phases "
            f"({' + '.join(str(p.steps) for p in config.phases)} = {total} steps) disagree: a phased run "
            "trains the steps of its phases.",
            f"Leave --max-steps out, set it to {total}, or change the steps of train.phases.",
        )
    return [Phase(p.mode, p.steps, p.lr or config.lr) for p in config.phases]


@dataclass
class TrainOutcome:
    model: torch.nn.Module  # plain transformers model (LoRA merged), on CPU
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
    adapter: LoraAdapter | None = None  # the LoRA adapter merged into `model`, when it is one on the filled base
    world_size: int = 1  # processes that trained (torchrun / accelerate launch)
    precision: str = "fp32"  # what train.precision resolved to on this machine

    def run_facts(self, config: TrainConfig) -> dict:
        return run_facts(config, self.world_size, self.precision)

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


def run_facts(config: TrainConfig, world_size: int, precision: str) -> dict:
    """How the run ran, for settings.json, the card and the trackers: under torchrun each of the
    `world_size` processes trains its own batch, so a step sees batch × accumulation × processes."""
    return {
        "world_size": world_size,
        "effective_batch": config.batch_size * config.grad_accum * world_size,
        "precision_used": precision,
    }


def _optimizer(wrapper, model, mode: str, lr: float, weight_decay: float):
    """AdamW over what trains in `wrapper`: `model` by its mode's no-decay rule, the rest (an
    objective's own modules, e.g. ELECTRA's generator) by the plain one (no decay on biases and norms)."""
    no_decay = no_decay_names(model, mode)
    own = {id(p): name in no_decay for name, p in model.named_parameters()}
    params = [
        (p, own[id(p)] if id(p) in own else (p.dim() < 2 or "LayerNorm" in name or "layer_norm" in name))
        for name, p in wrapper.named_parameters()
        if p.requires_grad
    ]
    return adamw(decay_groups(params, weight_decay), lr)


def _scheduler(optimizer, steps: int, warmup_ratio: float) -> torch.optim.lr_scheduler.LRScheduler:
    return linear_schedule(optimizer, steps, warmup_ratio)


def _compile(model) -> None:
    """Compile the encoder layers in place (keeps state_dict keys; heads see a varying number of rows)."""
    from domainlm.modeling.heads import unwrap_peft

    core = unwrap_peft(model)
    encoder = getattr(core, getattr(core, "base_model_prefix", "") or "", None)
    if encoder is None:
        return
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is not None:
        # Layer by layer: the masked-position path calls the layers (and the last layer's parts) itself.
        for layer in layers:
            layer.compile(dynamic=False)
    else:
        encoder.compile(dynamic=False)


@dataclass
class TrainState:
    """Where a run stands: everything a checkpoint saves besides the tensors, and the running figures."""

    step: int = 0  # optimiser steps finished
    micro: int = 0  # micro-batches drawn from the stream
    micro_done: int = 0  # micro-batches of the finished steps (a resume skips these)
    tokens: int = 0
    phase: int = 0
    metrics: list[dict] = field(default_factory=list)
    metrics_lines: list[str] = field(default_factory=list)
    last_good: int | None = None  # the step of the newest checkpoint written
    resumed_from: int | None = None
    final_loss: float | None = None
    eval_loss: float | None = None
    rng_at_step: dict | None = None  # RNG state at the start of the step in flight (for Ctrl-C)

    @classmethod
    def from_checkpoint(cls, saved: dict) -> TrainState:
        lines = list(saved["metrics"])
        return cls(
            step=saved["step"],
            micro=saved["micro_batches"],
            micro_done=saved["micro_batches"],
            tokens=saved["tokens"],
            phase=saved["phase"],
            metrics=[json.loads(line) for line in lines],
            metrics_lines=lines,
            last_good=saved["step"],
            resumed_from=saved["step"],
        )

    def record(self, entry: dict) -> None:
        self.metrics.append(entry)
        self.metrics_lines.append(json.dumps(entry, ensure_ascii=False) + "\n")


@dataclass
class _PhaseRun:
    """The objects of the phase being trained."""

    index: int
    phase: Phase
    first_step: int
    wrapper: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    row_rate: RowLearningRate | None = None  # train.new_rows_lr: the filled rows' own learning rate


class Trainer:
    """Continued or base pretraining: phases of optimiser steps on packed micro-batches, with an objective.

    Lifecycle: `run(resume)` sets up (accelerator, seed), restores the newest checkpoint when
    resuming, runs each phase (`_start_phase`, then `_step` / `_log` / `_maybe_evaluate` /
    `_maybe_save` per optimiser step), turns Ctrl-C into a checkpoint (`_interrupt`), evaluates at
    the end and returns a `TrainOutcome`. The objective (`domainlm.training.objectives`) computes the
    loss; the trainer never looks inside it.
    """

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        objective: Objective,
        stream,
        config: TrainConfig,
        ckpt_dir: Path,
        slot_ids: list[int],
        heldout_sequences=None,
        on_step: Callable[[int, dict], None] | None = None,
        resume_hint: str = "rerun the same command with --resume",
        description: str = "training",
        fingerprint: dict | None = None,
        tracking: TrackingPlan | None = None,
    ):
        self.model, self.objective, self.stream, self.config = model, objective, stream, config
        self.tracking = tracking
        self.ckpt_dir, self.slot_ids, self.heldout = Path(ckpt_dir), slot_ids, heldout_sequences
        self.on_step, self.resume_hint, self.description, self.fingerprint = (
            on_step,
            resume_hint,
            description,
            fingerprint,
        )
        self.phases = plan_phases(config)
        self.total_steps = sum(p.steps for p in self.phases)
        self.state = TrainState()
        self.adapter: LoraAdapter | None = None

    # -- set-up and restore -------------------------------------------------------------------------
    def _setup(self) -> None:
        from accelerate.utils import set_seed

        cuda = torch.cuda.is_available()
        self.precision = resolve_precision(
            self.config.precision, "cuda" if cuda else "cpu", cuda_bf16=cuda and torch.cuda.is_bf16_supported()
        )
        # cpu=True is what makes accelerate treat a torchrun / `accelerate launch` CPU job as DDP over gloo.
        self.accelerator = accelerator_for(self.precision, cpu=not cuda, log_with=make_trackers(self.tracking))
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process
        warn_single_process_launch()
        # Dropout draws from the global RNG: seed it so that a run is reproducible (a resume restores it).
        set_seed(self.config.seed)

    def _restore(self, resume: bool) -> dict | None:
        """The newest checkpoint's saved state (checked against this run), or None for a fresh start."""
        if not resume:
            if self.is_main and latest_checkpoint(self.ckpt_dir) is not None:
                raise TrainingError(
                    f"Checkpoints of an earlier run exist in '{self.ckpt_dir}'.",
                    "Pass --resume to continue that run, or delete that directory to start over.",
                )
            return None
        last = latest_checkpoint(self.ckpt_dir)
        if last is None:
            raise TrainingError(
                f"--resume was given but '{self.ckpt_dir}' holds no checkpoint.",
                "Run without --resume to start from the beginning.",
            )
        saved = load_checkpoint(last)
        _check_compatible(saved, self.config, last)
        _check_fingerprint(saved, self.fingerprint, last)
        self.state = TrainState.from_checkpoint(saved)
        return saved

    def _finished_before(self, saved: dict) -> TrainOutcome:
        """The training had finished; only writing the model failed. Nothing to train again."""
        if saved["step"] != self.total_steps:
            raise TrainingError(
                f"The checkpoint '{latest_checkpoint(self.ckpt_dir)}' holds a finished training of "
                f"{saved['step']} steps (kept because its model could not be written), not {self.total_steps}.",
                f"Resume with --max-steps {saved['step']} to write that model, then continue from it "
                "as a new run (--base the written model).",
            )
        self.model.load_state_dict(saved["model"])
        self.objective.load_extra_state(saved.get("objective"))
        self.adapter = LoraAdapter.from_state(saved.get("adapter"))
        s = self.state
        s.final_loss, s.eval_loss = saved.get("final_loss"), saved.get("eval_loss")
        return self._outcome(self.model.to("cpu"), saved.get("seconds", 0.0))

    # -- the run --------------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainOutcome:
        """Run all phases; return the trained plain model (on the main process) and the metrics."""
        self._setup()
        saved = self._restore(resume)
        self.data = batches(
            self.stream, self.config.batch_size, rank=self.rank, world=self.world, skip=self.state.micro
        )
        started = time.perf_counter()
        if saved is not None and saved.get("final"):
            return self._finished_before(saved)
        facts = run_facts(self.config, self.world, self.precision)
        with tracked(self.accelerator, self.tracking, facts, fresh=saved is None):
            self._run_phases(saved)
        seconds = time.perf_counter() - started
        model = self.model.to("cpu")
        self.accelerator.wait_for_everyone()
        return self._outcome(model, seconds)

    def _run_phases(self, saved: dict | None) -> None:
        s = self.state
        with progress_bar(
            self.description,
            total=self.total_steps,
            unit="steps",
            fields="loss {task.fields[loss]:.3f} · {task.fields[tps]:,.0f} tok/s",
            loss=float("nan"),
            tps=0.0,
        ) as self.update:
            self.update(completed=s.step, loss=float("nan"), tps=0.0)
            # A checkpoint taken at the last step of a phase still belongs to that phase (its structure).
            for index in range(s.phase, len(self.phases)):
                run = self._start_phase(index, saved if saved is not None and saved["phase"] == index else None)
                saved = None
                self._train_phase(run)
                self.model = self.accelerator.unwrap_model(run.wrapper).model
                self.accelerator.free_memory()
                if run.phase.mode == "lora":
                    self._merge_lora(index)
            self._final_evaluation()

    def _record(self, entry: dict) -> None:
        """A metrics.jsonl record, also sent to the trackers (a no-op without any)."""
        self.state.record(entry)
        self.accelerator.log(tracker_values(entry), step=entry["step"])

    def _merge_lora(self, index: int) -> None:
        """Merge the LoRA phase just trained; keep it as an adapter too when it is the last phase
        and the base under it is the filled base (only filled rows trained before)."""
        last = index == len(self.phases) - 1
        if last and self.is_main and adapter_possible([p.mode for p in self.phases]):
            self.model, self.adapter = merge_keeping_adapter(self.model, self.slot_ids)
        else:
            self.model = merged_model(self.model)

    def _start_phase(self, index: int, saved: dict | None) -> _PhaseRun:
        phase = self.phases[index]
        self.state.phase = index
        model = apply_mode(self.model, phase.mode, self.slot_ids, self.config.lora)
        wrapper = self.objective.wrap(model)
        optimizer = _optimizer(wrapper, model, phase.mode, phase.lr, self.config.weight_decay)
        scheduler = _scheduler(optimizer, phase.steps, self.config.warmup_ratio)
        if saved is not None:
            cast(nn.Module, wrapper.model).load_state_dict(saved["model"])
            self.objective.load_extra_state(saved.get("objective"))
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            set_rng_state(saved["rng"])
        if self.config.compile:
            _compile(wrapper.model)
        wrapper, optimizer = self.accelerator.prepare(wrapper, optimizer)
        row_rate = None
        rows_lr = self.config.rows_lr(phase.mode, phase.lr)
        if rows_lr != phase.lr:
            rows = filled_row_tensors(model, self.slot_ids)
            row_rate = RowLearningRate(rows, rows_lr / phase.lr) if rows else None
        first = sum(p.steps for p in self.phases[:index])
        return _PhaseRun(index, phase, first, wrapper, optimizer, scheduler, row_rate)

    def _train_phase(self, run: _PhaseRun) -> None:
        s = self.state
        self._window_start, self._window_tokens = time.perf_counter(), 0
        self._window: list[tuple[float, dict[str, float]]] = []
        try:
            while s.step - run.first_step < run.phase.steps:
                value, parts = self._step(run)
                record = self._log(run, value, parts)
                self._maybe_evaluate(run)
                self._maybe_save(run)
                if self.on_step is not None:
                    self.on_step(s.step, record or {})
        except KeyboardInterrupt:
            self._interrupt(run)

    def _step(self, run: _PhaseRun) -> tuple[float, dict[str, float]]:
        """One optimiser step over `grad_accum` micro-batches; returns the mean loss and its parts."""
        s, c, acc = self.state, self.config, self.accelerator
        run.wrapper.train()
        s.rng_at_step = rng_state()
        step_loss = torch.zeros((), device=acc.device)
        step_parts: dict[str, torch.Tensor] = {}
        for k in range(c.grad_accum):
            ids, starts = next(self.data)
            gen = mask_generator(c.seed, s.micro, self.rank)
            s.micro += 1
            sync = k == c.grad_accum - 1
            ctx = acc.no_sync(run.wrapper) if not sync and self.world > 1 else contextlib.nullcontext()
            with ctx, acc.autocast():
                loss, parts = self.objective.loss(run.wrapper, ids, starts, gen, s.step, acc.device)
                loss = loss / c.grad_accum
                acc.backward(loss)
            step_loss += loss.detach()
            for name, part in parts.items():
                step_parts[name] = step_parts.get(name, 0.0) + part.detach().float() / c.grad_accum
        value = float(acc.reduce(step_loss, "mean") if self.world > 1 else step_loss)
        if not math.isfinite(value):
            where = (
                f"the last good checkpoint is step {s.last_good} in '{self.ckpt_dir}'"
                if s.last_good
                else "no checkpoint was written yet"
            )
            raise TrainingError(
                f"The loss became {value} at step {s.step + 1}; training stopped and nothing was saved after it "
                f"({where}).",
                f"Lower the learning rate (now {run.phase.lr:g}) or check the data, then "
                + ("resume from that checkpoint with --resume." if s.last_good else "start again."),
            )
        acc.clip_grad_norm_([p for p in run.wrapper.parameters() if p.requires_grad], 1.0)
        if run.row_rate is not None:
            run.row_rate.before_step()
        run.optimizer.step()
        if run.row_rate is not None:
            run.row_rate.after_step()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
        s.step += 1
        s.micro_done = s.micro
        step_tokens = c.batch_size * c.seq_len * c.grad_accum * self.world
        s.tokens += step_tokens
        self._window_tokens += step_tokens
        parts_now = {name: float(acc.reduce(v, "mean") if self.world > 1 else v) for name, v in step_parts.items()}
        self._window.append((value, parts_now))
        s.final_loss = value
        return value, parts_now

    def _log(self, run: _PhaseRun, value: float, parts: dict[str, float]) -> dict | None:
        """A metrics record (window means) every `log_every` steps and at the end of the phase."""
        s = self.state
        if s.step % self.config.log_every and s.step - run.first_step != run.phase.steps:
            return None
        elapsed = time.perf_counter() - self._window_start
        record = {
            "step": s.step,
            "loss": sum(v for v, _ in self._window) / len(self._window),
            "lr": run.scheduler.get_last_lr()[0],
            "tokens": s.tokens,
            "tokens_per_second": self._window_tokens / elapsed if elapsed > 0 else 0.0,
            "phase": run.index,
            "mode": run.phase.mode,
        }
        for name in self.objective.parts:
            seen = [p[name] for _, p in self._window if name in p]
            if seen:
                record[name] = sum(seen) / len(seen)
        self._record(record)
        self.update(completed=s.step, loss=record["loss"], tps=record["tokens_per_second"])
        self._window_start, self._window_tokens, self._window = time.perf_counter(), 0, []
        return record

    def _maybe_evaluate(self, run: _PhaseRun) -> None:
        s = self.state
        if self.heldout and self.config.eval_every and s.step % self.config.eval_every == 0:
            s.eval_loss = self._evaluate(run.wrapper)
            self._record({"step": s.step, "eval_loss": s.eval_loss, "tokens": s.tokens})

    def _final_evaluation(self) -> None:
        s = self.state
        if not self.heldout:
            return
        if s.metrics and s.metrics[-1].get("step") == s.step and "eval_loss" in s.metrics[-1]:
            # eval_every fell on the last step: that record is the final evaluation already.
            s.eval_loss = s.metrics[-1]["eval_loss"]
        else:
            s.eval_loss = self._evaluate(self.objective.wrap(self.model))
            self._record({"step": s.step, "eval_loss": s.eval_loss, "tokens": s.tokens})

    def _evaluate(self, wrapper) -> float:
        inner = self.accelerator.unwrap_model(wrapper)
        with self.accelerator.autocast():
            return self.objective.evaluate(inner, self.heldout)

    # -- checkpoints ----------------------------------------------------------------------------------
    def _maybe_save(self, run: _PhaseRun) -> None:
        s = self.state
        if s.step % self.config.save_every == 0 and s.step < self.total_steps:
            self._save_or_stop(run, micro=s.micro)
            s.last_good = s.step

    def _interrupt(self, run: _PhaseRun):
        """Ctrl-C: the step in flight is dropped; the state after the last finished step is complete."""
        s = self.state
        path = self._save_or_stop(run, micro=s.micro_done, rng=s.rng_at_step) if s.step > 0 else None
        where = (
            f"saved a checkpoint at step {s.step} in '{path.parent}'"
            if path
            else "no step had finished, nothing to save"
        )
        raise TrainingInterrupted(
            f"Interrupted at step {s.step} of {self.total_steps}; {where}.",
            f"To continue, {self.resume_hint}." if path else "Start again without --resume.",
        ) from None

    def _save(self, run: _PhaseRun, *, micro: int, rng=None) -> Path:
        s, acc = self.state, self.accelerator
        path = None
        if acc.is_main_process:
            saved = {
                "step": s.step,
                "phase": run.index,
                "micro_batches": micro,
                "tokens": s.tokens,
                "model": acc.unwrap_model(run.wrapper).model.state_dict(),
                "objective": self.objective.extra_state(),
                "optimizer": run.optimizer.state_dict(),
                "scheduler": run.scheduler.state_dict(),
                "rng": rng or rng_state(),
                "metrics": list(s.metrics_lines),
                "compat": _compat(self.config),
                "fingerprint": self.fingerprint,
            }
            path = save_checkpoint(self.ckpt_dir, s.step, saved, s.metrics_lines)
        return path if path is not None else self.ckpt_dir / f"step-{s.step:06d}"

    def _save_or_stop(self, run: _PhaseRun, **kwargs) -> Path:
        """`_save`; a checkpoint that cannot be written stops the run with where the last good one is."""
        try:
            return self._save(run, **kwargs)
        except (CheckpointWriteError, OutputError) as e:
            last_good = self.state.last_good
            if last_good:
                where = f" The last good checkpoint is step {last_good} in '{self.ckpt_dir}'."
                hint = (e.hint or "").replace("rerun the same command with --resume", self.resume_hint)
            else:
                where = " No earlier checkpoint exists, so the run has to start again."
                hint = (
                    "Free disk space or fix the permissions (or write to another disk), "
                    "then run the same command again."
                )
            raise type(e)(e.message + where, hint) from None

    def _outcome(self, model, seconds: float) -> TrainOutcome:
        s, config, ckpt_dir, objective = self.state, self.config, self.ckpt_dir, self.objective
        phases, fingerprint = len(self.phases), self.fingerprint
        lines, step, micro, tokens = list(s.metrics_lines), s.step, s.micro, s.tokens
        final_loss, eval_loss = s.final_loss, s.eval_loss
        adapter = self.adapter

        def final_checkpoint() -> Path:
            # Past the last phase and marked final: a resume loads these weights and trains nothing.
            state = {
                "step": step,
                "phase": phases,
                "micro_batches": micro,
                "tokens": tokens,
                "final": True,
                "model": model.state_dict(),
                "objective": objective.extra_state(),
                "metrics": lines,
                "compat": _compat(config),
                "fingerprint": fingerprint,
                "eval_loss": eval_loss,
                "final_loss": final_loss,
                "seconds": seconds,
                "rng": rng_state(),
                "adapter": adapter.to_state() if adapter is not None else None,
            }
            return save_checkpoint(ckpt_dir, step, state, lines)

        return TrainOutcome(
            model=model,
            steps=step,
            tokens=tokens,
            final_loss=final_loss,
            eval_loss=eval_loss,
            seconds=seconds,
            metrics=s.metrics,
            resumed_from=s.resumed_from,
            is_main=self.is_main,
            final_checkpoint=final_checkpoint if self.is_main else None,
            adapter=adapter,
            world_size=self.world,
            precision=self.precision,
        )


def train(
    *,
    build_model: Callable[[], torch.nn.Module],
    tokenizer,
    stream,
    config: TrainConfig,
    ckpt_dir: Path,
    slot_ids: list[int],
    resume: bool = False,
    heldout_sequences=None,
    on_step: Callable[[int, dict], None] | None = None,
    resume_hint: str = "rerun the same command with --resume",
    description: str = "training",
    fingerprint: dict | None = None,
    objective: Objective | None = None,
    tracking: TrackingPlan | None = None,
) -> TrainOutcome:
    """Run all phases with `objective` (default: masked-LM); see `Trainer`.

    `fingerprint` (see `domainlm.training.fingerprint`) names the inputs of the run (corpus,
    terms, base); it is saved in every checkpoint and a resume with other inputs is refused.
    `tracking` (see `domainlm.training.tracking`) sends the metrics to TensorBoard / W&B / MLflow.
    """
    model = build_model()
    if objective is None:
        objective = MaskedLM(tokenizer, config, input_embeddings(model).weight.shape[0])
    trainer = Trainer(
        model=model,
        objective=objective,
        stream=stream,
        config=config,
        ckpt_dir=ckpt_dir,
        slot_ids=slot_ids,
        heldout_sequences=heldout_sequences,
        on_step=on_step,
        resume_hint=resume_hint,
        description=description,
        fingerprint=fingerprint,
        tracking=tracking,
    )
    return trainer.run(resume)


def _compat(config: TrainConfig) -> dict:
    """Settings a resume must share with the run it continues (they fix the data order and shapes, and
    max_steps, lr and warmup_ratio the learning-rate schedule the restored scheduler follows: B25)."""
    return {
        k: getattr(config, k)
        for k in (
            "seed",
            "batch_size",
            "seq_len",
            "grad_accum",
            "mode",
            "replay_ratio",
            "mlm_probability",
            "masking",
            "max_steps",
            "lr",
            "warmup_ratio",
        )
    } | {"phases": [p.model_dump() for p in config.phases]}


def _check_fingerprint(state: dict, fingerprint: dict | None, path: Path) -> None:
    from domainlm.training.fingerprint import describe_differences

    diff = describe_differences(state.get("fingerprint"), fingerprint)
    if diff:
        raise TrainingError(
            f"The checkpoint '{path}' belongs to a run with other inputs ({'; '.join(diff)}), so "
            "--resume would mix two trainings.",
            "Resume with the inputs of that run, or start over: delete that checkpoint folder (or "
            "write to another output folder) and run without --resume.",
        )


def _check_compatible(state: dict, config: TrainConfig, path: Path) -> None:
    saved, now = state.get("compat", {}), _compat(config)
    diff = [f"{k}: {saved[k]!r} → {now[k]!r}" for k in now if k in saved and saved[k] != now[k]]
    if diff:
        schedule = [k for k in ("max_steps", "lr", "warmup_ratio") if k in saved and saved[k] != now[k]]
        raise TrainingError(
            f"The checkpoint '{path}' was written with other settings ({'; '.join(diff)})"
            + (
                f": {', '.join(schedule)} set the learning-rate schedule the run is halfway through, so "
                "resuming would follow neither schedule"
                if schedule
                else ""
            )
            + ".",
            "Resume with the settings of that run, or start a new run in another output directory.",
        )
