"""A model folder's tokenizer says the model's real limit (its position embeddings), not 512.

`vocab build` cannot know the model and writes BERT's usual 512; a base with 128 or 64 positions
saved with that tokenizer made `truncation=True` cut at 512 and the model, or the fill-mask
pipeline, fail on a long review.
"""

from __future__ import annotations

import json

import pytest
import torch
from helpers.training import tiny_train_config, write_corpus
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from domainlm.training import adapt, pretrain
from domainlm.training.config import ModelArchConfig
from domainlm.training.output import limit_tokenizer_to_model

TINY = dict(
    max_steps=1,
    batch_size=2,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=10,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=20,
    replay_ratio=0.0,
    seed=5,
)
LONG_REVIEW = "이 수분크림은 [MASK] 좋아요 " + "발림성이 좋고 가성비도 최고예요 정말 추천합니다 " * 40


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from helpers.tiny import tiny_corpus_texts

    texts = tiny_corpus_texts()
    return write_corpus(tmp_path_factory.mktemp("corpus") / "domain.txt", texts if len(texts) > 100 else texts * 60)


def _limit(folder) -> int:
    return json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["model_max_length"]


def _long_review_runs(folder, positions: int) -> None:
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert tok.model_max_length == positions
    enc = tok(LONG_REVIEW, truncation=True, return_tensors="pt")
    assert enc["input_ids"].shape[1] == positions
    model = AutoModelForMaskedLM.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        model(**enc)
    fill = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
    assert len(fill(LONG_REVIEW, tokenizer_kwargs={"truncation": True}, top_k=2)) == 2


def test_pretrained_and_adapted_models_say_their_positions(tiny_mlm_dir, corpus, tmp_path):
    from vocab_tools import build_vocab

    texts = corpus.read_text(encoding="utf-8").splitlines()
    tok_dir = build_vocab(texts, tmp_path / "tok", vocab_size=1000, unused=20, min_frequency=1).out_dir
    assert _limit(tok_dir) == 512  # what vocab build writes, with no model to ask
    arch = ModelArchConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=64)
    base = pretrain(tok_dir, str(corpus), tmp_path / "base", arch=arch, config=tiny_train_config(TINY))
    assert _limit(base) == 64
    _long_review_runs(base, 64)
    # An adapted model: from a base whose tokenizer says more than its 128 positions, and from the 64 one.
    assert _limit(tiny_mlm_dir) > 128
    adapted = adapt(
        str(tiny_mlm_dir),
        tmp_path / "adapted",
        corpus=str(corpus),
        terms=["수분크림", "발림성"],
        config=tiny_train_config(TINY, max_steps=0),
    ).out_dir
    assert _limit(adapted) == 128
    _long_review_runs(adapted, 128)
    again = adapt(
        str(base), tmp_path / "again", corpus=str(corpus), terms=["가성비"], config=tiny_train_config(TINY, max_steps=0)
    ).out_dir
    assert _limit(again) == 64


def test_a_smaller_limit_is_kept(tmp_path):
    from transformers import BertConfig

    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 32}), encoding="utf-8")
    limit_tokenizer_to_model(tmp_path, BertConfig(max_position_embeddings=128))
    assert _limit(tmp_path) == 32
    limit_tokenizer_to_model(tmp_path, BertConfig(max_position_embeddings=16))
    assert _limit(tmp_path) == 16
