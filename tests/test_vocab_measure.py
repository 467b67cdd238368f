"""measure and compare: fertility, UNK rate, slot usage."""

from __future__ import annotations

import json

import pytest

from vocab_tools.errors import VocabError
from vocab_tools.fill import fill_slots
from vocab_tools.metrics import compare, measure

TEXTS = ["보습크림 바르고 꿀피부 됐어요", "보습크림 최고", "", "그냥 그래요 ☃"]


@pytest.fixture(scope="module")
def filled(tiny_tokenizer_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("measure") / "filled"
    fill_slots(tiny_tokenizer_dir, ["보습크림", "꿀피부", "안쓰는말"], out)
    return out


def test_fertility_unk_and_slot_usage(tiny_tokenizer_dir, filled):
    report = measure(TEXTS, {"before": tiny_tokenizer_dir, "after": filled}, batch_size=2)
    assert report["texts"] == 3 and report["eojeols"] == 9  # the empty text is skipped
    before, after = report["tokenizers"]["before"], report["tokenizers"]["after"]
    ids = [
        __import__("vocab_tools").load_tokenizer(tiny_tokenizer_dir).tokenizer.encode(t, add_special_tokens=False).ids
        for t in TEXTS
        if t
    ]
    assert before["tokens"] == sum(map(len, ids)) and before["fertility"] == pytest.approx(before["tokens"] / 9)
    assert before["unk_tokens"] >= 1 and before["unk_rate"] == pytest.approx(before["unk_tokens"] / before["tokens"])
    assert before["filled_slots"] == 0 and before["slot_usage"] is None
    assert after["filled_slots"] == 3 and after["filled_slots_emitted"] == 2
    assert after["slot_usage"] == pytest.approx(2 / 3) and after["slot_tokens"] == 3
    assert after["never_emitted"] == ["안쓰는말"]
    assert after["top_slot_terms"][0] == {"term": "보습크림", "count": 2}
    assert after["tokens"] < before["tokens"]
    assert report["compression_gain"]["after"] == pytest.approx(1 - after["fertility"] / before["fertility"])


def test_compare_marks_slot_tokens(tiny_tokenizer_dir, filled):
    rows = compare(TEXTS, {"before": tiny_tokenizer_dir, "after": filled}, limit=2)
    assert len(rows) == 2 and rows[0]["tokens"]["after"][0] == "보습크림"
    after = rows[0]["tokens"]["after"]
    assert [after[k] for k in rows[0]["from_slots"]["after"]] == ["보습크림", "꿀피부"]
    assert rows[0]["from_slots"]["before"] == []
    assert len(rows[0]["tokens"]["before"]) > len(rows[0]["tokens"]["after"])


def test_empty_inputs(tiny_tokenizer_dir):
    with pytest.raises(VocabError, match="empty"):
        measure(["", " "], {"t": tiny_tokenizer_dir})
    with pytest.raises(VocabError, match="No tokenizer"):
        measure(TEXTS, {})
    with pytest.raises(VocabError, match="No sample"):
        compare([], {"t": tiny_tokenizer_dir})


def test_a_gain_beside_many_unknowns_is_flagged(cli, tiny_tokenizer_dir, tmp_path):
    """A vocab that spells almost nothing turns each word into one [UNK]: a "gain" that must carry a warning."""
    from vocab_tools.build import build_vocab

    sparse = build_vocab(
        ["가 나 다 가나 나다"] * 20, tmp_path / "sparse", vocab_size=20, unused=5, min_frequency=1, limit_alphabet=3
    ).out_dir
    corpus = tmp_path / "reviews.txt"
    corpus.write_text(
        "\n".join(["보습크림 바르고 꿀피부 됐어요", "향이 너무 좋고 흡수도 빨라요"] * 5), encoding="utf-8"
    )
    report = measure(corpus.read_text(encoding="utf-8").splitlines(), {"before": tiny_tokenizer_dir, "after": sparse})
    after = report["tokenizers"]["after"]
    assert after["unk_rate"] > 0.8 and report["compression_gain"]["after"] > 0
    assert len(report["warnings"]) == 1 and report["warnings"][0].startswith("after emits [UNK] for")
    assert "is not a real gain" in report["warnings"][0]
    r = cli("vocab", "measure", corpus, "-t", f"before={tiny_tokenizer_dir}", "-t", f"after={sparse}")
    assert r.exit_code == 0 and "WARNING" in r.output and "is not a real gain" in r.output
    r = cli("vocab", "measure", corpus, "-t", f"before={tiny_tokenizer_dir}", "-t", f"after={sparse}", "--json")
    assert r.exit_code == 0 and "is not a real gain" in r.stderr
    assert __import__("json").loads(r.stdout)["warnings"] == report["warnings"]
    # A tokenizer that covers the text gets no warning.
    assert measure(["보습크림 바르고 꿀피부"], {"before": tiny_tokenizer_dir})["warnings"] == []


def test_measure_output_never_replaces_an_input_or_a_users_file(cli, tiny_tokenizer_dir, tmp_path):
    """D1, D2: `vocab measure -o` replaced a user's notes and its own input corpus with JSON."""
    corpus = tmp_path / "reviews.txt"
    corpus.write_text(
        "\n".join(["보습크림 바르고 꿀피부 됐어요", "향이 너무 좋고 흡수도 빨라요"] * 5), encoding="utf-8"
    )
    original = corpus.read_bytes()
    r = cli("vocab", "measure", corpus, "-t", tiny_tokenizer_dir, "-o", corpus, "--force")
    assert r.exit_code != 0 and "would destroy the input" in r.output and "Traceback" not in r.output
    assert corpus.read_bytes() == original  # --force does not make an input an output
    r = cli("vocab", "measure", str(tmp_path / "*.txt"), "-t", tiny_tokenizer_dir, "-o", corpus)
    assert r.exit_code != 0 and "would destroy the input" in r.output and corpus.read_bytes() == original
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    r = cli("vocab", "measure", corpus, "-t", tiny_tokenizer_dir, "-o", notes)
    assert r.exit_code != 0 and "--force" in r.output and notes.read_text(encoding="utf-8") == "my notes\n"
    # Its own earlier report is replaced without --force; a user's file with it.
    report = tmp_path / "report.json"
    for _ in range(2):
        r = cli("vocab", "measure", corpus, "-t", tiny_tokenizer_dir, "-o", report)
        assert r.exit_code == 0, r.output
    assert json.loads(report.read_text(encoding="utf-8"))["texts"] == 10
    r = cli("vocab", "measure", corpus, "-t", tiny_tokenizer_dir, "-o", notes, "--force")
    assert r.exit_code == 0 and json.loads(notes.read_text(encoding="utf-8"))["texts"] == 10
