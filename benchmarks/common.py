"""What several benchmark scripts share: where the shared data is, and the KoELECTRA-vocab BERT they time."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    return Path(os.environ.get("DOMAINLM_SHARED_DATA", REPO.parent / "shared" / "data"))


def koelectra_tokenizer():
    """A fast BERT tokenizer over the KoELECTRA vocab of the shared data (32,200 entries, 200 [unusedN]).

    Built with `tokenizers` directly: transformers 5 no longer reads a vocab_file argument.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    wp = Tokenizer(models.WordPiece.from_file(str(shared_data() / "vocab" / "koelectra_vocab.txt"), unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.decoder = decoders.WordPiece(prefix="##")
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return BertTokenizerFast(
        tokenizer_object=wp,
        do_lower_case=False,
        strip_accents=False,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )


def save_random_bert(out: Path, tokenizer, layers: int, hidden: int, heads: int | None = None) -> Path:
    """A randomly initialised BertForMaskedLM (seed 0) over `tokenizer`, saved with it in `out`."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads or max(1, hidden // 64),
        intermediate_size=4 * hidden,
        max_position_embeddings=512,
    )
    BertForMaskedLM(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out
