"""build_vocab: BERT layout with reserved slots, loadable by transformers, fast == slow ids."""

from __future__ import annotations

import json

import pytest
from helpers.tiny import TINY_TEXT

from vocab_tools.atomic import output_owner
from vocab_tools.build import build_vocab
from vocab_tools.errors import VocabError
from vocab_tools.loading import load_tokenizer


def _reviews(shared_data, n):
    with open(shared_data / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8") as fh:
        next(fh)
        return [line.rstrip("\n").split("\t")[-1] for _, line in zip(range(n), fh)]


@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("built") / "tok"
    result = build_vocab(_reviews(shared_data, 4000), out, vocab_size=3000, unused=30, limit_alphabet=700)
    return result


def test_layout_specials_then_slots_then_pieces(built):
    vocab = (built.out_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert vocab[5:35] == [f"[unused{i}]" for i in range(30)]
    assert built.slot_range == (5, 34) and built.vocab_size == len(vocab) == 3030
    assert built.pieces == 2995 and not built.warnings
    # The tokenizer files, plus the hidden marker that lets the next `vocab build` replace this folder.
    assert sorted(p.name for p in built.out_dir.iterdir()) == [
        ".domainlm.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert output_owner(built.out_dir) == "vocab build"
    data = json.loads((built.out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    # Only the five specials are added tokens; slots are plain WordPiece entries.
    assert [t["content"] for t in data["added_tokens"]] == vocab[:5]
    assert data["normalizer"]["strip_accents"] is False and data["normalizer"]["lowercase"] is True
    config = json.loads((built.out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["do_lower_case"] is True and config["strip_accents"] is False
    assert load_tokenizer(built.out_dir).vocab == vocab


def test_fast_and_vocab_txt_only_give_identical_ids(built, shared_data, tmp_path):
    import shutil

    from transformers import AutoTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    texts = _reviews(shared_data, 5000)[4000:4500]  # not the training text
    fast = AutoTokenizer.from_pretrained(str(built.out_dir))
    txt_only = tmp_path / "txt_only"
    txt_only.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(built.out_dir / name, txt_only / name)
    from_txt = AutoTokenizer.from_pretrained(str(txt_only))
    slow = BertTokenizerLegacy(vocab_file=str(built.out_dir / "vocab.txt"), do_lower_case=True, strip_accents=False)
    a, b = fast(texts)["input_ids"], from_txt(texts)["input_ids"]
    c = [slow(t)["input_ids"] for t in texts]
    assert a == b == c
    assert len(fast) == built.vocab_size


def test_slots_at_end_and_cased(tmp_path):
    result = build_vocab(
        TINY_TEXT * 3, tmp_path / "t", vocab_size=200, unused=7, slots_at="end", lowercase=False, min_frequency=1
    )
    vocab = load_tokenizer(result.out_dir).vocab
    assert vocab[-7:] == [f"[unused{i}]" for i in range(7)] and result.slot_range == (len(vocab) - 7, len(vocab) - 1)
    assert json.loads((result.out_dir / "tokenizer_config.json").read_text())["do_lower_case"] is False


def test_size_warnings_and_bad_arguments(tmp_path):
    small = build_vocab(TINY_TEXT, tmp_path / "small", vocab_size=5000, unused=0, min_frequency=1)
    assert small.slot_range is None and "only" in small.warnings[0]
    with pytest.raises(VocabError, match="empty"):
        build_vocab(["", ""], tmp_path / "empty", vocab_size=100)
    with pytest.raises(VocabError, match="no room"):
        build_vocab(TINY_TEXT, tmp_path / "x", vocab_size=5)
    with pytest.raises(VocabError, match="decompose Hangul"):
        build_vocab(TINY_TEXT, tmp_path / "x", vocab_size=100, strip_accents=None)
    with pytest.raises(VocabError, match="slots_at"):
        build_vocab(TINY_TEXT, tmp_path / "x", vocab_size=100, slots_at="middle")
    assert not (tmp_path / "empty").exists()  # nothing half-written


def _written(folder) -> dict[str, bytes]:
    # Every file but the ownership marker (it records when and by which process the folder was written).
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != ".domainlm.json"}


def _ud_sentences(shared_data) -> list[str]:
    return (shared_data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8").splitlines()


def test_same_corpus_and_settings_give_byte_identical_files(shared_data, tmp_path):
    """HF's trainer alone moves thousands of ids and tens of pieces between runs, in one process too
    (tokenizers issue 1794); `build_vocab` must not. A cut alphabet is where ties are most common."""
    texts = _ud_sentences(shared_data)
    first = build_vocab(texts, tmp_path / "a", vocab_size=3000, unused=20, limit_alphabet=800)
    files = _written(first.out_dir)
    assert sorted(files) == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    for i in range(2):
        again = build_vocab(texts, tmp_path / f"b{i}", vocab_size=3000, unused=20, limit_alphabet=800)
        assert _written(again.out_dir) == files
    whole = build_vocab(texts, tmp_path / "c", vocab_size=3000, unused=20)  # no cut alphabet
    assert _written(build_vocab(texts, tmp_path / "d", vocab_size=3000, unused=20).out_dir) == _written(whole.out_dir)
    # Nothing of the work (the spooled corpus) is left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["a", "b0", "b1", "c", "d"]


def test_identical_across_processes_and_hash_seeds(shared_data, tmp_path):
    import os
    import subprocess
    import sys

    code = """
import sys
from vocab_tools.build import build_vocab
texts = open(sys.argv[1], encoding="utf-8").read().splitlines()
build_vocab(texts, sys.argv[2], vocab_size=2500, unused=10, limit_alphabet=700)
"""
    source = shared_data / "general" / "ud_korean_sentences.txt"
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"p{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", code, str(source), str(out)], capture_output=True, text=True, timeout=120, env=env
        )
        assert run.returncode == 0, run.stderr
        outs.append(_written(out))
    assert outs[0] == outs[1]


def test_reproducible_vocab_is_the_trainers_vocab(shared_data, tmp_path):
    """Fixing the ids must not change what is learned: without a cut alphabet, the characters and
    their ## forms are exactly the ones HF's trainer keeps, and the pieces load and tokenize."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    texts = _ud_sentences(shared_data)
    result = build_vocab(texts, tmp_path / "t", vocab_size=3000, unused=0)
    ours = set(load_tokenizer(result.out_dir).vocab)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        texts,
        trainers.WordPieceTrainer(
            vocab_size=3000,
            min_frequency=2,
            show_progress=False,
            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            continuing_subword_prefix="##",
        ),
    )
    theirs = set(tok.get_vocab())

    def base(vocab):
        return {t for t in vocab if len(t) == 1 or (t.startswith("##") and len(t) == 3)}

    assert base(ours) == base(theirs)
    assert len(ours) == len(theirs) and len(ours ^ theirs) < 0.05 * len(ours)  # merges: only ties at the cut differ
