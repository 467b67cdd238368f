"""The demo: its illustrative corpus and the whole `domainlm demo` flow (tiny settings)."""

from __future__ import annotations

import json

import pytest

from domainlm.demo import corpus as demo_corpus


def test_demo_corpus_is_deterministic_and_marked_illustrative(tmp_path):
    a = demo_corpus.write_demo_corpus(tmp_path / "a", reviews=50, general=50, general_eval=10, rated=10)
    b = demo_corpus.write_demo_corpus(tmp_path / "b", reviews=50, general=50, general_eval=10, rated=10)
    for key in ("reviews", "general", "general_eval", "rated"):
        assert a[key].read_bytes() == b[key].read_bytes()
    assert "ILLUSTRATIVE" in a["readme"].read_text(encoding="utf-8")
    reviews = a["reviews"].read_text(encoding="utf-8").splitlines()
    assert len(reviews) == 50 and any("피부" in r for r in reviews)
    header, *rows = a["rated"].read_text(encoding="utf-8").splitlines()
    assert header == "id\tlabel\ttext" and {r.split("\t")[1] for r in rows} == {"0", "1"}


def test_korean_particles_follow_the_final_consonant():
    assert demo_corpus._particle("서울", "은는") == "서울은" and demo_corpus._particle("부산", "이가") == "부산이"
    assert demo_corpus._particle("대구", "을를") == "대구를"


def test_demo_command_runs_the_whole_flow(cli, tmp_path, monkeypatch):
    import domainlm.demo.run as demo_run

    # The real demo pretrains 240 steps and adapts 120 (2–4 minutes); a test checks the wiring.
    monkeypatch.setattr(demo_run, "BASE_TRAIN", {**demo_run.BASE_TRAIN, "max_steps": 3, "save_every": 3})
    out = tmp_path / "demo"
    args = ["demo", "-o", out, "--set", "train.max_steps=2", "--set", "eval.max_texts=30", "--set", "eval.tasks=[]",
            "--set", "eval.bootstrap=100"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "before → after" in result.stdout and "Report:" in result.stdout
    report = json.loads((out / "run" / "report" / "report.json").read_text(encoding="utf-8"))
    assert {row["metric"] for row in report["summary"]} >= {"MW-BPC, domain text", "fertility, domain text"}
    assert (out / "run" / "recipe.resolved.yaml").exists()
    again = cli(*args)  # unchanged: the base and every stage are reused
    assert again.exit_code == 0 and "base: unchanged, skipped" in again.stdout
    assert again.stdout.count("unchanged, skipped") == 6

