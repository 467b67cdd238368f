"""Read a BERT-style tokenizer from whatever files it comes as, into one in-memory picture.

Inputs: a directory (tokenizer.json and/or vocab.txt, tokenizer_config.json, special_tokens_map.json,
slots.json), a bare vocab.txt, a bare tokenizer.json, or a hub id (see `source.py`).

The normaliser settings come from tokenizer.json when there is one (that is what `AutoTokenizer`
runs), else from tokenizer_config.json. A bare vocab.txt says nothing about them: transformers would
fall back to do_lower_case=True with strip_accents unset, which NFD-decomposes Hangul into jamo, so
here the safe reading is assumed instead (lowercase only if the vocab has no upper-case Latin pieces,
strip_accents=False) and `assumed` says so; `inspect` warns about both.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from vocab_tools.errors import VocabError
from vocab_tools.manifest import SlotEntry, read_manifest
from vocab_tools.source import resolve_source
from vocab_tools.writing import bert_tokenizer_json

BERT_SPECIALS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}
HANGUL_PROBE = "한국어 형태소 분석"
_UPPER_LATIN = re.compile(r"[A-Z]")


@dataclass
class NormalizerSettings:
    """What the tokenizer does to text before splitting it (BertNormalizer fields)."""

    lowercase: bool | None
    strip_accents: bool | None
    handle_chinese_chars: bool | None = True
    clean_text: bool | None = True
    kind: str = "BertNormalizer"
    origin: str = "tokenizer.json"
    assumed: bool = False

    @property
    def decomposes_hangul(self) -> bool:
        """True when BertNormalizer would NFD-decompose Hangul syllables into jamo."""
        if self.kind != "BertNormalizer":
            return False
        return self.strip_accents is True or (self.strip_accents is None and bool(self.lowercase))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "handle_chinese_chars": self.handle_chinese_chars,
            "clean_text": self.clean_text,
            "origin": self.origin,
            "assumed": self.assumed,
        }


@dataclass
class VocabText:
    """vocab.txt as transformers reads it: one token a line, line number = id."""

    tokens: list[str]
    trailing_newline: bool

    def render(self, tokens: list[str] | None = None) -> str:
        text = "\n".join(self.tokens if tokens is None else tokens)
        return text + "\n" if self.trailing_newline else text


def read_vocab_txt(path: str | os.PathLike) -> VocabText:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise VocabError(
            f"{path} is not UTF-8 ({e.reason} at byte {e.start}).", "A vocab.txt must be UTF-8, one token a line."
        ) from None
    # Read as transformers does (text mode: \r\n and \r become \n; readlines(): a final newline ends
    # the last token rather than adding an empty one), so ids here are exactly its ids.
    trailing = text.endswith("\n")
    tokens = (text[:-1] if trailing else text).split("\n") if text else []
    if not tokens:
        raise VocabError(f"{path} is empty.", "Pass a vocab.txt with one token a line.")
    _check_looks_like_vocab(path, tokens)
    return VocabText(tokens, trailing)


# A WordPiece token never holds whitespace (the pre-tokenizer splits on it) and is at most
# max_input_chars_per_word (100) long: a line that breaks either can never be produced. Real
# vocabularies have none; a corpus or a terms file passed by mistake is mostly such lines.
_MAX_TOKEN_CHARS = 100
_NOT_A_TOKEN_SHARE = 0.10


def _check_looks_like_vocab(path: Path, tokens: list[str]) -> None:
    """Refuse a text file that is not a vocabulary (a corpus passed as vocab.txt), before anything
    reports its lines as tokens."""
    bad = [t for t in tokens if len(t) > _MAX_TOKEN_CHARS or any(c.isspace() for c in t)]
    if len(bad) > max(1, _NOT_A_TOKEN_SHARE * len(tokens)):
        example = bad[0] if len(bad[0]) <= 40 else bad[0][:40] + "…"
        raise VocabError(
            f"{path} is not a vocabulary: {len(bad):,} of its {len(tokens):,} lines hold spaces or are over "
            f"{_MAX_TOKEN_CHARS} characters (e.g. {example!r}), which no WordPiece token is. It looks like a text "
            "corpus or a terms file.",
            "Pass a vocab.txt (one token a line), a tokenizer.json or a tokenizer folder.",
        )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise VocabError(
            f"{path} is not valid JSON ({e}).", "Restore the file, or delete it to fall back on vocab.txt."
        ) from None
    if not isinstance(data, dict):
        raise VocabError(f"{path} holds a JSON {type(data).__name__}, not an object.")
    return data


def _vocab_from_tokenizer_json(data: dict, path: Path) -> list[str]:
    model = data.get("model") or {}
    if model.get("type") != "WordPiece":
        raise VocabError(
            f"{path} is a {model.get('type', 'unknown')} tokenizer, not WordPiece.",
            "vocab_tools handles BERT-style WordPiece tokenizers (BERT, ELECTRA, kykim, KoELECTRA).",
        )
    mapping: dict = model.get("vocab") or {}
    vocab: list[str | None] = [None] * len(mapping)
    for token, i in mapping.items():
        if not isinstance(i, int) or not 0 <= i < len(mapping) or vocab[i] is not None:
            raise VocabError(
                f"The WordPiece vocab in {path} does not use each id 0–{len(mapping) - 1} exactly once (token "
                f"{token!r} → {i}).",
                "Regenerate tokenizer.json from vocab.txt (delete it and load the directory with transformers).",
            )
        vocab[i] = token
    return vocab  # type: ignore[return-value]


def _settings_from_tokenizer_json(data: dict) -> NormalizerSettings:
    norm = data.get("normalizer")
    if norm is None:
        return NormalizerSettings(False, False, False, False, kind="none")
    if norm.get("type") == "BertNormalizer":
        return NormalizerSettings(
            norm.get("lowercase", True),
            norm.get("strip_accents"),
            norm.get("handle_chinese_chars", True),
            norm.get("clean_text", True),
        )
    return NormalizerSettings(None, None, None, None, kind=norm.get("type", "unknown"))


def _settings_from_config(config: dict, vocab: list[str], origin: str) -> NormalizerSettings:
    if origin == "tokenizer_config.json":
        # transformers' BertTokenizer defaults: do_lower_case=True, strip_accents=None.
        return NormalizerSettings(
            config.get("do_lower_case", True),
            config.get("strip_accents"),
            config.get("tokenize_chinese_chars", True),
            True,
            origin=origin,
        )
    cased = any(_UPPER_LATIN.search(t) for t in vocab if not (t.startswith("[") and t.endswith("]")))
    return NormalizerSettings(not cased, False, True, True, origin="assumed for a bare vocab.txt", assumed=True)


@dataclass
class LoadedTokenizer:
    """Everything vocab_tools knows about one tokenizer."""

    source: str
    path: Path  # the directory holding the files (or the parent of a bare file)
    vocab: list[str]
    settings: NormalizerSettings
    tokenizer_json: dict | None = None
    vocab_txt: VocabText | None = None
    config: dict = field(default_factory=dict)
    special_tokens_map: dict | None = None
    manifest: list[SlotEntry] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    mismatch: str | None = None  # how vocab.txt and tokenizer.json disagree, if they do

    @property
    def token_to_id(self) -> dict[str, int]:
        return self._token_to_id

    @cached_property
    def _token_to_id(self) -> dict[str, int]:
        # Like transformers' load_vocab: a duplicated token maps to its last id.
        return {t: i for i, t in enumerate(self.vocab)}

    @property
    def special_tokens(self) -> dict[str, str]:
        names = dict(BERT_SPECIALS)
        for src in (self.special_tokens_map or {}, self.config):
            for key in BERT_SPECIALS:
                value = src.get(key)
                if isinstance(value, dict):
                    value = value.get("content")
                if isinstance(value, str):
                    names[key] = value
        return names

    @property
    def unk_token(self) -> str:
        if self.tokenizer_json is not None:
            return self.tokenizer_json["model"].get("unk_token", "[UNK]")
        return self.special_tokens["unk_token"]

    @property
    def max_input_chars_per_word(self) -> int:
        if self.tokenizer_json is not None:
            return int(self.tokenizer_json["model"].get("max_input_chars_per_word", 100))
        return 100

    @property
    def added_token_ids(self) -> dict[int, dict]:
        """tokenizer.json `added_tokens` entries by id."""
        if self.tokenizer_json is None:
            return {}
        return {int(t["id"]): t for t in self.tokenizer_json.get("added_tokens", [])}

    def tokenizer_json_data(self) -> dict:
        """tokenizer.json content: the file's, or the one transformers would build from vocab.txt."""
        if self.tokenizer_json is not None:
            return self.tokenizer_json
        return bert_tokenizer_json(self.vocab, self.settings, self.special_tokens)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The Rust tokenizer, for encoding (no truncation, no padding)."""
        tok = Tokenizer.from_str(json.dumps(self.tokenizer_json_data(), ensure_ascii=False))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def hangul_preserved(self) -> bool:
        """Measured, not inferred: does the normaliser leave Hangul syllables as they are?"""
        norm = self.tokenizer.normalizer
        return norm is None or norm.normalize_str(HANGUL_PROBE) == HANGUL_PROBE

    @property
    def name(self) -> str:
        return self.source


def load_tokenizer(source: str | os.PathLike | LoadedTokenizer) -> LoadedTokenizer:
    """Load a tokenizer dir, vocab.txt, tokenizer.json or hub id (see module doc)."""
    if isinstance(source, LoadedTokenizer):
        return source
    path = resolve_source(source)
    directory = path if path.is_dir() else path.parent
    tok_json_path: Path | None = None
    vocab_path: Path | None = None
    config_path: Path | None
    stm_path: Path | None
    if path.is_dir():
        tok_json_path = path / "tokenizer.json" if (path / "tokenizer.json").is_file() else None
        vocab_path = path / "vocab.txt" if (path / "vocab.txt").is_file() else None
        config_path = path / "tokenizer_config.json"
        stm_path = path / "special_tokens_map.json"
    else:
        if path.suffix == ".json":
            tok_json_path = path
        else:
            vocab_path = path
        config_path = stm_path = None  # a bare file stands alone: its neighbours may belong to something else
    files = [p.name for p in (tok_json_path, vocab_path, config_path, stm_path) if p is not None and p.is_file()]
    config = _read_json(config_path) if config_path is not None and config_path.is_file() else {}
    stm = _read_json(stm_path) if stm_path is not None and stm_path.is_file() else None
    vocab_txt = read_vocab_txt(vocab_path) if vocab_path is not None else None
    tok_json = _read_json(tok_json_path) if tok_json_path is not None else None

    mismatch = None
    if tok_json is not None and tok_json_path is not None:
        vocab = _vocab_from_tokenizer_json(tok_json, tok_json_path)
        settings = _settings_from_tokenizer_json(tok_json)
        if vocab_txt is not None:
            mismatch = _describe_mismatch(vocab_txt.tokens, vocab)
    else:
        assert vocab_txt is not None  # a source has tokenizer.json or vocab.txt (resolve_source)
        vocab = vocab_txt.tokens
        settings = _settings_from_config(
            config, vocab, "tokenizer_config.json" if config_path is not None and config_path.is_file() else ""
        )
    manifest = read_manifest(directory) if path.is_dir() else []
    return LoadedTokenizer(
        source=str(source),
        path=directory,
        vocab=vocab,
        settings=settings,
        tokenizer_json=tok_json,
        vocab_txt=vocab_txt,
        config=config,
        special_tokens_map=stm,
        manifest=manifest,
        files=files,
        mismatch=mismatch,
    )


def _describe_mismatch(txt: list[str], js: list[str]) -> str | None:
    if txt == js:
        return None
    if len(txt) != len(js):
        return f"vocab.txt has {len(txt):,} entries but tokenizer.json has {len(js):,}"
    i = next(i for i, (a, b) in enumerate(zip(txt, js)) if a != b)
    return f"id {i} is {txt[i]!r} in vocab.txt but {js[i]!r} in tokenizer.json"


def load_vocab(path: str | os.PathLike | LoadedTokenizer) -> list[str]:
    """The id → token list of a tokenizer (directory, vocab.txt, tokenizer.json or hub id)."""
    return load_tokenizer(path).vocab


def vocab_sha256(path: str | os.PathLike | LoadedTokenizer) -> str:
    """sha256 of a tokenizer's vocabulary (its tokens in id order, one a line): the identity a slot id
    means something on. A shared recipe bundle records its base's and is imported only on the same one."""
    return hashlib.sha256("\n".join(load_vocab(path)).encode("utf-8")).hexdigest()


__all__ = [
    "LoadedTokenizer",
    "NormalizerSettings",
    "VocabText",
    "load_tokenizer",
    "load_vocab",
    "read_vocab_txt",
    "vocab_sha256",
]
