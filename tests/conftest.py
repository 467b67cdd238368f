"""Shared fixtures. Tiny inputs are built here; real data is read from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# `--precision auto` is bf16 on CPUs with native bf16: the tests' numbers must not depend on the CPU.
os.environ.setdefault("DOMAINLM_CPU_AUTO_BF16", "0")

from helpers.tiny import build_tiny_tokenizer, shared_data_dir, tiny_corpus_texts  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _caches_in_temp(tmp_path_factory):
    """Tests write only to temporary folders: the reference-count cache included."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DOMAINLM_CACHE", str(tmp_path_factory.mktemp("domainlm_cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set DOMAINLM_SHARED_DATA)")
    return path


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns typer's Result (exit_code, stdout, stderr, output)."""
    from typer.testing import CliRunner

    from domainlm.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


# ---------------------------------------------------------------- tiny tokenizer and model
# Built once per session with `tokenizers` and `transformers` directly, so every area can test
# against them without depending on another area's code.


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A ~1,000-piece WordPiece tokenizer with 50 [unusedN] slots at ids 5-54, the same on every machine
    (trained on the tiny texts and 3,000 shared shopping reviews; without the shared data it skips)."""
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny_tok"), tiny_corpus_texts(), vocab_size=1000)


@pytest.fixture(scope="session")
def tiny_mlm_dir(tiny_tokenizer_dir, tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BertForMaskedLM (hidden 32) saved with its tokenizer."""
    from helpers.tiny import build_tiny_mlm

    return build_tiny_mlm(tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_mlm"))


# ---------------------------------------------------------------- evaluation inputs


@pytest.fixture(scope="session")
def filled_mlm_dir(tiny_mlm_dir, tmp_path_factory) -> Path:
    """`tiny_mlm_dir` with some [unusedN] slots filled by terms (the 'after' side of an evaluation)."""
    from helpers.evaluation import build_filled_model

    return build_filled_model(tiny_mlm_dir, tmp_path_factory.mktemp("filled") / "after")


@pytest.fixture(scope="session")
def eval_files(tmp_path_factory) -> dict[str, Path]:
    """Small held-out, general and labelled task files for evaluation tests."""
    from helpers.evaluation import build_eval_files

    return build_eval_files(tmp_path_factory.mktemp("evaldata"))


# ---------------------------------------------------------------- no quiet skips in CI
# In CI the shared data is always there, so a skip means a test silently did not run (the
# WordPiece-equals-Rust contract once did). `.ci/run` sets DOMAINLM_FAIL_ON_SKIP=1: any skip fails.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and os.environ.get("DOMAINLM_FAIL_ON_SKIP") == "1":
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"{len(_skipped)} test(s) skipped, and CI allows none (DOMAINLM_FAIL_ON_SKIP=1): "
                + ", ".join(_skipped[:10]),
                red=True,
                bold=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
