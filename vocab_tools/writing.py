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
from collections.abc import Iterable, Mapping
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from vocab_tools.atomic import atomic_directory, stage_file, write_failure
from vocab_tools.errors import OutputError
from vocab_tools.manifest import MANIFEST_NAME

MODEL_MAX_LENGTH = 512


def bert_tokenizer_json(
    vocab: list[str], settings, specials: Mapping[str, str], max_input_chars_per_word: int = 100
) -> dict:
    """tokenizer.json content of a BERT WordPiece tokenizer over `vocab` (id = list index)."""
    ids = {t: i for i, t in enumerate(vocab)}
    unk = specials.get("unk_token", "[UNK]")
    tok = Tokenizer(models.WordPiece(ids, unk_token=unk, max_input_chars_per_word=max_input_chars_per_word))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True if settings.clean_text is None else settings.clean_text,
        handle_chinese_chars=True if settings.handle_chinese_chars is None else settings.handle_chinese_chars,
        strip_accents=settings.strip_accents,
        lowercase=bool(settings.lowercase),
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    from tokenizers import AddedToken

    # Only the five BERT specials become added tokens, as transformers does; never the [unusedN] slots.
    present = [
        specials[k]
        for k in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
        if specials.get(k) in ids
    ]
    present.sort(key=ids.__getitem__)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in present])
    cls, sep = specials.get("cls_token", "[CLS]"), specials.get("sep_token", "[SEP]")
    if cls in ids and sep in ids:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, ids[cls]), (sep, ids[sep])],
        )
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
        config["tokenize_chinese_chars"] = (
            True if settings.handle_chinese_chars is None else settings.handle_chinese_chars
        )
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


def write_tokenizer_dir(
    out_dir: str | os.PathLike,
    files: Mapping[str, str],
    remove: Iterable[str] = (),
    *,
    command: str | None = None,
    force: bool = False,
    in_place: bool = False,
) -> Path:
    """Write `files` (name → text) into `out_dir` so that no reader ever sees a half-written tokenizer.

    One rule for where a tokenizer may go (the rule of every command that writes a folder):

    - a new folder, an empty one, or an earlier output of the same `command` is built beside and
      swapped in whole (`atomic_directory`); a folder holding anything else is refused unless
      `force` (then its content is replaced);
    - `in_place`: `out_dir` IS the tokenizer being edited (`vocab fill DIR terms -o DIR`, `vocab
      unfill DIR`), a folder the user pointed at as the input. Only its tokenizer files are replaced,
      each by a rename, the manifest last; everything else in it (a model's weights) is untouched.

    A write failure (no space, no permission) becomes an `OutputError`; nothing half-written is left.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"The output '{out}' exists and is a file, not a folder.",
            "Pass a folder for the output tokenizer (-o / --output).",
        )
    if not in_place:
        with atomic_directory(out, command=command, force=force) as tmp:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
        return out
    staged: list[tuple[Path, Path]] = []
    try:
        for name in sorted(files, key=lambda n: n == MANIFEST_NAME):
            staged.append((stage_file(out / name, files[name]), out / name))
        for tmp_path, final in staged:
            os.replace(tmp_path, final)
        for name in remove:
            (out / name).unlink(missing_ok=True)
    except BaseException as exc:
        for tmp_path, _ in staged:
            tmp_path.unlink(missing_ok=True)
        reason = write_failure(exc)
        if reason is None:
            raise
        # Every file is written in full before the first rename, so a failed write replaced nothing.
        raise OutputError(
            f"Could not write the tokenizer files in '{out}': {reason}. The tokenizer there is unchanged.",
            "Free space on that disk or fix its permissions, then run the same command again.",
        ) from exc
    return out


__all__ = [
    "bert_tokenizer_json",
    "tokenizer_json_text",
    "tokenizer_config",
    "special_tokens_map",
    "write_tokenizer_dir",
    "dumps",
]
