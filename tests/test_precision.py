"""One `--precision auto|fp32|bf16` for adapt, pretrain, finetune and evaluate (issue 25); the old setting
names as deprecated aliases; what a run recorded of how it ran (world size, effective batch, precision)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.training import write_corpus

import domainlm.runtime as runtime
from domainlm.errors import ConfigError, DomainLMWarning
from domainlm.runtime import resolve_precision, single_process_launch_hint
from domainlm.training import TrainConfig, pretrain
from domainlm.training.config import ModelArchConfig

REPO = Path(__file__).resolve().parents[1]
ARCH = ModelArchConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=64)
FAST = ["--max-steps", "2", "--batch-size", "2", "--seq-len", "32", "--save-every", "10", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from helpers.tiny import TINY_TEXT

    return write_corpus(tmp_path_factory.mktemp("precision") / "c.txt", TINY_TEXT, repeat=40)


def test_auto_is_bf16_on_a_bf16_gpu_and_on_a_cpu_with_native_bf16(monkeypatch):
    assert resolve_precision("auto", "cuda", cuda_bf16=True) == "bf16"
    assert resolve_precision("auto", "cuda", cuda_bf16=False) == "fp32"
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    # The measured default (benchmarks/results/precision.json), which the tests switch off for themselves.
    verdict = json.loads((REPO / "benchmarks" / "results" / "precision.json").read_text())["verdict"]
    assert runtime.CPU_AUTO_BF16 is verdict["cpu_auto_bf16"] is True
    assert os.environ["DOMAINLM_CPU_AUTO_BF16"] == "0" and resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setenv("DOMAINLM_CPU_AUTO_BF16", "1")
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(runtime, "CPU_AUTO_BF16", False)
    assert resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(runtime, "CPU_AUTO_BF16", True)
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"  # emulated bf16 would be slower
    assert resolve_precision("bf16", "cpu") == "bf16" and resolve_precision("fp32", "cuda", cuda_bf16=True) == "fp32"
    with pytest.raises(ConfigError, match="does not support bf16"):
        resolve_precision("bf16", "cuda", cuda_bf16=False)


@pytest.mark.parametrize(
    "old, precision",
    [({"cpu_bf16": True}, "bf16"), ({"bf16": False}, "fp32"), ({"bf16": True, "cpu_bf16": False}, "auto")],
)
def test_old_names_map_onto_precision_with_a_warning(old, precision):
    with pytest.warns(DomainLMWarning, match="deprecated: use train.precision"):
        config = TrainConfig(**old)
    assert config.precision == precision
    dumped = config.model_dump()
    assert "bf16" not in dumped and "cpu_bf16" not in dumped and dumped["precision"] == precision


def test_old_name_beside_precision_is_ignored_with_a_warning():
    with pytest.warns(DomainLMWarning, match="ignored: train.precision fp32 is set"):
        assert TrainConfig(precision="fp32", cpu_bf16=True).precision == "fp32"


def test_old_name_as_a_recipe_override():
    from domainlm.recipes import load_recipe

    with pytest.warns(DomainLMWarning, match="train.bf16: false is deprecated"):
        recipe = load_recipe("화장품", ["train.bf16=false"])
    assert recipe.train.precision == "fp32"
    assert load_recipe("화장품", ["train.precision=bf16"]).train.precision == "bf16"


def test_every_command_takes_the_same_precision_option(cli):
    for command in (["adapt"], ["pretrain"], ["finetune"], ["evaluate"], ["benchmark"]):
        r = cli(*command, "--help")
        assert r.exit_code == 0 and "--precision" in r.output and "auto" in r.output, command
    for command in (["adapt"], ["pretrain"], ["finetune"]):
        r = cli(*command, "--help")
        assert "--report-to" in r.output and "--logging-dir" in r.output, command


def test_finetune_and_evaluate_resolve_auto_on_the_cpu(tiny_mlm_dir):
    from domainlm.evaluation.encode import load_side
    from domainlm.finetune.loop import FinetuneSettings, _accelerator

    _, cuda, precision = _accelerator(FinetuneSettings(device="cpu"), None)
    assert not cuda and precision == resolve_precision("auto", "cpu")
    assert load_side("before", tiny_mlm_dir, "cpu", "auto").precision == resolve_precision("auto", "cpu")
    assert load_side("before", tiny_mlm_dir, "cpu", "bf16").precision == "bf16"


def test_settings_and_card_record_world_size_effective_batch_and_precision(tiny_tokenizer_dir, corpus, tmp_path):
    config = TrainConfig(
        max_steps=2,
        batch_size=2,
        grad_accum=2,
        seq_len=32,
        lr=1e-3,
        save_every=10,
        heldout_fraction=0.05,
        eval_documents=20,
        precision="fp32",
    )
    out = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=ARCH, config=config)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["world_size"] == 1 and settings["effective_batch"] == 4 and settings["precision_used"] == "fp32"
    assert settings["train"]["precision"] == "fp32" and "bf16" not in settings["train"]
    assert "batch 2 × 2 accumulation = 4 sequences per step, fp32" in (out / "README.md").read_text()


def test_card_says_how_many_processes_trained():
    from domainlm.training.card import batch_line

    settings = {
        "train": {"batch_size": 2, "grad_accum": 1},
        "world_size": 2,
        "effective_batch": 4,
        "precision_used": "bf16",
    }
    assert batch_line(settings) == "batch 2 × 1 accumulation × 2 processes = 4 sequences per step, bf16 autocast"


def test_accelerate_launch_cpu_single_process_gets_a_hint(cli, tiny_tokenizer_dir, corpus, tmp_path, monkeypatch):
    # What `accelerate launch --cpu --num_processes 2` sets: its simple launcher, one process, no WORLD_SIZE.
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert "torchrun --nproc_per_node N" in single_process_launch_hint()
    r = cli(
        "pretrain", "-t", tiny_tokenizer_dir, "--corpus", corpus, "-o", tmp_path / "out", *FAST, "--precision", "fp32"
    )
    assert r.exit_code == 0, r.output
    assert "Warning:" in r.output and "accelerate launch --cpu started one process" in r.output
    monkeypatch.delenv("MASTER_PORT")  # --num_processes 1: nothing to say
    assert single_process_launch_hint() is None
