"""Normalisation, filters, held-out split, stats, and the corpus CLI."""

from __future__ import annotations

import json
import unicodedata

import pytest

from domainlm.corpus import (
    FilterConfig,
    NormalizeConfig,
    Normalizer,
    StreamingDeduper,
    clean_corpus,
    corpus_stats,
    is_heldout,
)
from domainlm.errors import CorpusError


def test_normalizer_keeps_hangul_jamo_latin_digits():
    n = Normalizer()
    assert n("발림성 최고ㅋㅋ ㅠㅠ SPF50+ 2개") == "발림성 최고ㅋㅋ ㅠㅠ SPF50+ 2개"


def test_normalizer_nfc_composes_decomposed_hangul():
    decomposed = unicodedata.normalize("NFD", "수분크림")
    assert len(decomposed) > 4
    assert Normalizer()(decomposed) == "수분크림"


def test_normalizer_drops_hanja_emoji_symbols():
    assert Normalizer()("韓國 화장품 😍★ 좋아요♥") == "화장품 좋아요"


def test_normalizer_masks_and_caps_repeats():
    text = "문의 010-1234-5678 a.b@c.com https://x.co/p ㅋㅋㅋㅋㅋㅋ 좋아요!!!!!"
    assert Normalizer()(text) == "문의 PHONE EMAIL URL ㅋㅋㅋ 좋아요!!!"
    raw = Normalizer(NormalizeConfig(mask_urls=False, mask_emails=False, mask_phones=False, max_char_repeat=None))
    assert "ㅋㅋㅋㅋㅋㅋ" in raw(text) and "010-1234-5678" in raw(text)


def test_normalizer_punctuation_is_configurable():
    assert Normalizer(NormalizeConfig(punctuation=""))("좋아요! (정말)") == "좋아요 정말"


def test_deduper_bounded():
    d = StreamingDeduper(capacity=2)
    assert [d.is_duplicate(t) for t in ["a", "b", "a", "c", "c"]] == [False, False, True, False, False]
    assert d.saturated and len(d) == 2 and d.duplicates == 1


def test_heldout_split_is_deterministic_and_sized():
    keys = [f"doc{i}" for i in range(20000)]
    held = [k for k in keys if is_heldout(k, 0.1)]
    assert held == [k for k in keys if is_heldout(k, 0.1)]
    assert 1700 < len(held) < 2300
    assert not any(is_heldout(k, 0.0) for k in keys[:100])


def test_clean_corpus_counts_rules_and_splits(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(
        "좋아요 좋아요\n😀\n가\n좋아요 좋아요\n" + "\n".join(f"리뷰 {i}번 최고" for i in range(200)) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out" / "clean.txt"
    report = clean_corpus([src], out, filters=FilterConfig(min_chars=2), heldout_fraction=0.1)
    assert report.removed == {"empty after normalisation": 1, "shorter than 2 chars": 1, "exact duplicate": 1}
    assert report.written + report.heldout == 201
    assert 5 < report.heldout < 40
    assert len(out.read_text(encoding="utf-8").splitlines()) == report.written
    assert (tmp_path / "out" / "heldout.clean.txt").exists()


def test_clean_failure_leaves_no_partial_output(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "좋아요"}\n' * 5000 + "broken\n", encoding="utf-8")
    out = tmp_path / "clean.txt"
    with pytest.raises(CorpusError, match="in.jsonl:5001: not valid JSON"):
        clean_corpus([src], out)
    assert list(tmp_path.iterdir()) == [src]


def test_empty_corpus_is_an_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="the corpus is empty"):
        corpus_stats([empty])
    with pytest.raises(CorpusError, match="the corpus is empty"):
        clean_corpus([empty], tmp_path / "o.txt")
    assert not (tmp_path / "o.txt").exists()


def test_stats_on_real_shopping_reviews(shared_data):
    s = corpus_stats([shared_data / "reviews" / "naver_shopping_50k.tsv"])
    assert s.documents == 50_000
    assert s.hangul_share > 0.8
    assert s.length_percentiles["p50"] <= s.length_percentiles["p90"] <= s.length_percentiles["max"]


# ---------------------------------------------------------------- CLI


def _file(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_stats_json(cli, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("가나 다라\n마바\n가나 다라\n", encoding="utf-8")
    result = cli("corpus", "stats", src, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["documents"] == 3 and data["duplicates"] == 1 and data["eojeols"] == 5


def test_cli_stats_table(cli, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("가나 다라\n", encoding="utf-8")
    result = cli("corpus", "stats", src)
    assert result.exit_code == 0 and "Hangul share" in result.stdout


def test_cli_clean_writes_output(cli, tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text("id\treview\n1\t배송 빨라요!! 😀\n2\t배송 빨라요!! 😀\n", encoding="utf-8")
    out = tmp_path / "o.txt"
    result = cli("corpus", "clean", src, "--field", "review", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == "배송 빨라요!!\n"
    assert "exact duplicate" in result.stdout


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: p / "missing.txt", "Error: Corpus path '{p}/missing.txt' does not exist."),
        (
            lambda p: _file(p / "c.tsv", "id\treview\n1\tx\n"),
            "Error: '{p}/c.tsv' has no column 'text'; its columns are: id, review.",
        ),
        (lambda p: _file(p / "e.txt", ""), "Error: No documents found in {p}/e.txt: the corpus is empty."),
    ],
)
def test_cli_bad_input_messages(cli, tmp_path, make, expected):
    path = make(tmp_path)
    result = cli("corpus", "stats", path)
    assert result.exit_code == 2
    assert expected.format(p=tmp_path) in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_cli_verbose_shows_traceback(cli, tmp_path):
    result = cli("--verbose", "corpus", "stats", tmp_path / "missing.txt")
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_cli_version_and_help(cli):
    assert cli("--version").stdout.startswith("domainlm ")
    assert "corpus" in cli("--help").stdout


def test_cli_stats_where_filter(cli, tmp_path):
    src = _file(tmp_path / "r.tsv", "id\tsplit\ttext\n1\ttrain\t가나\n2\ttest\t다라 마바\n3\ttest\t사아\n")
    result = cli("corpus", "stats", src, "--where", "split=test", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["documents"] == 2
    bad = cli("corpus", "stats", src, "--where", "split")
    assert bad.exit_code == 2 and "--where 'split' is not COLUMN=VALUE." in bad.stderr
