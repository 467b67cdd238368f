"""domainlm.training: packing, whole-word masking, adapt/pretrain outputs, resume, NaN, disk full, Ctrl-C."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.training import Killed, fill_by_hand, kill_at, tiny_train_config, write_corpus
from transformers import AutoModelForMaskedLM, AutoTokenizer

from domainlm.errors import ConfigError, TrainingError
from domainlm.training import TrainConfig, adapt, heldout_mlm_loss, pretrain
from domainlm.training.config import ModelArchConfig, PhaseConfig
from domainlm.training.data import PackedStream, batches, pack, training_texts
from domainlm.training.engine import TrainingInterrupted
from domainlm.training.masking import mask_generator, special_token_ids, whole_word_mask

TERMS = ["수분크림", "##크림", "발림성", "가성비"]
TINY_ARCH = ModelArchConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=128)


TINY = dict(
    max_steps=6,
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=2,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=50,
    replay_ratio=0.0,
    seed=7,
)


def tiny_config(**kw) -> TrainConfig:
    return tiny_train_config(TINY, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data_dir_texts):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "domain.txt", shared_data_dir_texts)


@pytest.fixture(scope="module")
def shared_data_dir_texts():
    from helpers.tiny import tiny_corpus_texts

    return tiny_corpus_texts()


@pytest.fixture(scope="module")
def filled_dir(tiny_tokenizer_dir, tmp_path_factory):
    return fill_by_hand(tiny_tokenizer_dir, TERMS, tmp_path_factory.mktemp("filled"))


def _losses(out_dir: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (out_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


# ---------------------------------------------------------------- data and masking


def test_pack_makes_full_sequences_with_cls_sep(tiny_tokenizer_dir, shared_data_dir_texts):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    seqs = list(pack(tok, shared_data_dir_texts[:200], 32))
    assert len(seqs) > 5
    for ids, starts in seqs:
        assert ids.shape == (32,) and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert tok.pad_token_id not in ids.tolist()
        assert starts[0] and starts[1]


def test_eojeol_starts_follow_whitespace(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    from domainlm.training.data import encode_eojeols

    ((ids, starts),) = encode_eojeols(tok, ["수분크림은 가성비 최고!"])
    pieces = tok.convert_ids_to_tokens(ids.tolist())
    words = []
    for p, s in zip(pieces, starts):
        words.append([p]) if s else words[-1].append(p)
    assert len(words) == 3 and words[-1][-1] == "!"


def test_heldout_documents_never_train(tmp_path):
    texts = [f"문서 번호 {i} 입니다" for i in range(400)]
    path = write_corpus(tmp_path / "c.txt", texts)
    train = set(training_texts(str(path), heldout_fraction=0.2))
    held = set(training_texts(str(path), heldout_fraction=0.2, heldout=True))
    assert train and held and not (train & held) and len(train) + len(held) == 400


def test_the_stream_counts_how_often_it_reread_the_domain_text(tiny_tokenizer_dir):
    """settings.json's domain_reading: passes over the domain text (a likely cause when adaptation did not help)."""
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    texts = [f"수분크림 발림성 정말 좋아요 보습력도 최고 재구매각 {i}" for i in range(40)]
    stream = PackedStream(tok, lambda: texts, 16, seed=1)
    it = iter(stream)
    next(it)
    assert stream.reading.passes is None  # no pass finished yet: unknown, not 0
    for _ in range(199):
        next(it)
    reading = stream.reading
    assert reading.sequences_read == 200 and reading.sequences_per_pass is not None
    assert reading.passes == pytest.approx(200 / reading.sequences_per_pass) and reading.passes > 2
    assert reading.to_dict()["passes"] == round(reading.passes, 2)


def test_whole_word_mask_masks_whole_eojeols(tiny_tokenizer_dir, shared_data_dir_texts):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    stream = PackedStream(tok, lambda: shared_data_dir_texts, 64, seed=1)
    ids, starts = next(batches(stream, 32))
    special = special_token_ids(tok)
    inputs, positions, targets = whole_word_mask(
        ids,
        starts,
        special,
        mask_token_id=tok.mask_token_id,
        vocab_size=len(tok),
        probability=0.15,
        generator=mask_generator(0, 0),
    )
    chosen = torch.zeros(ids.numel(), dtype=torch.bool)
    chosen[positions] = True
    chosen = chosen.view(ids.shape)
    assert not chosen[torch.isin(ids, special)].any()
    assert torch.equal(targets, ids.view(-1)[positions])
    # Every eojeol is either fully chosen or not at all.
    for b in range(ids.shape[0]):
        word = torch.cumsum((starts[b] | torch.isin(ids[b], special)).long(), 0)
        for w in word.unique():
            sel = chosen[b][word == w]
            assert sel.all() or not sel.any()
    share = chosen.sum().item() / (~torch.isin(ids, special)).sum().item()
    assert 0.08 < share < 0.25
    masked = inputs.view(-1)[positions]
    assert 0.65 < (masked == tok.mask_token_id).float().mean().item() < 0.95


