"""Evaluation: MW-BPC on hand-computed cases, mask plans, bootstrap, probes, the report end to end."""

from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.evaluation import TERMS, make_texts

# ---------------------------------------------------------------- fixtures


def _word_tokenizer(vocab: list[str]):
    """A BERT tokenizer over an explicit WordPiece vocab: every tokenization is known by hand."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )


class FixedLogits:
    """A stand-in MLM whose logits are one fixed vector at every position, so p(token) is known.

    It has no MLM head attributes, so MW-BPC takes the full-logits path; it records its inputs.
    """

    def __init__(self, logits):
        import torch

        self.logits = torch.as_tensor(logits, dtype=torch.float32)
        self.inputs = []
        self.param = torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        return iter([self.param])

    def __call__(self, input_ids, attention_mask):
        self.inputs.append(input_ids.clone())
        return SimpleNamespace(logits=self.logits.expand(*input_ids.shape, -1))


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "가", "##나", "다"]


# ---------------------------------------------------------------- MW-BPC by hand


def test_mwbpc_uniform_model_is_log2_vocab_per_token():
    from domainlm.evaluation.mwbpc import masked_word_bpc

    tok = _word_tokenizer(VOCAB)
    assert tok.tokenize("가나 다") == ["가", "##나", "다"]
    model = FixedLogits(np.zeros(len(VOCAB)))
    # mask_fraction 0.99 of 2 eojeols rounds to 2: both masked, 3 tokens over 3 characters.
    result = masked_word_bpc(model, tok, ["가나 다"], seed=0, mask_fraction=0.99, batch_size=4)
    assert result.masked_tokens == 3 and result.masked_eojeols == 2
    assert result.chars.sum() == 3
    assert result.bpc.value == pytest.approx(3 * math.log2(8) / 3)


def test_mwbpc_fixed_distribution_hand_computed():
    """p(가)=1/2, p(##나)=1/4, p(다)=1/8: masking 가나 costs 1+2 bits over 2 chars, 다 costs 3 bits over 1."""
    from domainlm.evaluation.mwbpc import choose_masked, masked_word_bpc

    tok = _word_tokenizer(VOCAB)
    probs = np.array([0.025, 0.025, 0.025, 0.025, 0.025, 0.5, 0.25, 0.125])
    model = FixedLogits(np.log(probs))
    both = masked_word_bpc(model, tok, ["가나 다"], seed=0, mask_fraction=0.99)
    assert both.bits.sum() == pytest.approx(1 + 2 + 3, abs=1e-5)
    assert both.bpc.value == pytest.approx(6 / 3, abs=1e-6)

    # With one eojeol of two masked, the seed decides which; the sum follows from that choice.
    text = "가나 다"
    chosen = choose_masked(2, text, seed=5, mask_fraction=0.5)
    assert len(chosen) == 1
    one = masked_word_bpc(model, tok, [text], seed=5, mask_fraction=0.5)
    expected = (3 / 2) if chosen == [0] else (3 / 1)
    assert one.bpc.value == pytest.approx(expected, abs=1e-6)
    # Every token of the chosen eojeol was replaced by [MASK], and nothing else.
    seen = model.inputs[-1][0].tolist()
    mask_id = tok.mask_token_id
    if chosen == [0]:
        assert seen == [2, mask_id, mask_id, 7, 3]
    else:
        assert seen == [2, 5, 6, mask_id, 3]


def test_mwbpc_over_texts_is_ratio_of_sums():
    from domainlm.evaluation.mwbpc import masked_word_bpc

    tok = _word_tokenizer(VOCAB)
    probs = np.array([0.025, 0.025, 0.025, 0.025, 0.025, 0.5, 0.25, 0.125])
    result = masked_word_bpc(FixedLogits(np.log(probs)), tok, ["가나 다", "다", "가나"], seed=0, mask_fraction=0.99)
    # bits: 6, 3, 3 over chars 3, 1, 2 → 12 / 6 (texts of different length weigh by their characters)
    assert result.bpc.value == pytest.approx(12 / 6, abs=1e-6)
    assert result.n_texts == 3 and result.bpc.n == 3


def test_masked_head_path_equals_full_logits(tiny_mlm_dir, monkeypatch):
    """Gathering hidden states at masked positions before the MLM head changes nothing but the cost."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from domainlm.evaluation import mwbpc

    tok = AutoTokenizer.from_pretrained(str(tiny_mlm_dir))
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir)).eval()
    texts = make_texts(12, seed=7)
    fast = mwbpc.masked_word_bpc(model, tok, texts, seed=3, batch_size=5)
    monkeypatch.setattr(mwbpc, "mlm_head_of", lambda m: None)
    full = mwbpc.masked_word_bpc(model, tok, texts, seed=3, batch_size=32)
    np.testing.assert_allclose(fast.bits, full.bits, rtol=1e-4)


def test_masks_depend_on_text_and_seed_not_tokenizer(tiny_mlm_dir, filled_mlm_dir):
    from transformers import AutoTokenizer

    from domainlm.evaluation.encode import Side
    from domainlm.evaluation.mwbpc import plan_masks

    texts = make_texts(30, seed=4)
    sides = [
        Side(n, str(p), None, AutoTokenizer.from_pretrained(str(p)))
        for n, p in (("before", tiny_mlm_dir), ("after", filled_mlm_dir))
    ]
    alone_b = plan_masks(texts, sides[:1], seed=1, mask_fraction=0.3, max_seq_len=128)
    alone_a = plan_masks(texts, sides[1:], seed=1, mask_fraction=0.3, max_seq_len=128)
    together = plan_masks(texts, sides, seed=1, mask_fraction=0.3, max_seq_len=128)
    assert alone_b.masked == alone_a.masked == together.masked
    # Reordering the texts does not change any text's masks.
    reordered = plan_masks(texts[::-1], sides, seed=1, mask_fraction=0.3, max_seq_len=128)
    assert reordered.masked == together.masked[::-1]
    other_seed = plan_masks(texts, sides, seed=2, mask_fraction=0.3, max_seq_len=128)
    assert other_seed.masked != together.masked


def test_long_text_is_cut_at_an_eojeol_boundary_shared_by_both_tokenizers(tiny_mlm_dir, filled_mlm_dir):
    from transformers import AutoTokenizer

    from domainlm.evaluation.encode import Side
    from domainlm.evaluation.mwbpc import plan_masks

    text = " ".join(["배송 빠르고 맛있어요 재구매 최고"] * 8)
    sides = [
        Side(n, str(p), None, AutoTokenizer.from_pretrained(str(p)))
        for n, p in (("before", tiny_mlm_dir), ("after", filled_mlm_dir))
    ]
    plan = plan_masks([text], sides, seed=0, mask_fraction=0.5, max_seq_len=24)
    keep = plan.keep[0]
    assert plan.cut == 1 and 0 < keep < 40
    assert all(j < keep for j in plan.masked[0])
    for side in sides:
        enc = side.encode(plan.eojeols)[0].cut(keep)
        assert len(enc.ids) <= 24


# ---------------------------------------------------------------- statistics


def test_bootstrap_ratio_and_paired_difference():
    from domainlm.stats import paired_ratio_difference, ratio_estimate

    rng = np.random.default_rng(0)
    chars = rng.integers(5, 20, size=300).astype(float)
    bits = chars * 2.0 + rng.normal(0, 1, size=300)
    est = ratio_estimate(bits, chars, resamples=500, seed=1)
    assert est.low < est.value < est.high and est.n == 300
    same = paired_ratio_difference(bits, chars, bits, chars, resamples=500)
    assert same.value == 0 and not same.significant and same.verdict == "within noise"
    better = paired_ratio_difference(bits, chars, bits - 0.5 * chars, chars, resamples=500)
    assert better.value == pytest.approx(-0.5) and better.significant and better.high < 0
    noisy = paired_ratio_difference(bits, chars, bits + rng.normal(0, 3, size=300), chars, resamples=500)
    assert not noisy.significant


def test_classification_metrics_by_hand():
    from domainlm.stats import classification_estimates, paired_classification_differences

    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    pred = np.array([0, 0, 1, 1, 1, 1, 1, 0])
    est = classification_estimates(y, pred, resamples=200)
    assert est["accuracy"].value == pytest.approx(6 / 8)
    # class 0: tp 2, fp 1, fn 1 → F1 2/3; class 1: tp 4, fp 1, fn 1 → F1 4/5
    assert est["macro_f1"].value == pytest.approx((2 / 3 + 4 / 5) / 2)
    diff = paired_classification_differences(y, pred, y, resamples=200)
    assert diff["accuracy"].value == pytest.approx(2 / 8)


def test_logistic_probe_separates_separable_data():
    from domainlm.evaluation.probe import logistic_regression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    y = (x[:, 0] + 0.5 * x[:, 3] > 0).astype(int)
    pred = logistic_regression(x[:150], y[:150], x[150:], 2)
    assert (pred == y[150:]).mean() > 0.9
    again = logistic_regression(x[:150], y[:150], x[150:], 2)
    assert (pred == again).all()  # deterministic: zero init, full batch


# ---------------------------------------------------------------- tasks


def test_task_labels_join_on_rows_and_label_map(tmp_path):
    from domainlm.corpus import CorpusSpec
    from domainlm.tasks import TaskSpec
    from domainlm.tasks.probe import load_task

    f = tmp_path / "shop.tsv"
    rows = ["id\trating\ttext"] + [
        f"{i}\t{r}\t리뷰 {i} 번째 {w}"
        for i, (r, w) in enumerate(
            [("5", "좋아요"), ("1", "별로"), ("", "평점없음"), ("4", "만족"), ("2", "실망")] * 12
        )
    ]
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = CorpusSpec(path=str(f))
    task = TaskSpec(
        name="shop",
        train=spec,
        test=spec,
        label_field="rating",
        label_map={"1": 0, "2": 0, "4": 1, "5": 1},
        max_train=100,
        max_test=100,
        test_fraction=0.3,
    )
    train, test, classes = load_task(task, seed=0)
    assert classes == ["0", "1"]
    assert len(train) + len(test) == 48  # the 12 unrated rows are dropped
    assert not set(train.texts) & set(test.texts)
    for data in (train, test):
        for text, label in zip(data.texts, data.labels):
            assert label == (1 if ("좋아요" in text or "만족" in text) else 0)


def test_task_without_labels_lists_columns(eval_files):
    from domainlm.errors import EvaluationError
    from domainlm.tasks import TaskSpec, load_task_file
    from domainlm.tasks.probe import load_task

    [task] = load_task_file(eval_files["nolabel_json"], TaskSpec)
    with pytest.raises(EvaluationError) as e:
        load_task(task, seed=0)
    assert e.value.message == (
        f"Task 'nolabel': the train file '{task.train.path}' has no label column 'label'; its columns are: id, text."
    )


# ---------------------------------------------------------------- report pieces


def test_model_card_section_is_idempotent(tmp_path):
    from domainlm.card import END, START, update_model_card

    (tmp_path / "README.md").write_text("# model\n\nHow it was trained.\n", encoding="utf-8")
    update_model_card(tmp_path, "| a | b |\n|---|---|\n| 1 | 2 |")
    update_model_card(tmp_path, "| a | b |\n|---|---|\n| 3 | 4 |")
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert "How it was trained." in text and "| 3 | 4 |" in text and "| 1 | 2 |" not in text


def test_plot_labels_without_korean_font_do_not_warn(tmp_path):
    from domainlm.charts import ascii_label
    from domainlm.evaluation.plots import plot_metrics
    from domainlm.evaluation.report import Report, Row
    from domainlm.stats import Difference, Estimate

    assert ascii_label("probe 화장품: accuracy") == "probe ?: accuracy"
    row = Row(
        "probe 화장품: accuracy",
        Estimate(0.6, 0.55, 0.65, 100),
        Estimate(0.7, 0.65, 0.75, 100),
        Difference(0.1, 0.05, 0.15, 100, significant=True),
        "higher",
    )
    report = Report("b", "a", tmp_path, {}, {}, {}, [row])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_metrics(report, tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def evaluated_dir(filled_mlm_dir, tmp_path_factory) -> Path:
    """A copy of the filled model for `report` to write its card into (the session fixture stays as built)."""
    return Path(shutil.copytree(filled_mlm_dir, tmp_path_factory.mktemp("evaluated") / "after"))


@pytest.fixture(scope="module")
def report(tiny_mlm_dir, evaluated_dir, eval_files, tmp_path_factory):
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.tasks import TaskSpec, load_task_file

    out = tmp_path_factory.mktemp("report")
    config = EvalConfig(max_texts=200, bootstrap=200, seed=13, tasks=load_task_file(eval_files["task_json"], TaskSpec))
    return evaluate(
        tiny_mlm_dir, evaluated_dir, out, domain=eval_files["domain"], general=eval_files["general"], config=config
    )


def test_report_shows_gain_forgetting_probe_with_intervals(report):
    data = json.loads((report.out_dir / "report.json").read_text(encoding="utf-8"))
    assert data["schema"] == "domainlm.report/1"
    head = data["headline"]
    for key in ("domain_gain_bpc", "forgetting_bpc"):
        est = head[key]
        assert est["low"] <= est["value"] <= est["high"] and est["n"] > 0 and est["verdict"]
    assert head["domain_gain_bpc"]["value"] > 0  # fewer tokens to predict for the filled terms
    probe = head["probes"]["toy-sentiment"]
    assert probe["n"] == 40 and probe["low"] <= probe["value"] <= probe["high"]
    assert {r["metric"] for r in data["summary"]} >= {
        "MW-BPC, domain text",
        "MW-BPC, general text",
        "fertility, domain text",
        "probe toy-sentiment: accuracy",
    }
    # The same masked eojeols for both: identical masked characters per text.
    dom = report.bpc["domain"]
    np.testing.assert_array_equal(dom.before.chars, dom.after.chars)
    tok = data["tokenization"]["domain"]
    assert tok["tokenizers"]["after"]["filled_slots"] == len(TERMS)
    assert tok["compression_gain"]["after"] > 0
    assert data["filled_slots"]["source"] == "slots.json"
    assert data["filled_slots"]["terms"][0]["emitted_domain"] >= data["filled_slots"]["terms"][-1]["emitted_domain"]
    # Each part's time is recorded (its size is the benchmark's business: benchmarks/evaluation_speed.py).
    assert data["seconds"]["total"] > 0 and all(v >= 0 for v in data["seconds"].values())


def test_report_markdown_charts_and_card(report, evaluated_dir):
    md = (report.out_dir / "report.md").read_text(encoding="utf-8")
    assert "| metric | before | after | change (95% CI) | n | verdict |" in md
    assert "## Filled terms" in md and "맛있어요" in md
    assert "## Example sentences" in md and "before (" in md and "after (" in md
    for name in ("metrics.png", "loss_curve.png"):
        assert (report.out_dir / name).stat().st_size > 5000
    # Issue 25: local paths relative to the report's folder, settings as key=value (no dict repr).
    after_line = next(line for line in md.splitlines() if line.startswith("- after: "))
    assert after_line == f"- after: `{os.path.relpath(evaluated_dir, report.out_dir)}`"
    settings = next(line for line in md.splitlines() if line.startswith("Settings: "))
    assert "{" not in settings and "suite.seeds=" in settings
    card = (evaluated_dir / "README.md").read_text(encoding="utf-8")
    assert "Trained by a test." in card and card.count("<!-- domainlm:evaluation:start -->") == 1
    assert "MW-BPC, domain text" in card
    # The results are hub metadata too (model-index), and the report is named relative to the card.
    from huggingface_hub import ModelCard

    metrics = {(e.task_type, e.metric_type) for e in ModelCard(card).data.eval_results}
    assert {("fill-mask", "mw_bpc"), ("fill-mask", "mw_bpc_base"), ("text-classification", "accuracy")} <= metrics
    assert f"`{os.path.relpath(report.out_dir / 'report.md', evaluated_dir)}`" in card


def test_evaluate_texts_in_code_finetune_probe_no_general(tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    """Texts passed as a list (what `adapt` does with its held-out split), the fine-tune probe, no general text."""
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.tasks import TaskSpec, load_task_file

    [task] = load_task_file(eval_files["task_json"], TaskSpec)
    config = EvalConfig(
        max_texts=30, bootstrap=100, probe="finetune", tasks=[task.model_copy(update={"max_train": 64})]
    )
    report = evaluate(
        tiny_mlm_dir, filled_mlm_dir, tmp_path / "r", domain=make_texts(30, seed=9), config=config, update_card=False
    )
    assert report.forgetting is None and "general" not in report.bpc
    assert report.bpc["domain"].before.n_texts == 30
    [probe] = report.probes
    assert probe.method == "finetune" and probe.n_train == 64 and probe.n_test == 40
    data = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert data["headline"]["forgetting_bpc"] is None
    assert "30 texts given in code" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")


def test_bf16_autocast_close_to_fp32(tiny_mlm_dir):
    from domainlm.evaluation.encode import load_side
    from domainlm.evaluation.mwbpc import plan_masks, score_plan

    texts = make_texts(20, seed=11)
    results = {}
    for precision in ("fp32", "bf16"):
        side = load_side("before", tiny_mlm_dir, "cpu", precision)
        plan = plan_masks(texts, [side], seed=0, mask_fraction=0.15, max_seq_len=128)
        results[precision] = score_plan(side, plan, batch_size=8, resamples=100).bpc.value
    assert results["bf16"] == pytest.approx(results["fp32"], rel=0.02)


def test_text_sources_texts_paths_and_typos(eval_files):
    from domainlm.errors import CorpusError
    from domainlm.evaluation.texts import load_texts

    given = load_texts(
        ["좋아요  최고!!!!", "배송 빨라요", "배송 빨라요", "🙂"], max_texts=10, seed=0, what="held-out domain"
    )
    assert given.texts == ["좋아요 최고!!!", "배송 빨라요"] and given.read == 4  # normalised, deduped, emptied dropped
    from_file = load_texts([str(eval_files["domain"])], max_texts=5, seed=0, what="held-out domain")
    assert len(from_file) == 5 and from_file.read == 61
    with pytest.raises(CorpusError, match="does not exist"):
        load_texts(["/nope/heldout.txt"], max_texts=5, seed=0, what="held-out domain")


def test_tokenization_falls_back_when_vocab_tools_cannot_read(tiny_mlm_dir, monkeypatch):
    from transformers import AutoTokenizer

    import vocab_tools.metrics
    from domainlm.errors import VocabError
    from domainlm.evaluation import EvalConfig
    from domainlm.evaluation.encode import Side
    from domainlm.evaluation.run import _tokenization_section
    from domainlm.evaluation.tokenization import token_stats

    def unreadable(*a, **k):
        raise VocabError("not a WordPiece tokenizer")

    monkeypatch.setattr(vocab_tools.metrics, "measure", unreadable)
    side = Side("before", str(tiny_mlm_dir), None, AutoTokenizer.from_pretrained(str(tiny_mlm_dir)))
    texts = make_texts(10, seed=1)
    stats = token_stats(side, [t.split() for t in texts], set())
    section = _tokenization_section(texts, side, side, stats, stats, EvalConfig(bootstrap=100))
    assert section["measure_error"] == "not a WordPiece tokenizer"
    assert section["tokenizers"]["after"]["fertility"] == pytest.approx(stats.tokens.sum() / stats.eojeols.sum())
    assert section["intervals"]["fertility_change"]["value"] == 0
