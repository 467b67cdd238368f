"""The real vocabularies of ../shared/data/vocab: KoELECTRA (200 slots at the end), KcBERT (none)."""

from __future__ import annotations

import shutil

import pytest

from vocab_tools.errors import VocabError
from vocab_tools.fill import fill_slots, unfill_slots
from vocab_tools.info import inspect_tokenizer
from vocab_tools.loading import load_tokenizer
from vocab_tools.slots import free_slots

TERMS = ["수분크림", "발림성", "가성비", "재구매", "존맛", "흡수력", "꿀템", "인생템", "##같아요", "쟁여"]


@pytest.fixture(scope="module")
def koelectra(shared_data):
    return shared_data / "vocab" / "koelectra_vocab.txt"


@pytest.fixture(scope="module")
def filled_koelectra(koelectra, tmp_path_factory):
    out = tmp_path_factory.mktemp("koelectra") / "filled"
    return fill_slots(koelectra, TERMS + ["배송"], out, category="화장품")


def _reviews(shared_data, n):
    with open(shared_data / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8") as fh:
        next(fh)
        return [line.rstrip("\n").split("\t")[-1] for _, line in zip(range(n), fh)]


def test_koelectra_slots_are_found(koelectra):
    info = inspect_tokenizer(koelectra)
    assert info.size == 32200 and info.free_slots == 200 and info.free_ranges == "32000–32199"
    assert info.specials["mask_token"] == ("[MASK]", 4)
    assert info.normalizer["lowercase"] is False and info.normalizer["assumed"] and info.hangul_preserved
    assert "bare vocab.txt" in info.warnings[0].message
    assert free_slots(koelectra) == list(range(32000, 32200))


def test_koelectra_fill_keeps_every_other_id(koelectra, filled_koelectra):
    base = koelectra.read_text(encoding="utf-8")
    out = (filled_koelectra.out_dir / "vocab.txt").read_text(encoding="utf-8")
    assert not out.endswith("\n") and not base.endswith("\n")  # the file's own style is kept
    a, b = base.split("\n"), out.split("\n")
    assert len(a) == len(b) == 32200
    assert [i for i in range(32200) if a[i] != b[i]] == list(range(32000, 32010))
    assert b[32000:32010] == TERMS
    assert filled_koelectra.rejected == [("배송", "already in the vocab (id 17777)")]
    assert load_tokenizer(filled_koelectra.out_dir).mismatch is None
    assert inspect_tokenizer(filled_koelectra.out_dir).filled_by_category == {"화장품": 10}


def test_filled_koelectra_loads_and_fast_equals_slow_on_1000_reviews(filled_koelectra, shared_data, tmp_path):
    from transformers import AutoTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    d = filled_koelectra.out_dir
    texts = _reviews(shared_data, 1000)
    fast = AutoTokenizer.from_pretrained(str(d))
    assert len(fast) == 32200
    txt_only = tmp_path / "txt_only"
    txt_only.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(d / name, txt_only / name)
    from_txt = AutoTokenizer.from_pretrained(str(txt_only))
    slow = BertTokenizerLegacy(vocab_file=str(d / "vocab.txt"), do_lower_case=False, strip_accents=False)
    ids_fast = fast(texts)["input_ids"]
    assert ids_fast == from_txt(texts)["input_ids"]
    assert ids_fast == [slow(t)["input_ids"] for t in texts]
    assert sum(ids.count(32002) for ids in ids_fast) > 0  # 가성비 is really emitted


def test_koelectra_unfill_restores_the_original(filled_koelectra, koelectra, tmp_path):
    restored = unfill_slots(filled_koelectra.out_dir, tmp_path / "restored").out_dir
    assert (restored / "vocab.txt").read_bytes() == koelectra.read_bytes()


def test_kcbert_without_slots_says_so(shared_data, tmp_path):
    kcbert = shared_data / "vocab" / "kcbert_vocab.txt"
    info = inspect_tokenizer(kcbert)
    assert info.size == 30000 and info.total_slots == 0
    assert any("no [unusedN] slots" in w.message for w in info.warnings)
    with pytest.raises(VocabError, match="kcbert_vocab.txt has no \\[unusedN\\] slots") as e:
        fill_slots(kcbert, TERMS, tmp_path / "out")
    assert "kykim/bert-kor-base" in e.value.hint and "vocab build --unused" in e.value.hint
    assert not (tmp_path / "out").exists()
