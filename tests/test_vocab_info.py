"""inspect_tokenizer, load_tokenizer and source resolution."""

from __future__ import annotations

import json
import shutil

import pytest

from vocab_tools.errors import VocabError
from vocab_tools.info import inspect_tokenizer
from vocab_tools.loading import load_tokenizer, load_vocab


def test_tiny_tokenizer_info(tiny_tokenizer_dir):
    info = inspect_tokenizer(tiny_tokenizer_dir)
    assert info.free_ranges == "5–54" and info.total_slots == 50 and info.filled == []
    assert info.slots_as_added_tokens == 50  # kykim-style: slots registered as special added tokens
    assert info.normalizer["lowercase"] is True and info.normalizer["strip_accents"] is False
    assert info.hangul_preserved and info.warnings == []
    d = info.to_dict()
    assert d["slots"]["free"] == 50 and json.dumps(d)


def test_bare_files_and_config_only_dirs(tiny_tokenizer_dir, tmp_path):
    vocab = load_vocab(tiny_tokenizer_dir)
    assert load_vocab(tiny_tokenizer_dir / "tokenizer.json") == vocab
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    assert load_vocab(tmp_path / "v" / "vocab.txt") == vocab
    # A config without strip_accents gets transformers' defaults, which decompose Hangul: warn loudly.
    (tmp_path / "v" / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}), encoding="utf-8")
    info = inspect_tokenizer(tmp_path / "v")
    assert not info.hangul_preserved and info.normalizer["origin"] == "tokenizer_config.json"
    assert "NFD-decomposes Hangul" in info.warnings[0].message and "--fix-normalizer" in info.warnings[0].fix
    # tokenizer.json fine but config silent about strip_accents: a vocab.txt-only load would differ.
    shutil.copy(tiny_tokenizer_dir / "tokenizer.json", tmp_path / "v" / "tokenizer.json")
    info = inspect_tokenizer(tmp_path / "v")
    assert info.hangul_preserved and "does not set strip_accents" in info.warnings[0].message


def test_crlf_is_read_like_transformers_and_duplicates_are_reported(tmp_path):
    (tmp_path / "vocab.txt").write_bytes(
        "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\n[unused0]\r\n가\r\n가\r\n".encode()
    )
    info = inspect_tokenizer(tmp_path / "vocab.txt")
    assert info.size == 8 and info.free_ranges == "5"
    assert any("more than once" in w.message for w in info.warnings)
    with pytest.raises(VocabError, match="lists some tokens twice .*'가'"):
        __import__("vocab_tools").fill_slots(tmp_path / "vocab.txt", ["나"], tmp_path / "out")


@pytest.mark.parametrize(
    "source, match",
    [
        ("kykim/bert-kor-base", "not a local path, and it is not in the local Hugging Face cache"),
        ("./no/such/dir", "does not exist"),
        ("missing_vocab.txt", "does not exist"),
    ],
)
def test_bad_sources_say_what_to_do(source, match, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "dl"))
    with pytest.raises(VocabError, match=match) as e:
        load_tokenizer(source)
    if "/" in source and not source.startswith("."):
        assert "hf download kykim/bert-kor-base" in e.value.hint and "local" in e.value.hint


def test_hub_id_found_in_the_hf_cache(tiny_tokenizer_dir, monkeypatch, tmp_path):
    snap = tmp_path / "hf" / "models--org--tiny" / "snapshots" / "abc123"
    shutil.copytree(tiny_tokenizer_dir, snap)
    (tmp_path / "hf" / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "hf" / "models--org--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert inspect_tokenizer("org/tiny").free_slots == 50


def test_directory_without_tokenizer_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(VocabError, match="neither vocab.txt nor tokenizer.json .*config.json"):
        load_tokenizer(tmp_path)


def test_hub_id_downloaded_over_https_when_online(tiny_tokenizer_dir, monkeypatch, tmp_path):
    """The online path, against a local stand-in for the hub (HF_ENDPOINT)."""
    import functools
    import http.server
    import threading

    repo = tmp_path / "hub" / "org" / "tiny" / "resolve" / "main"
    shutil.copytree(tiny_tokenizer_dir, repo)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "hub"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
        monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "dl"))
        info = inspect_tokenizer("org/tiny")
        assert info.free_slots == 50 and (tmp_path / "dl" / "tokenizers" / "org--tiny" / "tokenizer.json").is_file()
        with pytest.raises(VocabError, match="neither tokenizer.json nor vocab.txt"):
            load_tokenizer("org/missing")
    finally:
        server.shutdown()
