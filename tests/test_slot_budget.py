"""`--slots auto`: the terms a training budget can teach (domainlm.training.slot_budget)."""

from __future__ import annotations

import json

import pytest

from domainlm.training import TrainConfig
from domainlm.training.slot_budget import plan_slots, planned_domain_tokens, term_counts


def test_planned_domain_tokens_leave_out_replay():
    config = TrainConfig(max_steps=100, batch_size=8, grad_accum=2, seq_len=128, replay_ratio=0.25)
    assert planned_domain_tokens(config) == 100 * 8 * 2 * 128 * 3 // 4
    assert planned_domain_tokens(config, world_size=4) == 4 * planned_domain_tokens(config)


def test_auto_keeps_the_terms_masked_often_enough():
    # 1,000 sample tokens; 100,000 planned domain tokens; p = 0.15: a term seen c times is masked 15 c times.
    counts = {"발림성": 10, "촉촉": 3, "가성비": 2, "재구매각": 1, "존맛": 0}
    ranked = ["재구매각", "발림성", "존맛", "가성비", "촉촉"]
    plan = plan_slots(
        ranked, counts, 1000, domain_tokens=100_000, mlm_probability=0.15, slots="auto", free_slots=10, threshold=40
    )
    assert plan.exposures == pytest.approx({"발림성": 150, "촉촉": 45, "가성비": 30, "재구매각": 15, "존맛": 0})
    assert plan.chosen == ["발림성", "촉촉"]  # rank order kept, the rest below 40
    assert plan.trainable_without_slot == 0 and not plan.under_threshold
    assert "2 of 5 terms filled (--slots auto)" in plan.messages()[0]


def test_auto_is_capped_by_the_free_slots_unless_rows_can_be_appended():
    counts = {t: 100 for t in "abcdef"}
    capped = plan_slots(
        list("abcdef"),
        counts,
        1000,
        domain_tokens=10_000,
        mlm_probability=0.15,
        slots="auto",
        free_slots=4,
        threshold=40,
    )
    assert capped.chosen == list("abcd") and capped.trainable_without_slot == 2
    assert any("--resize" in m for m in capped.messages())
    resized = plan_slots(
        list("abcdef"),
        counts,
        1000,
        domain_tokens=10_000,
        mlm_probability=0.15,
        slots="auto",
        free_slots=None,
        threshold=40,
    )
    assert resized.chosen == list("abcdef")


def test_an_explicit_count_is_kept_and_warned_about():
    counts = {"a": 100, "b": 1, "c": 1}
    plan = plan_slots(
        ["a", "b", "c"], counts, 1000, domain_tokens=10_000, mlm_probability=0.15, slots=2, free_slots=10, threshold=40
    )
    assert plan.chosen == ["a", "b"] and plan.under_threshold == ["b"]
    assert any(m.startswith("warning: 1 of the 2 terms") for m in plan.messages())
    every = plan_slots(
        ["a", "b", "c"],
        counts,
        1000,
        domain_tokens=10_000,
        mlm_probability=0.15,
        slots="all",
        free_slots=10,
        threshold=40,
    )
    assert every.chosen == ["a", "b", "c"]


def test_nothing_to_teach_says_so():
    plan = plan_slots(["a"], {"a": 0}, 1000, domain_tokens=10, mlm_probability=0.15, slots="auto", free_slots=5)
    assert plan.chosen == [] and plan.messages()[0].startswith("no term filled")


def test_term_counts_tokenizes_with_the_filled_terms(tiny_tokenizer_dir, tmp_path):
    from vocab_tools import fill_slots

    filled = fill_slots(str(tiny_tokenizer_dir), ["수분크림", "발림성"], tmp_path / "filled")
    slots = {e.slot_id: e.term for e in filled.filled}
    texts = ["수분크림 발림성 좋아요", "발림성 최고", "수분크림 수분크림"] * 10
    counts, tokens = term_counts(filled.out_dir / "tokenizer.json", slots, texts)
    assert counts == {"수분크림": 30, "발림성": 20}
    assert tokens > 50
    few, _ = term_counts(filled.out_dir / "tokenizer.json", slots, texts, max_characters=10, batch=1)
    assert few["수분크림"] == 1  # the sample stops after the text that passes max_characters


def test_adapt_auto_fills_what_the_budget_teaches(tiny_mlm_dir, tmp_path):
    from domainlm.training import adapt

    corpus = tmp_path / "domain.txt"
    corpus.write_text("\n".join(["수분크림 발림성 좋아요 정말"] * 300 + ["가성비 최고"] * 3), encoding="utf-8")
    config = TrainConfig(
        max_steps=20,
        batch_size=4,
        seq_len=32,
        lr=1e-3,
        save_every=100,
        eval_documents=0,
        heldout_fraction=0.0,
        replay_ratio=0.0,
    )
    result = adapt(
        str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), terms=["수분크림", "발림성", "가성비"], config=config
    )
    plan = result.slot_plan
    # 20 x 4 x 32 = 2,560 domain tokens, 15% masked: the frequent terms are masked ~60 times, 가성비 ~1.
    assert plan["mode"] == "auto" and result.slots_filled == plan["chosen"] == 2
    assert set(plan["exposures"]) == {"수분크림", "발림성"} and min(plan["exposures"].values()) >= 40
    slots = json.loads((result.out_dir / "slots.json").read_text())["slots"]
    assert {e["term"] for e in slots} == {"수분크림", "발림성"}
    settings = json.loads((result.out_dir / "settings.json").read_text())
    assert settings["slot_plan"]["chosen"] == 2 and settings["train"]["slots"] == "auto"
