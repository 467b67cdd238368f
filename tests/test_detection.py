"""Replaced-word detection AUC of ELECTRA discriminators: AUC by hand, the replacement plan, scoring
(a tiny random discriminator, an oracle), evaluate end to end, and the generator refused."""

from __future__ import annotations

import json
import shutil
from itertools import product
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.evaluation import build_filled_model, make_texts

# ---------------------------------------------------------------- fixtures


def _save_with_tokenizer(model, tokenizer_dir, out):
    model.save_pretrained(str(out))
    for f in tokenizer_dir.iterdir():
        shutil.copy(f, out / f.name)
    return out


@pytest.fixture(scope="module")
def electra(tiny_tokenizer_dir, tmp_path_factory):
    """A tiny random discriminator (before), its filled copy (after), a generator and an architecture-less
    discriminator, each saved with the tiny WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    root = tmp_path_factory.mktemp("electra")
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    common = dict(
        vocab_size=len(tok),
        embedding_size=32,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    before = _save_with_tokenizer(ElectraForPreTraining(ElectraConfig(**common)), tiny_tokenizer_dir, root / "disc")
    after = build_filled_model(before, root / "after")
    generator = _save_with_tokenizer(
        ElectraForMaskedLM(ElectraConfig(**{**common, "hidden_size": 16, "intermediate_size": 32})),
        tiny_tokenizer_dir,
        root / "generator",
    )
    bare = shutil.copytree(before, root / "no_arch")
    config = json.loads((bare / "config.json").read_text(encoding="utf-8"))
    config.pop("architectures", None)
    (bare / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return SimpleNamespace(before=before, after=after, generator=generator, bare=bare)


def _side(name, path):
    from domainlm.evaluation.detection import load_discriminator
    from domainlm.evaluation.encode import load_side

    return load_side(name, path, "cpu", loader=load_discriminator)


class Oracle:
    """A stand-in discriminator that knows, for every corrupted text, the replaced-logit of each token."""

    def __init__(self, table: dict[tuple[int, ...], list[float]]):
        import torch

        self.table = table
        self.param = torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        return iter([self.param])

    def __call__(self, input_ids, attention_mask):
        import torch

        logits = torch.full(input_ids.shape, -3.0)
        for r in range(len(input_ids)):
            n = int(attention_mask[r].sum())
            logits[r, :n] = torch.tensor(self.table[tuple(input_ids[r, :n].tolist())])
        return SimpleNamespace(logits=logits)


def _oracle_table(tokenizer, plan, rule):
    """Token logits of each corrupted text: `rule(word_ids of one eojeol's tokens)` marks the replaced ones."""
    table = {}
    for words, replaced in zip(plan.eojeols, plan.replaced):
        enc = tokenizer(words, is_split_into_words=True)
        word_ids = enc.word_ids()
        marked = set()
        for j in replaced:
            marked |= set(rule([t for t, w in enumerate(word_ids) if w == j]))
        key = tuple(enc["input_ids"])
        logits = [4.0 if t in marked else -4.0 for t in range(len(word_ids))]
        assert table.setdefault(key, logits) == logits  # one corrupted text, one labelling
        table[key] = logits
    return table


# ---------------------------------------------------------------- AUC by hand


def test_auc_hand_cases():
    from domainlm.stats import roc_auc

    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0  # perfect separation
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0  # reversed
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5  # all tied
    # 4 pairs (positive, negative): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes → 3/4
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # a tie between classes counts one half: (2 vs 1) = 1, (1 vs 1) = 0.5 → 1.5 / 2
    assert roc_auc([1, 1, 2], [0, 1, 1]) == pytest.approx(0.75)
    assert np.isnan(roc_auc([1, 2], [1, 1]))  # one class only: undefined


def test_auc_equals_pairwise_count_with_ties_and_weights():
    from domainlm.stats import roc_auc

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=60).astype(float)  # many ties
    labels = rng.integers(0, 2, size=60)
    weights = rng.integers(0, 4, size=60).astype(float)  # a bootstrap's multiplicities
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    num = sum(
        weights[i] * weights[j] * ((scores[i] > scores[j]) + 0.5 * (scores[i] == scores[j]))
        for i, j in product(pos, neg)
    )
    assert roc_auc(scores, labels, weights) == pytest.approx(num / (weights[pos].sum() * weights[neg].sum()))
    repeated = np.repeat(np.arange(60), weights.astype(int))
    assert roc_auc(scores, labels, weights) == pytest.approx(roc_auc(scores[repeated], labels[repeated]))


def test_bootstrap_over_texts_and_paired_difference():
    from domainlm.stats import bootstrap_estimate, grouped_auc, paired_bootstrap_difference, tie_groups

    rng = np.random.default_rng(1)
    text = np.repeat(np.arange(80), 6)  # 80 texts of 6 eojeols
    labels = (rng.random(len(text)) < 0.2).astype(int)
    weak = labels * 0.3 + rng.normal(size=len(text))
    strong = labels * 3.0 + rng.normal(size=len(text))

    def auc(scores):
        groups, n = tie_groups(scores)
        return lambda w: grouped_auc(groups, n, labels, w[text])

    est = bootstrap_estimate(auc(weak), 80, resamples=300, seed=0)
    assert est.n == 80 and est.low < est.value < est.high
    same = paired_bootstrap_difference(auc(weak), auc(weak), 80, resamples=300)
    assert same.value == 0 and not same.significant
    better = paired_bootstrap_difference(auc(weak), auc(strong), 80, resamples=300)
    assert better.significant and better.low > 0


# ---------------------------------------------------------------- the plan


def test_plan_is_seeded_order_free_and_never_replaces_an_eojeol_by_itself():
    from domainlm.evaluation.detection import plan_replacements

    texts = make_texts(80, seed=3) + ["LG 노트북 lg"]
    plan = plan_replacements(texts, seed=7, fraction=0.15)
    assert plan.replaced == plan_replacements(texts, seed=7, fraction=0.15).replaced
    assert plan.eojeols == plan_replacements(texts, seed=7, fraction=0.15).eojeols
    assert plan.eojeols != plan_replacements(texts, seed=8, fraction=0.15).eojeols
    reordered = plan_replacements(texts[::-1], seed=7, fraction=0.15)
    assert reordered.eojeols == plan.eojeols[::-1]
    for original, corrupted, replaced in zip(plan.originals, plan.eojeols, plan.replaced):
        assert len(replaced) == max(1, round(0.15 * len(original)))
        for j, (a, b) in enumerate(zip(original, corrupted)):
            if j in replaced:
                assert a.casefold() != b.casefold()  # never itself, not even in another case
            else:
                assert a == b
    pool = {e for t in texts for e in t.split()}
    assert {c[j] for c, r in zip(plan.eojeols, plan.replaced) for j in r} <= pool
    assert plan_replacements(["가 가 가"], seed=0).replaced == [[]]  # nothing else to draw: left as is


def test_plan_is_the_same_for_two_tokenizers(electra):
    from domainlm.evaluation.detection import compare_detection, plan_replacements, score_detection

    texts = make_texts(40, seed=5)
    plan = plan_replacements(texts, seed=2)
    before, after = _side("before", electra.before), _side("after", electra.after)
    alone = [score_detection(s.model, s.tokenizer, plan, batch_size=8, resamples=100) for s in (before, after)]
    assert before.encode(plan.eojeols) != after.encode(plan.eojeols)  # the vocabularies differ …
    np.testing.assert_array_equal(alone[0].labels, alone[1].labels)  # … the eojeols scored do not
    np.testing.assert_array_equal(alone[0].text, alone[1].text)
    comp = compare_detection(before, after, plan, batch_size=8, max_seq_len=128, resamples=100)
    np.testing.assert_array_equal(comp.before.labels, comp.after.labels)
    assert comp.before.n_texts == comp.after.n_texts == 40
    assert comp.before.labels.sum() == sum(len(r) for r in plan.replaced)


# ---------------------------------------------------------------- scoring


def test_tiny_discriminator_scores_are_the_max_logit_of_each_eojeol(electra):
    import torch

    from domainlm.evaluation.detection import plan_replacements, score_detection

    side = _side("before", electra.before)
    texts = make_texts(30, seed=6)
    plan = plan_replacements(texts, seed=1)
    result = score_detection(side.model, side.tokenizer, plan, batch_size=4, resamples=100)
    assert len(result.scores) == sum(len(e) for e in plan.eojeols) and np.isfinite(result.scores).all()
    assert 0 <= result.auc.value <= 1 and result.auc.low <= result.auc.value <= result.auc.high
    # The third text alone, by hand: max of the replaced-logits of each eojeol's tokens.
    enc = side.tokenizer(plan.eojeols[2], is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        logits = side.model(**enc).logits[0]
    word_ids = enc.word_ids()
    expected = [max(float(logits[t]) for t, w in enumerate(word_ids) if w == j) for j in range(len(plan.eojeols[2]))]
    np.testing.assert_allclose(result.scores[result.text == 2], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "rule, auc",
    [
        (lambda tokens: tokens, 1.0),  # every token of a replaced eojeol
        (lambda tokens: tokens[-1:], 1.0),  # one piece is enough (the max)
        (lambda tokens: [], 0.5),
    ],
)  # no signal: every score tied
def test_an_oracle_gets_auc_one(electra, rule, auc):
    from domainlm.evaluation.detection import plan_replacements, score_detection

    side = _side("after", electra.after)
    plan = plan_replacements(make_texts(50, seed=8), seed=4, fraction=0.3)
    oracle = Oracle(_oracle_table(side.tokenizer, plan, rule))
    result = score_detection(oracle, side.tokenizer, plan, batch_size=7, resamples=100)
    assert result.auc.value == pytest.approx(auc)
    if auc == 1.0:
        assert result.auc.low == result.auc.high == 1.0


def test_long_texts_are_cut_at_the_same_eojeol_for_both(electra):
    from domainlm.evaluation.detection import compare_detection, plan_replacements

    before, after = _side("before", electra.before), _side("after", electra.after)
    texts = [" ".join(make_texts(8, seed=s)) for s in range(6)]
    plan = plan_replacements(texts, seed=0)
    comp = compare_detection(before, after, plan, batch_size=4, max_seq_len=24, resamples=100)
    assert comp.before.cut == 6 and len(comp.before.labels) < sum(len(e) for e in plan.eojeols)
    np.testing.assert_array_equal(comp.before.labels, comp.after.labels)
    assert comp.before.tokens <= 6 * 22 and comp.after.tokens <= 6 * 22


# ---------------------------------------------------------------- loading


def test_discriminators_are_recognised_and_a_generator_is_refused(electra, tiny_mlm_dir):
    from domainlm.errors import ModelError
    from domainlm.evaluation.detection import is_discriminator, load_discriminator

    assert is_discriminator(electra.before) and is_discriminator(electra.after) and is_discriminator(electra.bare)
    assert not is_discriminator(electra.generator) and not is_discriminator(tiny_mlm_dir)
    model, tok = load_discriminator(electra.bare)
    assert type(model).__name__ == "ElectraForPreTraining" and tok.is_fast
    with pytest.raises(ModelError) as e:
        load_discriminator(electra.generator)
    assert "ELECTRA generator (ElectraForMaskedLM)" in e.value.message
    assert e.value.hint.startswith("This is the generator; pass the discriminator")
    with pytest.raises(ModelError, match="is a bert model, not an ELECTRA discriminator"):
        load_discriminator(tiny_mlm_dir)


def test_evaluate_refuses_a_generator_beside_a_discriminator(cli, electra, eval_files, tmp_path):
    r = cli(
        "evaluate",
        "--before",
        electra.before,
        "--after",
        electra.generator,
        "--domain",
        eval_files["domain"],
        "--max-texts",
        "10",
        "--bootstrap",
        "100",
        "--no-card",
        "-o",
        tmp_path / "r",
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "The after model" in r.output and "This is the generator; pass the discriminator" in r.output
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- evaluate end to end


def test_evaluate_two_discriminators_reports_detection_auc(electra, eval_files, tmp_path):
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.tasks import TaskSpec, load_task_file

    config = EvalConfig(max_texts=60, bootstrap=100, tasks=load_task_file(eval_files["task_json"], TaskSpec))
    report = evaluate(
        electra.before,
        electra.after,
        tmp_path / "r",
        domain=eval_files["domain"],
        general=eval_files["general"],
        config=config,
    )
    data = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert data["mw_bpc"] == {} and data["headline"]["domain_gain_bpc"] is None
    for name in ("domain", "general"):
        section = data["detection"][name]
        assert section["before"]["eojeols"] == section["after"]["eojeols"] > section["before"]["replaced_eojeols"] > 0
        auc = section["after"]["auc"]
        assert 0 <= auc["low"] <= auc["value"] <= auc["high"] <= 1 and auc["n"] == section["before"]["texts"]
        assert section["difference"]["verdict"] in ("significant", "within noise")
    assert data["headline"]["domain_detection_auc"]["n"] == 60 and data["headline"]["forgetting_detection_auc"]
    metrics = [r["metric"] for r in data["summary"]]
    assert metrics[:2] == ["detection AUC, domain text", "detection AUC, general text"]
    assert "fertility, domain text" in metrics and "probe toy-sentiment: accuracy" in metrics
    assert not any("MW-BPC" in m for m in metrics)
    assert data["tokenization"]["domain"]["compression_gain"]["after"] > 0
    assert "detection" in data["seconds"] and "mw_bpc" not in data["seconds"]
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "## Replaced-word detection" in md and "| detection AUC, domain text |" in md and "⟦" in md
    assert md.count("Domain: replaced-word detection AUC on held-out domain text") == 1
    assert (tmp_path / "r" / "metrics.png").stat().st_size > 5000
    assert "detection AUC, domain text" in (electra.after / "README.md").read_text(encoding="utf-8")
    assert report.domain_gain is None and set(report.detection) == {"domain", "general"}
