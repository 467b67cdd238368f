"""Counting: parallel equals sequential, memory bound by pruning, and the kiwi extractor."""

from __future__ import annotations

from collections import Counter

import pytest

from domainlm.corpus import Normalizer
from domainlm.mining import counting
from domainlm.mining.counting import count_words
from domainlm.mining.extractors import count_terms, kiwi_candidates
from domainlm.mining.wordpiece import pretokenize

TEXTS = [
    "수분크림은 정말 좋아요!!",
    "가성비 최고, 재구매각 ㅋㅋㅋㅋㅋ",
    "존맛탱 과자 https://x.y/z 또 시킬게요",
    "Hello WORLD 10점 만점에 10점",
] * 50


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def test_counts_match_normalised_pretokenized_text(corpus_file):
    n = Normalizer()
    expected = Counter(w for t in TEXTS for w in pretokenize(n(t)))
    result = count_words(str(corpus_file), workers=1, sample=10)
    assert result.counts == expected
    assert result.documents == len(TEXTS) and result.words == sum(expected.values())
    assert result.eojeols == sum(len(n(t).split()) for t in TEXTS)
    assert result.counts["ㅋㅋㅋ"] == 50 and result.counts["url"] == 50 and result.counts["10점"] == 100
    assert 10 <= len(result.sample) < 20 and all(t in TEXTS for t in result.sample)


def test_parallel_counting_equals_sequential(corpus_file, monkeypatch):
    sequential = count_words(str(corpus_file), workers=1)
    monkeypatch.setattr(counting, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(counting, "BATCH_CHARS", 500)  # many batches, spread over both workers
    for workers in (2, 3):  # this process and 1-2 children, each counting some batches
        parallel = count_words(str(corpus_file), workers=workers)
        assert parallel.workers == workers
        assert parallel.counts == sequential.counts and parallel.eojeols == sequential.eojeols


def test_memory_bound_prunes_rare_words(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("\n".join(f"흔한말 드문말{i}" for i in range(3000)) + "\n", encoding="utf-8")
    result = count_words(str(path), workers=1, max_words=1000)
    assert len(result.counts) <= 1000 and result.counts["흔한말"] == 3000 and result.prune_threshold >= 2


def test_kiwi_extractor_finds_stems_and_endings():
    words = {"수분크림은": 6, "수분크림이": 5, "촉촉하고": 7, "촉촉해서": 3, "발림성이": 8}
    found = kiwi_candidates(words, min_count=5, max_chars=12)
    assert found["수분크림"] == 11 and found["발림성"] == 8
    assert all(c >= 5 for c in found.values())
    assert count_terms({"수분크림을": 4, "좋아요": 2}, {"수분크림"}, {"아요"}, 12) == {"수분크림": 4, "##아요": 2}


def test_fast_path_reads_tsv_like_the_corpus_reader(tmp_path, monkeypatch):
    """The raw-chunk path (.tsv, where filter, short rows, BOM) counts exactly what CorpusReader yields."""
    import gzip

    rows = ["\ufeffid\tsplit\ttext"] + [
        f"{i}\t{'train' if i % 3 else 'test'}\t{TEXTS[i % len(TEXTS)]}" for i in range(600)
    ]
    rows += ["999\ttrain", "", "1000\ttest\t시험 문장"]
    path = tmp_path / "reviews.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(rows))  # no final newline: the last line must still be read
    from domainlm.corpus import CorpusSpec, fastread

    spec = CorpusSpec(path=str(path), where={"split": "train"})
    general = count_words(spec, workers=2, max_documents=10**9)  # max_documents forces the general path
    monkeypatch.setattr(counting, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 256)  # many chunks, lines cut across reads
    fast = count_words(spec, workers=2, sample=5)
    assert fast.counts == general.counts and fast.documents == general.documents == 400
    assert fast.raw_bytes == general.raw_bytes and fast.eojeols == general.eojeols
    assert 5 <= len(fast.sample) <= 10
    one = count_words(spec, workers=1, sample=5)  # the raw chunks read in this process
    assert one.workers == 1 and one.counts == general.counts and one.documents == general.documents
    assert one.raw_bytes == general.raw_bytes and one.eojeols == general.eojeols and 5 <= len(one.sample) <= 10


@pytest.mark.parametrize(
    "where,newline",
    [
        ({}, "\n"),
        ({"split": ["train", "dev"]}, "\n"),
        ({"split": "train"}, "\r\n"),
        ({"split": "train", "stars": "5"}, "\n"),
    ],
)
def test_fast_tsv_rows_filter_like_the_corpus_reader(tmp_path, where, newline):
    """The raw-chunk TSV parse (one `where` column or none and no CRs take a faster route) keeps
    exactly the documents CorpusReader keeps: lists of values, CRLF files, several columns."""
    from domainlm.corpus import CorpusSpec

    rows = ["id\tsplit\tstars\ttext"]
    rows += [f"{i}\t{('train', 'dev', 'test')[i % 3]}\t{i % 5 + 1}\t{TEXTS[i % len(TEXTS)]} {i}" for i in range(900)]
    rows += ["7\ttrain", "8\tdev\t5"]  # short rows: no text cell
    path = tmp_path / "rows.tsv"
    path.write_bytes(newline.join(rows).encode("utf-8"))
    spec = CorpusSpec(path=str(path), where=where)
    fast = count_words(spec, workers=1)
    general = count_words(spec, workers=1, max_documents=10**9)  # max_documents forces the general path
    assert fast.documents == general.documents > 0 and fast.counts == general.counts


def test_document_sample_is_every_step_th_document_across_batches():
    """The sample visits only every step-th document; it must equal testing every document in turn."""
    import random

    from domainlm.corpus import NormalizeConfig

    rng = random.Random(0)
    for trial in range(100):
        size = rng.randint(1, 20)
        tally = counting.Tally(NormalizeConfig(), True, 10**6, size)
        tally.add = lambda batch: None
        sample, step, seen = [], 1, 0
        for _ in range(rng.randint(1, 30)):
            batch = ["" if rng.random() < 0.1 else f"d{rng.random()}" for _ in range(rng.randint(0, 50))]
            tally.add_texts(batch)
            for doc in (d for d in batch if d):  # the rule, one document at a time
                if seen % step == 0:
                    sample.append(doc)
                    if len(sample) >= 2 * size:
                        sample[:] = sample[::2]
                        step *= 2
                seen += 1
        assert tally.sample == sample and tally.documents == seen, trial


# Lines the normaliser's masks and run cap rewrite, mixed into real reviews below.
TRICKY = [
    "후기 https://blog.naver.com/x?y=1 참고",
    "Www.Example.co.kr 에서 샀어요",
    "문의 seller.kim+1@mail.co.kr 로",
    "010-1234-5678 / +82 10 9876 5432 / 1234567",
    "ㅋㅋㅋㅋㅋㅋ!!!!!!~~~~ 굿굿굿굿",
    "ㅋㅏ ｆｕｌｌ １２３ ㎖",
    "AAAAaaaa",
    "a@b 메일아님",
    "www.x 두번 www.y",
    "ㅠㅠㅠㅠ\tㅠㅠㅠㅠ",
    "   ",
    "",
    "2010-1234-5678 x010-1234-5678",
    "+82-10-1234-5678",
    "(02)123-4567 031.123.4567",
    "가\u11a8 e\u0301 ｶﾞ",
]


@pytest.fixture(scope="module")
def real_texts(shared_data) -> list[str]:
    from domainlm.corpus import CorpusReader, CorpusSpec

    specs = [
        CorpusSpec(path=str(shared_data / "reviews" / "nsmc_reviews.tsv.gz"), limit=4000),
        CorpusSpec(path=str(shared_data / "reviews" / "naver_shopping_50k.tsv"), limit=2000),
    ]
    texts = [d.text.replace("\n", " ") for d in CorpusReader(specs)]
    return [t for i, t in enumerate(texts) for t in ([t, TRICKY[i % len(TRICKY)]] if i % 50 == 0 else [t])]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"max_char_repeat": 1},
        {"max_char_repeat": 2, "lowercase": True},
        {"mask_urls": False, "mask_emails": False, "mask_phones": False, "max_char_repeat": None},
    ],
)
def test_a_batch_normalises_as_its_documents_one_by_one(real_texts, config):
    """Counting normalises newline-joined batches (masks on the lines that need them, runs found with
    numpy in long text): the words must be those of the documents normalised one at a time."""
    from domainlm.corpus import NormalizeConfig
    from domainlm.corpus.normalize import LONG_TEXT

    n = Normalizer(NormalizeConfig(**config))
    batch = "\n".join(real_texts)
    assert len(batch) > 50 * LONG_TEXT
    one_by_one = [n(t) for t in real_texts]
    assert n(batch) == " ".join(t for t in one_by_one if t)
    assert n("\n".join(TRICKY) * 300) == " ".join(t for t in (n(t) for t in TRICKY * 300) if t)


