"""Every long-running command, run as a person runs it: in a pseudo-terminal, live display on.

Output captured by CliRunner (or redirected to a file) never draws a rich progress bar, so a bar
that crashes at its first draw passes every other test: the README's first command once died in
every terminal that way (`KeyError: 'loss'`). Here each command runs in a real pty, at 80 columns
and wider, and must exit 0 with no traceback and with its bar really drawn.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

BAR = "━"  # rich's bar glyph: present only when the live display really drew
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(args: list[str], cwd: Path, columns: int = 80, timeout: int = 600) -> tuple[int, str]:
    """Run `python -m domainlm ARGS` in a pty of `columns` columns; return (exit status, output)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOMAINLM_PROGRESS", "COLUMNS", "LINES", "NO_COLOR")}
    env.update(TERM="xterm-256color", PYTHONUNBUFFERED="1")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "domainlm", *map(str, args)],
        cwd=str(cwd),
        env=env,
        dimensions=(40, columns),
        encoding="utf-8",
        codec_errors="replace",
        timeout=timeout,
    )
    chunks = []
    while True:
        try:
            chunks.append(child.read_nonblocking(65536, timeout=timeout))
        except pexpect.EOF:
            break
    child.close()
    return child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 1), "".join(chunks)


def assert_clean(status: int, output: str, *, bar: bool = True) -> str:
    plain = ANSI.sub("", output)
    assert "Traceback" not in plain, plain[-4000:]
    assert status == 0, plain[-4000:]
    if bar:
        assert BAR in plain, f"no progress bar was drawn:\n{plain[-2000:]}"
    return plain


