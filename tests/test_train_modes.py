"""Partial unfreezing (--mode partial) and the filled rows' own learning rate (--new-rows-lr)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.training import TINY_TRAIN, fill_by_hand, tiny_train_config, write_corpus
from transformers import AlbertConfig, AlbertForMaskedLM, AutoModelForMaskedLM

from domainlm.modeling.modes import apply_mode, encoder_layers, filled_row_tensors, no_decay_names
from domainlm.training import TrainConfig, adapt
from domainlm.training.optim import RowLearningRate

TERMS = ["수분크림", "발림성", "가성비"]
TINY = {**TINY_TRAIN, "max_steps": 3}
EMB = "bert.embeddings.word_embeddings.weight"
BIAS = "cls.predictions.bias"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from helpers.tiny import tiny_corpus_texts

    return write_corpus(tmp_path_factory.mktemp("corpus") / "domain.txt", tiny_corpus_texts())


@pytest.fixture(scope="module")
def three_layers(tiny_tokenizer_dir, tmp_path_factory):
    """A random 3-layer BERT (a middle layer that partial must leave alone) with the tiny tokenizer."""
    from helpers.tiny import build_tiny_mlm

    return build_tiny_mlm(tiny_tokenizer_dir, tmp_path_factory.mktemp("three_layers"), layers=3)


@pytest.fixture(scope="module")
def filled_dir(tiny_tokenizer_dir, tmp_path_factory):
    return fill_by_hand(tiny_tokenizer_dir, TERMS, tmp_path_factory.mktemp("filled"))


def _adapt(base, out, corpus, filled, **config):
    result = adapt(
        str(base), out, corpus=str(corpus), filled_tokenizer=filled, config=tiny_train_config(TINY, **config)
    )
    slots = [e["slot_id"] for e in json.loads((result.out_dir / "slots.json").read_text())["slots"]]
    return AutoModelForMaskedLM.from_pretrained(str(result.out_dir)).state_dict(), slots


def test_partial_trains_the_new_rows_the_bias_and_the_outer_layers_only(three_layers, filled_dir, corpus, tmp_path):
    base = AutoModelForMaskedLM.from_pretrained(str(three_layers))
    layers = len(encoder_layers(base))
    before = base.state_dict()
    after, slots = _adapt(three_layers, tmp_path / "out", corpus, filled_dir, mode="partial")
    changed_rows = set((after[EMB] != before[EMB]).any(1).nonzero().view(-1).tolist())
    assert changed_rows == set(slots)  # mean init + training: the filled rows, no row of the base vocabulary
    assert set((after[BIAS] != before[BIAS]).nonzero().view(-1).tolist()) - set(slots), "the whole bias trains"
    for i in range(layers):
        key = f"bert.encoder.layer.{i}.attention.self.query.weight"
        moved = not torch.equal(after[key], before[key])
        assert moved == (i in (0, layers - 1)), f"layer {i}"
    for key in ("bert.embeddings.LayerNorm.weight", "bert.embeddings.position_embeddings.weight"):
        assert torch.equal(after[key], before[key]), key


def test_partial_without_filled_slots_trains_the_bias_and_outer_layers(three_layers):
    model = AutoModelForMaskedLM.from_pretrained(str(three_layers))
    apply_mode(model, "partial", [])
    trains = {n for n, p in model.named_parameters() if p.requires_grad}
    assert BIAS in trains and EMB not in trains
    assert any(n.startswith("bert.encoder.layer.0.") for n in trains)
    assert any(n.startswith("bert.encoder.layer.2.") for n in trains)
    assert not any(n.startswith("bert.encoder.layer.1.") for n in trains)
    # Frozen rows must get no weight decay: AdamW would shrink them whatever their gradient.
    model = AutoModelForMaskedLM.from_pretrained(str(three_layers))
    apply_mode(model, "partial", [5, 6])
    assert EMB in no_decay_names(model, "partial")


def test_partial_finds_albert_shared_layers():
    config = AlbertConfig(
        vocab_size=60,
        embedding_size=8,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        num_hidden_layers=2,
    )
    model = AlbertForMaskedLM(config)
    apply_mode(model, "partial", [3])
    assert encoder_layers(model) is model.albert.encoder.albert_layer_groups
    assert all(p.requires_grad for p in model.albert.encoder.albert_layer_groups.parameters())
    assert not model.albert.embeddings.position_embeddings.weight.requires_grad


def test_row_learning_rate_is_the_step_at_the_rows_own_rate():
    """Scaling the rows' AdamW step equals training those rows with AdamW at the higher rate."""
    torch.manual_seed(0)
    start = torch.randn(6, 4)
    rows = torch.tensor([1, 4])

    def run(lr: float, scale: float | None) -> torch.Tensor:
        w = torch.nn.Parameter(start.clone())
        opt = torch.optim.AdamW([w], lr=lr, weight_decay=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.2 * s)
        rate = RowLearningRate([(w, rows)], scale) if scale else None
        for step in range(4):
            loss = ((w - 0.3 * step) ** 2).sum() + (w[:, 0] * torch.arange(6.0)).sum()
            loss.backward()
            if rate:
                rate.before_step()
            opt.step()
            if rate:
                rate.after_step()
            sched.step()
            opt.zero_grad()
        return w.detach()

    mixed, slow, fast = run(0.01, 10.0), run(0.01, None), run(0.1, None)
    others = torch.tensor([0, 2, 3, 5])
    torch.testing.assert_close(mixed[rows], fast[rows])
    torch.testing.assert_close(mixed[others], slow[others])
    assert not torch.allclose(slow[rows], fast[rows])


