"""The fine-tuning loop: one task, one model, one seed.

accelerate carries device placement, bf16 autocast (`precision`) and DDP, so the same code runs on a
CPU, one GPU, or N processes started by `accelerate launch` / `torchrun`; its trackers (`report_to`)
get the training loss and lr, each epoch's dev score and tokens/s, and the test score. Batches are padded only to
their longest member, and training batches group examples of similar length (shuffled in mega-
batches of 50 batches, sorted inside each, batch order shuffled), so little compute goes to padding;
`batching="fixed"` pads every batch to `max_seq_len` in random order, the anchors' way, as the
baseline of `benchmarks/finetune_throughput.py`.

After each epoch the model is scored on dev; the best epoch's weights are kept and restored, and
only then is the test set read (`TaskData.load_test`) and scored, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from domainlm.errors import ModelError, TrainingError
from domainlm.progress import progress_bar
from domainlm.runtime import LOGGING_DIR_HELP, PRECISION_HELP, REPORT_TO_HELP, Precision
from domainlm.tasks.data import EncodedExamples, Example
from domainlm.tasks.load import TaskData
from domainlm.tasks.metrics import MetricData
from domainlm.tasks.schema import Task

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model", "sentencepiece.bpe.model")


class FinetuneSettings(BaseModel):
    """Hyperparameters of a fine-tuning run; None takes the task's own. Declared once: `domainlm finetune` and
    `domainlm benchmark` generate their options from these fields."""

    model_config = ConfigDict(extra="forbid")

    epochs: int | None = Field(
        None, ge=1, description="Epochs (the epoch kept is the best on dev; null: the task's own)"
    )
    batch_size: int | None = Field(None, ge=1, description="Training batch size (null: the task's own, 32 built in)")
    lr: float | None = Field(None, gt=0, description="Learning rate (null: the task's own, 3e-5 built in)")
    max_seq_len: int | None = Field(
        None,
        ge=8,
        description="Longest input in tokens (null: the task's own, 128 built in; at most the model's positions)",
    )
    max_train: int | None = Field(None, ge=1, description="Training examples per task at most (a label or CPU budget)")
    max_dev: int | None = Field(None, ge=1, description="Dev examples per task at most")
    max_test: int | None = Field(None, ge=1, description="Test examples per task at most")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps of linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    eval_batch_size: int = Field(64, ge=1, description="Batch size of dev and test predictions")
    batching: Literal["grouped", "fixed"] = Field(
        "grouped", description="grouped: batches of similar lengths (little padding); fixed: in data order"
    )
    precision: Precision = Field("auto", description=PRECISION_HELP)
    fused_adamw: bool = Field(
        True,
        description="AdamW's fused kernel, one pass over each parameter (a fine-tuning step of the 4 x 256 base ran "
        "1.4x faster on a CPU: benchmarks/finetune_step_breakdown.py); false: the for-loop kernel, whose rounding "
        "runs before it used",
    )
    device: str | None = Field(None, description="'cpu' to stay off the GPU (null: the GPU when there is one)")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of torch (null: torch's default; 1 is often fastest for small models on a busy "
        "machine)",
    )
    report_to: list[str] = Field(default_factory=list, description=REPORT_TO_HELP + " (one run per seed)")
    logging_dir: str | None = Field(None, description=LOGGING_DIR_HELP)

    def resolved(self, task: Task) -> dict:
        return {
            "epochs": self.epochs or task.epochs,
            "batch_size": self.batch_size or task.batch_size,
            "lr": self.lr or task.lr,
            "max_seq_len": self.max_seq_len or task.max_seq_len,
            "max_train": self.max_train,
            "max_dev": self.max_dev,
            "max_test": self.max_test,
            "warmup_ratio": self.warmup_ratio,
            "weight_decay": self.weight_decay,
            "batching": self.batching,
            "precision": self.precision,
            "eval_batch_size": self.eval_batch_size,
            "fused_adamw": self.fused_adamw,
        }


@dataclass
class SeedRun:
    """The outcome of one seed: dev curve, chosen epoch, test score and predictions."""

    seed: int
    metric: str
    test_score: float
    best_epoch: int
    best_dev: float
    dev_curve: list[dict]
    test_gold: list
    test_pred: list
    test_examples: list[Example]
    label_names: list[str]
    seconds: float
    train_tokens: int
    padded_tokens: int
    train_seconds: float
    notes: list[str] = field(default_factory=list)
    train_cpu_seconds: float = 0.0  # CPU time of the training loop: a throughput measure that a busy machine skews less

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.train_seconds if self.train_seconds > 0 else float("nan")

    def metric_data(self) -> MetricData:
        return MetricData(self.metric, self.test_gold, self.test_pred, classes=_classes(self))


def _classes(run: SeedRun):
    if run.metric == "macro_f1":
        return list(range(len(run.label_names)))
    return None


# ---------------------------------------------------------------- model loading


def _has_tokenizer(path: Path) -> bool:
    return any((path / f).is_file() for f in TOKENIZER_FILES)


def check_model(model_path: str, data: TaskData, max_seq_len: int):
    """The model's config, after checking the model can take the task (no weights are read)."""
    from transformers import AutoConfig

    from domainlm.modeling.loading import check_local_source, load_error, refuse_non_model_folder

    task = data.task
    check_local_source(model_path, "model", "the MODEL argument")  # P11: finetune has no --base
    refuse_non_model_folder(model_path)  # P13: a tokenizer folder is not a model
    local = Path(model_path).expanduser()
    if local.is_dir() and not _has_tokenizer(local):
        raise ModelError(
            f"The model folder '{model_path}' has no tokenizer (none of {', '.join(TOKENIZER_FILES[:3])}).",
            "Save the model's tokenizer into the same folder (tokenizer.save_pretrained(dir)); for an "
            "adapted model, that is its filled tokenizer.",
        )
    try:
        config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
    except OSError as e:  # P12: offline, a hub id not in the cache: the message adapt and vocab info give
        raise load_error(model_path, "model", e, "as MODEL") from None
    except ValueError as e:
        raise ModelError(
            f"Cannot read the model config of '{model_path}': {str(e).splitlines()[0][:200]}",
            "Pass a Hugging Face model folder (config.json, weights, tokenizer).",
        ) from None
    positions = getattr(config, "max_position_embeddings", None)
    if positions is not None and max_seq_len > positions:
        raise ModelError(
            f"--max-seq-len {max_seq_len} is beyond the {positions} positions of '{model_path}'.",
            f"Pass --max-seq-len {positions} or less.",
        )
    saved_heads = [
        a
        for a in (getattr(config, "architectures", None) or [])
        if a.endswith(("ForSequenceClassification", "ForTokenClassification"))
    ]
    if saved_heads:
        refusal = task.kind.check_saved_head(model_path, task, config, data.num_labels, saved_heads[0])
        if refusal is not None:
            raise ModelError(*refusal)
    return config


