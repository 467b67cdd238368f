"""`domainlm vocab …` through typer's CliRunner, bad input included."""

from __future__ import annotations

import json

from helpers.tiny import TINY_TEXT


def test_build_info_fill_unfill(cli, tmp_path, tiny_tokenizer_dir):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TINY_TEXT * 5), encoding="utf-8")
    r = cli(
        "vocab",
        "build",
        corpus,
        "-o",
        tmp_path / "tok",
        "--vocab-size",
        "150",
        "--unused",
        "20",
        "--min-frequency",
        "1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    built = json.loads(r.stdout)
    assert built["unused"] == 20 and built["slot_range"] == [5, 24] and built["texts"] == 50

    r = cli("vocab", "info", tmp_path / "tok")
    assert r.exit_code == 0 and "5–24" in r.stdout and "Hangul kept intact" in r.stdout

    terms = tmp_path / "terms.tsv"
    terms.write_text(
        "term\tkind\tscore\tcategory\n보습크림\tword\t2.5\t화장품\n##뽀송\tcontinuation\t1\t화장품\nGlow\tword\t1\t화장품\n",
        encoding="utf-8",
    )
    r = cli("vocab", "fill", tmp_path / "tok", terms, "-o", tmp_path / "filled", "--contexts", corpus)
    assert r.exit_code == 0, r.output
    assert "filled now" in r.stdout and "would be changed by the normaliser" in r.stdout
    r = cli("vocab", "info", tmp_path / "filled", "--json")
    info = json.loads(r.stdout)
    assert info["slots"]["filled_by_category"] == {"화장품": 2}
    assert [e["source"] for e in info["filled"]] == ["terms.tsv", "terms.tsv"]
    r = cli("vocab", "info", tmp_path / "filled", "--filled")
    assert "보습크림" in r.stdout and "[unused0]" in r.stdout

    r = cli("vocab", "unfill", tmp_path / "filled", "--category", "화장품", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["restored"]) == 2


def test_measure_and_compare(cli, tmp_path, tiny_tokenizer_dir):
    terms = tmp_path / "t.txt"
    terms.write_text("보습크림\n꿀피부\n", encoding="utf-8")
    assert cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", tmp_path / "after").exit_code == 0
    corpus = tmp_path / "c.tsv"
    corpus.write_text(
        "split\ttext\ntest\t보습크림 바르고 꿀피부\ntrain\t보습크림 보습크림 보습크림\n", encoding="utf-8"
    )
    r = cli(
        "vocab",
        "measure",
        corpus,
        "-t",
        f"before={tiny_tokenizer_dir}",
        "-t",
        f"after={tmp_path / 'after'}",
        "--where",
        "split=test",
        "--json",
        "-o",
        tmp_path / "m.json",
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["texts"] == 1 and report["tokenizers"]["after"]["filled_slots_emitted"] == 2
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == report
    r = cli("vocab", "measure", corpus, "-t", f"before={tiny_tokenizer_dir}", "-t", f"after={tmp_path / 'after'}")
    assert r.exit_code == 0 and "fertility" in r.stdout and "compression gain" in r.stdout

    r = cli(
        "vocab",
        "compare",
        "보습크림 바르고 꿀피부",
        "-t",
        f"before={tiny_tokenizer_dir}",
        "-t",
        f"after={tmp_path / 'after'}",
    )
    assert r.exit_code == 0 and "보습크림" in r.stdout
    # Piped (no colour): the filled token is starred and the legend does not speak of green.
    assert "*보습크림*" in r.stdout and "*starred*: tokens from filled slots" in r.stdout and "green" not in r.stdout
    r = cli("vocab", "compare", "-t", str(tmp_path / "after"), "--corpus", corpus, "--limit", "1", "--json")
    assert json.loads(r.stdout)[0]["tokens"]["after"][0] == "보습크림"


def test_bad_input_messages(cli, tmp_path, tiny_tokenizer_dir, shared_data):
    r = cli("vocab", "info", tmp_path / "nope")
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output
    r = cli("vocab", "info", "kykim/bert-kor-base")
    assert r.exit_code == 2 and "hf download" in r.output

    bad = tmp_path / "bad.tsv"
    bad.write_text("term\tfreq\n보습크림\t3\n", encoding="utf-8")
    r = cli("vocab", "fill", tiny_tokenizer_dir, bad, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "unknown columns: 'freq'" in r.output and "Allowed columns" in r.output

    terms = tmp_path / "t.txt"
    terms.write_text("보습크림\n", encoding="utf-8")
    r = cli("vocab", "fill", shared_data / "vocab" / "kcbert_vocab.txt", terms, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "has no [unusedN] slots" in r.output and "kykim/bert-kor-base" in r.output

    many = tmp_path / "many.txt"
    many.write_text("\n".join(f"텀{chr(0xAC00 + i)}{chr(0xAC01 + 2 * i)}" for i in range(60)), encoding="utf-8")
    r = cli("vocab", "fill", tiny_tokenizer_dir, many, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "only 50 of the 50 slots are free" in r.output and "--truncate" in r.output
    r = cli("vocab", "fill", tiny_tokenizer_dir, many, "-o", tmp_path / "o", "--truncate")
    assert r.exit_code == 0 and "no free slot left" in r.output

    r = cli("vocab", "unfill", tiny_tokenizer_dir)
    assert r.exit_code == 2 and "no slots.json" in r.output
    r = cli("vocab", "measure", terms, "-t", tiny_tokenizer_dir, "--where", "split")
    assert r.exit_code == 2 and "COLUMN=VALUE" in r.output
    r = cli("vocab", "compare", "-t", tiny_tokenizer_dir)
    assert r.exit_code == 2 and "Nothing to compare" in r.output
    r = cli("vocab", "build", tmp_path / "missing.txt", "-o", tmp_path / "b")
    assert r.exit_code == 2 and "missing.txt" in r.output