def test_stream_is_deterministic_and_mixes_replay(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    domain = [f"수분크림 발림성 좋아요 {i}" for i in range(300)]
    general = [f"대한민국의 수도는 서울 {i}" for i in range(300)]

    def make():
        return PackedStream(tok, lambda: domain, 16, seed=3, replay=lambda: general, replay_ratio=0.3)

    a = [s[0].tolist() for _, s in zip(range(50), make())]
    b = [s[0].tolist() for _, s in zip(range(50), make())]
    assert a == b
    seoul = tok.convert_tokens_to_ids(tok.tokenize("서울"))[0]
    replay_share = sum(seoul in s for s in a) / len(a)
    assert 0.1 < replay_share < 0.6


# ---------------------------------------------------------------- adapt / pretrain


def test_pretrain_writes_a_loadable_model(tiny_tokenizer_dir, corpus, tmp_path):
    out = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=TINY_ARCH, config=tiny_config(max_steps=4))
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "README.md",
        "settings.json",
        "versions.json",
        "metrics.jsonl",
        "slots.json",
        "tokenizer.json",
    } <= names
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if "loss" in r]
    assert [r["step"] for r in train_records] == [1, 2, 3, 4]
    assert {"step", "loss", "lr", "tokens", "tokens_per_second"} <= set(train_records[0])
    assert train_records[-1]["tokens"] == 4 * 4 * 32
    assert any("eval_loss" in r for r in records)
    model = AutoModelForMaskedLM.from_pretrained(str(out))
    assert model.config.num_hidden_layers == 2
    assert not (tmp_path / "base.checkpoints").exists()
    # Pretraining from scratch masks tokens (train.masking null), and the card says so.
    assert "Token masking of 0.15 of the tokens" in (out / "README.md").read_text(encoding="utf-8")


def test_pretrain_albert(tiny_tokenizer_dir, corpus, tmp_path):
    arch = ModelArchConfig(arch="albert", layers=1, hidden=32, heads=2, embedding_size=16, max_positions=64)
    out = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "albert", arch=arch, config=tiny_config(max_steps=2))
    assert AutoModelForMaskedLM.from_pretrained(str(out)).config.model_type == "albert"


def test_adapt_new_rows_with_filled_tokenizer(tiny_mlm_dir, filled_dir, corpus, tmp_path):
    before = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir)).state_dict()
    result = adapt(
        str(tiny_mlm_dir),
        tmp_path / "out",
        corpus=str(corpus),
        filled_tokenizer=filled_dir,
        config=tiny_config(mode="new-rows", max_steps=3),
        category="화장품",
    )
    assert result.slots_filled == len(TERMS) and result.steps == 3
    after = AutoModelForMaskedLM.from_pretrained(str(result.out_dir)).state_dict()
    slots = [e["slot_id"] for e in json.loads((result.out_dir / "slots.json").read_text())["slots"]]
    key = "bert.embeddings.word_embeddings.weight"
    changed = (after[key] != before[key]).any(1).nonzero().view(-1).tolist()
    assert set(changed) == set(slots)  # mean init + training touched the filled rows only
    assert torch.equal(
        after["bert.encoder.layer.0.attention.self.query.weight"],
        before["bert.encoder.layer.0.attention.self.query.weight"],
    )
    card = (result.out_dir / "README.md").read_text()
    assert "화장품" in card and "new-rows" in card and "수분크림" in card
    settings = json.loads((result.out_dir / "settings.json").read_text())
    assert settings["train"]["mode"] == "new-rows" and settings["slots_filled"] == len(TERMS)
    tok = AutoTokenizer.from_pretrained(str(result.out_dir))
    assert "수분크림" in tok.tokenize("수분크림 좋아요")


