"""Settings of continued pretraining and base pretraining (the `train:` section of a recipe)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PhaseConfig(BaseModel):
    """One phase of a phased schedule, e.g. new rows first, then LoRA."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["full", "lora", "new-rows"] = Field(description="What trains in this phase")
    steps: int = Field(ge=1, description="Optimizer steps of this phase")
    lr: float | None = Field(None, gt=0, description="Learning rate of this phase (null: train.lr)")


class LoraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="LoRA rank")
    alpha: int = Field(32, ge=1, description="LoRA scaling alpha")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: list[str] = Field(["query", "key", "value", "dense"], description="Module names LoRA wraps (attention and FFN)")


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["full", "lora", "new-rows", "phased"] = Field("full", description="Which parameters train")
    phases: list[PhaseConfig] = Field(default_factory=list, description="Phases when mode is 'phased' (e.g. new-rows then lora)")
    max_steps: int = Field(1000, ge=1, description="Optimizer steps (the sum of phase steps when phased)")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate")
    warmup_ratio: float = Field(0.06, ge=0, lt=1, description="Share of steps of linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    batch_size: int = Field(32, ge=1, description="Packed sequences per device per step")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps")
    seq_len: int = Field(128, ge=8, description="Packed sequence length in tokens (≤ the model's max positions)")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of eojeols masked (whole-word masking)")
    mask_replace_prob: float = Field(0.8, ge=0, le=1, description="Share of the chosen tokens replaced by [MASK] (BERT: 0.8)")
    random_replace_prob: float = Field(0.1, ge=0, le=1, description="Share of the chosen tokens replaced by a random token (BERT: 0.1); the rest stay unchanged")
    replay_ratio: float = Field(0.2, ge=0, lt=1, description="Share of training sequences drawn from general (replay) text")
    init: Literal["mean", "random", "distill"] = Field("mean", description="Initialisation of filled rows: mean of the base pieces, random, or distill (Token Distillation: mean, then each input row learned so the model's states match the base's for the term's pieces in real contexts)")
    distill_contexts: int = Field(100, ge=1, description="init distill: contexts of each term taken from the domain corpus")
    distill_epochs: int = Field(1, ge=1, description="init distill: passes over those contexts")
    distill_lr: float = Field(1e-3, gt=0, description="init distill: Adam learning rate of the new input rows")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA settings (mode lora / phased)")
    save_every: int = Field(500, ge=1, description="Checkpoint every N steps")
    eval_every: int | None = Field(None, ge=1, description="Held-out MLM loss every N steps (null: at the end)")
    heldout_fraction: float = Field(0.02, ge=0, lt=0.5, description="Share of the domain corpus kept out of training by hash")
    seed: int = Field(42, description="Seed for data order, masking and init")
    bf16: bool = Field(True, description="bf16 autocast when a GPU supports it")
    compile: bool = Field(False, description="torch.compile the model")
    max_documents: int | None = Field(None, ge=1, description="Read at most this many documents of each corpus")
    log_every: int = Field(10, ge=1, description="Write a metrics.jsonl record (and update the bar) every N steps")
    eval_documents: int = Field(2000, ge=0, description="Held-out documents kept in memory for the held-out MLM loss (0: no evaluation)")
    keep_checkpoints: bool = Field(False, description="Keep the checkpoint directory after a successful run")
    resize: bool = Field(False, description="Append new [unusedN] rows (vocab and embeddings grow) when the base has fewer free slots than terms")


class ModelArchConfig(BaseModel):
    """A fresh model for `pretrain` (BERT or ALBERT)."""

    model_config = ConfigDict(extra="forbid")

    arch: Literal["bert", "albert"] = Field("bert", description="Model family")
    layers: int = Field(4, ge=1, description="Transformer layers")
    hidden: int = Field(256, ge=8, description="Hidden size")
    heads: int = Field(4, ge=1, description="Attention heads")
    intermediate: int | None = Field(None, ge=8, description="FFN size (null: 4 × hidden)")
    embedding_size: int = Field(128, ge=8, description="ALBERT factorised embedding size")
    max_positions: int = Field(512, ge=16, description="Maximum sequence length")
