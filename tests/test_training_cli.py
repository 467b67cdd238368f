"""`domainlm adapt` / `domainlm pretrain` through typer's CliRunner, bad input included."""

from __future__ import annotations

import json

import pytest
from helpers.training import fill_by_hand, tiny_corpus

FAST = ["--max-steps", "3", "--batch-size", "2", "--seq-len", "32", "--save-every", "2", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("cli_corpus"), limit=600)


@pytest.fixture(scope="module")
def filled_dir(tiny_tokenizer_dir, tmp_path_factory):
    return fill_by_hand(tiny_tokenizer_dir, ["수분크림", "발림성"], tmp_path_factory.mktemp("cli_filled"))


@pytest.fixture(scope="module")
def no_slot_model(tmp_path_factory):
    """A KcBERT-like base: a tokenizer without [unusedN] slots, and its model."""
    from helpers.tiny import TINY_TEXT, build_tiny_tokenizer
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    out = build_tiny_tokenizer(tmp_path_factory.mktemp("noslot"), TINY_TEXT * 5, vocab_size=200, unused=0)
    BertForMaskedLM(
        BertConfig(
            vocab_size=len(AutoTokenizer.from_pretrained(str(out))),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    ).save_pretrained(str(out))
    return out


def test_adapt_cli_with_filled_tokenizer(cli, tiny_mlm_dir, filled_dir, corpus, tmp_path):
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--filled-tokenizer",
        filled_dir,
        "-o",
        tmp_path / "out",
        "--mode",
        "new-rows",
        *FAST,
    )
    assert r.exit_code == 0, r.output
    assert "slots filled" in r.output and "Wrote" in r.output
    assert json.loads((tmp_path / "out" / "slots.json").read_text())["slots"][0]["term"] == "수분크림"


def test_adapt_cli_seq_len_beyond_positions(cli, tiny_mlm_dir, corpus, tmp_path):
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", "--seq-len", "512")
    assert r.exit_code == 2
    assert "seq_len 512 is longer than the model's 128 positions." in r.output
    assert "Use --seq-len 128 or less" in r.output


def test_adapt_cli_base_without_free_slots(cli, no_slot_model, corpus, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n발림성\n", encoding="utf-8")
    r = cli(
        "adapt",
        "--base",
        no_slot_model,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        tmp_path / "out",
        *FAST,
        "--slots",
        "all",
    )
    assert r.exit_code == 2
    assert "has no free [unusedN] slot to fill with the 2 terms." in r.output
    assert "Pass --resize to append new rows" in r.output


def test_adapt_cli_terms_file_with_unknown_columns(cli, tiny_mlm_dir, corpus, tmp_path):
    terms = tmp_path / "terms.tsv"
    terms.write_text("term\tscore\tflavour\n수분크림\t1.0\tx\n", encoding="utf-8")
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        tmp_path / "out",
        *FAST,
        "--slots",
        "all",
    )
    assert r.exit_code == 2
    assert "unknown column" in r.output and "'flavour'" in r.output


