"""domainlm.modeling: loading, filled-row initialisation, training modes, masked-position loss."""

from __future__ import annotations

import pytest
import torch
from helpers.training import fill_by_hand
from transformers import AutoTokenizer

from domainlm.errors import ModelError, TrainingError
from domainlm.modeling import MaskedLMLoss, apply_mode, base_pieces, init_filled_rows, load_mlm, wordpiece
from domainlm.modeling.init_rows import decoder_bias
from domainlm.training.config import LoraConfig, ModelArchConfig

TERMS = ["수분크림", "##크림", "발림성"]


@pytest.fixture(scope="module")
def filled_dir(tiny_tokenizer_dir, tmp_path_factory):
    return fill_by_hand(tiny_tokenizer_dir, TERMS, tmp_path_factory.mktemp("filled"))


def _entries(filled_dir):
    from vocab_tools.slots import read_manifest

    return read_manifest(filled_dir)


def test_load_mlm_local(tiny_mlm_dir):
    model, tok = load_mlm(tiny_mlm_dir)
    assert tok.is_fast and model.get_input_embeddings().weight.shape[0] == len(tok)


def test_load_mlm_offline_hub_id_names_cache_and_local_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as e:
        load_mlm("no-such-org/no-such-model")
    text = str(e.value)
    assert "not a local directory" in text and "cache at" in text and "--base DIR" in text
    # huggingface-cli is gone from huggingface_hub; its successor is `hf`.
    assert "`hf download no-such-org/no-such-model" in text and "huggingface-cli" not in text


