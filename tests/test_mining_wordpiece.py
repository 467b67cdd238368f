"""The pure-Python WordPiece must tokenize exactly as the Rust tokenizer does."""

from __future__ import annotations

import pytest

from domainlm.corpus import CorpusReader, CorpusSpec, Normalizer
from domainlm.mining.base_tokenizer import load_base_tokenizer
from domainlm.mining.wordpiece import WordPiece, pretokenize


def _rust_bert(vocab: list[str]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(
        models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]", max_input_chars_per_word=100)
    )
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


@pytest.fixture(scope="module")
def koelectra_vocab(shared_data) -> list[str]:
    return (shared_data / "vocab" / "koelectra_vocab.txt").read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def review_texts(shared_data) -> list[str]:
    n = Normalizer()
    spec = CorpusSpec(path=str(shared_data / "reviews" / "nsmc_reviews.tsv.gz"), limit=3000)
    shop = CorpusSpec(path=str(shared_data / "reviews" / "naver_shopping_50k.tsv"), limit=2000)
    return [n(d.text) for d in CorpusReader([spec, shop])]


def test_pretokenize_splits_like_bert():
    assert pretokenize("수분크림은 좋아요!! 가성비,최고 ㅋㅋ a_b") == [
        "수분크림은",
        "좋아요",
        "!",
        "!",
        "가성비",
        ",",
        "최고",
        "ㅋㅋ",
        "a",
        "_",
        "b",
    ]
    assert pretokenize("OST 漢字", lowercase=True) == ["ost", "漢", "字"]


def test_matches_rust_on_real_reviews(koelectra_vocab, review_texts):
    rust = _rust_bert(koelectra_vocab)
    wp = WordPiece(koelectra_vocab)
    for text in review_texts:
        assert wp.tokenize(text) == rust.encode(text, add_special_tokens=False).tokens, text


def test_matches_rust_after_adding_terms(koelectra_vocab, review_texts):
    """Fill [unused] slots as vocab fill does, then both tokenizers must agree again."""
    terms = ["재밌", "##네요", "재미있", "가성비", "##했어요", "평점", "존잼"]
    vocab = list(koelectra_vocab)
    slots = [i for i, t in enumerate(vocab) if t.startswith("[unused")]
    for slot, term in zip(slots, terms):
        vocab[slot] = term
    rust = _rust_bert(vocab)
    wp = WordPiece(koelectra_vocab)
    for term in terms:
        wp.add(term)
    changed = 0
    base = WordPiece(koelectra_vocab)
    for text in review_texts:
        mine = wp.tokenize(text)
        assert mine == rust.encode(text, add_special_tokens=False).tokens, text
        changed += mine != base.tokenize(text)
    assert changed > 100  # the terms are really used
    wp.discard("재밌")
    assert "재밌" not in wp and "##네요" in wp


def test_counts_and_boundaries(tiny_tokenizer_dir):
    base = load_base_tokenizer(str(tiny_tokenizer_dir))
    wp = base.wordpiece()
    for word in ["수분크림은", "재구매각", "가성비", "ㅋㅋ"]:
        pieces = wp.tokenize_word(word)
        assert wp.count_word(word) == len(pieces)
        ends = wp.piece_ends(word)
        assert ends[-1] == len(word) and len(ends) == len(pieces)
        assert wp.boundaries(word) == ends[:-1]
    assert wp.tokenize_word("x" * 101) is None and wp.count_word("x" * 101) == 1
    assert base.lowercase and len(base.free_slots) == 50
