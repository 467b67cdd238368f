"""The base tokenizer as mining needs it: its vocab, its normaliser flags and its free slots.

Torch-free: reads `tokenizer.json` (or `vocab.txt` + `tokenizer_config.json`) directly, from a
directory, a file, or a Hugging Face hub id (downloaded through `huggingface_hub`, cache first).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.errors import ModelError
from domainlm.mining.wordpiece import WordPiece

SLOT = re.compile(r"^\[unused\d+\]$")


@dataclass
class BaseTokenizer:
    name: str
    vocab: list[str]  # by id
    lowercase: bool = True
    max_input_chars_per_word: int = 100
    tokenizer_json: Path | None = None
    special: set[str] = field(default_factory=set)

    @property
    def free_slots(self) -> list[int]:
        """Ids of the `[unusedN]` entries (the slots terms can fill)."""
        return [i for i, tok in enumerate(self.vocab) if SLOT.match(tok)]

    def wordpiece(self) -> WordPiece:
        """A fresh mutable WordPiece over this vocab (slot and special tokens can never match a word)."""
        return WordPiece((t for t in self.vocab if t not in self.special and not SLOT.match(t)),
                         max_input_chars_per_word=self.max_input_chars_per_word)


def _find_normalizer(node: dict | None) -> dict | None:
    if not node:
        return None
    if node.get("type") == "BertNormalizer":
        return node
    for child in node.get("normalizers", []) or []:
        found = _find_normalizer(child)
        if found:
            return found
    return None


def _from_tokenizer_json(path: Path, name: str) -> BaseTokenizer:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"Cannot read the base tokenizer '{path}': {e}.", "Pass a valid tokenizer.json or a tokenizer directory.") from None
    model = data.get("model") or {}
    if model.get("type") != "WordPiece":
        raise ModelError(f"The base tokenizer '{name}' is a {model.get('type', 'unknown')} model, not WordPiece.",
                         "mine-terms fills the [unusedN] slots of BERT-style WordPiece tokenizers (BERT, ELECTRA, ALBERT with a WordPiece vocab).")
    vocab_map: dict[str, int] = model.get("vocab") or {}
    vocab = [""] * (max(vocab_map.values(), default=-1) + 1)
    for tok, idx in vocab_map.items():
        vocab[idx] = tok
    norm = _find_normalizer(data.get("normalizer"))
    lowercase = bool(norm.get("lowercase", True)) if norm else False
    strip = norm.get("strip_accents") if norm else False
    if norm and (strip is True or (strip is None and lowercase)):
        # Stripping accents NFD-decomposes Hangul into jamo: no Korean term would ever match.
        raise ModelError(f"The base tokenizer '{name}' strips accents, which decomposes Hangul syllables into jamo.",
                         "Set strip_accents=False in its BertNormalizer (kykim/bert-kor-base uses lowercase=True, strip_accents=False).")
    special = {t["content"] for t in data.get("added_tokens", []) if t.get("special")}
    return BaseTokenizer(name=name, vocab=vocab, lowercase=lowercase,
                         max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
                         tokenizer_json=path, special=special)


def _from_vocab_txt(path: Path, name: str) -> BaseTokenizer:
    vocab = path.read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    lowercase = True
    config = path.parent / "tokenizer_config.json"
    if config.is_file():
        try:
            lowercase = bool(json.loads(config.read_text(encoding="utf-8")).get("do_lower_case", True))
        except json.JSONDecodeError:
            pass
    return BaseTokenizer(name=name, vocab=vocab, lowercase=lowercase,
                         special={t for t in vocab if t.startswith("[") and t.endswith("]") and not SLOT.match(t)})


def load_base_tokenizer(name_or_path: str) -> BaseTokenizer:
    """Load the base tokenizer's vocab and flags from a directory, a file or a hub id."""
    path = Path(str(name_or_path))
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return _from_tokenizer_json(path / "tokenizer.json", str(name_or_path))
        if (path / "vocab.txt").is_file():
            return _from_vocab_txt(path / "vocab.txt", str(name_or_path))
        raise ModelError(f"'{path}' holds neither tokenizer.json nor vocab.txt.",
                         "Pass a tokenizer directory (save_pretrained output), a tokenizer.json, a vocab.txt or a hub id.")
    if path.is_file():
        return _from_tokenizer_json(path, str(path)) if path.suffix == ".json" else _from_vocab_txt(path, str(path))
    if path.suffix in (".json", ".txt") or str(name_or_path).startswith((".", "/")) or str(name_or_path).count("/") > 1:
        raise ModelError(f"The base tokenizer '{name_or_path}' does not exist.", "Check the path, or pass a hub id such as kykim/bert-kor-base.")
    return _from_hub(str(name_or_path))


def _from_hub(repo_id: str) -> BaseTokenizer:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - installed with transformers
        raise ModelError("Loading a tokenizer from the hub needs huggingface_hub.", "pip install huggingface_hub") from e
    errors = []
    for filename in ("tokenizer.json", "vocab.txt"):
        try:
            local = Path(hf_hub_download(repo_id, filename))
        except Exception as e:  # offline, unknown repo, missing file: all say "try the next / fail below"
            errors.append(f"{filename}: {type(e).__name__}")
            continue
        if filename == "vocab.txt":
            try:
                hf_hub_download(repo_id, "tokenizer_config.json")
            except Exception:
                pass
            return _from_vocab_txt(local, repo_id)
        return _from_tokenizer_json(local, repo_id)
    raise ModelError(f"Cannot load the base tokenizer '{repo_id}' from the Hugging Face hub ({'; '.join(errors)}).",
                     "When offline, pass a local tokenizer directory with --base, or download it first "
                     f"(`huggingface-cli download {repo_id}`) so the cache holds it.")
