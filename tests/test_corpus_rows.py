"""Rows that do not read as they stand are read right or counted and shown (issue 24: B16-B22, P1, P3, B18, B20)."""

from __future__ import annotations

import json

import pytest

from domainlm.corpus import clean_corpus, corpus_stats
from domainlm.corpus.reader import CorpusReader
from domainlm.errors import CorpusError


def _texts(path, **kw):
    reader = CorpusReader(path, **kw)
    return [d.text for d in reader], reader.stats


def test_unquoted_commas_in_the_last_column_are_put_back_and_counted(tmp_path):
    """B16: each text was cut at its first comma, silently."""
    path = tmp_path / "commas.csv"
    path.write_text(
        "id,text\n" + "".join(f"{i},좋아요 정말, 또 살게요 {i}\n" for i in range(5)) + "5,그냥 그래요\n",
        encoding="utf-8",
    )
    texts, stats = _texts(path)
    assert texts[0] == "좋아요 정말, 또 살게요 0" and texts[-1] == "그냥 그래요"
    assert stats.long_rows == stats.rejoined_rows == 5
    assert "5 .csv/.tsv rows have more fields than the header" in stats.warnings()[0]


def test_extra_fields_before_the_text_column_skip_the_row_and_short_rows_are_counted(tmp_path):
    """B17: extra fields were dropped and a short row skipped, with no word."""
    path = tmp_path / "ragged.tsv"
    path.write_text("text\tstars\n좋아요 정말\t5\n별로\t였어요\t1\n딱 하나\n", encoding="utf-8")
    texts, stats = _texts(path)
    assert texts == ["좋아요 정말", "딱 하나"]
    path.write_text("stars\ttext\n5\t좋아요 정말\n3\n", encoding="utf-8")
    texts, stats = _texts(path)
    assert texts == ["좋아요 정말"] and stats.short_rows == 1
    assert any("no text column" in w for w in stats.warnings())


def test_values_that_are_not_text_are_skipped_with_a_warning(tmp_path):
    """B21: 123, ['a', 'b'] and {'k': 'v'} became documents."""
    path = tmp_path / "types.jsonl"
    rows = [{"text": 123}, {"text": ["a", "b"]}, {"text": {"k": "v"}}, {"text": "좋아요 정말"}, {"text": None}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    texts, stats = _texts(path)
    assert texts == ["좋아요 정말", ""] and stats.non_text_values == 3
    report = corpus_stats([path])
    assert any("instead of text" in w for w in report.warnings)


def test_a_parquet_column_that_is_not_text_is_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [1, 2, 3]}), tmp_path / "ints.parquet")
    with pytest.raises(CorpusError, match="holds int64, not text"):
        list(CorpusReader(tmp_path / "ints.parquet"))


def test_carriage_return_only_files_are_split_and_noted(tmp_path):
    """B22: 3,000 reviews with \\r line breaks were one document."""
    path = tmp_path / "cr.txt"
    path.write_bytes("\r".join(f"수분크림 좋아요 {i}" for i in range(3000)).encode("utf-8"))
    report = corpus_stats([path])
    assert report.documents == 3000 and any("only \\r as line break" in w for w in report.warnings)


@pytest.mark.parametrize("encoding, bom", [("utf-16", True), ("utf-16-le", False), ("utf-16-be", False)])
def test_utf16_is_read_when_named_or_marked_and_named_when_not(tmp_path, encoding, bom):
    """B19, P3: --encoding utf-16 was ignored ("looks binary"), and UTF-16 was never named."""
    path = tmp_path / "u16.txt"
    path.write_bytes("수분크림 좋아요\r\n배송 빨라요\n".encode(encoding) * 10)
    texts, _ = _texts(path, encoding=encoding)
    assert texts[:2] == ["수분크림 좋아요", "배송 빨라요"] and len(texts) == 20
    if bom:
        assert _texts(path)[0] == texts
    else:
        with pytest.raises(CorpusError, match="UTF-16 text without a byte-order mark.*\n?") as e:
            list(CorpusReader(path))
        assert f"--encoding {encoding}" in e.value.hint


def test_blank_lines_are_an_empty_corpus(tmp_path):
    """P1: four blank lines counted as four documents while a zero-byte file was "empty"."""
    path = tmp_path / "blank.txt"
    path.write_text("\n\t\n  \n\t\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="lines are blank"):
        corpus_stats([path])


def test_clean_writes_only_the_formats_it_names(tmp_path):
    """B18: plain text under a .parquet or .json name."""
    src = tmp_path / "in.txt"
    src.write_text("보습크림 좋아요\n배송 빨라요\n", encoding="utf-8")
    for name in ("c.parquet", "c.json", "c"):
        with pytest.raises(CorpusError, match="writes .txt"):
            clean_corpus([src], tmp_path / name)
        assert not (tmp_path / name).exists()
    for name in ("c.txt", "c.jsonl", "c.txt.gz", "c.jsonl.gz"):
        clean_corpus([src], tmp_path / name)


def test_limit_alphabet_below_one_is_refused(cli, tmp_path):
    """B20: --limit-alphabet 0 learned nothing and blamed the corpus."""
    from vocab_tools.build import build_vocab
    from vocab_tools.errors import VocabError

    with pytest.raises(VocabError, match="at least one character"):
        build_vocab(["가 나 다"] * 10, tmp_path / "v", vocab_size=50, unused=2, limit_alphabet=0)
    src = tmp_path / "in.txt"
    src.write_text("보습크림 좋아요\n" * 10, encoding="utf-8")
    r = cli("vocab", "build", src, "-o", tmp_path / "v2", "--limit-alphabet", "0")
    assert r.exit_code == 2 and not (tmp_path / "v2").exists()


def test_hub_addresses_name_config_and_split():
    """Issue 25: `hf:NAME:CONFIG:SPLIT` anywhere a corpus goes (there was no way to name a config)."""
    from domainlm.corpus.spec import CorpusSpec

    spec = CorpusSpec(path="hf:klue:ynat:validation")
    assert (spec.path, spec.hf_config, spec.hf_split) == ("hf:klue", "ynat", "validation")
    spec = CorpusSpec(path="hf:e9t/nsmc::test")
    assert (spec.path, spec.hf_config, spec.hf_split) == ("hf:e9t/nsmc", None, "test")
    assert CorpusSpec(path="hf:nsmc").hf_split is None
    with pytest.raises(ValueError):
        CorpusSpec(path="hf:a:b:c:d")


def test_a_dataset_dict_says_which_split_it_read_and_split_chooses(cli, tmp_path):
    """Issue 25 (ecosystem review 10): a DatasetDict silently read only `train`."""
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "dd"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["수분크림 좋아요"] * 15}),
            "test": datasets.Dataset.from_dict({"text": ["배송 빨라요"] * 5}),
        }
    ).save_to_disk(str(path))
    report = corpus_stats([path])
    assert report.documents == 15 and any("read its 'train' split" in w and "--split" in w for w in report.warnings)
    r = cli("corpus", "stats", path, "--split", "test", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["documents"] == 5 and "--split" not in r.stderr
    r = cli("corpus", "stats", path, "--split", "dev")
    assert r.exit_code == 2 and "has no split 'dev'" in r.output and "train, test" in r.output
