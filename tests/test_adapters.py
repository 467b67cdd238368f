"""adapt --mode lora keeps its peft adapter: base (filled as adapt filled it) + adapter = the merged model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from helpers.training import TINY_TRAIN, fill_by_hand, tiny_corpus, tiny_train_config
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoTokenizer

from domainlm.errors import ConfigError, ModelError
from domainlm.training import adapt
from domainlm.training.config import PhaseConfig

TERMS = ["수분크림", "##크림", "발림성", "가성비"]
TINY = {**TINY_TRAIN, "max_steps": 4, "batch_size": 2, "lr": 5e-3, "seed": 7}
SENTENCES = ["수분크림 발림성 정말 좋아요", "가성비 최고 크림 재구매"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("adapter_corpus"), limit=400)


@pytest.fixture(scope="module")
def biased_base(tiny_mlm_dir, tmp_path_factory) -> Path:
    """The tiny masked-LM with a non-zero decoder bias: a fresh BERT's is all zeros, which would hide a
    filled base whose filled rows' bias was never initialised."""
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    torch.manual_seed(3)
    with torch.no_grad():
        model.cls.predictions.bias.normal_()
    out = tmp_path_factory.mktemp("biased_base")
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(tiny_mlm_dir)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def filled_dir(tiny_tokenizer_dir, tmp_path_factory):
    return fill_by_hand(tiny_tokenizer_dir, TERMS, tmp_path_factory.mktemp("adapter_filled"))


@pytest.fixture(scope="module")
def lora_run(biased_base, filled_dir, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "out"
    return adapt(
        str(biased_base),
        out,
        corpus=str(corpus),
        filled_tokenizer=filled_dir,
        config=tiny_train_config(TINY, mode="lora"),
    )


def _logits(model, tokenizer_dir) -> torch.Tensor:
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def _slot_entries(folder: Path):
    from vocab_tools.slots import read_manifest

    return read_manifest(folder)


def test_lora_writes_merged_model_and_peft_adapter(lora_run, biased_base):
    out = lora_run.out_dir
    assert lora_run.save == "both" and (out / "model.safetensors").is_file()
    adapter = out / "adapter"
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "filled_rows.safetensors",
        "tokenizer.json",
        "slots.json",
    ):
        assert (adapter / name).is_file(), name
    config = json.loads((adapter / "adapter_config.json").read_text())
    slots = sorted(e.slot_id for e in _slot_entries(out))
    assert config["peft_type"] == "LORA" and config["r"] == 16 and config["base_model_name_or_path"] == str(biased_base)
    assert config["trainable_token_indices"] == {"word_embeddings": slots}
    # peft stores the filled rows' trained values whole, as trainable tokens (not the embedding matrix).
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    rows = [k for k in weights if "trainable_tokens_delta" in k]
    assert rows == ["base_model.model.bert.embeddings.word_embeddings.token_adapter.trainable_tokens_delta"]
    assert weights[rows[0]].shape == (len(slots), 32)
    assert not any("word_embeddings.weight" in k or "decoder.weight" in k for k in weights)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["save"] == "both"
    card = (out / "README.md").read_text()
    assert "LoRA r 16, alpha 32" in card and "`query`" in card and "kept as a peft adapter in `adapter/`" in card
    assert "PeftModel.from_pretrained" in card


def test_base_filled_the_same_way_plus_adapter_gives_the_merged_logits(lora_run, biased_base):
    from peft import PeftModel

    from domainlm.modeling import init_filled_rows

    merged = _logits(AutoModelForMaskedLM.from_pretrained(str(lora_run.out_dir)), lora_run.out_dir)
    base = AutoModelForMaskedLM.from_pretrained(str(biased_base))
    init_filled_rows(
        base, AutoTokenizer.from_pretrained(str(biased_base)), _slot_entries(lora_run.out_dir), method="mean"
    )
    untrained = _logits(base, lora_run.out_dir)
    assert not torch.allclose(untrained, merged, atol=1e-3)  # the training changed the model
    with_adapter = _logits(PeftModel.from_pretrained(base, str(lora_run.out_dir / "adapter")), lora_run.out_dir)
    assert torch.allclose(with_adapter, merged, atol=1e-5)


