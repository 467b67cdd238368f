"""Where a tokenizer's files are: a local directory or file, or a Hugging Face hub id.

A hub id is looked up in the local Hugging Face cache first (what `from_pretrained` downloaded
before), then fetched with plain HTTPS unless HF_HUB_OFFLINE is set. Offline, the error says how to
get the files and pass a local path. Stdlib only: no huggingface_hub.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from vocab_tools.atomic import atomic_write
from vocab_tools.errors import VocabError

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _offline() -> bool:
    return any(
        os.environ.get(k, "").lower() in ("1", "true", "yes", "on") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hf_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "huggingface"
    )
    return Path(home) / "hub"


def _download_dir(repo_id: str) -> Path:
    base = os.environ.get("DOMAINLM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "domainlm"
    )
    return Path(base) / "tokenizers" / repo_id.replace("/", "--")


def _has_tokenizer(path: Path) -> bool:
    return (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()


def _from_hf_cache(repo_id: str) -> Path | None:
    repo = _hf_cache() / f"models--{repo_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        preferred = snapshots / ref.read_text().strip()
        if _has_tokenizer(preferred):
            return preferred
    candidates = sorted(
        (p for p in snapshots.iterdir() if _has_tokenizer(p)), key=lambda p: p.stat().st_mtime, reverse=True
    )
    return candidates[0] if candidates else None


def _download(repo_id: str, timeout: float = 15.0) -> Path:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    out = _download_dir(repo_id)
    out.mkdir(parents=True, exist_ok=True)
    got: list[str] = []
    for name in TOKENIZER_FILES:
        url = f"{endpoint}/{repo_id}/resolve/main/{name}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                data = resp.read()
        except urllib.error.HTTPError as e:
            if e.code in (401, 403) and not got:
                raise VocabError(
                    f"The hub refused access to '{repo_id}' (HTTP {e.code}).",
                    "The repository is gated or private: download its tokenizer files with your token "
                    "and pass the local directory.",
                ) from None
            continue  # a missing optional file (404) is normal
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise _offline_error(repo_id, f"the hub could not be reached ({getattr(e, 'reason', e)})") from None
        with atomic_write(out / name, "wb", compress=False) as fh:
            fh.write(data)
        got.append(name)
    if not _has_tokenizer(out):
        raise VocabError(
            f"'{repo_id}' on the hub has neither tokenizer.json nor vocab.txt.",
            "Check the model id; vocab_tools handles BERT-style WordPiece tokenizers.",
        )
    return out


def _offline_error(source: str, why: str) -> VocabError:
    name = source.rsplit("/", 1)[-1]
    return VocabError(
        f"'{source}' is not a local path, and {why}.",
        f"Pass a local tokenizer directory, vocab.txt or tokenizer.json instead. To get one, on a machine with "
        f"internet run `hf download {source} vocab.txt tokenizer_config.json --local-dir ./{name}` "
        f"(add tokenizer.json if the model has one), copy ./{name} here and pass ./{name}.",
    )


def resolve_source(source: str | os.PathLike) -> Path:
    """A local path (directory, vocab.txt or tokenizer.json) holding the tokenizer named by `source`."""
    if not str(source).strip():  # Path("") is the current folder: never what an empty option meant
        raise VocabError(
            "The tokenizer path is empty.",
            "Pass a tokenizer directory, vocab.txt or tokenizer.json, or a hub id like kykim/bert-kor-base.",
        )
    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir() and not _has_tokenizer(path):
            found = sorted(p.name for p in path.iterdir())[:12]
            raise VocabError(
                f"The directory {path} has neither vocab.txt nor tokenizer.json (it has: "
                f"{', '.join(found) or 'nothing'}).",
                "Pass a tokenizer directory, or the vocab.txt / tokenizer.json file itself.",
            )
        return path
    text = str(source)
    looks_like_path = (
        text.startswith((".", "/", "~"))
        or text.endswith((".txt", ".json"))
        or os.sep + os.sep in text
        or text.count("/") > 1
        or not _HUB_ID.match(text)
    )
    if looks_like_path:
        raise VocabError(
            f"{text} does not exist.",
            "Pass an existing tokenizer directory, vocab.txt or tokenizer.json, or a hub id like kykim/bert-kor-base.",
        )
    cached = _from_hf_cache(text)
    if cached is not None:
        return cached
    downloaded = _download_dir(text)
    if _has_tokenizer(downloaded):
        return downloaded
    if _offline():
        raise _offline_error(text, "it is not in the local Hugging Face cache while HF_HUB_OFFLINE is set")
    return _download(text)


__all__ = ["resolve_source", "TOKENIZER_FILES"]
