"""The layout of a `recipe run` folder: the one place that says where each stage's files are.

    stages.json                 the runner's record of every stage (fingerprints, status, summaries)
    recipe.yaml                 the recipe as run (portable), recipe.resolved.yaml (every value as used)
    prepare/domain.txt, prepare/heldout.txt, prepare/prepare.json
    mine/terms.tsv, mine/terms.json
    fill/tokenizer/             filled vocab.txt + tokenizer.json + slots.json, and fill/fill.json
    model/                      the adapted model (domainlm.training.adapt); its checkpoints beside it,
                                where training keeps them (domainlm.training.checkpoint)
    report/                     report.json, report.md, charts (domainlm.evaluation.evaluate)

The stages write there, the runner records there, and a bundle is collected from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domainlm.recipes.load import PORTABLE_NAME, RESOLVED_NAME
from vocab_tools.manifest import MANIFEST_NAME

STATE_FILE = "stages.json"


def checkpoints_of(output: Path) -> Path:
    """Where training keeps the checkpoints of the model it writes to `output` (beside it)."""
    from domainlm.training.checkpoint import checkpoint_dir_for  # torch: imported only when asked

    return checkpoint_dir_for(output)


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder `root` (see the module doc)."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE

    @property
    def recipe(self) -> Path:
        return self.root / PORTABLE_NAME

    @property
    def resolved_recipe(self) -> Path:
        return self.root / RESOLVED_NAME

    @property
    def prepare(self) -> Path:
        return self.root / "prepare"

    @property
    def domain_text(self) -> Path:
        return self.prepare / "domain.txt"

    @property
    def heldout_text(self) -> Path:
        return self.prepare / "heldout.txt"

    @property
    def prepare_summary(self) -> Path:
        return self.prepare / "prepare.json"

    @property
    def mine(self) -> Path:
        return self.root / "mine"

    @property
    def terms_tsv(self) -> Path:
        return self.mine / "terms.tsv"

    @property
    def terms_json(self) -> Path:
        return self.mine / "terms.json"

    @property
    def fill(self) -> Path:
        return self.root / "fill"

    @property
    def tokenizer(self) -> Path:
        return self.fill / "tokenizer"

    @property
    def slots_json(self) -> Path:
        return self.tokenizer / MANIFEST_NAME

    @property
    def fill_summary(self) -> Path:
        return self.fill / "fill.json"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def checkpoints(self) -> Path:
        return checkpoints_of(self.model)

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def report_json(self) -> Path:
        return self.report / "report.json"

    @property
    def report_md(self) -> Path:
        return self.report / "report.md"


__all__ = ["RunLayout", "STATE_FILE", "checkpoints_of"]
