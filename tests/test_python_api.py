"""The Python API mirrors the CLI (issue 25): one function per command from `import domainlm`, and the
README's "From Python" block runs as it stands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import domainlm

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_has_its_function_at_the_top_level_without_importing_torch():
    code = (
        "import sys, domainlm; assert 'torch' not in sys.modules; "
        "names = [n for n in domainlm.__all__ if not n.startswith('__')]; "
        "[getattr(domainlm, n) for n in names]; print(len(names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) >= 20
    for name in (
        "mine_terms",
        "adapt",
        "evaluate",
        "finetune",
        "pretrain",
        "fill_slots",
        "run_recipe",
        "push_model",
        "TrainConfig",
        "MineConfig",
        "EvalConfig",
        "FinetuneSettings",
    ):
        assert name in domainlm.__all__ and callable(getattr(domainlm, name))


def _readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_from_python_block_runs(tiny_mlm_dir, shared_data, tmp_path, monkeypatch, capsys):
    reviews = [
        line.split("\t")[-1]
        for line in (shared_data / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()[1:901]
    ]
    (tmp_path / "reviews.txt").write_text("\n".join(reviews[:800]) + "\n", encoding="utf-8")
    (tmp_path / "heldout.txt").write_text("\n".join(reviews[800:]) + "\n", encoding="utf-8")
    general = (shared_data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8").splitlines()[:1500]
    (tmp_path / "general.txt").write_text("\n".join(general) + "\n", encoding="utf-8")
    shutil.copytree(tiny_mlm_dir, tmp_path / "base")
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_block(), str(README), "exec"), {})
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(
        r"800 reviews, \d+ terms mined, \d+ filled \(--slots auto\); MW-BPC on held-out reviews "
        r"\d+\.\d\d -> \d+\.\d\d$",
        line,
    ), line
    assert (tmp_path / "adapted" / "config.json").exists() and (tmp_path / "adapted.evaluation" / "report.md").exists()


def test_library_use_prints_no_transformers_bars(tiny_mlm_dir, tmp_path, capfd):
    """Issue 25: in library use transformers' tqdm bars ("Loading weights", "Writing model shards") showed."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("수분크림 발림성 좋아요 정말\n배송 빠르고 포장 꼼꼼해요\n" * 60, encoding="utf-8")
    config = domainlm.TrainConfig(max_steps=1, batch_size=2, seq_len=32, eval_documents=0, heldout_fraction=0.0)
    capfd.readouterr()
    domainlm.adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=config)
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "Writing model shards" not in err