def load_for_task(model_path: str, data: TaskData, max_seq_len: int):
    """(model, tokenizer, notes) with the head the task needs, after checking they fit together."""
    from domainlm.modeling.loading import WEIGHT_FILES, damaged_error, load_hf_tokenizer, quiet_transformers

    task = data.task
    check_model(model_path, data, max_seq_len)
    tokenizer = load_hf_tokenizer(model_path)  # the folder's own tokenizer: for an adapted model, the filled one
    kwargs: dict[str, Any] = {"num_labels": data.num_labels, **task.kind.model_kwargs()}
    if data.label_names:
        kwargs["id2label"] = {i: n for i, n in enumerate(data.label_names)}
        kwargs["label2id"] = {n: i for i, n in enumerate(data.label_names)}
    import transformers

    Auto = getattr(transformers, task.kind.auto_model)
    # "some weights were newly initialised" is the point here (the report says so); transformers' tqdm
    # "Loading weights" would break our rich bars.
    try:
        with quiet_transformers():
            model, info = Auto.from_pretrained(model_path, output_loading_info=True, trust_remote_code=False, **kwargs)
    except ValueError as e:
        raise ModelError(
            f"'{model_path}' has no {task.kind.model_kind}-classification "
            f"model class ({str(e).splitlines()[0][:160]}).",
            "Pass a BERT, ALBERT or ELECTRA (discriminator) checkpoint.",
        ) from None
    except OSError as e:
        raise ModelError(
            f"Cannot load the model '{model_path}': {str(e).splitlines()[0][:200]}",
            "Pass a Hugging Face model folder (config.json, weights, tokenizer).",
        ) from None
    except Exception as e:  # B9, B10: a damaged safetensors file or a pickle with objects: adapt's wording
        raise damaged_error(model_path, "model", e, WEIGHT_FILES) from None
    rows = model.get_input_embeddings().weight.shape[0]
    if rows < len(tokenizer):
        raise ModelError(
            f"'{model_path}': the tokenizer has {len(tokenizer):,} entries but the model only {rows:,} embedding rows.",
            "Use the tokenizer that belongs to this model.",
        )
    prefix = getattr(model, "base_model_prefix", "")
    missing = [k for k in info.get("missing_keys", ()) if k.startswith(prefix + ".")]
    notes = []
    if any(".pooler." in k for k in missing):
        notes.append("the checkpoint has no pooler: it starts random (the base's pooler is used where it has one)")
    elif missing:
        notes.append(
            f"{len(missing)} encoder tensor(s) missing from the checkpoint start random: {', '.join(missing[:3])}"
        )
    return model, tokenizer, notes


