"""Write a BERT tokenizer directory that transformers loads, atomically.

`bert_tokenizer_json` makes the tokenizer.json that transformers' BertTokenizer builds from a
vocab.txt (BertNormalizer, BertPreTokenizer, [CLS] $A [SEP] template, WordPiece decoder), so the fast
and the vocab.txt-only load give identical ids. The `[unusedN]` slots are plain vocab entries, not
added tokens: added tokens are matched before normalisation and WordPiece, so a term written into an
added-token slot would never get `##` continuation and would split words it occurs in.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from vocab_tools.atomic import atomic_directory
from vocab_tools.source import TOKENIZER_FILES
from vocab_tools.slots import MANIFEST_NAME

MODEL_MAX_LENGTH = 512
OWN_FILES = frozenset(TOKENIZER_FILES) | {MANIFEST_NAME}


def bert_tokenizer_json(vocab: list[str], settings, specials: Mapping[str, str], max_input_chars_per_word: int = 100) -> dict:
    """tokenizer.json content of a BERT WordPiece tokenizer over `vocab` (id = list index)."""
    ids = {t: i for i, t in enumerate(vocab)}
    unk = specials.get("unk_token", "[UNK]")
    tok = Tokenizer(models.WordPiece(ids, unk_token=unk, max_input_chars_per_word=max_input_chars_per_word))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True if settings.clean_text is None else settings.clean_text,
        handle_chinese_chars=True if settings.handle_chinese_chars is None else settings.handle_chinese_chars,
        strip_accents=settings.strip_accents, lowercase=bool(settings.lowercase))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    from tokenizers import AddedToken

    # Only the five BERT specials become added tokens, as transformers does; never the [unusedN] slots.
    present = [specials[k] for k in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token") if specials.get(k) in ids]
    present.sort(key=ids.__getitem__)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in present])
    cls, sep = specials.get("cls_token", "[CLS]"), specials.get("sep_token", "[SEP]")
    if cls in ids and sep in ids:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, ids[cls]), (sep, ids[sep])])
    return json.loads(tok.to_str())


def tokenizer_json_text(data: dict) -> str:
    """Validate tokenizer.json content by loading it in Rust, and serialise it as tokenizers does."""
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False)).to_str(pretty=True)


def tokenizer_config(settings, specials: Mapping[str, str], base: Mapping | None = None) -> dict:
    """tokenizer_config.json: `base` (the source's) with the normaliser settings spelled out.

    Writing do_lower_case and strip_accents explicitly matters: left out, transformers defaults to
    strip_accents=None, which NFD-decomposes Hangul when lowercasing.
    """
    config = dict(base or {})
    config.setdefault("tokenizer_class", "BertTokenizer")
    if settings.kind == "BertNormalizer":
        config["do_lower_case"] = bool(settings.lowercase)
        config["strip_accents"] = settings.strip_accents
        config["tokenize_chinese_chars"] = True if settings.handle_chinese_chars is None else settings.handle_chinese_chars
    for key, value in specials.items():
        config.setdefault(key, value)
    config.setdefault("model_max_length", MODEL_MAX_LENGTH)
    return config


def special_tokens_map(specials: Mapping[str, str], base: Mapping | None = None) -> dict:
    data = dict(base or {})
    for key, value in specials.items():
        data.setdefault(key, value)
    return data


def dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write_tokenizer_dir(out_dir: str | os.PathLike, files: Mapping[str, str], remove: Iterable[str] = ()) -> Path:
    """Write `files` (name → text) into `out_dir` so that no reader ever sees a half-written tokenizer.

    A new directory, or one holding only tokenizer files, is built beside it and renamed into place.
    A directory that holds other things too (a model's weights) is updated file by file, each by
    rename, the manifest last, so the weights are never copied or touched.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        from vocab_tools.errors import VocabError

        raise VocabError(f"{out} exists and is not a directory.", "Pass a directory for the output tokenizer.")
    foreign = [p.name for p in out.iterdir() if p.name not in OWN_FILES] if out.is_dir() else []
    if not foreign:
        with atomic_directory(out) as tmp:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
        return out
    staged: list[tuple[Path, Path]] = []
    try:
        for name in sorted(files, key=lambda n: n == MANIFEST_NAME):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(files[name])
            staged.append((Path(tmp_name), out / name))
    except BaseException:
        for tmp_path, _ in staged:
            tmp_path.unlink(missing_ok=True)
        raise
    for tmp_path, final in staged:
        os.replace(tmp_path, final)
    for name in remove:
        (out / name).unlink(missing_ok=True)
    return out


__all__ = ["bert_tokenizer_json", "tokenizer_json_text", "tokenizer_config", "special_tokens_map", "write_tokenizer_dir", "dumps"]
