"""The terms file contract (docs/CONTRACTS.md): Term, read_terms, write_terms."""

from __future__ import annotations

import json

import pytest

from vocab_tools.errors import VocabError
from vocab_tools.terms import COLUMNS, Term, read_terms, write_terms


def test_continuation_prefix_and_kind_agree():
    assert Term("##크림").kind == "continuation"
    t = Term("크림", kind="continuation")
    assert t.term == "##크림" and t.surface == "크림"
    assert Term("수분크림").kind == "word" and Term("수분크림").surface == "수분크림"
    with pytest.raises(VocabError, match="kind"):
        Term("x", kind="suffix")


def test_tsv_and_json_round_trip(tmp_path):
    terms = [
        Term(
            "수분크림",
            score=3.5,
            tokens_saved=120,
            category_count=40,
            reference_count=2,
            specificity_z=7.25,
            base_pieces=["수분", "##크림"],
            example="이 수분크림\t정말 좋아요",
            category="화장품",
        ),
        Term("##감", kind="continuation", score=1.0),
    ]
    write_terms(terms, tmp_path / "terms.tsv", tmp_path / "terms.json")
    header = (tmp_path / "terms.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t") == list(COLUMNS)
    back = read_terms(tmp_path / "terms.tsv")
    assert [t.term for t in back] == ["수분크림", "##감"]
    assert back[0].base_pieces == ["수분", "##크림"] and back[0].tokens_saved == 120
    assert back[0].example == "이 수분크림 정말 좋아요"  # the tab inside the example did not shift columns
    assert back[0].category == "화장품" and back[1].category is None
    assert back[1].kind == "continuation"
    from_json = read_terms(tmp_path / "terms.json")
    assert [t.to_dict() for t in from_json][1] == back[1].to_dict()
    assert from_json[0].example == terms[0].example


def test_partial_columns_and_plain_txt(tmp_path):
    (tmp_path / "t.tsv").write_text("category\tterm\n식품\t존맛\n\n식품\t##맛탱\n", encoding="utf-8")
    terms = read_terms(tmp_path / "t.tsv")
    assert [(t.term, t.kind, t.category) for t in terms] == [
        ("존맛", "word", "식품"),
        ("##맛탱", "continuation", "식품"),
    ]
    (tmp_path / "t.txt").write_text("\ufeff존맛\n  가성비  \n\n##템\n", encoding="utf-8")
    assert [t.term for t in read_terms(tmp_path / "t.txt")] == ["존맛", "가성비", "##템"]
    (tmp_path / "t.json").write_text(json.dumps({"terms": ["발림성", {"term": "쿠션", "score": 2}]}), encoding="utf-8")
    assert [t.term for t in read_terms(tmp_path / "t.json")] == ["발림성", "쿠션"]


@pytest.mark.parametrize(
    "content, match",
    [
        ("term\tfrequency\n존맛\t3\n", "unknown columns: 'frequency'.*Allowed columns: term kind score"),
        ("존맛\n가성비\n", "no `term` column"),
        ("term\tscore\n존맛\tmany\n", r"t\.tsv:2: score = 'many' is not a number"),
        ("term\tkind\n존맛\tsuffix\n", "kind 'suffix'"),
        ("term\tscore\n존맛\t1\t2\n", "3 tab-separated cells"),
    ],
)
def test_bad_tsv_says_what_is_wrong(tmp_path, content, match):
    (tmp_path / "t.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(VocabError, match=match):
        read_terms(tmp_path / "t.tsv")


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(VocabError, match="does not exist"):
        read_terms(tmp_path / "nope.tsv")
    (tmp_path / "cp.txt").write_bytes("존맛\n".encode("cp949"))
    with pytest.raises(VocabError, match="not UTF-8"):
        read_terms(tmp_path / "cp.txt")
    (tmp_path / "bad.json").write_text('{"terms": 3}', encoding="utf-8")
    with pytest.raises(VocabError, match="not a list"):
        read_terms(tmp_path / "bad.json")
