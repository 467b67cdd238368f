"""Model settings: LoRA adapters and the architecture of a fresh model (the `arch:` / `train.lora` sections)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LoraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="LoRA rank")
    alpha: int = Field(32, ge=1, description="LoRA scaling alpha")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: list[str] = Field(
        ["query", "key", "value", "dense"], description="Module names LoRA wraps (attention and FFN)"
    )


def default_generator_fraction(hidden: int) -> float:
    """ELECTRA's generator width as a share of the discriminator's.

    1/4 up to hidden 256 (ELECTRA-Small), 1/3 above (Base).
    """
    return 0.25 if hidden <= 256 else 1 / 3


class ModelArchConfig(BaseModel):
    """A fresh model for `pretrain` (BERT, ALBERT, or an ELECTRA discriminator with its generator)."""

    model_config = ConfigDict(extra="forbid")

    arch: Literal["bert", "albert", "electra"] = Field(
        "bert",
        description="Model family (electra: discriminator and generator trained together by replaced-token detection)",
    )
    layers: int = Field(4, ge=1, description="Transformer layers")
    hidden: int = Field(256, ge=8, description="Hidden size")
    heads: int = Field(4, ge=1, description="Attention heads")
    intermediate: int | None = Field(None, ge=8, description="FFN size (null: 4 × hidden)")
    embedding_size: int = Field(
        128,
        ge=8,
        description="ALBERT / ELECTRA factorised embedding size (shared by ELECTRA's generator and discriminator)",
    )
    max_positions: int = Field(512, ge=16, description="Maximum sequence length")
    generator_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="ELECTRA: generator hidden size as a share of the discriminator's (null: 1/4 up to hidden 256, as "
        "ELECTRA-Small; 1/3 above, as ELECTRA-Base)",
    )

    def generator_share(self) -> float:
        if self.generator_fraction is not None:
            return self.generator_fraction
        return default_generator_fraction(self.hidden)
