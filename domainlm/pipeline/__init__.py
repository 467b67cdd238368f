"""The stage runner: a recipe's prepare → mine → fill → adapt → evaluate, skipping unchanged stages."""

from domainlm.pipeline.layout import STATE_FILE, RunLayout
from domainlm.pipeline.runner import RunResult, StageOutcome, default_run_dir, read_state, run_recipe
from domainlm.pipeline.stages import STAGE_NAMES

__all__ = [
    "run_recipe",
    "RunResult",
    "StageOutcome",
    "RunLayout",
    "STAGE_NAMES",
    "STATE_FILE",
    "read_state",
    "default_run_dir",
    "export_bundle",
    "import_bundle",
    "BundleError",
]


def __getattr__(name: str):
    # The bundle code pulls in tarfile and vocab loading; import it only when used.
    if name in ("export_bundle", "import_bundle", "BundleError", "ImportedBundle"):
        from domainlm.pipeline import bundle

        return getattr(bundle, name)
    raise AttributeError(name)
