"""The adapted model keeps everything of the base it did not change, and its card is a real hub card.

Bases are tiny `*ForPreTraining` checkpoints (pooler + NSP / SOP head beside the MLM head), the
shape kykim/bert-kor-base and the ALBERT bases come in.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from helpers.training import TINY_TRAIN, tiny_corpus, tiny_train_config
from safetensors.torch import load_file

from domainlm.errors import ModelError
from domainlm.training import TrainConfig, adapt

TINY = {**TINY_TRAIN, "max_steps": 2, "batch_size": 2, "lr": 5e-3}


def tiny_config(**kw) -> TrainConfig:
    return tiny_train_config(TINY, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("fidelity_corpus"), limit=600)


def _save_base(model, tokenizer_dir: Path, out: Path, license: str | None = None) -> Path:
    model.save_pretrained(str(out))
    for f in Path(tokenizer_dir).iterdir():
        shutil.copy(f, out / f.name)
    if license:
        (out / "README.md").write_text(f"---\nlicense: {license}\nlanguage: ko\n---\n\n# tiny base\n", encoding="utf-8")
    return out


def _bert_config(tokenizer_dir):
    from transformers import AutoTokenizer, BertConfig

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    return BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )


@pytest.fixture(scope="module")
def pretraining_base(tiny_tokenizer_dir, tmp_path_factory) -> Path:
    from transformers import BertForPreTraining

    torch.manual_seed(1)
    return _save_base(
        BertForPreTraining(_bert_config(tiny_tokenizer_dir)),
        tiny_tokenizer_dir,
        tmp_path_factory.mktemp("bert_pretraining"),
        license="apache-2.0",
    )


@pytest.fixture(scope="module")
def adapted(pretraining_base, corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adapted") / "cosmetics-bert"
    adapt(
        str(pretraining_base),
        out,
        corpus=str(corpus),
        terms=["수분크림", "발림성", "##크림"],
        category="화장품",
        config=tiny_config(),
    )
    return out


# ---------------------------------------------------------------- fidelity


def test_adapted_model_keeps_the_pooler_and_nsp_head_of_the_base(pretraining_base, adapted):
    base = load_file(str(pretraining_base / "model.safetensors"))
    after = load_file(str(adapted / "model.safetensors"))
    for key in (
        "bert.pooler.dense.weight",
        "bert.pooler.dense.bias",
        "cls.seq_relationship.weight",
        "cls.seq_relationship.bias",
    ):
        assert torch.equal(after[key], base[key]), key
    # ... while adaptation really changed what it trains.
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(after[key], base[key])
    assert set(base) <= set(after) | {"cls.predictions.decoder.weight"}


def test_sequence_classification_loads_the_adapted_model_with_only_the_classifier_new(pretraining_base, adapted):
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(
        str(adapted), num_labels=2, output_loading_info=True
    )
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}
    base = AutoModelForSequenceClassification.from_pretrained(str(pretraining_base), num_labels=2)
    assert torch.equal(model.bert.pooler.dense.weight, base.bert.pooler.dense.weight)
    assert model.config.vocab_size == base.config.vocab_size


def test_albert_keeps_its_pooler_and_sop_head(tiny_tokenizer_dir, corpus, tmp_path):
    from transformers import AlbertConfig, AlbertForPreTraining, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    config = AlbertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        embedding_size=16,
        max_position_embeddings=64,
    )
    torch.manual_seed(2)
    base = _save_base(AlbertForPreTraining(config), tiny_tokenizer_dir, tmp_path / "albert")
    out = adapt(str(base), tmp_path / "adapted", corpus=str(corpus), config=tiny_config()).out_dir
    before, after = load_file(str(base / "model.safetensors")), load_file(str(out / "model.safetensors"))
    for key in ("albert.pooler.weight", "albert.pooler.bias", "sop_classifier.classifier.weight"):
        assert torch.equal(after[key], before[key]), key
    _, info = AutoModelForSequenceClassification.from_pretrained(str(out), num_labels=2, output_loading_info=True)
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}


def test_a_base_without_mlm_head_is_refused_unless_a_new_head_is_asked_for(cli, tiny_tokenizer_dir, corpus, tmp_path):
    from transformers import BertForSequenceClassification

    torch.manual_seed(4)
    base = _save_base(
        BertForSequenceClassification(_bert_config(tiny_tokenizer_dir)), tiny_tokenizer_dir, tmp_path / "cls"
    )
    with pytest.raises(ModelError) as e:
        adapt(str(base), tmp_path / "out", corpus=str(corpus), config=tiny_config())
    assert "has no masked-LM head weights" in str(e.value) and "cls.predictions" in str(e.value)
    assert "--new-head" in str(e.value)
    r = cli("adapt", "--base", base, "--corpus", corpus, "-o", tmp_path / "out", "--max-steps", "2")
    assert r.exit_code == 2 and "no masked-LM head weights" in " ".join(r.output.split())
    r = cli(
        "adapt",
        "--base",
        base,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        "--new-head",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
    )
    assert r.exit_code == 0, r.output
    after = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert "cls.predictions.transform.dense.weight" in after and "bert.pooler.dense.weight" in after
    assert json.loads((tmp_path / "out" / "settings.json").read_text())["new_head"] is True
    assert "a new head was trained from scratch" in (tmp_path / "out" / "README.md").read_text()


# ---------------------------------------------------------------- model card


def test_model_card_front_matter(adapted):
    from huggingface_hub import ModelCard

    card = ModelCard.load(adapted / "README.md")
    data = card.data.to_dict()
    assert data["language"] == "ko" and data["pipeline_tag"] == "fill-mask" and data["library_name"] == "transformers"
    assert data["license"] == "apache-2.0"  # from the base's own card
    assert "화장품" in data["tags"] and "domainlm" in data["tags"]
    assert "base_model" not in data  # a local folder is no hub id
    assert "수분크림" in card.text and "3 `[unusedN]` vocabulary slots filled" in card.text


def test_model_card_of_a_hub_base_names_it_and_its_datasets():
    from huggingface_hub import ModelCard

    from domainlm.training.card import model_card

    class Outcome:
        steps, tokens, final_loss, eval_loss, seconds = 10, 1000, 2.5, 2.4, 3.0

    settings = {"corpus": ["hf:nsmc", "/data/private/reviews.txt"], "replay": [], "train": TrainConfig().model_dump()}
    text = model_card(
        kind="adapt",
        base="kykim/bert-kor-base",
        category="식품",
        settings=settings,
        outcome=Outcome(),
        slots=[],
        eval_before=2.9,
        versions={"torch": "2"},
        folder_name="food-bert",
    )
    data = ModelCard(text).data.to_dict()
    assert data["base_model"] == "kykim/bert-kor-base" and data["datasets"] == ["nsmc"] and "식품" in data["tags"]
    assert "/data/private" not in text and "reviews.txt" in text


def _absolute_paths(text: str) -> list[str]:
    return re.findall(r"(?<![\w:/.~-])/(?:[\w.-]+/)+[\w.-]*", text)


def test_model_card_holds_no_absolute_local_path(adapted, pretraining_base, corpus):
    text = (adapted / "README.md").read_text(encoding="utf-8")
    for local in (str(adapted), str(pretraining_base), str(corpus), str(corpus.parent), os.path.expanduser("~")):
        assert local not in text
    assert _absolute_paths(text) == []


def test_usage_snippet_runs_as_written(adapted, monkeypatch):
    text = (adapted / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(snippets) == 1
    monkeypatch.chdir(adapted.parent)  # "run from the folder that holds this model's folder"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippets[0], "README.md", "exec"), {"__name__": "__main__"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 2 for line in lines)


def test_evaluation_table_goes_into_the_card_and_keeps_the_front_matter(adapted, tmp_path):
    from huggingface_hub import ModelCard

    from domainlm.card import END, START, update_model_card

    copy = tmp_path / adapted.name
    shutil.copytree(adapted, copy)
    update_model_card(copy, "## Evaluation\n\n| metric | before | after |\n|---|---|---|\n| MW-BPC | 3.1 | 2.7 |")
    update_model_card(copy, "## Evaluation\n\n| metric | before | after |\n|---|---|---|\n| MW-BPC | 3.1 | 2.6 |")
    card = ModelCard.load(copy / "README.md")
    assert card.data.to_dict()["pipeline_tag"] == "fill-mask"
    assert card.text.count(START) == 1 and card.text.count(END) == 1 and "| MW-BPC | 3.1 | 2.6 |" in card.text
    assert "## Use" in card.text