def test_filled_rows_file_rebuilds_the_filled_base(lora_run, biased_base):
    from peft import PeftModel

    from domainlm.modeling.adapters import fill_base, load_adapted

    merged = _logits(AutoModelForMaskedLM.from_pretrained(str(lora_run.out_dir)), lora_run.out_dir)
    adapter_dir = lora_run.out_dir / "adapter"
    plain = AutoModelForMaskedLM.from_pretrained(str(biased_base))
    unfilled = _logits(PeftModel.from_pretrained(plain, str(adapter_dir)), adapter_dir)
    assert not torch.allclose(unfilled, merged, atol=1e-3)  # the filled rows' decoder bias is not in peft's files
    base = AutoModelForMaskedLM.from_pretrained(str(biased_base))
    fill_base(base, adapter_dir)
    assert torch.allclose(_logits(PeftModel.from_pretrained(base, str(adapter_dir)), adapter_dir), merged, atol=1e-5)
    model, tokenizer = load_adapted(adapter_dir)
    assert torch.allclose(_logits(model, adapter_dir), merged, atol=1e-5) and len(tokenizer) == merged.shape[-1]


def test_phased_new_rows_then_lora_keeps_the_adapter_on_the_trained_rows(biased_base, filled_dir, corpus, tmp_path):
    from domainlm.modeling.adapters import load_adapted

    config = tiny_train_config(
        TINY,
        mode="phased",
        max_steps=4,
        phases=[PhaseConfig(mode="new-rows", steps=2), PhaseConfig(mode="lora", steps=2)],
    )
    result = adapt(str(biased_base), tmp_path / "out", corpus=str(corpus), filled_tokenizer=filled_dir, config=config)
    assert result.save == "both"
    merged = _logits(AutoModelForMaskedLM.from_pretrained(str(result.out_dir)), result.out_dir)
    model, _ = load_adapted(result.out_dir / "adapter")
    assert torch.allclose(_logits(model, result.out_dir), merged, atol=1e-5)


def test_cli_save_adapter_writes_no_merged_weights(cli, biased_base, filled_dir, corpus, tmp_path, monkeypatch):
    from domainlm.modeling import load_mlm

    out = tmp_path / "out"
    result = cli(
        "adapt",
        "--base",
        biased_base,
        "--corpus",
        corpus,
        "--filled-tokenizer",
        filled_dir,
        "-o",
        out,
        "--mode",
        "lora",
        "--save",
        "adapter",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--slots",
        "all",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["save"] == "adapter"
    assert not (out / "model.safetensors").exists() and not (out / "config.json").exists()
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "settings.json").read_text())["save"] == "adapter"
    card = (out / "README.md").read_text()
    assert (
        "kept as a peft adapter in `adapter/` only" in card
        and "AutoModelForMaskedLM.from_pretrained('out')" not in card
    )
    with pytest.raises(ModelError, match="LoRA adapter only"):
        load_mlm(out)
    # The card's snippet runs as written from the folder above, with the base beside the output.
    shutil.copytree(biased_base, tmp_path / biased_base.name)
    monkeypatch.chdir(tmp_path)
    snippets = re.findall(r"```python\n(.*?)```", card, re.S)
    namespace = {"__name__": "__main__"}
    exec(compile(snippets[0], "README.md", "exec"), namespace)
    assert type(namespace["model"]).__name__ == "PeftModel" and len(namespace["tokenizer"]) > 54


def test_an_adapter_is_refused_for_a_run_that_trains_no_adapter(biased_base, corpus, tmp_path, cli):
    with pytest.raises(ConfigError, match="trains no adapter"):
        adapt(
            str(biased_base),
            tmp_path / "out",
            corpus=str(corpus),
            config=tiny_train_config(TINY, mode="full"),
            save="adapter",
        )
    result = cli(
        "adapt", "--base", biased_base, "--corpus", corpus, "-o", tmp_path / "cli", "--mode", "full", "--save", "both"
    )
    assert result.exit_code == 2 and "--save merged" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cli").exists()


def test_the_adapter_survives_a_failed_final_save_and_resume(biased_base, filled_dir, corpus, tmp_path, monkeypatch):
    import safetensors
    import transformers.modeling_utils as mu

    from domainlm.errors import TrainingError
    from domainlm.modeling.adapters import load_adapted

    def full(*a, **k):
        raise safetensors.SafetensorError(
            'IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        )

    out, config = tmp_path / "out", tiny_train_config(TINY, mode="lora", max_steps=2)
    with monkeypatch.context() as m:
        m.setattr(mu, "safe_save_file", full)
        with pytest.raises(TrainingError, match="kept as a checkpoint"):
            adapt(str(biased_base), out, corpus=str(corpus), filled_tokenizer=filled_dir, config=config)
    # --resume writes the model and the adapter from the final checkpoint, without training again.
    result = adapt(str(biased_base), out, corpus=str(corpus), filled_tokenizer=filled_dir, config=config, resume=True)
    assert result.save == "both" and result.resumed_from == 2
    merged = _logits(AutoModelForMaskedLM.from_pretrained(str(out)), out)
    model, _ = load_adapted(out / "adapter")
    assert torch.allclose(_logits(model, out), merged, atol=1e-5)
