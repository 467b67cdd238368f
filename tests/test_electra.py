"""ELECTRA: pretraining and adaptation by replaced-token detection (generator + discriminator)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.training import Killed, fill_by_hand, kill_at, tiny_train_config, write_corpus
from safetensors.torch import load_file
from transformers import (
    AutoModel,
    AutoTokenizer,
    ElectraConfig,
    ElectraForMaskedLM,
    ElectraForPreTraining,
    ElectraForSequenceClassification,
)

from domainlm.errors import ConfigError, ModelError
from domainlm.modeling.config import ModelArchConfig
from domainlm.modeling.electra import build_electra, build_generator, generator_config
from domainlm.modeling.heads import MaskedLMLoss
from domainlm.modeling.modes import apply_mode
from domainlm.training import adapt, pretrain
from domainlm.training.electra import ReplacedTokenDetection, corrupt, sample_tokens
from domainlm.training.masking import mask_generator

ARCH = ModelArchConfig(
    arch="electra", layers=2, hidden=64, heads=4, intermediate=128, embedding_size=32, max_positions=128
)
TINY = dict(
    max_steps=8,
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=4,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=50,
    replay_ratio=0.0,
    seed=3,
)
TERMS = ["수분크림", "발림성", "가성비"]


def config(**kw):
    return tiny_train_config(TINY, **kw)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from helpers.tiny import tiny_corpus_texts

    texts = tiny_corpus_texts()
    return write_corpus(tmp_path_factory.mktemp("electra_corpus") / "domain.txt", texts)


@pytest.fixture(scope="module")
def electra_dir(tiny_tokenizer_dir, corpus, tmp_path_factory) -> Path:
    """A tiny ELECTRA pretrained here for 40 steps: discriminator folder with generator/."""
    out = tmp_path_factory.mktemp("electra") / "model"
    return pretrain(
        tiny_tokenizer_dir, str(corpus), out, arch=ARCH, config=config(max_steps=40, save_every=100, log_every=5)
    )


@pytest.fixture(scope="module")
def discriminator_only(electra_dir, tmp_path_factory) -> Path:
    """The discriminator alone, as kykim/electra-kor-base ships it."""
    out = tmp_path_factory.mktemp("disc_only") / "electra-base"
    shutil.copytree(electra_dir, out, ignore=shutil.ignore_patterns("generator", ".domainlm.json"))
    return out


# ---------------------------------------------------------------- the pair and the objective


def test_generator_is_a_fraction_of_the_discriminator_and_shares_one_embedding_module(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    disc, gen = build_electra(ARCH, tok)
    assert gen.electra.embeddings is disc.electra.embeddings  # token, position, type embeddings and LayerNorm
    assert gen.generator_lm_head.weight is disc.electra.embeddings.word_embeddings.weight
    assert gen.config.hidden_size == 16 and gen.config.num_attention_heads == 1  # 1/4 of 64, head size kept
    base = ElectraConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072, embedding_size=768)
    g = generator_config(base, 1 / 3)
    assert (g.hidden_size, g.num_attention_heads, g.intermediate_size) == (256, 4, 1024)  # KoELECTRA-base's generator


def test_generator_logits_at_masked_positions_equal_the_full_forward(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    torch.manual_seed(0)
    disc, gen = build_electra(ARCH.model_copy(update={"generator_fraction": 0.5}), tok)
    gen.eval()
    ids = torch.randint(5, len(tok), (3, 20))
    positions = torch.tensor([1, 7, 22, 45, 59])
    sparse = MaskedLMLoss(gen).masked_logits(ids, positions)  # the last layer only where needed
    full = gen(input_ids=ids).logits.reshape(-1, len(tok)).index_select(0, positions)
    assert torch.allclose(sparse, full, atol=1e-5)


def test_sampling_follows_the_softmax_and_is_seeded():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).expand(20000, 3).contiguous()
    draws = sample_tokens(logits, torch.Generator().manual_seed(1))
    share = torch.bincount(draws, minlength=3).float() / len(draws)
    assert torch.allclose(share, torch.tensor([0.7, 0.2, 0.1]), atol=0.015)
    assert torch.equal(draws, sample_tokens(logits, torch.Generator().manual_seed(1)))
    # A token of probability ~0 is never drawn; a sure one always is.
    sure = torch.full((50, 1000), -1e4)
    sure[:, 7] = 0.0
    assert torch.equal(sample_tokens(sure, torch.Generator().manual_seed(2)), torch.full((50,), 7))


def test_corruption_labels_only_changed_tokens():
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    positions = torch.tensor([1, 2])
    logits = torch.full((2, 20), -1e4)
    logits[0, 10] = 0.0  # position 1: the generator is sure of the original token
    logits[1, 15] = 0.0  # position 2: sure of another one
    corrupted, labels = corrupt(ids, positions, logits, torch.Generator().manual_seed(0))
    assert corrupted.tolist() == [[2, 10, 15, 12, 3]]
    assert labels.tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]  # a sampled original is not a replacement


def test_warm_up_trains_the_generator_alone(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    disc, gen = build_electra(ARCH, tok)
    objective = ReplacedTokenDetection(tok, config(), gen, warmup_steps=2)
    wrapper = objective.wrap(disc)
    ids = torch.randint(60, len(tok), (2, 16))
    starts = torch.ones_like(ids, dtype=torch.bool)
    loss, parts = objective.loss(wrapper, ids, starts, mask_generator(0, 0), step=0, device="cpu")
    loss.backward()
    assert float(parts["discriminator_loss"]) == 0.0
    assert disc.discriminator_predictions.dense.weight.grad is None
    loss, parts = objective.loss(wrapper, ids, starts, mask_generator(0, 1), step=2, device="cpu")
    assert float(parts["discriminator_loss"]) > 0
    assert torch.isclose(loss, parts["generator_loss"] + 50 * parts["discriminator_loss"])


# ---------------------------------------------------------------- pretrain


def test_pretrain_electra_loss_falls_and_outputs_load_in_plain_transformers(electra_dir):
    records = [r for r in _records(electra_dir) if "loss" in r]
    first, last = records[0], records[-1]
    assert last["discriminator_loss"] < first["discriminator_loss"]
    assert last["generator_loss"] < first["generator_loss"]
    assert last["loss"] < first["loss"]
    assert type(AutoModel.from_pretrained(electra_dir)).__name__ == "ElectraModel"
    ElectraForSequenceClassification.from_pretrained(electra_dir, num_labels=2)
    disc = ElectraForPreTraining.from_pretrained(electra_dir)
    gen = ElectraForMaskedLM.from_pretrained(electra_dir / "generator")
    assert (
        AutoTokenizer.from_pretrained(str(electra_dir / "generator")).get_vocab()
        == AutoTokenizer.from_pretrained(str(electra_dir)).get_vocab()
    )
    # The saved pair holds one embedding: the generator's copy is the discriminator's.
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm"):
        a, b = getattr(gen.electra.embeddings, name), getattr(disc.electra.embeddings, name)
        assert torch.equal(a.weight, b.weight)
    card = (electra_dir / "README.md").read_text(encoding="utf-8")
    assert "replaced-token detection" in card and "ElectraForPreTraining" in card and "fill-mask" not in card


def test_pretrain_electra_resume_reproduces_the_uninterrupted_loss_curve(tiny_tokenizer_dir, corpus, tmp_path):
    cfg = config(max_steps=6, save_every=2, keep_checkpoints=True)
    full = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "full", arch=ARCH, config=cfg)

    with pytest.raises(Killed):
        pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "killed", arch=ARCH, config=cfg, on_step=kill_at(5))
    resumed = pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "killed", arch=ARCH, config=cfg, resume=True)
    a = [(r["loss"], r["discriminator_loss"]) for r in _records(full) if "loss" in r]
    b = [(r["loss"], r["discriminator_loss"]) for r in _records(resumed) if "loss" in r]
    assert len(a) == len(b) == 6
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    g1 = load_file(str(full / "generator" / "model.safetensors"))
    g2 = load_file(str(resumed / "generator" / "model.safetensors"))
    assert all(torch.allclose(g1[k], g2[k], atol=1e-6) for k in g1)  # the generator was restored too


# ---------------------------------------------------------------- adapt


def test_adapt_a_discriminator_only_base_builds_and_warms_up_a_generator(discriminator_only, corpus, tmp_path):
    result = adapt(
        str(discriminator_only),
        tmp_path / "out",
        corpus=str(corpus),
        terms=TERMS,
        config=config(**{"electra": {"generator_warmup_steps": 3}}),
    )
    out = result.out_dir
    assert result.objective == "replaced-token detection" and result.slots_filled == 3
    records = [r for r in _records(out) if "loss" in r]
    assert [r["discriminator_loss"] for r in records[:3]] == [0.0, 0.0, 0.0]
    assert all(r["discriminator_loss"] > 0 for r in records[3:])
    base = load_file(str(discriminator_only / "model.safetensors"))
    adapted = load_file(str(out / "model.safetensors"))
    assert set(base) == set(adapted)  # every tensor the base had
    vocab = AutoTokenizer.from_pretrained(str(out)).get_vocab()
    assert all(t in vocab for t in TERMS)
    gen = ElectraForMaskedLM.from_pretrained(out / "generator")
    assert gen.config.hidden_size == 16
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["objective"] == "replaced-token detection" and settings["generator_warmup_steps"] == 3


def test_adapt_with_the_users_generator_starts_detection_at_once(discriminator_only, electra_dir, corpus, tmp_path):
    result = adapt(
        str(discriminator_only),
        tmp_path / "out",
        corpus=str(corpus),
        terms=TERMS,
        generator=electra_dir / "generator",
        config=config(max_steps=3),
    )
    records = [r for r in _records(result.out_dir) if "loss" in r]
    assert all(r["discriminator_loss"] > 0 for r in records)
    assert result.eval_loss_before is not None and result.eval_loss is not None


def test_adapt_electra_lora_untrained_adapter_changes_no_logit(discriminator_only):
    disc = ElectraForPreTraining.from_pretrained(discriminator_only).eval()
    ids = torch.randint(60, disc.config.vocab_size, (2, 12))
    with torch.no_grad():
        before = disc(input_ids=ids).logits.clone()
    from domainlm.modeling.config import LoraConfig

    lora = apply_mode(disc, "lora", [5, 6, 7], LoraConfig(r=4, alpha=8, dropout=0.0)).eval()
    with torch.no_grad():
        after = lora(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-6)


def test_adapt_electra_new_rows_mode_trains_only_the_filled_rows(discriminator_only, corpus, tmp_path):
    result = adapt(
        str(discriminator_only),
        tmp_path / "out",
        corpus=str(corpus),
        terms=TERMS,
        config=config(mode="new-rows", max_steps=4, **{"electra": {"generator_warmup_steps": 1}}),
    )
    base = load_file(str(discriminator_only / "model.safetensors"))
    adapted = load_file(str(result.out_dir / "model.safetensors"))
    slots = [s["slot_id"] for s in json.loads((result.out_dir / "slots.json").read_text())["slots"]]
    key = "electra.embeddings.word_embeddings.weight"
    others = torch.ones(base[key].shape[0], dtype=torch.bool)
    others[slots] = False
    assert torch.equal(base[key][others], adapted[key][others])
    assert all(torch.equal(base[k], adapted[k]) for k in base if k != key)


# ---------------------------------------------------------------- bad input


def test_a_generator_passed_as_base_is_refused(electra_dir, corpus, tmp_path):
    with pytest.raises(ModelError, match="is an ELECTRA generator") as e:
        adapt(str(electra_dir / "generator"), tmp_path / "out", corpus=str(corpus))
    assert "--generator" in e.value.hint
    # It is still a masked-LM to load and score (MW-BPC of two generators), just not a base to adapt.
    from domainlm.modeling.loading import load_mlm

    assert type(load_mlm(electra_dir / "generator")[0]).__name__ == "ElectraForMaskedLM"
    with pytest.raises(ModelError, match="no masked-LM head"):
        load_mlm(electra_dir)


def test_generator_checks(discriminator_only, electra_dir, tiny_tokenizer_dir, corpus, tmp_path):
    disc = ElectraForPreTraining.from_pretrained(discriminator_only)
    tok = AutoTokenizer.from_pretrained(str(discriminator_only))
    # Another vocabulary (one token renamed).
    other = tmp_path / "other_vocab"
    shutil.copytree(electra_dir / "generator", other)
    fill_by_hand(electra_dir / "generator", ["딴토큰"], tmp_path / "renamed")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tmp_path / "renamed" / f, other / f)
    with pytest.raises(ModelError, match="another vocabulary"):
        adapt(str(discriminator_only), tmp_path / "o1", corpus=str(corpus), generator=other, config=config(max_steps=2))
    # Another embedding size.
    wrong = tmp_path / "wrong_emb"
    g = ElectraForMaskedLM(
        generator_config(disc.config, 0.25).__class__(
            **{**generator_config(disc.config, 0.25).to_dict(), "embedding_size": 16}
        )
    )
    g.save_pretrained(wrong)
    with pytest.raises(ModelError, match="embedding size 16"):
        adapt(str(discriminator_only), tmp_path / "o2", corpus=str(corpus), generator=wrong, config=config(max_steps=2))
    # A generator as wide as the discriminator: warned (the known failure), still used.
    wide = tmp_path / "wide"
    build_generator(disc, 1.0).save_pretrained(wide)
    from domainlm.modeling.electra import load_generator

    with pytest.warns(UserWarning, match="as wide as the discriminator"):
        load_generator(wide, disc, tok)
    # The discriminator is not a generator; a BERT base takes no generator.
    with pytest.raises(ModelError, match="not an ELECTRA generator"):
        load_generator(discriminator_only, disc, tok)


def test_generator_with_a_masked_lm_base_and_warm_up_beyond_the_steps_are_refused(
    tiny_mlm_dir, discriminator_only, electra_dir, corpus, tmp_path
):
    with pytest.raises(ConfigError, match="not an ELECTRA discriminator"):
        adapt(str(tiny_mlm_dir), tmp_path / "o", corpus=str(corpus), generator=electra_dir / "generator")
    with pytest.raises(ConfigError, match="leaves no step"):
        adapt(
            str(discriminator_only),
            tmp_path / "o",
            corpus=str(corpus),
            config=config(max_steps=4, **{"electra": {"generator_warmup_steps": 4}}),
        )


def test_generator_warm_up_scales_with_the_run():
    from domainlm.training.electra import generator_warmup

    assert [generator_warmup(None, n) for n in (0, 4, 10, 1000, 2000, 50_000)] == [0, 0, 1, 100, 200, 200]
    assert generator_warmup(3, 4) == 3 and generator_warmup(0, 4) == 0 and generator_warmup(7, 0) == 0
    with pytest.raises(ConfigError, match=r"\(4\) leaves no step of the 4"):
        generator_warmup(4, 4)


def test_a_short_adapt_is_not_refused_for_the_default_warm_up(discriminator_only, corpus, tmp_path):
    """`adapt --max-steps 4` on a discriminator-only base: the default warm-up (a tenth of the run)
    is 0 steps here, where the old fixed 200 refused the run."""
    result = adapt(
        str(discriminator_only), tmp_path / "out", corpus=str(corpus), terms=TERMS, config=config(max_steps=4)
    )
    out = result.out_dir
    assert result.steps == 4
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["generator_warmup_steps"] == 0
    assert all(r["discriminator_loss"] > 0 for r in _records(out) if "loss" in r)
    # The adapted discriminator and its generator say the model's 128 positions, not 512.
    for folder in (out, out / "generator"):
        assert json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["model_max_length"] == 128
    assert AutoTokenizer.from_pretrained(str(out)).model_max_length == 128


def test_cli_pretrain_and_adapt_electra(cli, tiny_tokenizer_dir, corpus, discriminator_only, tmp_path):
    fast = ["--batch-size", "2", "--seq-len", "32", "--max-steps", "3", "--save-every", "10"]
    r = cli(
        "pretrain",
        "--tokenizer",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "p",
        "--arch",
        "electra",
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--embedding-size",
        "16",
        "--max-positions",
        "64",
        *fast,
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p" / "generator" / "config.json").exists() and "generator/" in r.output
    r = cli(
        "adapt",
        "--base",
        discriminator_only,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "a",
        *fast,
        "--set",
        "train.electra.generator_warmup_steps=1",
    )
    assert r.exit_code == 0, r.output
    assert "RTD loss" in r.output
