"""The recipe schema: every input and setting of one category's adaptation, in one typed model.

A recipe composes the settings models of the other areas (`MineConfig`, `TrainConfig`,
`EvalConfig`, `CorpusSpec`) so a YAML file is checked against exactly what the stages accept.
Every model is `extra="forbid"`: a misspelt key is an error, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from domainlm.corpus.filters import FilterConfig
from domainlm.corpus.normalize import NormalizeConfig
from domainlm.corpus.reader import CorpusSpec
from domainlm.evaluation.config import EvalConfig
from domainlm.mining.config import MineConfig
from domainlm.modeling.init_methods import InitMethodName, row_init_help
from domainlm.training.config import TrainConfig


def _as_spec_list(value):
    """Accept one corpus or a list, each a CorpusSpec mapping or a bare path string."""
    if value is None:
        return []
    if isinstance(value, (str, dict, CorpusSpec)):
        value = [value]
    return [{"path": v} if isinstance(v, str) else v for v in value]


class HeldoutRule(BaseModel):
    """Which text of the category is never trained or mined on, and measures the result."""

    model_config = ConfigDict(extra="forbid")

    corpus: list[CorpusSpec] = Field(
        default_factory=list,
        description="Explicit held-out corpora (e.g. a test split); when set, `fraction` is not used",
    )
    fraction: float = Field(
        0.05,
        ge=0.0,
        lt=0.5,
        description="Share of the domain corpora held out by a hash of the document id (or text) when no explicit "
        "corpus is given",
    )
    seed: str = Field("domainlm", description="Seed of the held-out hash (changing it changes the split)")
    max_documents: int = Field(5000, ge=1, description="Keep at most this many held-out documents")

    _coerce = field_validator("corpus", mode="before")(_as_spec_list)

    # The one held-out rule: the prepare stage, mining and adapt all ask it.
    @property
    def hash_fraction(self) -> float:
        """The share of the domain corpora held out by hash: 0 when explicit held-out corpora are given."""
        return 0.0 if self.corpus else self.fraction

    def holds_out(self, document) -> bool:
        """True for a domain document that is held out by hash (never mined or trained on)."""
        from domainlm.corpus import is_heldout

        return bool(self.hash_fraction) and is_heldout(document.id or document.text, self.hash_fraction, self.seed)


class RoutingConfig(BaseModel):
    """Keywords that route a mixed review stream to this category (`domainlm split-categories`)."""

    model_config = ConfigDict(extra="forbid")

    keywords: list[str] = Field(
        default_factory=list,
        description="Words whose presence in a review (substring match) counts as a hit for this category",
    )
    apply: bool = Field(
        False,
        description="Keep only domain documents routed to this category (for mixed streams such as all shopping "
        "reviews)",
    )

    @field_validator("keywords")
    @classmethod
    def _no_blank_keywords(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("keywords must not be blank")
        return [k.strip() for k in value]


class DataConfig(BaseModel):
    """Corpora of the recipe. Relative paths resolve against the data root (--data-dir / DOMAINLM_DATA)."""

    model_config = ConfigDict(extra="forbid")

    domain: list[CorpusSpec] = Field(description="Category corpora: mined and trained on (held-out documents excluded)")
    reference: list[CorpusSpec] = Field(
        default_factory=list, description="General-domain corpora that mining contrasts the category against"
    )
    replay: list[CorpusSpec] = Field(
        default_factory=list, description="General text mixed into continued pretraining against forgetting"
    )
    general_eval: list[CorpusSpec] = Field(
        default_factory=list, description="General text on which forgetting (MW-BPC change) is measured"
    )
    heldout: HeldoutRule = Field(
        default_factory=HeldoutRule,
        description="Held-out rule: explicit corpora or a hash fraction of the domain corpora",
    )
    routing: RoutingConfig = Field(default_factory=RoutingConfig, description="Routing keywords of the category")
    normalize: NormalizeConfig = Field(
        default_factory=NormalizeConfig, description="Normalisation applied to domain text before mining and training"
    )
    filters: FilterConfig = Field(
        default_factory=FilterConfig, description="Length bounds and dedupe applied to domain text"
    )
    max_documents: int | None = Field(None, ge=1, description="Read at most this many domain documents (after routing)")

    _coerce = field_validator("domain", "reference", "replay", "general_eval", mode="before")(_as_spec_list)

    @field_validator("domain")
    @classmethod
    def _domain_not_empty(cls, value: list[CorpusSpec]) -> list[CorpusSpec]:
        if not value:
            raise ValueError("at least one domain corpus is required")
        return value


class VocabConfig(BaseModel):
    """How the mined terms go into the base vocabulary's [unusedN] slots."""

    model_config = ConfigDict(extra="forbid")

    slots: int = Field(
        ge=1,
        description="Slot budget of this category: at most this many [unusedN] slots are filled (categories sharing "
        "one base split its slots)",
    )
    init: InitMethodName = Field("mean", description=f"Initialisation of the filled embedding rows: {row_init_help()}")
    truncate: bool = Field(
        True,
        description="When fewer slots are free than terms, fill the best-scored terms and drop the rest (false: fail)",
    )


