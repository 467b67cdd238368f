"""The extension points: a row-init method or a training mode registered by name is a choice everywhere."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.training import tiny_corpus, tiny_train_config
from safetensors.torch import load_file

from domainlm.modeling import (
    mode_names,
    register_mode,
    register_row_init,
    row_init_names,
    unregister_mode,
    unregister_row_init,
)
from domainlm.training import TrainConfig, adapt
from domainlm.training.config import PhaseConfig

TERMS = ["수분크림", "발림성", "가성비"]
TINY = dict(
    max_steps=2,
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=2,
    log_every=1,
    seed=5,
    heldout_fraction=0.05,
    eval_documents=20,
    replay_ratio=0.0,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("registries"), limit=300)


@pytest.fixture
def constant_rows():
    """A throwaway method: every filled row 0.5, then a learning step that records what it read."""
    seen: dict = {}

    def write(model, base_tokenizer, entries, seed):
        with torch.no_grad():
            for e in entries:
                model.get_input_embeddings().weight[e.slot_id] = 0.5

    def learn(model, base_tokenizer, tokenizer, entries, texts, settings):
        seen["texts"] = sum(1 for _ in texts)
        seen["terms"] = [e.term for e in entries]
        return {"read": seen["texts"]}

    register_row_init(
        "constant", write=write, learn=learn, help="constant (tests)", description="every value 0.5, for the tests"
    )
    yield seen
    unregister_row_init("constant")


def test_a_registered_row_init_is_accepted_by_the_settings_and_the_recipe(constant_rows):
    from domainlm.recipes.load import load_recipe

    assert row_init_names()[-1] == "constant"
    assert TrainConfig(init="constant").init == "constant"
    recipe = load_recipe("화장품", ["vocab.init=constant", "train.init=constant"])
    assert recipe.vocab.init == "constant" and recipe.train.init == "constant"
    assert TrainConfig(init="constant").model_dump(mode="json")["init"] == "constant"


def test_a_registered_row_init_runs_through_adapt_and_is_in_the_card(constant_rows, tiny_mlm_dir, corpus, tmp_path):
    out = tmp_path / "constant"
    result = adapt(
        tiny_mlm_dir, out, corpus=str(corpus), terms=TERMS, config=tiny_train_config(TINY, init="constant", max_steps=0)
    )
    assert result.slots_filled == len(TERMS)
    weights = load_file(str(out / "model.safetensors"))
    emb = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight"))
    slots = [s["slot_id"] for s in json.loads((out / "slots.json").read_text(encoding="utf-8"))["slots"]]
    assert torch.all(emb[slots] == 0.5)
    # The learning step ran on the domain text (held-out documents excluded) and its report was kept.
    assert constant_rows["terms"] == TERMS and constant_rows["texts"] > 0
    assert result.init_report == {"read": constant_rows["texts"]}
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["init_report"] == result.init_report and settings["train"]["init"] == "constant"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Filled rows initialised by **constant** (every value 0.5, for the tests)." in card


def test_an_unregistered_row_init_is_refused_as_a_literal_choice_was():
    from domainlm.errors import ConfigError
    from domainlm.recipes.load import load_recipe

    register_row_init("gone", write=lambda *a: None)
    assert TrainConfig(init="gone").init == "gone"
    unregister_row_init("gone")
    with pytest.raises(Exception, match="Input should be 'mean', 'random' or 'distill'"):
        TrainConfig(init="gone")
    with pytest.raises(ConfigError) as info:
        load_recipe("화장품", ["vocab.init=gone"])
    assert "vocab.init: Input should be 'mean', 'random' or 'distill' (got 'gone')" in str(info.value)


def test_the_built_ins_are_registered_in_order():
    assert row_init_names() == ("mean", "random", "distill")
    assert mode_names() == ("full", "lora", "new-rows", "partial")
    with pytest.raises(ValueError, match="registered already"):
        register_row_init("mean", write=lambda *a: None)


@pytest.fixture
def biases_only():
    """A throwaway mode: only the biases train."""

    def apply(model, slot_ids, lora=None):
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith("bias"))
        return model

    register_mode("biases", apply=apply, help="the biases only")
    yield
    unregister_mode("biases")


def test_a_registered_mode_trains_through_adapt(biases_only, tiny_mlm_dir, corpus, tmp_path):
    assert TrainConfig(mode="biases").mode == "biases"
    assert PhaseConfig(mode="biases", steps=1).mode == "biases"
    out = tmp_path / "biases"
    adapt(tiny_mlm_dir, out, corpus=str(corpus), terms=TERMS, config=tiny_train_config(TINY, mode="biases"))
    before = adapt_zero_steps(tiny_mlm_dir, corpus, tmp_path / "before")
    after = load_file(str(out / "model.safetensors"))
    changed = {k for k, v in after.items() if not torch.equal(v, before[k])}
    assert changed and all(k.endswith("bias") for k in changed), changed
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "mode **biases**" in card


def adapt_zero_steps(base, corpus, out):
    """The same base with the same rows filled and initialised, untrained."""
    adapt(base, out, corpus=str(corpus), terms=TERMS, config=tiny_train_config(TINY, max_steps=0))
    return load_file(str(out / "model.safetensors"))


def test_an_unknown_mode_is_refused_with_the_registered_names():
    with pytest.raises(Exception, match="Input should be 'full', 'lora', 'new-rows', 'partial' or 'phased'"):
        TrainConfig(mode="biases")
    with pytest.raises(Exception, match="Input should be 'full', 'lora', 'new-rows' or 'partial'"):
        PhaseConfig(mode="phased", steps=1)


def test_cli_choices_and_help_come_from_the_registries(cli):
    result = cli("adapt", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name in (*row_init_names(), *mode_names(), "phased"):
        assert name in text
    bad = cli("adapt", "-o", "x", "--init", "fancy")
    assert bad.exit_code == 2 and all(f"'{name}'" in bad.output for name in row_init_names())
