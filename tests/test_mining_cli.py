"""`domainlm mine-terms`: happy paths on tiny and real data, and every bad input with its message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import shown
from helpers.tiny import TINY_TEXT, build_tiny_tokenizer

from domainlm.mining.base_tokenizer import load_base_tokenizer
from vocab_tools.terms import read_terms


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # mine_terms caches reference counts; keep the tests' out of the user's cache.
    monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "cache"))


def flat(text: str) -> str:
    return " ".join(text.split())


GENERAL = [
    "대한민국의 수도는 서울이며 인구가 많다",
    "조선은 1392년에 건국되었다",
    "이 강은 바다로 흘러 들어간다",
    "회의는 내일 오전에 열린다",
    "그는 대학에서 역사를 공부했다",
]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("mine_corpora")
    reviews = [
        f"{t} {extra}"
        for i in range(900)
        for t, extra in [(TINY_TEXT[i % 7], ["재밌게 봤어요", "가성비 최고", "수분크림은 촉촉"][i % 3])]
    ]
    (d / "reviews.txt").write_text("\n".join(reviews) + "\n", encoding="utf-8")
    (d / "general.txt").write_text("\n".join(GENERAL * 200) + "\n", encoding="utf-8")
    (d / "empty.txt").write_text("", encoding="utf-8")
    (d / "tiny.txt").write_text("좋아요\n최고\n", encoding="utf-8")
    return {p.stem: p for p in d.iterdir()}


def test_mines_terms_with_explicit_inputs(cli, corpora, tiny_tokenizer_dir, tmp_path):
    out = tmp_path / "out"
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        20,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    terms = read_terms(out / "terms.tsv")
    assert 0 < len(terms) <= 20
    assert [t.term for t in read_terms(out / "terms.json")] == [t.term for t in terms]
    vocab = set(load_base_tokenizer(str(tiny_tokenizer_dir)).vocab)
    assert not any(t.term in vocab for t in terms)  # never a piece the base already has
    assert all(t.tokens_saved > 0 and t.category_count >= 3 and t.base_pieces and t.example for t in terms)
    stats = json.loads((out / "mining.json").read_text(encoding="utf-8"))
    assert stats["selected"] == len(terms) and stats["estimated_gain"] > 0
    assert "estimated compression gain" in flat(result.output) and "terms.tsv" in flat(result.output)


def test_empty_corpus(cli, corpora, tiny_tokenizer_dir):
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["empty"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        20,
    )
    assert result.exit_code == 2
    assert "Error: The category corpus is empty: no document with text was read." in flat(result.output)
    assert "Mining needs at least 5,000 eojeols (about 500 reviews, 50 KB of text)" in flat(result.output)


def test_tiny_corpus_says_how_much_text_is_needed(cli, corpora, tiny_tokenizer_dir):
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["tiny"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        20,
    )
    assert result.exit_code == 2
    out = flat(result.output)
    assert "Error: The category corpus is too small: 2 documents, 2 eojeols (0.0 KB) after normalisation." in out
    assert (
        "Mining needs at least 5,000 eojeols (about 500 reviews, 50 KB of text); 1 MB or more gives stable terms."
        in out
    )


def test_reference_missing(cli, corpora, tiny_tokenizer_dir, tmp_path):
    missing = tmp_path / "nope.txt"
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        missing,
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        20,
    )
    assert result.exit_code == 2
    assert f"Error: Reference corpus: Corpus path '{missing}' does not exist." in flat(result.output)


def test_explicit_inputs_required_without_category(cli, corpora):
    result = cli("mine-terms", "--corpus", corpora["reviews"])
    assert result.exit_code == 2
    assert "Error: Without --category, mine-terms needs --reference, --base." in flat(result.output)


def test_unknown_category_lists_known_ones(cli):
    result = cli("mine-terms", "--category", "우주선")
    assert result.exit_code == 2
    out = flat(result.output)
    assert "Error: Unknown category '우주선'. Known categories:" in out and "화장품" in out and "영화" in out


def test_base_without_slots(cli, corpora, tmp_path):
    base = build_tiny_tokenizer(tmp_path / "noslots", TINY_TEXT * 3, vocab_size=200, unused=0)
    result = cli(
        "mine-terms", "--corpus", corpora["reviews"], "--reference", corpora["general"], "--base", base, "--workers", 1
    )
    assert result.exit_code == 2
    assert (
        f"Error: The base tokenizer '{base}' has no [unusedN] slots to fill. Choose a base with [unusedN] slots"
        in flat(result.output)
    )
    # P9: an explicit budget meets the same rule as one over the free slots (it would only lead to a
    # `vocab fill` that fails), before anything is counted.
    again = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        base,
        "--slots",
        5,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        tmp_path / "out",
    )
    assert again.exit_code == 2
    assert f"Error: --slots 5 asks for terms, but the base tokenizer '{base}' has no [unusedN] slots" in flat(
        again.output
    )
    assert not (tmp_path / "out").exists()


def test_slots_larger_than_free_slots(cli, corpora, tiny_tokenizer_dir):
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        80,
    )
    assert result.exit_code == 2
    assert (
        f"Error: --slots 80 is more than the 50 free [unusedN] slots of '{tiny_tokenizer_dir}'. "
        "Pass --slots 50 or fewer"
    ) in flat(result.output)


@pytest.mark.slow
def test_category_on_real_data(cli, shared_data, tiny_tokenizer_dir, tmp_path, monkeypatch):
    """영화 through its recipe (NSMC train split), on a slice, with a small reference."""
    monkeypatch.setenv("DOMAINLM_DATA", str(shared_data))
    out = tmp_path / "movies"
    result = cli(
        "mine-terms",
        "--category",
        "영화",
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        50,
        "--reference",
        shared_data / "general" / "ud_korean_sentences.txt",
        "--max-documents",
        20000,
        "--workers",
        2,
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    terms = read_terms(out / "terms.tsv")
    assert len(terms) == 50 and all(t.category == "영화" for t in terms)
    surfaces = {t.surface for t in terms}
    assert surfaces & {"영화", "재밌", "재미있", "평점", "연기", "배우", "최고의", "스토리"}
    # On real text the saving really shows: the selection re-tokenized every affected word.
    stats = json.loads((out / "mining.json").read_text(encoding="utf-8"))
    assert stats["estimated_gain"] > 0.05 and stats["category_documents"] == 20000


def test_kiwi_extractor_end_to_end(cli, corpora, tiny_tokenizer_dir, tmp_path):
    out = tmp_path / "kiwi"
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        10,
        "--workers",
        1,
        "--min-count",
        3,
        "--extractor",
        "kiwi",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    terms = read_terms(out / "terms.tsv")
    assert terms and all(t.tokens_saved > 0 for t in terms)
    assert json.loads((out / "mining.json").read_text(encoding="utf-8"))["config"]["extractor"] == "kiwi"
    bad = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--extractor",
        "bpe",
    )
    # The choices are the option's (typer): the value is refused before anything is read.
    assert bad.exit_code == 2 and "'bpe' is not one of 'wordpiece', 'kiwi'" in shown(bad.output)


def _mine_into(cli, corpora, tok, out, *extra):
    return cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tok,
        "--slots",
        20,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        out,
        *extra,
    )


def test_output_folder_of_another_kind_is_refused_unless_force(cli, corpora, tiny_tokenizer_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = _mine_into(cli, corpora, tiny_tokenizer_dir, out)
    assert result.exit_code == 2 and "is not empty" in flat(result.output) and "--force" in flat(result.output)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    result = _mine_into(cli, corpora, tiny_tokenizer_dir, out, "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists() and (out / "terms.tsv").is_file()
    # An earlier mine-terms output is replaced without --force.
    assert _mine_into(cli, corpora, tiny_tokenizer_dir, out).exit_code == 0


def test_output_set_is_written_as_one_unit(cli, corpora, tiny_tokenizer_dir, tmp_path, monkeypatch):
    """A run that fails while writing leaves the previous terms.tsv / terms.json / mining.json together."""
    out = tmp_path / "out"
    assert _mine_into(cli, corpora, tiny_tokenizer_dir, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import errno

    import domainlm.mining.mine as mine_module

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mine_module, "write_json", full_disk)
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["reviews"],
        "--reference",
        corpora["general"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        10,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        out,
    )
    assert result.exit_code == 2 and "no space left" in flat(result.output).lower()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]  # no temporary folder left beside it