# A recipe's name becomes a file and folder name (and a bundle's folder on import): one path
# component, never '.', '..', hidden, absolute or with a separator.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
NAME_MAX_LENGTH = 64


class Recipe(BaseModel):
    """One category's domain adaptation: data, mining, vocabulary, training and evaluation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, description="Short ASCII name (file names, output folders)"
    )
    category: str = Field(min_length=1, description="Category name, usually Korean (e.g. 화장품)")
    aliases: list[str] = Field(
        default_factory=list, description="Other names accepted by --category (e.g. cosmetics, beauty)"
    )
    description: str = Field("", description="What this recipe adapts to, and on which data")
    base: str = Field(
        description="Base model: a Hugging Face name or a local directory (relative: under the data root)"
    )
    generator: str | None = Field(
        None,
        description="ELECTRA base only: its generator (an ElectraForMaskedLM hub id or directory; relative: under the "
        "data root). Null: adapt builds a small one and warms it up",
    )
    data: DataConfig = Field(description="Corpora and held-out rule")
    mine: MineConfig = Field(
        default_factory=MineConfig, description="Term mining settings (the slot budget comes from vocab.slots)"
    )
    vocab: VocabConfig = Field(description="Slot budget and initialisation of the filled rows")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Continued pretraining settings")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Before/after evaluation settings")

    # Set by `load_recipe`: where it came from, the data root its paths were resolved against, and
    # the portable form (overrides applied, paths still relative) that exports and `recipe new` write.
    _source: Path | None = PrivateAttr(None)
    _data_root: Path | None = PrivateAttr(None)
    _portable: dict[str, Any] | None = PrivateAttr(None)

    def record_origin(self, source: Path | None, data_root: Path, portable: dict[str, Any]) -> Recipe:
        """Record where `load_recipe` read this recipe from (see the properties below); returns it."""
        self._source, self._data_root, self._portable = source, data_root, portable
        return self

    @property
    def source(self) -> Path | None:
        """The recipe file it was loaded from (None: built in memory)."""
        return self._source

    @property
    def data_root(self) -> Path | None:
        """The data root its relative paths were resolved against (None: not loaded by `load_recipe`)."""
        return self._data_root

    @property
    def portable(self) -> dict[str, Any] | None:
        """The recipe as written, overrides applied and paths not resolved (what exports and `recipe new` write)."""
        return self._portable

    @model_validator(mode="after")
    def _one_budget(self) -> Recipe:
        # The slot budget and the init live in `vocab`; mine.slots / train.init follow them, so a
        # recipe cannot say two different things. Set explicitly and different is an error.
        if "slots" in self.mine.model_fields_set and self.mine.slots != self.vocab.slots:
            raise ValueError(
                f"mine.slots ({self.mine.slots}) differs from vocab.slots ({self.vocab.slots}); "
                "set the budget once, in vocab.slots"
            )
        if "init" in self.train.model_fields_set and self.train.init != self.vocab.init:
            raise ValueError(
                f"train.init ({self.train.init}) differs from vocab.init ({self.vocab.init}); "
                "set it once, in vocab.init"
            )
        self.mine = self.mine.model_copy(update={"slots": self.vocab.slots})
        self.train = self.train.model_copy(update={"init": self.vocab.init})
        return self

    def names(self) -> list[str]:
        """Every name this recipe answers to: category, aliases and the file name."""
        return [self.category, *self.aliases, self.name]
