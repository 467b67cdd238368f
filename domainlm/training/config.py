"""Settings of continued pretraining and base pretraining (the `train:` section of a recipe)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The model's own settings belong to modeling; they are re-exported here for the recipe schema.
from domainlm.modeling.config import LoraConfig, ModelArchConfig  # noqa: F401
from domainlm.modeling.init_methods import InitMethodName, row_init_help
from domainlm.modeling.train_modes import ModeName, PhaseModeName
from domainlm.runtime import LOGGING_DIR_HELP, PRECISION_HELP, REPORT_TO_HELP, Precision, Tracker, parse_report_to

# train.new_rows_lr 'auto' in a full-model phase: the filled rows at 10x the phase's peak rate. The adaptation
# benchmark's rowlr-1000 (2e-3 against 2e-4) against the same fill at one rate, shopping reviews, 3 adaptation
# seeds x 5 fine-tuning seeds: +1.96 [+0.91, +3.00] points at 200 labels, +0.68 [-0.04, +1.44] at 1,000; never
# worse beyond noise on news or movies (README, "Does it help?").
NEW_ROWS_LR_FACTOR = 10.0


def filled_rows_lr(setting: float | str | None, phase_mode: str, phase_lr: float) -> float:
    """The filled rows' peak learning rate under `train.new_rows_lr` = `setting` in a phase of `phase_mode`
    whose own peak rate is `phase_lr` (the trainer's rule, and the model card's)."""
    if setting == "auto":
        return NEW_ROWS_LR_FACTOR * phase_lr if phase_mode == "full" else phase_lr
    return phase_lr if setting is None else float(setting)


class PhaseConfig(BaseModel):
    """One phase of a phased schedule, e.g. new rows first, then LoRA."""

    model_config = ConfigDict(extra="forbid")

    mode: PhaseModeName = Field(description="What trains in this phase (a registered training mode)")
    steps: int = Field(ge=1, description="Optimizer steps of this phase")
    lr: float | None = Field(None, gt=0, description="Learning rate of this phase (null: train.lr)")


class ElectraTrainConfig(BaseModel):
    """Replaced-token detection (ELECTRA) settings; the defaults are the paper's."""

    model_config = ConfigDict(extra="forbid")

    discriminator_weight: float = Field(
        50.0, gt=0, description="Weight of the discriminator's binary cross-entropy (ELECTRA: 50)"
    )
    generator_weight: float = Field(1.0, gt=0, description="Weight of the generator's masked-LM loss (ELECTRA: 1)")
    mask_replace_prob: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Share of the chosen tokens the generator sees as [MASK] (the rest unchanged; electra_pytorch: "
        "0.85)",
    )
    generator_warmup_steps: int | None = Field(
        None,
        ge=0,
        description="adapt without --generator: steps of masked-LM on the new generator alone before the "
        "discriminator trains (so it never learns against a random generator); counted in max_steps (null: a tenth of "
        "max_steps, at most 200; a number must leave the discriminator a step)",
    )
    generator_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="adapt without --generator: the new generator's hidden size as a share of the discriminator's "
        "(null: 1/4 up to hidden 256, 1/3 above)",
    )


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: ModeName = Field("full", description="Which parameters train (a registered training mode, or phased)")
    phases: list[PhaseConfig] = Field(
        default_factory=list, description="Phases when mode is 'phased' (e.g. new-rows then lora)"
    )
    max_steps: int = Field(
        1000,
        ge=0,
        description="Optimizer steps (the sum of phase steps when phased); 0 with adapt: fill and initialise the rows "
        "only, no training (Sachidananda et al. 2021's adaptive tokenization)",
    )
    lr: float = Field(5e-5, gt=0, description="Peak learning rate")
    new_rows_lr: float | Literal["auto"] | None = Field(
        "auto",
        description="Peak learning rate of the filled rows wherever they train (every phase; Unsloth's "
        "embedding_learning_rate): new rows start far from where they end, the rest of the model near it. "
        f"'auto': {NEW_ROWS_LR_FACTOR:g}x the phase's rate in full-model phases, the phase's rate elsewhere "
        "(benchmarks/adaptation_benchmark.py, rowlr-1000); null: the phase's rate",
    )
    warmup_ratio: float = Field(0.06, ge=0, lt=1, description="Share of steps of linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    batch_size: int = Field(32, ge=1, description="Packed sequences per device per step")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps")
    seq_len: int = Field(128, ge=8, description="Packed sequence length in tokens (≤ the model's max positions)")
    mlm_probability: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="Share of masking units masked: eojeols (whole-word masking) or tokens (token masking)",
    )
    masking: Literal["whole-word", "token"] | None = Field(
        None,
        description="Masked-LM masking unit: 'whole-word' masks every token of a chosen eojeol, 'token' chooses "
        "tokens one by one (BERT's original objective). null: token when pretraining from scratch (the shared base "
        "left the unigram plateau with it; benchmarks/masking_benchmark.py found whole-word level with it), "
        "whole-word when adapting",
    )
    mask_replace_prob: float = Field(
        0.8, ge=0, le=1, description="Share of the chosen tokens replaced by [MASK] (BERT: 0.8)"
    )
    random_replace_prob: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of the chosen tokens replaced by a random token (BERT: 0.1); the rest stay unchanged",
    )
    replay_ratio: float = Field(
        0.2, ge=0, lt=1, description="Share of training sequences drawn from general (replay) text"
    )
    slots: int | Literal["auto", "all"] = Field(
        "auto",
        description="How many of the given terms (ranked best first) fill slots: 'auto' keeps those the planned "
        "training makes a masked target at least 10 times each (domainlm.training.slot_budget; decided by "
        "benchmarks/adaptation_benchmark.py), capped by the free slots unless resize; a number keeps the first N (a "
        "warning names those the budget cannot teach); 'all' keeps every term",
    )
    init: InitMethodName = Field("mean", description=f"Initialisation of the filled rows: {row_init_help()}")
    distill_contexts: int = Field(
        100, ge=1, description="init distill: contexts of each term taken from the domain corpus"
    )
    distill_epochs: int = Field(1, ge=1, description="init distill: passes over those contexts")
    distill_lr: float = Field(1e-3, gt=0, description="init distill: Adam learning rate of the new input rows")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA settings (mode lora / phased)")
    electra: ElectraTrainConfig = Field(
        default_factory=ElectraTrainConfig, description="Replaced-token detection settings (ELECTRA discriminators)"
    )
    save_every: int = Field(500, ge=1, description="Checkpoint every N steps")
    eval_every: int | None = Field(None, ge=1, description="Held-out MLM loss every N steps (null: at the end)")
    heldout_fraction: float = Field(
        0.02, ge=0, lt=0.5, description="Share of the domain corpus kept out of training by hash"
    )
    seed: int = Field(42, description="Seed for data order, masking and init")
    precision: Precision = Field("auto", description=PRECISION_HELP)
    report_to: list[Tracker] = Field(default_factory=list, description=REPORT_TO_HELP)
    logging_dir: str | None = Field(None, description=LOGGING_DIR_HELP)
    # Deprecated names of `precision`, read and mapped onto it (with a warning), never written back.
    bf16: bool | None = Field(
        None, exclude=True, description="Deprecated: use precision (bf16 false is precision fp32)"
    )
    cpu_bf16: bool | None = Field(
        None, exclude=True, description="Deprecated: use precision (cpu_bf16 true is precision bf16)"
    )
    compile: bool = Field(False, description="torch.compile the model")
    max_documents: int | None = Field(None, ge=1, description="Read at most this many documents of each corpus")
    log_every: int = Field(10, ge=1, description="Write a metrics.jsonl record (and update the bar) every N steps")
    eval_documents: int = Field(
        2000, ge=0, description="Held-out documents kept in memory for the held-out MLM loss (0: no evaluation)"
    )
    keep_checkpoints: bool = Field(False, description="Keep the checkpoint directory after a successful run")
    resize: bool = Field(
        False,
        description="Append new [unusedN] rows (vocab and embeddings grow) when the base has fewer free slots than "
        "terms",
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _tracker_names(cls, value):
        # `tensorboard,wandb` (a --set value or a recipe string), `none`, or a list.
        from domainlm.errors import ConfigError

        try:
            return parse_report_to(value)
        except ConfigError as e:  # as a ValueError, so pydantic reports it with the other problems
            raise ValueError(f"{e.message} {e.hint}") from None

    @field_validator("new_rows_lr", mode="before")
    @classmethod
    def _rows_lr_none(cls, value):
        return None if value == "none" else value  # --new-rows-lr none: a typed "the phase's rate"

    @field_validator("new_rows_lr")
    @classmethod
    def _positive_rows_lr(cls, value):
        if isinstance(value, float) and value <= 0:
            raise ValueError("must be above 0, 'auto' or null (none)")
        return value

    def rows_lr(self, phase_mode: str, phase_lr: float) -> float:
        """The filled rows' peak learning rate in a phase of `phase_mode` whose own peak rate is `phase_lr`."""
        return filled_rows_lr(self.new_rows_lr, phase_mode, phase_lr)

    @model_validator(mode="after")
    def _old_precision_names(self):
        if self.bf16 is None and self.cpu_bf16 is None:
            return self
        from domainlm.errors import warn

        old = ", ".join(
            f"{k}: {str(v).lower()}" for k, v in (("bf16", self.bf16), ("cpu_bf16", self.cpu_bf16)) if v is not None
        )
        if "precision" in self.model_fields_set:
            warn(f"train.{old} is deprecated and ignored: train.precision {self.precision} is set.")
        else:
            self.precision = "bf16" if self.cpu_bf16 else ("fp32" if self.bf16 is False else "auto")
            warn(f"train.{old} is deprecated: use train.precision {self.precision} (--precision {self.precision}).")
        self.bf16 = self.cpu_bf16 = None
        return self