def test_adapt_cli_offline_hub_id(cli, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = cli("adapt", "--base", "kykim/bert-kor-base-not-cached", "--corpus", corpus, "-o", tmp_path / "out")
    assert r.exit_code == 2
    assert "it is not a local directory" in r.output and "--base DIR" in r.output


def test_adapt_cli_nan_loss(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    from domainlm.modeling import heads

    original = heads.MaskedLMLoss.forward
    monkeypatch.setattr(heads.MaskedLMLoss, "forward", lambda self, *a, **k: original(self, *a, **k) * float("nan"))
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", *FAST)
    assert r.exit_code == 2
    assert "The loss became nan at step 1; training stopped" in r.output
    assert "no checkpoint was written yet" in r.output


def test_adapt_cli_ctrl_c_then_resume(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.training.objectives as engine  # the masked-LM objective masks each micro-batch

    calls = {"n": 0}
    original = engine.whole_word_mask

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(engine, "whole_word_mask", interrupted)
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", *FAST)
    assert r.exit_code == 130
    assert "Interrupted at step 2 of 3; saved a checkpoint at step 2" in r.output
    assert "rerun the same `domainlm adapt` command with --resume" in r.output
    monkeypatch.setattr(engine, "whole_word_mask", original)
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", *FAST, "--resume")
    assert r.exit_code == 0, r.output
    assert "resumed from step" in r.output


def test_pretrain_cli(cli, tiny_tokenizer_dir, corpus, tmp_path):
    r = cli(
        "pretrain",
        "--tokenizer",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "base",
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--max-positions",
        "64",
        *FAST,
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "base" / "model.safetensors").exists()
    # --json (issue 25): stdout is one document with the folder, the losses and the settings.
    args = ["--layers", "1", "--hidden", "32", "--heads", "2", "--max-positions", "64", *FAST]
    r = cli("pretrain", "--tokenizer", tiny_tokenizer_dir, "--corpus", corpus, "-o", tmp_path / "b2", *args, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["out_dir"] == str(tmp_path / "b2") and data["steps"] >= 1 and data["final_loss"] > 0
    assert data["settings"]["command"] == "pretrain"


def test_pretrain_cli_bad_arch(cli, tiny_tokenizer_dir, corpus, tmp_path):
    r = cli(
        "pretrain",
        "--tokenizer",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "base",
        "--hidden",
        "30",
        "--heads",
        "4",
        *FAST,
    )
    assert r.exit_code == 2
    assert "hidden (30) must be a multiple of heads (4)." in r.output


def test_adapt_cli_fills_terms_and_initialises_rows(cli, tiny_mlm_dir, corpus, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n발림성\n##크림\n", encoding="utf-8")
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        tmp_path / "out",
        "--json",
        *FAST,
        "--slots",
        "all",
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout[r.stdout.index("{") :])
    assert result["slots_filled"] == 3
    slots = json.loads((tmp_path / "out" / "slots.json").read_text())["slots"]
    assert [s["term"] for s in slots] == ["수분크림", "발림성", "##크림"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "3 `[unusedN]` vocabulary slots filled" in card and "mean of the embeddings" in card


def test_adapt_cli_resize_appends_rows_for_a_base_without_slots(cli, no_slot_model, corpus, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n발림성\n", encoding="utf-8")
    r = cli(
        "adapt",
        "--base",
        no_slot_model,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        tmp_path / "out",
        "--resize",
        *FAST,
        "--slots",
        "all",
    )
    assert r.exit_code == 0, r.output
    base = AutoTokenizer.from_pretrained(str(no_slot_model))
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    model = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "out"))
    assert len(tok) == len(base) + 2 == model.get_input_embeddings().weight.shape[0]
    assert tok.tokenize("수분크림 발림성") == ["수분크림", "발림성"]
    settings = json.loads((tmp_path / "out" / "settings.json").read_text(encoding="utf-8"))
    assert settings["appended_rows"] == 2 and settings["base_rows"] == len(base)
    assert "2 in rows appended by `--resize`" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_adapt_category_uses_the_terms_mine_terms_wrote(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    # `mine-terms --category X` writes mined/<recipe name>/terms.tsv; `adapt --category X` picks it up.
    from vocab_tools.terms import Term, write_terms

    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "mini.yaml"
    recipe.write_text(
        f"name: mini\ncategory: 미니\nbase: {tiny_mlm_dir}\n"
        f"data:\n  domain: [{corpus}]\n  reference: [{corpus}]\nvocab:\n  slots: 2\n",
        encoding="utf-8",
    )
    (tmp_path / "mined" / "mini").mkdir(parents=True)
    write_terms([Term(term="수분크림"), Term(term="발림성")], tmp_path / "mined" / "mini" / "terms.tsv")
    r = cli("adapt", "--category", recipe, "-o", tmp_path / "out", "--json", *FAST, "--slots", "all")
    assert r.exit_code == 0, r.output
    # The note goes to stderr: stdout is the command's JSON and nothing else.
    assert "Filling slots with mined/mini/terms.tsv" in " ".join(r.stderr.split())
    assert json.loads(r.stdout)["slots_filled"] == 2


def test_set_works_without_a_recipe(cli, tiny_mlm_dir, tiny_tokenizer_dir, corpus, tmp_path):
    """`--set train.KEY=VALUE` on adapt and pretrain without --category; explicit options still win."""
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "a",
        *FAST,
        "--set",
        "train.warmup_ratio=0.25",
        "--set",
        "train.lora.r=4",
        "--set",
        "train.max_steps=99",
    )
    assert r.exit_code == 0, r.output
    train = json.loads((tmp_path / "a" / "settings.json").read_text(encoding="utf-8"))["train"]
    assert train["warmup_ratio"] == 0.25 and train["lora"]["r"] == 4
    assert train["max_steps"] == 3  # --max-steps 3 (FAST) is typed explicitly: it wins over --set
    r = cli(
        "pretrain",
        "--tokenizer",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "p",
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--max-positions",
        "64",
        *FAST,
        "--set",
        "train.weight_decay=0.05",
    )
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "p" / "settings.json").read_text(encoding="utf-8"))["train"]["weight_decay"] == 0.05


def test_set_without_a_recipe_reports_every_problem(cli, tiny_mlm_dir, corpus, tmp_path):
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "a", "--set", "vocab.slots=3")
    assert r.exit_code == 2 and "only train.* settings" in r.output and "vocab.slots=3" in r.output
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "a",
        "--set",
        "train.nope=1",
        "--set",
        "train.lr=fast",
        "--set",
        "train.batch_size=0",
    )
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "3 problems" in text and "nope" in text and "lr" in text and "batch_size" in text
    assert not (tmp_path / "a").exists()
