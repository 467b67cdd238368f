"""Settings of before/after evaluation (the `eval:` section of a recipe)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domainlm.runtime import PRECISION_HELP, Precision
from domainlm.tasks.schema import TaskSpec


class SuiteConfig(BaseModel):
    """Fine-tuning suite tasks run on both models (domainlm.finetune): the seed's protocol, before and after."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = Field(
        default_factory=list,
        description="Suite tasks (nsmc, kornli, klue-ner, shopping-rating …, YAML task files, or the name of one of "
        "eval.tasks) fine-tuned on the before and the after model",
    )
    seeds: int = Field(3, ge=1, description="Seeds per task and model (same seeds and examples for both: paired)")
    max_train: int | None = Field(None, ge=1, description="Training examples per task at most (a CPU budget)")
    max_dev: int | None = Field(None, ge=1, description="Dev examples per task at most (the dev set picks the epoch)")
    max_test: int | None = Field(None, ge=1, description="Test examples per task at most")
    epochs: int | None = Field(None, ge=1, description="Epochs of every task (null: each task's own)")
    lr: float | None = Field(None, gt=0, description="Learning rate (null: each task's own, the seed's 3e-5)")
    data_dir: str | None = Field(
        None,
        description="Folder of the shared data the built-in tasks read (null: $DOMAINLM_SHARED_DATA or ../shared/data)",
    )


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_texts: int = Field(
        2000, ge=1, description="Held-out and general texts scored for MW-BPC (or detection AUC) (each)"
    )
    mask_fraction: float = Field(0.15, gt=0, lt=1, description="Share of eojeols masked for MW-BPC")
    replace_fraction: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="Share of eojeols replaced for the replaced-word "
        "detection AUC of ELECTRA discriminators (used instead of MW-BPC for them)",
    )
    seed: int = Field(13, description="Seed fixing which eojeols are masked or replaced and the probe's training")
    batch_size: int = Field(32, ge=1, description="Sequences per forward pass")
    max_seq_len: int = Field(
        128, ge=8, description="Longest sequence scored (longer texts are cut at an eojeol boundary)"
    )
    probe: Literal["linear", "finetune"] = Field(
        "linear", description="Linear probe on frozen features (CPU) or a short fine-tune"
    )
    bootstrap: int = Field(1000, ge=100, description="Bootstrap resamples for 95% intervals")
    tasks: list[TaskSpec] = Field(default_factory=list, description="Downstream probes")
    suite: SuiteConfig = Field(
        default_factory=SuiteConfig,
        description="Fine-tuning suite tasks, before and after (paired over seeds and test examples)",
    )
    finetune_epochs: int = Field(1, ge=1, description="Epochs over the training budget when probe is 'finetune'")
    examples: int = Field(5, ge=0, description="Example sentences shown tokenized before and after in report.md")
    top_terms: int = Field(20, ge=0, description="Filled terms listed in report.md, most emitted first")
    device: str | None = Field(None, description="torch device (null: cuda when available, else cpu)")
    precision: Precision = Field(
        "auto", description=PRECISION_HELP + " (both models alike, in the scores and in the suite's fine-tuning)"
    )