def test_new_rows_lr_moves_the_new_rows_further_and_nothing_else(tiny_mlm_dir, filled_dir, corpus, tmp_path):
    before = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir)).state_dict()
    plain, slots = _adapt(tiny_mlm_dir, tmp_path / "plain", corpus, filled_dir, lr=1e-4, new_rows_lr=None)
    fast, _ = _adapt(tiny_mlm_dir, tmp_path / "fast", corpus, filled_dir, lr=1e-4, new_rows_lr=5e-3)
    zero, _ = _adapt(tiny_mlm_dir, tmp_path / "zero", corpus, filled_dir, max_steps=0)  # the mean-initialised rows
    moved_plain = (plain[EMB][slots] - zero[EMB][slots]).abs().mean()
    moved_fast = (fast[EMB][slots] - zero[EMB][slots]).abs().mean()
    assert moved_fast > 5 * moved_plain
    card = (tmp_path / "fast" / "README.md").read_text(encoding="utf-8")
    assert "peak lr 0.0001 (the filled rows: 0.005)" in card and "Whole-word (eojeol) masking" in card
    assert "(the filled rows:" not in (tmp_path / "plain" / "README.md").read_text(encoding="utf-8")
    others = [i for i in range(before[EMB].shape[0]) if i not in slots]
    # The base's rows train at lr in both runs; they differ only through what the new rows changed.
    assert (fast[EMB][others] - plain[EMB][others]).abs().max() < (fast[EMB][slots] - plain[EMB][slots]).abs().max()


def test_the_default_trains_the_new_rows_at_ten_times_the_rate_in_full_phases_only(
    tiny_mlm_dir, filled_dir, corpus, tmp_path
):
    assert TrainConfig().new_rows_lr == "auto"
    config = TrainConfig(lr=1e-4)
    assert config.rows_lr("full", 1e-4) == pytest.approx(1e-3)
    assert config.rows_lr("lora", 1e-4) == config.rows_lr("partial", 1e-4) == 1e-4  # not measured there
    assert config.rows_lr("new-rows", 2e-3) == 2e-3  # a rows-only phase has the rows' rate already
    assert TrainConfig(new_rows_lr=None).rows_lr("full", 1e-4) == 1e-4
    auto, slots = _adapt(tiny_mlm_dir, tmp_path / "auto", corpus, filled_dir, lr=1e-4)
    tenfold, _ = _adapt(tiny_mlm_dir, tmp_path / "tenfold", corpus, filled_dir, lr=1e-4, new_rows_lr=1e-3)
    torch.testing.assert_close(auto[EMB], tenfold[EMB])  # the same run as the rate written out
    card = (tmp_path / "auto" / "README.md").read_text(encoding="utf-8")
    assert "peak lr 0.0001 (the filled rows: 0.001, 10x: new_rows_lr auto)" in card
    from domainlm.training.card import _rows_lr_note

    phased = {
        "mode": "phased",
        "lr": 1e-4,
        "new_rows_lr": "auto",
        "phases": [{"mode": "new-rows", "lr": 2e-3}, {"mode": "full"}],
    }
    assert _rows_lr_note(phased, filled=True) == " (the filled rows: 0.001 in the full phase, 10x: new_rows_lr auto)"
    assert _rows_lr_note({"mode": "lora", "new_rows_lr": "auto"}, filled=True) == ""  # auto leaves LoRA as it was
    assert _rows_lr_note({"mode": "full", "new_rows_lr": "auto", "lr": 1e-4}, filled=False) == ""  # no rows filled


def test_new_rows_lr_reaches_the_rows_under_lora(tiny_mlm_dir, filled_dir):
    from domainlm.modeling.config import LoraConfig

    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    peft_model = apply_mode(model, "lora", [5, 6], LoraConfig(target_modules=["query", "value"]))
    rows = filled_row_tensors(peft_model, [5, 6])
    assert rows and all(index is None and t.requires_grad for t, index in rows)


def test_new_rows_lr_is_validated():
    with pytest.raises(ValueError):
        TrainConfig(new_rows_lr=0)
    assert TrainConfig(new_rows_lr=2e-3).new_rows_lr == 2e-3
    assert TrainConfig(new_rows_lr="none").new_rows_lr is None
    with pytest.raises(ValueError):
        TrainConfig(new_rows_lr="fast")