# ---------------------------------------------------------------- encoding and batching


class LengthGroupedBatches:
    """Batches of indices: grouped by length (train), sorted by length (eval) or random (fixed padding).

    Deterministic for a seed and epoch (`set_epoch`), so a run is reproducible.
    """

    def __init__(
        self, lengths: list[int], batch_size: int, *, seed: int = 0, mode: str = "grouped", mega_batches: int = 50
    ):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.mode = mode  # grouped | sorted | random
        self.mega = mega_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        n, bs = len(self.lengths), self.batch_size
        if self.mode == "sorted":
            order = np.argsort(-self.lengths, kind="stable")
            yield from (order[i : i + bs].tolist() for i in range(0, n, bs))
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        perm = rng.permutation(n)
        if self.mode == "random":
            yield from (perm[i : i + bs].tolist() for i in range(0, n, bs))
            return
        size = bs * self.mega
        batches = []
        for m in range(0, n, size):
            chunk = perm[m : m + size]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + bs].tolist() for i in range(0, len(chunk), bs)]
        for b in rng.permutation(len(batches)):
            yield batches[b]


def collate_fn(pad_id: int, pad_to: int | None = None, label_dtype: str = "long"):
    """Pad a batch to its longest member (or `pad_to`); labels of one value per example as `label_dtype`."""
    import torch

    def collate(features: list[dict]) -> dict:
        width = pad_to or max(len(f["input_ids"]) for f in features)
        n = len(features)
        ids = torch.full((n, width), pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        types = torch.zeros((n, width), dtype=torch.long) if "token_type_ids" in features[0] else None
        token_labels = isinstance(features[0]["labels"], list)
        labels = torch.full((n, width), -100, dtype=torch.long) if token_labels else None
        for r, f in enumerate(features):
            k = len(f["input_ids"])
            ids[r, :k] = torch.tensor(f["input_ids"])
            mask[r, :k] = 1
            if types is not None:
                types[r, :k] = torch.tensor(f["token_type_ids"])
            if labels is not None:  # token labels
                labels[r, :k] = torch.tensor(f["labels"])
        if not token_labels:
            labels = torch.tensor([f["labels"] for f in features], dtype=getattr(torch, label_dtype))
        batch = {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "index": torch.tensor([f["index"] for f in features], dtype=torch.long),
        }
        if types is not None:
            batch["token_type_ids"] = types
        return batch

    return collate


# ---------------------------------------------------------------- the loop


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


def _predict(model, loader, accelerator, task: Task, n: int) -> list:
    """Predictions in example order: class ids, scores, or (tokens) a predicted tag id per token."""
    import torch

    out: list = [None] * n
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            logits = model(**_inputs(batch)).logits
            pred = task.kind.predict(logits)
            if task.kind.pads_predictions:
                pred = accelerator.pad_across_processes(pred, dim=1, pad_index=-100)
            index, pred = accelerator.gather_for_metrics((batch["index"], pred))
            for i, p in zip(index.tolist(), pred.cpu().tolist()):
                out[i] = p
    model.train()
    return out


def run_seed(
    model_path: str,
    data: TaskData,
    seed: int,
    settings: FinetuneSettings,
    *,
    description: str | None = None,
    on_event: Callable[..., None] | None = None,
    tracking=None,
) -> SeedRun:
    """Fine-tune `model_path` on `data` with `seed`; choose the epoch on dev; score test once.
    `tracking` (a `domainlm.training.tracking.TrackingPlan`) reports the run to its trackers."""
    import torch

    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _run_seed(model_path, data, seed, settings, description, on_event, tracking)
    finally:
        torch.set_num_threads(threads)


def _optimizer_and_schedule(model, hp: dict, total_steps: int):
    """The training core's AdamW (no decay on biases and norms: `no_decay_names`) and linear schedule."""
    from domainlm.modeling.modes import no_decay_names
    from domainlm.training.optim import adamw, decay_groups, linear_schedule

    no_decay = no_decay_names(model, "full")
    groups = decay_groups(((p, n in no_decay) for n, p in model.named_parameters()), hp["weight_decay"])
    # The fused kernel wherever the parameters allow it: the for-loop kernel's several passes over every
    # parameter, the whole embedding matrix included, took 47% of a step of the 4 x 256 base on a CPU.
    optimizer = adamw(groups, hp["lr"], fused=None if hp["fused_adamw"] else False)
    return optimizer, linear_schedule(optimizer, total_steps, hp["warmup_ratio"])


LOG_EVERY = 10  # steps between the trackers' training loss and lr points


def _train_epoch(model, loader, optimizer, scheduler, accelerator, task, seed: int, step: int, update):
    """One pass over the training batches (the hot loop): their losses and the real and padded token counts."""
    import torch

    losses: list[float] = []
    real = padded = 0
    for batch in loader:
        logits = model(**_inputs(batch)).logits
        loss = task.kind.loss(logits, batch["labels"])
        if not torch.isfinite(loss):
            raise TrainingError(
                f"The loss of '{task.name}' became {loss.item()} at step {step + len(losses)} (seed {seed}).",
                "Lower --lr, or use --precision fp32.",
            )
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        real += int(batch["attention_mask"].sum())
        padded += int(batch["attention_mask"].numel())
        update(advance=1, loss=float(np.mean(losses[-20:])))
        if (step + len(losses)) % LOG_EVERY == 0:  # a no-op without trackers
            accelerator.log(
                {"train/loss": float(np.mean(losses[-LOG_EVERY:])), "train/lr": scheduler.get_last_lr()[0]},
                step=step + len(losses),
            )
    return losses, real, padded


def _accelerator(settings: FinetuneSettings, tracking):
    """(accelerator, cuda, the precision used): `settings.precision` resolved on this device."""
    import torch

    from domainlm.runtime import accelerator_for, resolve_precision
    from domainlm.training.tracking import make_trackers

    cuda = torch.cuda.is_available() and settings.device != "cpu"
    precision = resolve_precision(
        settings.precision, "cuda" if cuda else "cpu", cuda_bf16=cuda and torch.cuda.is_bf16_supported()
    )
    accelerator = accelerator_for(precision, cpu=not cuda, log_with=make_trackers(tracking))
    return accelerator, cuda, precision


def _run_seed(model_path, data, seed, settings, description, on_event, tracking) -> SeedRun:
    from domainlm.training.tracking import tracked

    accelerator, cuda, precision = _accelerator(settings, tracking)
    facts = {"seed": seed, "world_size": accelerator.num_processes, "precision_used": precision}
    with tracked(accelerator, tracking, facts):
        run = _train_and_test(accelerator, cuda, model_path, data, seed, settings, description, on_event)
        accelerator.log({f"test/{run.metric}": run.test_score}, step=run.dev_curve[-1]["step"] if run.dev_curve else 0)
    return run


@dataclass
class _Loaders:
    """The model's data of one seed: encoded splits, the training batches and how evaluation batches are built."""

    train_enc: EncodedExamples
    dev_enc: EncodedExamples
    train_sampler: LengthGroupedBatches
    train_loader: Any
    eval_loader: Callable[[EncodedExamples], Any]


def _loaders(data: TaskData, tokenizer, settings: FinetuneSettings, hp: dict, seed: int, accelerator) -> _Loaders:
    from torch.utils.data import DataLoader, Dataset

    task = data.task
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train_enc = task.kind.encode(data.train, tokenizer, hp["max_seq_len"], data.label_names, data.unit_separator)
    dev_enc = task.kind.encode(data.dev, tokenizer, hp["max_seq_len"], data.label_names, data.unit_separator)
    fixed = settings.batching == "fixed"
    collate = collate_fn(pad_id, hp["max_seq_len"] if fixed else None, task.kind.label_dtype)
    train_sampler = LengthGroupedBatches(
        [len(f["input_ids"]) for f in train_enc.features],
        hp["batch_size"],
        seed=seed,
        mode="random" if fixed else "grouped",
    )
    # A list of feature dicts is a map-style dataset (len and indexing), which torch's stubs do not say.
    train_loader: DataLoader[dict] = DataLoader(
        cast("Dataset[dict]", train_enc.features), batch_sampler=train_sampler, collate_fn=collate
    )

    def eval_loader(enc: EncodedExamples):
        sampler = LengthGroupedBatches(
            [len(f["input_ids"]) for f in enc.features], settings.eval_batch_size, mode="random" if fixed else "sorted"
        )
        loader: DataLoader[dict] = DataLoader(
            cast("Dataset[dict]", enc.features), batch_sampler=sampler, collate_fn=collate
        )
        return accelerator.prepare(loader)

    return _Loaders(train_enc, dev_enc, train_sampler, train_loader, eval_loader)


@dataclass
class _Training:
    """What the epochs leave: the dev curve, the best epoch and its weights (on the CPU), token and time counts."""

    curve: list[dict] = field(default_factory=list)
    best_dev: float = -math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    real_tokens: int = 0
    padded_tokens: int = 0
    train_seconds: float = 0.0
    train_cpu_seconds: float = 0.0
    step: int = 0


def _epochs(model, optimizer, scheduler, loaders: _Loaders, data, hp, seed, accelerator, cuda, emit, update):
    """Train every epoch, score dev after each, keep the best epoch's weights."""
    import torch

    task = data.task
    dev_loader = loaders.eval_loader(loaders.dev_enc)
    done = _Training()
    for epoch in range(1, hp["epochs"] + 1):
        loaders.train_sampler.set_epoch(epoch)
        t0, c0 = time.perf_counter(), time.process_time()
        losses, real, padded = _train_epoch(
            model, loaders.train_loader, optimizer, scheduler, accelerator, task, seed, done.step, update
        )
        done.step += len(losses)
        done.real_tokens += real
        done.padded_tokens += padded
        if cuda:
            torch.cuda.synchronize()
        epoch_seconds = time.perf_counter() - t0
        done.train_seconds += epoch_seconds
        done.train_cpu_seconds += time.process_time() - c0
        preds = _predict(model, dev_loader, accelerator, task, len(data.dev))
        dev_score, _, _ = task.kind.score(task, preds, data.dev, loaders.dev_enc, data.label_names)
        train_loss = float(np.mean(losses)) if losses else None
        done.curve.append({"epoch": epoch, "step": done.step, "train_loss": train_loss, "dev": dev_score})
        accelerator.log(
            {
                f"eval/dev_{task.metric}": dev_score,
                "train/epoch": epoch,
                "train/tokens_per_second": real / max(epoch_seconds, 1e-9),
            },
            step=done.step,
        )
        emit("dev", epoch=epoch, score=dev_score)
        update(dev=dev_score)
        if dev_score > done.best_dev or done.best_state is None:
            # Keep the best epoch's weights on the CPU; only they are scored on test.
            done.best_dev, done.best_epoch = dev_score, epoch
            done.best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in accelerator.unwrap_model(model).state_dict().items()
            }
    return done


