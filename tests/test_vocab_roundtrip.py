"""The slot manifest survives transformers' save_pretrained, which writes only tokenizer.json and
tokenizer_config.json (no vocab.txt, no slots.json): `vocab info` and `vocab unfill` still see the fill."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoTokenizer

from vocab_tools.fill import fill_slots, unfill_slots
from vocab_tools.loading import load_vocab
from vocab_tools.manifest import CONFIG_KEY, read_manifest

NEW = ["보습크림", "꿀피부", "##뽀송", "존맛탱"]


def _resave(src: Path, dst: Path) -> Path:
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(dst))
    return dst


def _config(folder: Path) -> dict:
    return json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))


def test_fill_save_pretrained_info_unfill_restores_the_vocab(cli, tiny_tokenizer_dir, tmp_path):
    fill_slots(tiny_tokenizer_dir, NEW, tmp_path / "filled", category="화장품")
    # Twice: a Trainer checkpoint of a model fine-tuned from a re-saved tokenizer is one more round.
    resaved = _resave(_resave(tmp_path / "filled", tmp_path / "rt1"), tmp_path / "rt")
    assert not (resaved / "slots.json").exists() and not (resaved / "vocab.txt").exists()
    assert read_manifest(resaved) == read_manifest(tmp_path / "filled")

    r = cli("vocab", "info", resaved, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert [e["term"] for e in info["filled"]] == NEW and info["slots"]["filled_by_category"] == {"화장품": 4}
    assert info["slots"]["total"] == 50 and not any("slots.json" in w["message"] for w in info["warnings"])

    r = cli("vocab", "unfill", resaved, "-o", tmp_path / "unfilled", "--json")
    assert r.exit_code == 0, r.output
    assert [e["old_token"] for e in json.loads(r.stdout)["restored"]] == [f"[unused{i}]" for i in range(4)]
    assert load_vocab(tmp_path / "unfilled") == load_vocab(tiny_tokenizer_dir)
    assert CONFIG_KEY not in _config(tmp_path / "unfilled") and not read_manifest(tmp_path / "unfilled")
    text = "보습크림 바르고 꿀피부 됐어요"
    original = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    assert AutoTokenizer.from_pretrained(str(tmp_path / "unfilled"))(text)["input_ids"] == original(text)["input_ids"]


def test_the_copy_in_tokenizer_config_follows_every_fill_and_unfill(tiny_tokenizer_dir, tmp_path):
    fill_slots(tiny_tokenizer_dir, NEW[:2], tmp_path / "a", category="화장품")
    fill_slots(tmp_path / "a", NEW[2:], tmp_path / "b", category="식품")
    assert [e["term"] for e in _config(tmp_path / "b")[CONFIG_KEY]["slots"]] == NEW
    unfill_slots(tmp_path / "b", category="화장품")
    assert [e["term"] for e in _config(tmp_path / "b")[CONFIG_KEY]["slots"]] == NEW[2:]
    resaved = _resave(tmp_path / "b", tmp_path / "rt")
    unfill_slots(resaved)
    assert CONFIG_KEY not in _config(resaved) and load_vocab(resaved) == load_vocab(tiny_tokenizer_dir)
    # A fill without the manifest's copy (before it existed) is unfilled from slots.json alone, as before.
    plain = json.loads((tmp_path / "a" / "tokenizer_config.json").read_text(encoding="utf-8"))
    plain.pop(CONFIG_KEY)
    (tmp_path / "a" / "tokenizer_config.json").write_text(json.dumps(plain), encoding="utf-8")
    assert [e.term for e in read_manifest(tmp_path / "a")] == NEW[:2]
