"""Masking units: whole eojeols (adapting) or single tokens (pretraining from scratch)."""

from __future__ import annotations

import json

import torch

from domainlm.training import TrainConfig
from domainlm.training.masking import masking_units, resolved_masking, whole_word_mask


def _batch():
    # 4 sequences of 40 tokens in eojeols of 4 tokens each: [CLS]=2 at 0, [SEP]=3 at the end.
    ids = torch.randint(10, 500, (4, 40))
    ids[:, 0], ids[:, -1] = 2, 3
    starts = torch.zeros(4, 40, dtype=torch.bool)
    starts[:, 1::4] = True
    return ids, starts


def _chosen(masking: str, seed: int):
    ids, starts = _batch()
    _, positions, _ = whole_word_mask(
        ids,
        masking_units(starts, masking),
        torch.tensor([0, 2, 3, 4]),
        mask_token_id=4,
        vocab_size=500,
        probability=0.15,
        generator=torch.Generator().manual_seed(seed),
    )
    return set(positions.tolist())


def test_whole_word_masks_every_token_of_a_chosen_eojeol():
    for seed in range(5):
        chosen = _chosen("whole-word", seed)
        words = {(p // 40, (p % 40 - 1) // 4) for p in chosen}
        assert chosen == {b * 40 + 1 + 4 * w + k for b, w in words for k in range(4) if 1 + 4 * w + k < 39}


def test_token_masking_chooses_tokens_one_by_one():
    partial_words, total = 0, 0
    for seed in range(20):
        chosen = _chosen("token", seed)
        total += len(chosen)
        words: dict = {}
        for p in chosen:
            words.setdefault((p // 40, (p % 40 - 1) // 4), set()).add(p)
        partial_words += sum(1 for s in words.values() if len(s) < 4)
        assert not any(p % 40 in (0, 39) for p in chosen)  # never [CLS] / [SEP]
    assert partial_words > 0  # eojeols masked in part: impossible with whole-word masking
    assert 0.10 < total / (20 * 4 * 38) < 0.20  # about mlm_probability of the tokens


def test_default_masking_token_from_scratch_whole_word_when_adapting():
    assert resolved_masking(TrainConfig(), from_scratch=True) == "token"
    assert resolved_masking(TrainConfig(), from_scratch=False) == "whole-word"
    assert resolved_masking(TrainConfig(masking="whole-word"), from_scratch=True) == "whole-word"


def test_pretrain_records_its_masking(tiny_tokenizer_dir, shared_data, tmp_path):
    from domainlm.modeling.config import ModelArchConfig
    from domainlm.training import pretrain

    corpus = tmp_path / "c.txt"
    corpus.write_text(
        (shared_data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8")[:20000], encoding="utf-8"
    )
    arch = ModelArchConfig(arch="bert", layers=1, hidden=32, heads=2, intermediate=64, max_positions=64)
    config = TrainConfig(max_steps=2, batch_size=4, seq_len=32, eval_documents=0, save_every=100)
    out = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=arch, config=config)
    assert json.loads((out / "settings.json").read_text())["train"]["masking"] == "token"
