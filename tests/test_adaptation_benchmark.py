"""The adaptation benchmark v2 (benchmarks/adaptation_benchmark.py) end to end in its quick profile.

Its numbers mean nothing at this size; what is tested is that every arm (the slot sweep, fill only,
--slots auto, phased, partial unfreezing, new rows at their own rate, Token Distillation, TAPT, plain N
and 3N) trains from the one base, every measure is computed on
the same words and test examples for every arm, the targets are decided, the map is drawn, and a
rerun reuses what is cached.
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
    spec = importlib.util.spec_from_file_location(
        "adaptation_benchmark", REPO / "benchmarks" / "adaptation_benchmark.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(bench, tmp_path_factory, shared_data):
    work = tmp_path_factory.mktemp("adaptation")
    out = work / "result.json"
    result = bench.main(["--quick", "--domains", "shopping", "--work", str(work / "cache"), "--out", str(out)])
    return bench, work, out, result


def test_every_arm_is_measured_on_the_same_words_and_examples(quick_run, bench):
    _, _, out, _ = quick_run
    saved = json.loads(out.read_text(encoding="utf-8"))
    shop = saved["domains"]["shopping"]
    assert list(shop["arms"]) == bench.QUICK_ARMS
    arms = shop["arms"]
    assert arms["plain-3N"]["tokens"] == 3 * arms["plain-N"]["tokens"] > 0
    assert arms["fill-only-50"]["tokens"] == 0 and arms["fill-only-50"]["slots_filled"] == 50
    assert arms["fill-50"]["slots_filled"] == 50 and arms["fill-150"]["slots_filled"] == 150
    assert arms["fill-auto"]["slot_plan"]["mode"] == "auto"
    assert arms["fill-auto"]["slots_filled"] == arms["fill-auto"]["slot_plan"]["chosen"]
    for text_set in ("domain", "general"):
        rows = shop["mw_bpc"][text_set]
        assert all(math.isfinite(rows[arm]["bpc"]["value"]) for arm in arms)
        diff = rows["fill-50"]["minus_plain-N"]  # one mask plan: a paired difference
        assert diff["low"] <= diff["value"] <= diff["high"]
    tok = shop["tokenization"]
    assert (
        tok["fill-150"]["fertility"]
        < tok["fill-50"]["fertility"]
        < tok["base"]["fertility"]
        == tok["plain-N"]["fertility"]
    )
    ft = shop["finetune"]["100"]
    assert set(ft["scores"]) == set(arms) and ft["sizes"]["train"] == 100
    assert set(ft["minus"]["plain-N"]) == set(arms) - {"plain-N"}
    assert len(ft["scores"]["fill-50"]["seeds"]) == 2
    q = shop["base_quality"]
    assert q["unigram_loss_nats"] > 0 and math.isfinite(q["mlm_loss_token"]) and math.isfinite(q["mlm_loss_whole-word"])
    e = shop["efficiency"]
    assert (
        e["arm"] in arms and e["ratio_wall"] > 0 and e["filled"]["tokens_per_example"] < e["base"]["tokens_per_example"]
    )
    served = e["inference"]  # forward passes over the same texts: the filled tokenizer's shorter sequences
    assert served["examples"] == e["examples"] and served["ratio"] > 0 and len(served["runs"]["filled"]) == 1
    assert served["filled"]["tokens_per_example"] < served["base"]["tokens_per_example"]


def test_every_arm_is_probed_frozen_on_the_fine_tuning_examples(quick_run):
    bench, work, out, result = quick_run
    shop = result["domains"]["shopping"]
    probe = shop["probe"]["100"]
    assert set(probe["scores"]) == set(shop["arms"])
    assert all(0.0 <= s <= 1.0 for s in probe["scores"].values())
    assert set(probe["minus"]) == set(shop["arms"]) - {"plain-N"}
    assert all(d["low"] <= d["value"] <= d["high"] for d in probe["minus"].values())
    assert set(probe["l2"].values()) <= set(bench.PROBE_L2)
    saved = json.loads((work / "cache" / "shopping" / "probe-fill-50" / "probe.json").read_text(encoding="utf-8"))
    # The probe reads the test examples the fine-tuning runs read, in their order.
    with open(work / "cache" / "shopping" / "finetune-fill-50-100" / "seed-1" / "test_predictions.tsv") as f:
        assert len(saved["budgets"]["100"]["gold"]) == sum(1 for _ in f) - 1
    assert "linear probe" in out.with_suffix(".md").read_text(encoding="utf-8")


def test_a_rerun_with_some_arms_keeps_the_other_arms_of_its_json(quick_run):
    bench, work, out, result = quick_run
    kept = work / "kept.json"
    kept.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    args = ["--quick", "--domains", "shopping", "--arms", "fill-50", "--no-efficiency", "--no-finetune"]
    again = bench.main([*args, "--work", str(work / "cache"), "--out", str(kept)])
    assert list(again["domains"]["shopping"]["arms"]) == list(result["domains"]["shopping"]["arms"])


def test_targets_are_decided_and_reported(quick_run):
    _, _, out, result = quick_run
    targets = result["targets"]
    assert any("beats plain-N" in name for name in targets)
    assert any("--slots auto not worse" in name for name in targets)
    assert any("examples per second" in name for name in targets)
    assert all(isinstance(t["met"], bool) for t in targets.values())
    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| fill-50 |" in md and "## Targets" in md and "unigram model" in md
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_efficiency_alone_is_measured_again_from_the_json(quick_run, tmp_path):
    """--efficiency-only re-times the filled tokenizer against the base (a quiet machine's job) and leaves
    every other measure of the JSON as it was."""
    bench, _, out, result = quick_run
    copy = tmp_path / "again.json"
    copy.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    again = bench.main(["--efficiency-only", "--out", str(copy)])
    shop, before = again["domains"]["shopping"], json.loads(out.read_text(encoding="utf-8"))["domains"]["shopping"]
    assert shop["efficiency"]["arm"] == before["efficiency"]["arm"]
    assert shop["efficiency"]["ratio_wall"] > 0 and shop["efficiency"]["inference"]["ratio"] > 0
    assert {k: v for k, v in shop.items() if k != "efficiency"} == {
        k: v for k, v in before.items() if k != "efficiency"
    }
    assert copy.with_suffix(".md").exists()


def test_the_defaults_get_their_own_target(bench):
    """rowlr-auto, the adaptation a user gets, is held to 'not worse than plain-N' beside fill-auto."""

    def diff(value):
        return {"value": value, "low": value - 0.02, "high": value + 0.02}

    scores = {arm: {"mean": 0.6} for arm in ("plain-N", "fill-auto", "rowlr-auto")}
    finetune = {"200": {"scores": scores, "minus": {"plain-N": {"fill-auto": diff(0.0), "rowlr-auto": diff(-0.03)}}}}
    result = {"domains": {"movies": {"finetune": finetune, "arms": {}}}}
    targets = bench.targets(result, "200")
    assert targets["movies, 200 labels: --slots auto not worse than plain-N beyond noise"]["met"] is True
    assert targets["movies, 200 labels: the defaults (rowlr-auto) not worse than plain-N beyond noise"]["met"] is False


def test_a_rerun_reuses_the_cache(quick_run):
    bench, work, out, result = quick_run
    arm_json = work / "cache" / "shopping" / "arm-fill-50.json"
    before = arm_json.stat().st_mtime_ns
    again = bench.main(
        [
            "--quick",
            "--domains",
            "shopping",
            "--arms",
            "base,plain-N,fill-50",
            "--no-efficiency",
            "--work",
            str(work / "cache"),
            "--out",
            str(work / "again.json"),
        ]
    )
    assert arm_json.stat().st_mtime_ns == before  # not trained again
    shop = again["domains"]["shopping"]
    assert (
        shop["mw_bpc"]["domain"]["fill-50"]["bpc"]
        == result["domains"]["shopping"]["mw_bpc"]["domain"]["fill-50"]["bpc"]
    )
    assert (
        shop["finetune"]["100"]["scores"]["fill-50"]
        == result["domains"]["shopping"]["finetune"]["100"]["scores"]["fill-50"]
    )


def test_arm_names_are_checked(bench):
    assert bench.parse_arm("fill-500") == ("fill", 500)
    assert bench.parse_arm("fill-auto") == ("fill", "auto")
    assert bench.parse_arm("fill-only-250") == ("fill-only", 250)
    assert bench.parse_arm("fill-auto-3N") == ("fill", "auto") and bench.parse_arm("fill-500-3N") == ("fill", 500)
    assert bench.arm_config("fill-500-3N", bench.PROFILES["quick"]).max_steps == 3 * bench.PROFILES["quick"]["steps"]
    quick = bench.PROFILES["quick"]
    assert bench.parse_arm("partial-50") == ("partial", 50) and bench.arm_config("partial-50", quick).mode == "partial"
    assert bench.arm_config("rowlr-50", quick).new_rows_lr == quick["new_rows_lr"]
    # rowlr-auto is domainlm's default adaptation; every other arm keeps one rate for all rows (its cache key).
    assert bench.parse_arm("rowlr-auto") == ("rowlr", "auto") and bench.arm_config("rowlr-auto", quick).slots == "auto"
    assert bench.arm_config("fill-50", quick).new_rows_lr is None
    from domainlm.training.config import NEW_ROWS_LR_FACTOR

    for measured in ("cpu", "gpu"):  # the rowlr arms measure exactly what --new-rows-lr auto does
        profile = bench.PROFILES[measured]
        assert profile["new_rows_lr"] == pytest.approx(NEW_ROWS_LR_FACTOR * profile["lr"])
    assert bench.arm_config("distill-50", quick).init == "distill"
    # rowlr-K-xF sweeps the rows' factor over the phase's rate; rowlr-K is the profile's (10x) rate.
    assert bench.parse_arm("rowlr-50-x3") == ("rowlr", 50)
    assert bench.arm_config("rowlr-50-x3", quick).new_rows_lr == pytest.approx(3 * quick["lr"])
    assert bench.rows_factor("rowlr-50-x30", quick) == 30 and bench.rows_factor("fill-50", quick) is None
    assert bench.rows_factor("rowlr-50", quick) == pytest.approx(quick["new_rows_lr"] / quick["lr"])
    assert "3x the phase" in bench.describe_arm("rowlr-50-x3")
    # A setting added after arms were cached stays out of their keys while unset (hours of arms are reused).
    assert "new_rows_lr" not in bench.config_key(bench.arm_config("fill-50", quick))
    assert bench.config_key(bench.arm_config("rowlr-50", quick))["new_rows_lr"] == quick["new_rows_lr"]
    for bad in ("fill-", "fill-x", "fill-only-auto", "plain-2N", "partial-0", "rowlr-50-x0", "rowlr-50-xfast"):
        with pytest.raises(SystemExit, match="unknown arm"):
            bench.parse_arm(bad)


def test_the_gpu_protocol_runs_end_to_end_in_its_quick_form(quick_run):
    """benchmarks/gpu_protocol.py --quick: the same steps as on a GPU (arms cached by the quick run)."""
    import sys

    _, work, _, _ = quick_run
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("gpu_protocol", REPO / "benchmarks" / "gpu_protocol.py")
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    result = gpu.main(["--quick", "--work", str(work / "cache"), "--out", str(work / "gpu.json")])
    shop = result["domains"]["shopping"]
    assert list(shop["arms"]) == gpu.QUICK_ARMS and "efficiency" in shop
    assert json.loads((work / "gpu.json").read_text(encoding="utf-8"))["targets"]
    late = gpu.main(["--quick", "--minutes", "0", "--work", str(work / "cache"), "--out", str(work / "late.json")])
    assert late["domains"]["shopping"]["skipped_by_deadline"] == gpu.QUICK_ARMS[2:]  # base and plain-N always run


def test_replot_rewrites_the_report_and_chart_from_the_committed_results(bench, tmp_path):
    """The committed CPU results redraw without running anything (a chart fix needs no rerun)."""
    import shutil

    out = tmp_path / "adaptation.json"
    shutil.copy(REPO / "benchmarks" / "results" / "adaptation.json", out)
    result = bench.main(["--replot", "--out", str(out)])
    assert "shopping" in result["domains"]
    assert out.with_suffix(".png").stat().st_size > 10_000 and "plain-N" in out.with_suffix(".md").read_text()


def test_a_second_adaptation_seed_changes_only_the_seed_and_keeps_the_first_seeds_cache_keys(bench):
    p = dict(bench.PROFILES["cpu"])
    first = bench.arm_config("fill-auto", p)
    assert first.seed == 0  # seed 0 is what the committed results (and their cache keys) were made with
    again = bench.arm_config("fill-auto", p | {"adapt_seed": 1})
    assert again.seed == 1
    assert again.model_dump(exclude={"seed"}) == first.model_dump(exclude={"seed"})
    assert bench.config_key(again) != bench.config_key(first)


def test_pooled_seeds_pairs_every_run_and_names_a_missing_seed(quick_run):
    bench, work, _, _ = quick_run
    out = work / "pooled.json"
    args = ["--quick", "--domains", "shopping", "--work", str(work / "cache"), "--arms", "fill-50,rowlr-50"]
    pooled = bench.main([*args, "--pooled", "0,0", "--budgets", "100", "--out", str(out)])
    seeds = len(bench.PROFILES["quick"]["seeds"])
    rows = pooled["budgets"]["100"]
    assert set(rows) == {"fill-50", "rowlr-50"} and rows["fill-50"]["runs"] == 2 * seeds
    assert {"value", "low", "high", "verdict"} <= set(rows["rowlr-50"]["minus_plain_N"])
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(pooled))
    with pytest.raises(SystemExit, match="cache-seed1"):
        bench.main([*args, "--pooled", "0,1", "--budgets", "100", "--out", str(work / "x.json")])