def test_adapt_phased_new_rows_then_lora_merges(tiny_mlm_dir, filled_dir, corpus, tmp_path):
    config = tiny_config(
        mode="phased",
        phases=[PhaseConfig(mode="new-rows", steps=2), PhaseConfig(mode="lora", steps=2, lr=5e-3)],
        max_steps=4,
    )
    result = adapt(
        str(tiny_mlm_dir),
        tmp_path / "out",
        corpus=str(corpus),
        replay=[str(corpus)],
        filled_tokenizer=filled_dir,
        config=config,
    )
    records = [json.loads(line) for line in (result.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["mode"] for r in records if "loss" in r] == ["new-rows", "new-rows", "lora", "lora"]
    model = AutoModelForMaskedLM.from_pretrained(str(result.out_dir))
    assert not any("lora" in n for n, _ in model.named_parameters())
    base = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(model.state_dict()[key], base.state_dict()[key])  # LoRA merged in


def test_adapt_phased_new_rows_then_full_trains_every_row(tiny_mlm_dir, filled_dir, corpus, tmp_path):
    # The new-rows phase masks the embedding's gradient with hooks; the full phase after it must not
    # inherit them (it once did: the base's rows and biases stayed frozen for the whole run).
    config = tiny_config(
        mode="phased", phases=[PhaseConfig(mode="new-rows", steps=2), PhaseConfig(mode="full", steps=2)], max_steps=4
    )
    result = adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), filled_tokenizer=filled_dir, config=config)
    before = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir)).state_dict()
    after = AutoModelForMaskedLM.from_pretrained(str(result.out_dir)).state_dict()
    slots = {e["slot_id"] for e in json.loads((result.out_dir / "slots.json").read_text())["slots"]}
    key = "bert.embeddings.word_embeddings.weight"
    changed = set((after[key] != before[key]).any(1).nonzero().view(-1).tolist())
    assert changed - slots, "the full phase trained no row of the base vocabulary"
    bias = "cls.predictions.bias"
    assert set((after[bias] != before[bias]).nonzero().view(-1).tolist()) - slots


def test_resume_after_kill_reproduces_the_loss_curve(tiny_mlm_dir, filled_dir, corpus, tmp_path):
    config = tiny_config(max_steps=6, save_every=2, keep_checkpoints=True)
    full = adapt(str(tiny_mlm_dir), tmp_path / "full", corpus=str(corpus), filled_tokenizer=filled_dir, config=config)

    with pytest.raises(Killed):
        adapt(
            str(tiny_mlm_dir),
            tmp_path / "killed",
            corpus=str(corpus),
            filled_tokenizer=filled_dir,
            config=config,
            on_step=kill_at(5),
        )
    assert not (tmp_path / "killed").exists()  # no half-written model
    ckpts = sorted(p.name for p in (tmp_path / "killed.checkpoints").iterdir())
    assert ckpts == ["step-000002", "step-000004"]
    resumed = adapt(
        str(tiny_mlm_dir),
        tmp_path / "killed",
        corpus=str(corpus),
        filled_tokenizer=filled_dir,
        config=config,
        resume=True,
    )
    assert resumed.resumed_from == 4
    assert np.allclose(_losses(full.out_dir), _losses(resumed.out_dir), rtol=1e-5, atol=1e-6)
    assert len(_losses(resumed.out_dir)) == 6


def test_resume_without_checkpoint_and_stale_checkpoints(tiny_mlm_dir, corpus, tmp_path):
    with pytest.raises(TrainingError, match="holds no checkpoint"):
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=tiny_config(), resume=True)
    (tmp_path / "out2.checkpoints" / "step-000002").mkdir(parents=True)
    torch.save({}, tmp_path / "out2.checkpoints" / "step-000002" / "state.pt")
    with pytest.raises(TrainingError, match="Pass --resume to continue"):
        adapt(str(tiny_mlm_dir), tmp_path / "out2", corpus=str(corpus), config=tiny_config())


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    from domainlm.modeling import heads

    calls = {"n": 0}
    original = heads.MaskedLMLoss.forward

    def forward(self, *a, **k):
        calls["n"] += 1
        loss = original(self, *a, **k)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(heads.MaskedLMLoss, "forward", forward)
    with pytest.raises(TrainingError) as e:
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=tiny_config(save_every=2))
    assert "The loss became nan at step 3" in str(e.value)
    assert "the last good checkpoint is step 2" in str(e.value)
    assert [p.name for p in (tmp_path / "out.checkpoints").iterdir()] == ["step-000002"]
    assert not (tmp_path / "out").exists()


def test_disk_full_while_checkpointing_leaves_nothing_half_written(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.training.checkpoint as ckpt

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", no_space)
    with pytest.raises(TrainingError) as e:
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=tiny_config(save_every=2))
    assert "No space left on the device while writing the checkpoint" in str(e.value)
    assert "Nothing half-written was left" in str(e.value)
    leftovers = (
        [p.name for p in (tmp_path / "out.checkpoints").iterdir()] if (tmp_path / "out.checkpoints").exists() else []
    )
    assert leftovers == []
    assert not (tmp_path / "out").exists()


