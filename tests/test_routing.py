"""Category routing: the documented rule, rows kept whole, and the counts on the shared shopping reviews."""

from __future__ import annotations

import json

import pytest

from domainlm.errors import ConfigError
from domainlm.routing import AMBIGUOUS, UNASSIGNED, Router, split_categories


def test_most_hits_wins_ties_are_ambiguous_none_is_unassigned():
    router = Router({"cosmetics": ["크림", "보습"], "food": ["맛", "먹"], "pets": ["강아지", "사료"]})
    assert router.route("보습 크림 좋아요 맛은 모르겠고")[0] == "cosmetics"  # 2 hits vs 1
    assert router.route("강아지 사료인데 잘 먹어요")[0] == "pets"  # 2 vs 1
    assert router.route("크림 맛이 나요")[0] == AMBIGUOUS  # 1 vs 1
    assert router.route("배송 빠르고 좋아요")[0] == UNASSIGNED
    assert router.hits("크림크림 보습") == {"cosmetics": 3, "food": 0, "pets": 0}  # occurrences, not words


def test_reserved_bucket_names_are_refused():
    with pytest.raises(ConfigError, match="reserved bucket name"):
        Router({"ambiguous": ["x"]})


def test_split_keeps_all_columns(tmp_path):
    src = tmp_path / "mixed.tsv"
    src.write_text(
        "id\trating\ttext\n"
        "a\t5\t수분크림 보습 최고\n"
        "b\t1\t라면 맛이 별로 먹기 힘듦\n"
        "c\t\t배송 빨라요\n"
        "d\t4\t강아지 사료 잘 먹어요 강아지가 좋아해요\n"
        "e\t2\t크림 맛이 나요\n",
        encoding="utf-8",
    )
    report = split_categories([src], tmp_path / "out")
    assert report.total == 5
    assert report.counts == {"cosmetics": 1, "electronics": 0, "food": 1, "pets": 1, "ambiguous": 1, "unassigned": 1}
    rows = [
        json.loads(line) for line in (tmp_path / "out" / "cosmetics.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert rows == [{"id": "a", "rating": "5", "text": "수분크림 보습 최고"}]
    saved = json.loads((tmp_path / "out" / "routing.json").read_text(encoding="utf-8"))
    assert saved["counts"] == report.counts and "tie" in saved["rule"]


def test_split_filters_rows_by_where_and_refuses_a_missing_column(tmp_path):
    from domainlm.corpus import CorpusSpec
    from domainlm.errors import CorpusError

    src = tmp_path / "mixed.tsv"
    src.write_text(
        "id\trating\ttext\na\t5\t수분크림 보습 최고\nb\t1\t보습 크림 별로\nc\t4\t강아지 사료 잘 먹어요\n",
        encoding="utf-8",
    )
    report = split_categories([CorpusSpec(path=str(src), where={"rating": ["4", "5"]})], tmp_path / "out")
    assert report.total == 2 and report.counts["cosmetics"] == 1 and report.counts["pets"] == 1
    # As every corpus reader: a filter on a column the file lacks is an error, not an empty split.
    with pytest.raises(CorpusError, match="has no column 'stars' to filter on; it has: id, rating, text"):
        split_categories([CorpusSpec(path=str(src), where={"stars": "5"})], tmp_path / "out2")


def test_split_categories_cli_on_a_text_file(cli, tmp_path):
    src = tmp_path / "reviews.txt"
    src.write_text("노트북 충전 잘 돼요\n고양이 츄르 좋아해요\n", encoding="utf-8")
    result = cli("split-categories", src, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts["electronics"] == 1 and counts["pets"] == 1


def test_split_categories_named_category_without_keywords(cli, tmp_path):
    src = tmp_path / "reviews.txt"
    src.write_text("좋아요\n", encoding="utf-8")
    result = cli("split-categories", src, "-o", tmp_path / "out", "--category", "tiny")
    assert result.exit_code == 2
    assert "The recipe(s) 초소형 have no data.routing.keywords to route by." in result.stderr


def test_shopping_reviews_route_as_the_readme_says(shared_data, tmp_path):
    report = split_categories([shared_data / "reviews" / "naver_shopping_50k.tsv"], tmp_path)
    c = report.counts
    assert report.total == 50_000
    # The data README's rough keyword counts: ~12k food, 1.9k cosmetics, 1.2k electronics, 150–300 pets.
    assert 6_000 <= c["food"] <= 14_000
    assert 1_500 <= c["cosmetics"] <= 2_500
    assert 900 <= c["electronics"] <= 1_800
    assert 150 <= c["pets"] <= 300
    assert c["ambiguous"] < 1_000


def test_split_never_empties_a_folder_of_user_files(cli, tmp_path):
    src = tmp_path / "reviews.txt"
    src.write_text("노트북 충전 잘 돼요\n고양이 츄르 좋아해요\n", encoding="utf-8")
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("my notes", encoding="utf-8")
    result = cli("split-categories", src, "-o", victim)
    assert result.exit_code == 2 and "--force" in result.output and "notes.txt" in result.output
    assert sorted(p.name for p in victim.iterdir()) == ["notes.txt", "sub"]
    out = tmp_path / "out"
    for text in ("노트북 충전 잘 돼요\n", "고양이 츄르 좋아해요\n"):  # an earlier split is replaced whole
        src.write_text(text, encoding="utf-8")
        assert cli("split-categories", src, "-o", out).exit_code == 0
    assert json.loads((out / "routing.json").read_text(encoding="utf-8"))["counts"]["pets"] == 1
    assert (out / "electronics.jsonl").read_text(encoding="utf-8") == ""
    assert cli("split-categories", src, "-o", victim, "--force").exit_code == 0
    assert not (victim / "notes.txt").exists() and (victim / "pets.jsonl").exists()