@pytest.fixture(scope="module")
def texts(shared_data, tmp_path_factory) -> dict[str, Path]:
    """Small real corpora: shopping reviews as the domain, UD sentences as the general text."""
    root = tmp_path_factory.mktemp("terminal_data")
    lines = (shared_data / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()
    (root / "reviews.tsv").write_text("\n".join(lines[:3001]) + "\n", encoding="utf-8")
    (root / "domain.txt").write_text("\n".join(line.split("\t")[-1] for line in lines[1:2001]) + "\n", encoding="utf-8")
    (root / "heldout.txt").write_text(
        "\n".join(line.split("\t")[-1] for line in lines[2001:2101]) + "\n", encoding="utf-8"
    )
    general = (shared_data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8").splitlines()
    (root / "general.txt").write_text("\n".join(general[:1500]) + "\n", encoding="utf-8")
    (root / "general_eval.txt").write_text("\n".join(general[1500:1600]) + "\n", encoding="utf-8")
    return {p.stem: p for p in root.iterdir()}


@pytest.fixture(scope="module")
def mined(texts, tiny_tokenizer_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("terminal_mined") / "terms"
    status, output = run_in_terminal(
        [
            "mine-terms",
            "--corpus",
            texts["domain"],
            "--reference",
            texts["general"],
            "--base",
            tiny_tokenizer_dir,
            "--slots",
            20,
            "--min-count",
            3,
            "--workers",
            1,
            "-o",
            out,
        ],
        cwd=out.parent,
    )
    plain = assert_clean(status, output)
    assert (out / "terms.tsv").exists(), plain
    return out / "terms.tsv"


@pytest.fixture(scope="module")
def adapted(texts, mined, tiny_mlm_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("terminal_adapt") / "model"
    status, output = run_in_terminal(
        [
            "adapt",
            "--base",
            tiny_mlm_dir,
            "--corpus",
            texts["domain"],
            "--replay",
            texts["general"],
            "--terms",
            mined,
            "-o",
            out,
            "--max-steps",
            4,
            "--batch-size",
            4,
            "--seq-len",
            32,
            "--save-every",
            2,
        ],
        cwd=out.parent,
    )
    plain = assert_clean(status, output)
    assert "adapt" in plain and (out / "config.json").exists()
    return out


@pytest.mark.parametrize("columns", [80, 132])
def test_corpus_stats_and_clean_draw_their_bars(texts, tmp_path, columns):
    status, output = run_in_terminal(["corpus", "stats", texts["reviews"], "--field", "text"], tmp_path, columns)
    plain = assert_clean(status, output)
    assert "3,000" in plain or "3000" in plain
    status, output = run_in_terminal(
        ["corpus", "clean", texts["reviews"], "--field", "text", "-o", tmp_path / "clean.txt"], tmp_path, columns
    )
    assert_clean(status, output)


def test_vocab_build_in_a_terminal(texts, tmp_path):
    status, output = run_in_terminal(
        [
            "vocab",
            "build",
            texts["general"],
            texts["domain"],
            "-o",
            tmp_path / "tok",
            "--vocab-size",
            600,
            "--unused",
            20,
        ],
        tmp_path,
    )
    assert_clean(status, output)
    assert (tmp_path / "tok" / "tokenizer.json").exists()


def test_mine_terms_in_a_terminal(mined):
    assert mined.read_text(encoding="utf-8").count("\n") > 5


@pytest.mark.parametrize("columns", [80, 160])
def test_pretrain_in_a_terminal(texts, tiny_tokenizer_dir, tmp_path, columns):
    out = tmp_path / "base"
    status, output = run_in_terminal(
        [
            "pretrain",
            "--tokenizer",
            tiny_tokenizer_dir,
            "--corpus",
            texts["general"],
            "-o",
            out,
            "--layers",
            1,
            "--hidden",
            32,
            "--heads",
            2,
            "--max-positions",
            64,
            "--max-steps",
            3,
            "--batch-size",
            4,
            "--seq-len",
            32,
            "--save-every",
            3,
        ],
        tmp_path,
        columns,
    )
    plain = assert_clean(status, output)
    assert (out / "config.json").exists(), plain
    # The loss and tokens/s fields are shown once training has started (the first draw has none).
    assert "tok/s" in plain


def test_adapt_then_evaluate_in_a_terminal(adapted, tiny_mlm_dir, texts, tmp_path):
    status, output = run_in_terminal(
        [
            "evaluate",
            "--before",
            tiny_mlm_dir,
            "--after",
            adapted,
            "--domain",
            texts["heldout"],
            "--general",
            texts["general_eval"],
            "--max-texts",
            50,
            "--bootstrap",
            100,
            "-o",
            tmp_path / "report",
        ],
        tmp_path,
    )
    plain = assert_clean(status, output)
    assert (tmp_path / "report" / "report.md").exists(), plain
    assert "MW-BPC" in plain


def test_split_categories_in_a_terminal(texts, tmp_path):
    status, output = run_in_terminal(["split-categories", texts["reviews"], "-o", tmp_path / "routed"], tmp_path)
    assert_clean(status, output)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """The README's first command, exactly as a person types it (after install), at 80 columns."""
    out = tmp_path_factory.mktemp("terminal_demo") / "demo"
    status, output = run_in_terminal(["demo", "-o", out], out.parent, columns=80, timeout=900)
    plain = assert_clean(status, output)
    assert "before → after" in plain and "Report:" in plain
    # Nothing drawn wider than the terminal: rich wraps tables and bars to the width it was given.
    widest = max(len(line.rstrip()) for line in plain.replace("\r", "\n").splitlines())
    assert widest <= 80, widest
    return out


@pytest.mark.slow
def test_the_readme_demo_in_an_80_column_terminal(demo_dir):
    assert (demo_dir / "run" / "report" / "report.md").exists()


@pytest.mark.slow
def test_recipe_run_in_a_wide_terminal(demo_dir, tmp_path):
    """`recipe run` on the demo's data root (its tiny base included), all stages drawn live."""
    status, output = run_in_terminal(
        [
            "recipe",
            "run",
            "demo",
            "--data-dir",
            demo_dir / "data",
            "-o",
            tmp_path / "run",
            "--set",
            "train.max_steps=3",
            "--set",
            "train.slots=all",
            "--set",
            "eval.max_texts=40",
            "--set",
            "eval.bootstrap=100",
        ],
        tmp_path,
        columns=140,
    )
    plain = assert_clean(status, output)
    assert (tmp_path / "run" / "report" / "report.md").exists(), plain[-3000:]
