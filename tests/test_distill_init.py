"""Token Distillation init: the distilled rows reproduce the base's hidden states better than the mean."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def setting(tiny_mlm_dir, shared_data, tmp_path_factory):
    """A tiny BERT (trained for a few steps on real reviews, so its layers do something), its
    tokenizer filled with frequent review words, and held-apart real contexts."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from domainlm.modeling import init_filled_rows
    from vocab_tools.fill import fill_slots
    from vocab_tools.slots import read_manifest

    lines = (shared_data / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()[1:6001]
    texts = [line.split("\t")[-1] for line in lines]
    base_tok = AutoTokenizer.from_pretrained(str(tiny_mlm_dir))
    # Words the tiny base splits into several pieces and that occur often enough to have contexts.
    counts: dict[str, int] = {}
    for t in texts[:3000]:
        for w in t.split():
            counts[w] = counts.get(w, 0) + 1
    terms = [w for w, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= 8 and len(base_tok.tokenize(w)) >= 3][
        :12
    ]
    assert len(terms) >= 6, terms
    filled_dir = tmp_path_factory.mktemp("distill") / "filled"
    fill_slots(tiny_mlm_dir, terms, filled_dir)
    filled_tok = AutoTokenizer.from_pretrained(str(filled_dir))
    entries = read_manifest(filled_dir)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    init_filled_rows(model, base_tok, entries, method="mean")
    return model, base_tok, filled_tok, entries, texts


def test_distilled_rows_match_the_base_states_better_than_the_mean(setting):
    import copy

    import torch

    from domainlm.modeling.distill import distill_rows, find_contexts, hidden_state_mismatch

    model, base_tok, filled_tok, entries, texts = setting
    slot_ids = [e.slot_id for e in entries]
    train_ctx = find_contexts(texts[:3000], base_tok, filled_tok, slot_ids, per_term=15)
    held_ctx = find_contexts(texts[3000:], base_tok, filled_tok, slot_ids, per_term=20)
    assert sum(map(len, held_ctx.values())) >= 40
    pad = filled_tok.pad_token_id
    mean_model = copy.deepcopy(model)
    before = {at: hidden_state_mismatch(mean_model, entries, held_ctx, pad, at=at) for at in ("terms", "all")}
    untouched = {n: p.detach().clone() for n, p in model.named_parameters()}
    report = distill_rows(model, base_tok, filled_tok, entries, [], contexts=train_ctx, lr=1e-2, epochs=2, seed=0)
    after = {at: hidden_state_mismatch(model, entries, held_ctx, pad, at=at) for at in ("terms", "all")}
    assert report.distilled == len(entries) - len(report.without_context) and report.steps > 0
    # Measured on contexts the distillation never saw: the new tokens' own states come much closer
    # to what the base computes from their pieces (measured: 0.38 -> 0.18), the rest no worse.
    assert after["terms"] < 0.75 * before["terms"], (before, after)
    assert after["all"] < before["all"], (before, after)
    # Only the filled input rows moved; every other tensor of the base is unchanged.
    emb_name = [n for n, p in model.named_parameters() if p is model.get_input_embeddings().weight][0]
    for name, p in model.named_parameters():
        if name == emb_name:
            changed = (p.detach() != untouched[name]).any(dim=1).nonzero().flatten().tolist()
            assert set(changed) <= set(slot_ids) and changed
        else:
            assert torch.equal(p.detach(), untouched[name]), name


def test_terms_without_context_keep_the_mean_init(setting):
    import copy

    import torch

    from domainlm.modeling.distill import distill_rows

    model, base_tok, filled_tok, entries, _ = setting
    model = copy.deepcopy(model)
    weight_before = model.get_input_embeddings().weight.detach().clone()
    report = distill_rows(model, base_tok, filled_tok, entries, ["이 문장에는 용어가 없다"])
    assert report.contexts == 0 and report.distilled == 0 and len(report.without_context) == len(entries)
    assert torch.equal(model.get_input_embeddings().weight.detach(), weight_before)


def test_adapt_init_distill_end_to_end(cli, tiny_mlm_dir, shared_data, tmp_path):
    """`adapt --init distill`: rows distilled from the domain corpus, cost reported and saved."""
    import json

    lines = (shared_data / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()[1:2001]
    corpus = tmp_path / "domain.txt"
    corpus.write_text("\n".join(line.split("\t")[-1] for line in lines) + "\n", encoding="utf-8")
    terms = tmp_path / "terms.txt"
    terms.write_text("배송\n좋아요\n만족합니다\n", encoding="utf-8")
    out = tmp_path / "model"
    result = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        out,
        "--init",
        "distill",
        "--max-steps",
        2,
        "--batch-size",
        4,
        "--seq-len",
        32,
        "--slots",
        "all",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["init_report"]
    assert report["terms"] == 3 and report["distilled"] >= 2 and 0 < report["contexts"] <= 300 and report["steps"] > 0
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["init_report"]["contexts"] == report["contexts"] and settings["train"]["init"] == "distill"
    bad = cli(
        "adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "--terms", terms, "-o", tmp_path / "m2", "--init", "fancy"
    )
    assert bad.exit_code == 2 and "fancy" in bad.output and "distill" in bad.output
