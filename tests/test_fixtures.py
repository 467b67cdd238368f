"""The shared tiny fixtures are what other tests assume they are."""

from transformers import AutoModelForMaskedLM, AutoTokenizer


def test_tiny_tokenizer_has_slots_and_korean(tiny_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    vocab = tok.get_vocab()
    assert vocab["[PAD]"] == 0 and vocab["[MASK]"] == 4 and vocab["[unused0]"] == 5
    ids = tok("배송 빠르고 좋아요")["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3 and 1 not in ids[1:-1]


def test_tiny_mlm_loads(tiny_mlm_dir):
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_mlm_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_mlm_dir))
    out = model(**tok("배송 빠르고 좋아요", return_tensors="pt"))
    assert out.logits.shape[-1] == len(tok)