def test_load_mlm_missing_local_dir(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_mlm(str(tmp_path / "nope" / "model"))


def test_wordpiece_continuation_uses_hash_pieces():
    vocab = {"크": 1, "##크": 2, "##림": 3, "크림": 4}
    assert wordpiece("크림", vocab, continuation=False) == ["크림"]
    assert wordpiece("크림", vocab, continuation=True) == ["##크", "##림"]
    assert wordpiece("쿠", vocab, continuation=False) == ["[UNK]"]


def test_mean_init_rows_and_bias_and_tied(tiny_mlm_dir, filled_dir):
    model, base_tok = load_mlm(tiny_mlm_dir)
    with torch.no_grad():
        decoder_bias(model).normal_()
    entries = _entries(filled_dir)
    emb = model.get_input_embeddings().weight
    before = emb.detach().clone()
    bias_before = decoder_bias(model).detach().clone()
    report = init_filled_rows(model, base_tok, entries, method="mean")
    vocab = base_tok.get_vocab()
    for entry, rep in zip(entries, report):
        pieces = base_pieces(entry.term, entry.kind, base_tok)
        assert pieces == rep.pieces and pieces
        if entry.term.startswith("##"):
            assert all(p.startswith("##") for p in pieces)
        ids = torch.tensor([vocab[p] for p in pieces])
        assert torch.allclose(emb[entry.slot_id], before[ids].mean(0), atol=1e-6)
        assert torch.allclose(decoder_bias(model)[entry.slot_id], bias_before[ids].mean(), atol=1e-6)
    # Tied input/output embeddings stay one tensor.
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_random_init_differs_from_mean(tiny_mlm_dir, filled_dir):
    model, base_tok = load_mlm(tiny_mlm_dir)
    before = model.get_input_embeddings().weight.detach().clone()
    report = init_filled_rows(model, base_tok, _entries(filled_dir), method="random")
    assert all(r.pieces == [] for r in report)
    sid = report[0].slot_id
    assert not torch.allclose(model.get_input_embeddings().weight[sid], before[sid])


def test_masked_position_loss_equals_full_sequence_loss(tiny_mlm_dir):
    model, tok = load_mlm(tiny_mlm_dir)
    model.eval()
    ids = torch.randint(5, len(tok), (2, 12))
    positions = torch.tensor([1, 4, 13, 20])
    targets = torch.randint(5, len(tok), (4,))
    full = model(input_ids=ids).logits.reshape(-1, len(tok))[positions]
    expected = torch.nn.functional.cross_entropy(full, targets)
    got = MaskedLMLoss(model)(ids, positions, targets)
    assert torch.allclose(got, expected, atol=1e-5)
    # Gradients agree too (the last layer's sparse path included).
    model.train(False)
    grads = []
    for fn in (
        lambda: torch.nn.functional.cross_entropy(
            model(input_ids=ids).logits.reshape(-1, len(tok))[positions], targets
        ),
        lambda: MaskedLMLoss(model)(ids, positions, targets),
    ):
        model.zero_grad()
        fn().backward()
        grads.append(torch.cat([p.grad.view(-1) for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_albert_masked_loss_and_row_init(tiny_tokenizer_dir, filled_dir):
    from domainlm.modeling import build_mlm

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    model = build_mlm(
        ModelArchConfig(arch="albert", layers=1, hidden=32, heads=2, embedding_size=16, max_positions=64), tok
    )
    model.eval()
    ids = torch.randint(5, len(tok), (1, 10))
    positions = torch.tensor([2, 7])
    full = model(input_ids=ids).logits.reshape(-1, len(tok))[positions]
    assert torch.allclose(MaskedLMLoss(model).masked_logits(ids, positions), full, atol=1e-5)
    init_filled_rows(model, tok, _entries(filled_dir))
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_untrained_lora_adapter_keeps_logits_including_decoder_bias(tiny_mlm_dir, filled_dir):
    """peft issue 3649: TrainableTokens on a tied decoder drops its bias; apply_mode puts it back."""
    model, _ = load_mlm(tiny_mlm_dir)
    with torch.no_grad():
        decoder_bias(model).normal_()
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(filled_dir))
    ids = tok(["수분크림 발림성 좋아요", "아이크림 최고"], padding=True, return_tensors="pt")["input_ids"]
    reference = model(input_ids=ids).logits
    slots = [e.slot_id for e in _entries(filled_dir)]
    peft_model = apply_mode(model, "lora", slots, LoraConfig(r=4, alpha=8))
    peft_model.eval()
    assert torch.allclose(peft_model(input_ids=ids).logits, reference, atol=1e-5)
    positions = torch.arange(ids.numel())
    # The masked-position path (last layer on the masked rows only) gives the same logits.
    assert torch.allclose(
        MaskedLMLoss(peft_model).masked_logits(ids, positions), reference.reshape(-1, reference.shape[-1]), atol=1e-5
    )
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("trainable_tokens_delta" in n for n in trainable)


def test_new_rows_mode_changes_only_filled_rows(tiny_mlm_dir, filled_dir):
    model, _ = load_mlm(tiny_mlm_dir)
    slots = [e.slot_id for e in _entries(filled_dir)]
    model = apply_mode(model, "new-rows", slots)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
    ids = torch.tensor([[2] + slots + [10, 11, 3]])
    for _ in range(3):
        loss = MaskedLMLoss(model)(ids, torch.arange(ids.numel()), ids.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad()
    emb = model.get_input_embeddings().weight
    changed_rows = (emb != before["bert.embeddings.word_embeddings.weight"]).any(1).nonzero().view(-1).tolist()
    assert sorted(changed_rows) == sorted(slots)
    bias_changed = (decoder_bias(model) != before["cls.predictions.bias"]).nonzero().view(-1).tolist()
    assert set(bias_changed) <= set(slots) and bias_changed
    for name, p in model.named_parameters():
        if name not in ("bert.embeddings.word_embeddings.weight", "cls.predictions.bias"):
            assert torch.equal(p, before[name]), name


def test_new_rows_without_slots_is_an_error(tiny_mlm_dir):
    model, _ = load_mlm(tiny_mlm_dir)
    with pytest.raises(TrainingError, match="needs filled slots"):
        apply_mode(model, "new-rows", [])
