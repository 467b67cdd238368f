"""The adaptation benchmark (benchmarks/adaptation_benchmark.py) end to end in its quick profile.

Its numbers mean nothing at this size; what is tested is that every arm trains from the one base,
every measure is computed on the same words for every arm, the targets are decided, and a rerun
reuses what is cached.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("adaptation_benchmark", REPO / "benchmarks" / "adaptation_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(bench, tmp_path_factory, shared_data):
    work = tmp_path_factory.mktemp("adaptation")
    out = work / "result.json"
    result = bench.main(["--quick", "--domains", "movies", "--arms", "abcdg", "--work", str(work / "cache"),
                         "--out", str(out)])
    return bench, work, out, result


def test_every_arm_is_measured_on_the_same_words(quick_run):
    _, _, out, result = quick_run
    saved = json.loads(out.read_text(encoding="utf-8"))
    movies = saved["domains"]["movies"]
    assert list(movies["arms"]) == ["a", "b", "c", "d", "g"]
    assert movies["arms"]["c"]["tokens"] == 3 * movies["arms"]["b"]["tokens"] > 0
    for text_set in ("domain", "general"):
        rows = movies["mw_bpc"][text_set]
        assert all(math.isfinite(rows[arm]["bpc"]["value"]) for arm in movies["arms"])
        # One mask plan: every arm pays for the same masked characters, so b - a is a paired difference.
        diff = rows["b"]["minus_a"]
        assert diff["low"] <= diff["value"] <= diff["high"]
        assert "minus_b" in rows["d"] and "minus_c" in rows["d"]
    # The fill shortens the domain text; the plain arms keep the base's tokenizer.
    tok = movies["tokenization"]
    assert tok["d"]["fertility"] < tok["a"]["fertility"] == tok["b"]["fertility"]
    assert tok["d"]["filled_slots_emitted"] > 0
    split = movies["changed_words"]
    assert split["changed"]["masked_characters"] > 0 and split["unchanged"]["masked_characters"] > 0
    ft = movies["finetune"]
    assert ft["task"] == "nsmc" and set(ft["scores"]) == set(movies["arms"])
    assert set(ft["minus_b"]) == {"a", "c", "d", "g"}


def test_targets_are_decided_and_reported(quick_run):
    _, _, out, result = quick_run
    targets = result["targets"]
    assert any("reaches (c)" in name for name in targets) and any("fine-tuning" in name for name in targets)
    assert all(isinstance(t["met"], bool) for t in targets.values())
    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| (d) fill |" in md and "## Targets" in md and "words with a new token" in md
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_a_rerun_reuses_the_cache(quick_run, capsys):
    bench, work, out, result = quick_run
    arm_json = work / "cache" / "movies" / "arm-d.json"
    before = arm_json.stat().st_mtime_ns
    again = bench.main(["--quick", "--domains", "movies", "--arms", "abd", "--no-finetune", "--work", str(work / "cache"),
                        "--out", str(work / "again.json")])
    assert arm_json.stat().st_mtime_ns == before  # arm d was not trained again
    assert "base: cached" in capsys.readouterr().err
    assert again["domains"]["movies"]["mw_bpc"]["domain"]["d"]["bpc"] == \
        result["domains"]["movies"]["mw_bpc"]["domain"]["d"]["bpc"]


def test_an_attempt_must_be_named_and_keep_the_base(bench):
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--set", "fill=100"])  # a changed protocol without --attempt
    p = dict(bench.PROFILES["quick"])
    with pytest.raises(SystemExit, match="the base is shared"):
        bench._overrides(["slots=100"], p)
    with pytest.raises(SystemExit, match="expected KEY=VALUE"):
        bench._overrides(["no_such_setting=1"], p)
    assert bench._overrides(["fill=100", "replay=0.5"], p) == {"fill": 100, "replay": 0.5}


def test_an_attempt_is_recorded_beside_the_protocol(quick_run):
    bench, work, out, result = quick_run
    bench.main(["--quick", "--domains", "movies", "--arms", "abd", "--no-finetune", "--set", "fill=50",
                "--attempt", "fewer-slots", "--work", str(work / "cache"), "--out", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["domains"]["movies"]["arms"]["d"]["slots_filled"] > 50  # the protocol's own numbers stay
    attempt = saved["attempts"]["fewer-slots"]
    assert attempt["set"] == {"fill": 50} and attempt["file"] == "result_fewer-slots.json"
    assert set(attempt["domains"]["movies"]) == {"a", "b", "d"}
    full = json.loads((work / "result_fewer-slots.json").read_text(encoding="utf-8"))
    assert full["domains"]["movies"]["arms"]["d"]["slots_filled"] == 50
    # b's settings are the protocol's: its trained arm is reused, not trained again.
    assert "attempts" not in full["domains"]["movies"]["arms"]["b"]["path"]
    assert "attempts" in full["domains"]["movies"]["arms"]["d"]["path"]
    # The same attempt with other settings retrains into its own earlier output (the terms keyed by content).
    bench.main(["--quick", "--domains", "movies", "--arms", "abd", "--no-finetune", "--set", "fill=40",
                "--attempt", "fewer-slots", "--work", str(work / "cache"), "--out", str(out)])
    again = json.loads((work / "result_fewer-slots.json").read_text(encoding="utf-8"))
    assert again["domains"]["movies"]["arms"]["d"]["slots_filled"] == 40
