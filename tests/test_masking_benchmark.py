"""The masking benchmark (benchmarks/masking_benchmark.py) end to end in its quick form.

Its numbers mean nothing at 2 x 64 and 8 steps; what is tested is that both maskings pretrain from the same
settings, each final model is scored under both maskings against the unigram level of the same held-out
text, the warm-up asked for is the one used, and the verdict is written."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_masking_pair(tmp_path, shared_data):
    spec = importlib.util.spec_from_file_location("masking_benchmark", REPO / "benchmarks" / "masking_benchmark.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "masking.json"
    result = bench.main(["--quick", "--warmup-ratio", "0.25", "--work", str(tmp_path / "work"), "--out", str(out)])
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(result))
    assert result["warmup_ratio"] == 0.25 and set(result["runs"]) == {"token", "whole-word"}
    assert 0 < result["unigram_loss_nats"] < math.log(30_000)
    for masking, run in result["runs"].items():
        assert set(run["heldout_loss"]) == {"token", "whole-word"}
        assert all(math.isfinite(v) and v > 0 for v in run["heldout_loss"].values())
        assert run["own_curve"] and run["own_curve"][-1]["step"] == result["steps"]
        settings = json.loads((tmp_path / "work" / f"model-{masking}" / "settings.json").read_text(encoding="utf-8"))
        assert settings["train"]["masking"] == masking and settings["train"]["warmup_ratio"] == 0.25
    assert set(result["verdict"]) >= {"token_masking_off_plateau", "whole_word_masking_off_plateau"}
