"""The tiny inputs every area's tests build (texts, a WordPiece tokenizer) and where the shared data is.

Imported by `conftest.py` (which turns them into session fixtures) and by tests that build their own
variants; built with `tokenizers` and `transformers` directly, so each area is tested without another
area's code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("DOMAINLM_SHARED_DATA", REPO.parent / "shared" / "data"))


TINY_TEXT = [
    "이 크림 발림성 정말 좋아요 보습력도 최고",
    "수분크림은 가성비 최고 재구매각 입니다",
    "향이 너무 좋고 흡수도 빨라요 ㅋㅋ",
    "배송 빠르고 포장도 꼼꼼해요 만족합니다",
    "존맛 과자 또 시킬게요 ㅠㅠ 맛있어요",
    "영화 정말 재밌게 봤어요 배우 연기 최고",
    "스토리가 지루하고 연출이 별로였다",
    "대한민국의 수도는 서울이며 인구가 많다",
    "이 제품은 전자제품 중에서 배터리가 오래 간다",
    "강아지 사료 기호성이 좋아서 잘 먹어요",
]

TINY_UNUSED = 50


def build_tiny_tokenizer(out_dir: Path, texts: list[str], vocab_size: int = 400, unused: int = TINY_UNUSED) -> Path:
    """A BERT WordPiece tokenizer dir: [PAD] [UNK] [CLS] [SEP] [MASK] at 0-4, then [unusedN] slots."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"[unused{i}]" for i in range(unused)]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size + len(specials),
        special_tokens=specials,
        min_frequency=1,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=True,
        strip_accents=False,
        tokenize_chinese_chars=True,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(str(out_dir))
    return out_dir


def tiny_corpus_texts() -> list[str]:
    """The tiny texts and the first 3,000 Naver shopping reviews of the shared data: the text the session
    tokenizer and the training tests read. Without the shared data the test skips (and CI, where a skip
    fails the run, says so) instead of running on another corpus than everywhere else."""
    reviews = shared_data_dir() / "reviews" / "naver_shopping_50k.tsv"
    if not reviews.exists():
        pytest.skip(f"shared data not found at {reviews.parent.parent} (set DOMAINLM_SHARED_DATA)")
    texts = list(TINY_TEXT)
    with open(reviews, encoding="utf-8") as fh:
        next(fh)
        for i, line in enumerate(fh):
            if i >= 3000:
                break
            texts.append(line.rstrip("\n").split("\t")[-1])
    return texts


def build_tiny_mlm(tokenizer_dir: Path, out: Path, layers: int = 2) -> Path:
    """A randomly initialised BertForMaskedLM (hidden 32, seed 0) saved in `out` with the tokenizer's files."""
    import shutil

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertForMaskedLM(config).save_pretrained(str(out))
    for f in Path(tokenizer_dir).iterdir():
        shutil.copy(f, out / f.name)
    return out