def _train_and_test(accelerator, cuda, model_path, data, seed, settings, description, on_event) -> SeedRun:
    from accelerate.utils import set_seed

    task = data.task
    hp = settings.resolved(task)
    emit = on_event or (lambda *a, **k: None)
    started = time.perf_counter()
    set_seed(seed)  # the new head's initialisation and dropout follow the seed
    model, tokenizer, notes = load_for_task(model_path, data, hp["max_seq_len"])
    loaders = _loaders(data, tokenizer, settings, hp, seed, accelerator)
    total_steps = hp["epochs"] * len(loaders.train_sampler)
    optimizer, scheduler = _optimizer_and_schedule(model, hp, total_steps)
    model, optimizer, loaders.train_loader, scheduler = accelerator.prepare(
        model, optimizer, loaders.train_loader, scheduler
    )
    model.train()
    with progress_bar(
        description or f"{task.name} seed {seed}",
        total=total_steps,
        unit="steps",
        fields="loss {task.fields[loss]:.3f} dev {task.fields[dev]:.3f}",
        loss=float("nan"),
        dev=float("nan"),
    ) as update:
        done = _epochs(model, optimizer, scheduler, loaders, data, hp, seed, accelerator, cuda, emit, update)
    accelerator.unwrap_model(model).load_state_dict(done.best_state)
    test_examples = data.load_test()
    emit("test", epoch=done.best_epoch)
    test_enc = task.kind.encode(test_examples, tokenizer, hp["max_seq_len"], data.label_names, data.unit_separator)
    preds = _predict(model, loaders.eval_loader(test_enc), accelerator, task, len(test_examples))
    test_score, gold, pred = task.kind.score(task, preds, test_examples, test_enc, data.label_names)
    notes = notes + data.notes + task.kind.ceiling_notes(task, test_examples, test_enc, data.label_names)
    del model, optimizer
    done.best_state = None
    if cuda:
        accelerator.free_memory()  # its gc.collect costs most of a second; only GPU memory needs it
    return SeedRun(
        seed,
        task.metric,
        float(test_score),
        done.best_epoch,
        float(done.best_dev),
        done.curve,
        gold,
        pred,
        test_examples,
        data.label_names,
        time.perf_counter() - started,
        done.real_tokens,
        done.padded_tokens,
        done.train_seconds,
        notes,
        done.train_cpu_seconds,
    )
