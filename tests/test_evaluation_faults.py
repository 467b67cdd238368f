"""Evaluation faults a user met.

Short position tables, unrelated vocabularies, a rise worded as a fall, its output folder.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from helpers.evaluation import build_filled_model, make_texts

from domainlm.errors import EvaluationError
from domainlm.evaluation import EvalConfig, evaluate
from domainlm.evaluation.report import headline
from domainlm.stats import Difference, Estimate

FAST = EvalConfig(max_texts=20, bootstrap=100)


@pytest.fixture(scope="module")
def short_models(tiny_tokenizer_dir, tmp_path_factory):
    """A tiny BERT with 24 positions (fewer than eval.max_seq_len's 128) and its filled copy."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    root = tmp_path_factory.mktemp("short")
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=24,
        )
    )
    model.save_pretrained(str(root / "base"))
    for f in tiny_tokenizer_dir.iterdir():
        shutil.copy(f, root / "base" / f.name)
    return root / "base", build_filled_model(root / "base", root / "after")


def test_a_model_with_fewer_positions_than_max_seq_len_is_scored_within_them(short_models, tmp_path):
    base, after = short_models
    long_texts = [" ".join(make_texts(6, seed=s)) for s in range(20)]  # far over 24 tokens each
    warnings = []
    report = evaluate(
        base, after, tmp_path / "r", domain=long_texts, config=FAST, update_card=False, on_warning=warnings.append
    )
    scored = report.bpc["domain"].before
    assert report.config["max_seq_len"] == 24 and scored.n_texts > 10 and scored.cut == scored.n_texts
    assert any("hold 24 positions: eval.max_seq_len 128 was capped to 24" in w for w in warnings)
    assert any("capped to 24" in w for w in json.loads((tmp_path / "r" / "report.json").read_text())["warnings"])


def _unrelated_copy(model_dir, out):
    """The same model and vocab size, but the pieces reordered: every non-slot id means another token."""
    shutil.copytree(model_dir, out)
    data = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = sorted(data["model"]["vocab"], key=data["model"]["vocab"].get)
    head, pieces = vocab[:55], vocab[55:]  # specials and the 50 slots stay, the pieces are reversed
    data["model"]["vocab"] = {t: i for i, t in enumerate(head + pieces[::-1])}
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (out / "vocab.txt").unlink(missing_ok=True)
    (out / "slots.json").unlink(missing_ok=True)
    return out


def test_unrelated_or_swapped_vocabularies_are_refused(cli, tiny_mlm_dir, filled_mlm_dir, tmp_path):
    other = _unrelated_copy(tiny_mlm_dir, tmp_path / "other")
    with pytest.raises(EvaluationError, match="vocabularies are unrelated") as e:
        evaluate(tiny_mlm_dir, other, tmp_path / "r", domain=make_texts(10), config=FAST, update_card=False)
    assert "[unusedN] slots filled" in e.value.message and "--before" in e.value.hint
    assert not (tmp_path / "r").exists()
    r = cli(
        "evaluate", "--before", tiny_mlm_dir, "--after", other, "--domain", _texts_file(tmp_path), "-o", tmp_path / "r"
    )
    assert r.exit_code == 2 and "vocabularies are unrelated" in r.output and "Traceback" not in r.output
    r = cli(
        "evaluate",
        "--before",
        filled_mlm_dir,
        "--after",
        tiny_mlm_dir,
        "--domain",
        _texts_file(tmp_path),
        "-o",
        tmp_path / "r",
    )
    assert r.exit_code == 2 and "look swapped" in r.output


def test_vocabulary_check_allows_appended_slots_and_refuses_a_shorter_one():
    from domainlm.evaluation.tokenization import check_related_vocabularies

    def side(vocab):
        return SimpleNamespace(vocab=vocab)

    base = ["[PAD]", "[UNK]", "[unused0]", "[unused1]", "가", "나"]
    check_related_vocabularies(side(base), side(["[PAD]", "[UNK]", "보습", "[unused1]", "가", "나"]))
    check_related_vocabularies(side(base), side(base + ["꿀피부", "[unused3]"]))  # `adapt --resize` appended rows
    with pytest.raises(EvaluationError, match="fewer than the before model's 6"):
        check_related_vocabularies(side(base), side(base[:5]))
    with pytest.raises(
        EvaluationError, match="1 of 6 ids that are not \\[unusedN\\] slots hold other tokens \\(id 4: '가' → '다'\\)"
    ):
        check_related_vocabularies(side(base), side(["[PAD]", "[UNK]", "[unused0]", "[unused1]", "다", "나"]))


def _texts_file(tmp_path):
    path = tmp_path / "heldout.txt"
    path.write_text("\n".join(make_texts(10)) + "\n", encoding="utf-8")
    return path


def _report_with_gain(value, low, high, significant):
    bpc = SimpleNamespace(before=SimpleNamespace(bpc=Estimate(3.67, 3.6, 3.7, 50)))
    return SimpleNamespace(
        domain_gain=Difference(value, low, high, 50, significant=significant),
        bpc={"domain": bpc},
        forgetting=None,
        probes=[],
    )


def test_a_rise_is_worded_as_a_rise():
    [line] = headline(_report_with_gain(-5.37, -5.6, -5.1, True))
    assert line.startswith("Domain loss: MW-BPC on held-out domain text rose by 5.3700 bits/char (146.3% of the base's")
    assert "95% CI of the rise [5.1000, 5.6000]" in line and "-" not in line.split("rose by")[1].split("n =")[0]
    assert "predicts domain text worse" in line
    [line] = headline(_report_with_gain(0.5, 0.4, 0.6, True))
    assert line.startswith("Domain gain: MW-BPC on held-out domain text fell by 0.5000 bits/char (13.6% of the base's")
    assert "95% CI of the drop [0.4000, 0.6000]" in line
    [line] = headline(_report_with_gain(-0.01, -0.05, 0.03, False))
    assert (
        line.startswith("Domain gain (none): MW-BPC on held-out domain text rose by 0.0100") and "within noise" in line
    )


def test_evaluate_never_empties_a_folder_of_user_files(cli, tiny_mlm_dir, filled_mlm_dir, tmp_path):
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("my notes", encoding="utf-8")
    args = (
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        _texts_file(tmp_path),
        "--max-texts",
        "10",
        "--bootstrap",
        "100",
        "--no-card",
    )
    r = cli(*args, "-o", victim)
    assert r.exit_code == 2 and "--force" in r.output and "notes.txt" in r.output and "Traceback" not in r.output
    assert (victim / "notes.txt").read_text(encoding="utf-8") == "my notes" and (victim / "sub").is_dir()
    out = tmp_path / "report"
    for _ in range(2):  # an earlier report is replaced, whole
        r = cli(*args, "-o", out)
        assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "loss_curve.png",
        "metrics.png",
        "report.json",
        "report.md",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]