def test_disk_full_while_writing_the_model(tmp_path):
    from domainlm.training.output import write_model_dir

    class Full:
        def save_pretrained(self, path):
            (Path(path) / "model.safetensors").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(TrainingError, match="No space left on the device while writing the model"):
        write_model_dir(tmp_path / "model", model=Full(), tokenizer=None, settings={}, versions={}, metrics=[], card="")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_saves_a_clean_checkpoint_and_says_how_to_resume(tiny_mlm_dir, corpus, tmp_path):
    def interrupt(step, record):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as e:
        adapt(
            str(tiny_mlm_dir),
            tmp_path / "out",
            corpus=str(corpus),
            config=tiny_config(save_every=100),
            on_step=interrupt,
        )
    assert "Interrupted at step 3 of 6; saved a checkpoint at step 3" in str(e.value)
    assert "--resume" in str(e.value)
    result = adapt(
        str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=tiny_config(save_every=100), resume=True
    )
    assert result.steps == 6 and result.resumed_from == 3


def test_seq_len_beyond_positions(tiny_mlm_dir, corpus, tmp_path):
    with pytest.raises(ConfigError, match="seq_len 256 is longer than the model's 128 positions"):
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=tiny_config(seq_len=256))


def test_heldout_loss_is_deterministic(tiny_mlm_dir, shared_data_dir_texts):
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_mlm_dir))
    a = heldout_mlm_loss(model, tok, shared_data_dir_texts[:100], seq_len=32, seed=1)
    b = heldout_mlm_loss(model, tok, shared_data_dir_texts[:100], seq_len=32, seed=1)
    assert a == b and 5 < a < 10


def test_grad_accumulation_counts_tokens_and_trains(tiny_tokenizer_dir, corpus, tmp_path):
    out = pretrain(
        tiny_tokenizer_dir,
        str(corpus),
        tmp_path / "acc",
        arch=TINY_ARCH,
        config=tiny_config(max_steps=2, grad_accum=3, eval_documents=0),
    )
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["tokens"] == 2 * 3 * 4 * 32


def test_grad_accumulation_sums_the_micro_batch_gradients_into_one_step(
    tiny_tokenizer_dir, corpus, tmp_path, monkeypatch
):
    """Each step draws grad_accum micro-batches (each its own loss, scaled by 1 / grad_accum) before
    ONE optimiser step, logs the mean of their losses, and the stream position counts micro-batches."""
    import domainlm.training.objectives as objectives

    seen, steps = [], []
    original_loss = objectives.MaskedLM.loss

    def spy(self, wrapper, ids, starts, generator, step, device):
        loss, parts = original_loss(self, wrapper, ids, starts, generator, step, device)
        seen.append((step, float(loss)))
        return loss, parts

    monkeypatch.setattr(objectives.MaskedLM, "loss", spy)
    original_step = torch.optim.AdamW.step
    monkeypatch.setattr(
        torch.optim.AdamW, "step", lambda self, *a, **k: (steps.append(1), original_step(self, *a, **k))[1]
    )
    cfg = tiny_config(max_steps=3, grad_accum=2, eval_documents=0, log_every=1, save_every=2, keep_checkpoints=True)
    out = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "acc", arch=TINY_ARCH, config=cfg)
    assert [s for s, _ in seen] == [0, 0, 1, 1, 2, 2] and len(steps) == 3
    records = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    for record, (a, b) in zip(records, zip(seen[0::2], seen[1::2])):
        assert record["loss"] == pytest.approx((a[1] + b[1]) / 2, rel=1e-6)
    # The checkpoint after step 2 has consumed 4 micro-batches of the stream.
    state = torch.load(out.with_name("acc.checkpoints") / "step-000002" / "state.pt", weights_only=False)
    assert state["micro_batches"] == 4


def test_adapt_zero_steps_fills_and_initialises_only(tiny_mlm_dir, corpus, tmp_path):
    """max_steps 0: the filled model with mean-initialised rows, every other tensor the base's."""
    before = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir)).state_dict()
    result = adapt(
        str(tiny_mlm_dir),
        tmp_path / "out",
        corpus=str(corpus),
        terms=TERMS,
        config=tiny_config(max_steps=0),
        category="화장품",
    )
    assert result.steps == 0 and result.tokens == 0 and result.slots_filled == len(TERMS)
    after = AutoModelForMaskedLM.from_pretrained(str(result.out_dir)).state_dict()
    slots = [e["slot_id"] for e in json.loads((result.out_dir / "slots.json").read_text())["slots"]]
    key = "bert.embeddings.word_embeddings.weight"
    assert set((after[key] != before[key]).any(1).nonzero().view(-1).tolist()) == set(slots)
    for name in before:
        if name != key and "decoder" not in name and "predictions.bias" not in name:
            assert torch.equal(after[name], before[name]), name
    assert result.eval_loss is not None and result.eval_loss_before is not None


def test_pretrain_refuses_zero_steps(tiny_tokenizer_dir, corpus, tmp_path):
    from domainlm.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one step"):
        pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=TINY_ARCH, config=tiny_config(max_steps=0))