def test_masks_and_run_cap_on_single_documents():
    n = Normalizer()
    assert n("Www.Example.co.kr 에서 샀어요") == "URL 에서 샀어요"  # www. in any case, like http:// (IGNORECASE)
    assert n("ㅋㅋㅋㅋㅋ " * 1000) == " ".join(["ㅋㅋㅋ"] * 1000)  # the long-text path
    assert n("굿굿굿굿 a@b.kr 010-1234-5678") == "굿굿굿 EMAIL PHONE"


def test_the_fast_pretokenizer_splits_normalised_text_like_pretokenize(real_texts):
    from domainlm.corpus import NormalizeConfig
    from domainlm.corpus.normalize import WORD_CHARS
    from domainlm.mining.wordpiece import pretokenizer_for

    for punctuation in (NormalizeConfig().punctuation, "", ".·♥"):
        text = Normalizer(NormalizeConfig(punctuation=punctuation))("\n".join(real_texts))
        split = pretokenizer_for(WORD_CHARS, punctuation)
        assert split is not pretokenize
        for lowercase in (True, False):
            assert split(text, lowercase) == pretokenize(text, lowercase)
    # A punctuation character that is a word character ('_' is, to Python's regex) keeps the general rule.
    assert pretokenizer_for(WORD_CHARS, "_.") is pretokenize


def test_nfkc_only_where_it_can_change_something(real_texts):
    """nfkc_keeping_jamo normalises only the tokens holding a character outside _NFKC_STABLE: those
    characters must be left alone by NFKC in any context, and the result must be the whole-text one."""
    import importlib
    import unicodedata

    N = importlib.import_module("domainlm.corpus.normalize")  # the module (the package exports a function of its name)

    stable = [c for a, b in ((0, 0x7F), (0xAC00, 0xD7A3), (0x4E00, 0x9FFF)) for c in range(a, b + 1)]
    assert all(unicodedata.combining(chr(c)) == 0 and unicodedata.is_normalized("NFKC", chr(c)) for c in stable)
    odd = [
        "e\u0301",
        " \u0301x",
        "가\u11a8",
        "\u1100\u1161",
        "\uffa1\uffa4",
        "ｆｕｌｌ １２３",
        "㎖ … Ⅻ ﬁ ①",
        "ㅋㅏ",
        "a\u0316\u0301",
    ]
    for text in ["\n".join(real_texts), " ".join(odd * 50), "x".join(odd)]:
        assert N.nfkc_keeping_jamo(text) == N._nfkc_keeping_jamo(text)
