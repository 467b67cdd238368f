"""fill_slots / unfill_slots on the tiny tokenizer (50 slots at ids 5-54, registered as added tokens)."""

from __future__ import annotations

import json

import pytest

from vocab_tools.errors import VocabError
from vocab_tools.fill import fill_slots, unfill_slots
from vocab_tools.info import inspect_tokenizer
from vocab_tools.loading import load_tokenizer
from vocab_tools.slots import free_slots, read_manifest
from vocab_tools.terms import Term

NEW = ["보습크림", "꿀피부", "##뽀송", "존맛탱"]


def _new_terms(tok_dir, n, prefix="텀"):
    """n made-up terms certainly not in the vocab."""
    vocab = set(load_tokenizer(tok_dir).vocab)
    terms = [f"{prefix}{chr(0xAC00 + i)}{chr(0xAC00 + 2 * i + 1)}" for i in range(n)]
    assert not vocab & set(terms)
    return terms


def _tokenizer_json(d):
    return json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))


def test_fill_writes_same_ids_everywhere_and_keeps_the_rest(tiny_tokenizer_dir, tmp_path):
    base = load_tokenizer(tiny_tokenizer_dir)
    result = fill_slots(
        tiny_tokenizer_dir, [Term(t, score=1.5) for t in NEW], tmp_path / "out", category="화장품", source="terms.tsv"
    )
    assert [(e.slot_id, e.old_token, e.term) for e in result.filled] == [
        (5, "[unused0]", "보습크림"),
        (6, "[unused1]", "꿀피부"),
        (7, "[unused2]", "##뽀송"),
        (8, "[unused3]", "존맛탱"),
    ]
    assert result.filled[2].kind == "continuation" and result.filled[0].score == 1.5
    out = load_tokenizer(tmp_path / "out")
    assert out.mismatch is None and len(out.vocab) == len(base.vocab)
    changed = [i for i, (a, b) in enumerate(zip(base.vocab, out.vocab)) if a != b]
    assert changed == [5, 6, 7, 8]
    vocab_txt = (tmp_path / "out" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab_txt == out.vocab
    data = _tokenizer_json(tmp_path / "out")
    added = {t["content"] for t in data["added_tokens"]}
    # Filled terms are plain WordPiece entries; the untouched slots keep their added-token registration.
    assert not added & set(NEW) and "[unused0]" not in added and "[unused4]" in added
    manifest = read_manifest(tmp_path / "out")
    assert [(e.slot_id, e.term, e.category, e.source) for e in manifest] == [
        (5, "보습크림", "화장품", "terms.tsv"),
        (6, "꿀피부", "화장품", "terms.tsv"),
        (7, "##뽀송", "화장품", "terms.tsv"),
        (8, "존맛탱", "화장품", "terms.tsv"),
    ]
    assert free_slots(tmp_path / "out") == list(range(9, 55))
    enc = out.tokenizer.encode("보습크림 바르고 꿀피부 됐어요", add_special_tokens=False)
    assert 5 in enc.ids and 6 in enc.ids


def test_filled_tokenizer_loads_in_transformers_with_identical_fast_and_slow_ids(
    tiny_tokenizer_dir, tmp_path, shared_data
):
    from transformers import AutoTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    fill_slots(tiny_tokenizer_dir, NEW, tmp_path / "out")
    fast = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    slow = BertTokenizerLegacy(vocab_file=str(tmp_path / "out" / "vocab.txt"), do_lower_case=True, strip_accents=False)
    texts = ["보습크림 바르고 꿀피부 됐어요", "존맛탱 과자 뽀송뽀송", "얼굴이뽀송 해요"]
    assert [fast(t)["input_ids"] for t in texts] == [slow(t)["input_ids"] for t in texts]
    assert fast.convert_tokens_to_ids("보습크림") == 5 and len(fast) == len(load_tokenizer(tiny_tokenizer_dir).vocab)


def test_every_reject_reason(tiny_tokenizer_dir, tmp_path):
    in_vocab = next(t for t in reversed(load_tokenizer(tiny_tokenizer_dir).vocab) if not t.startswith("##"))
    terms = ["보습크림", in_vocab, "보습 크림", "보습크림", "Glow", "a.b", "", "##", "가" * 101, "꿀피부"]
    result = fill_slots(tiny_tokenizer_dir, terms, tmp_path / "out")
    reasons = dict(result.rejected)
    assert [e.term for e in result.filled] == ["보습크림", "꿀피부"]
    assert reasons[in_vocab].startswith("already in the vocab (id ")
    assert reasons["보습 크림"].startswith("contains whitespace")
    assert reasons["보습크림"].startswith("duplicate")
    assert reasons["Glow"].startswith("would be changed by the normaliser to 'glow'")
    assert reasons["a.b"].startswith("would be split by the pre-tokenizer into a . b")
    assert reasons[""] == reasons["##"] == "empty term"
    assert reasons["가" * 101].startswith("longer than max_input_chars_per_word")


def test_more_terms_than_free_slots_fails_or_truncates(tiny_tokenizer_dir, tmp_path):
    terms = _new_terms(tiny_tokenizer_dir, 53)
    with pytest.raises(VocabError, match="53 terms passed the checks but only 50 of the 50 slots are free") as e:
        fill_slots(tiny_tokenizer_dir, terms, tmp_path / "out")
    assert "--truncate" in e.value.hint
    assert not (tmp_path / "out").exists()
    result = fill_slots(tiny_tokenizer_dir, terms, tmp_path / "out", truncate=True)
    assert [e.term for e in result.filled] == terms[:50] and result.free_after == 0
    assert [t for t, _ in result.rejected] == terms[50:] and all(
        r.startswith("no free slot left") for _, r in result.rejected
    )


def test_idempotent_refill(tiny_tokenizer_dir, tmp_path):
    first = fill_slots(tiny_tokenizer_dir, NEW, tmp_path / "a", category="화장품")
    files = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    again = fill_slots(tmp_path / "a", NEW, tmp_path / "a", category="화장품")
    assert again.filled == [] and again.rejected == [] and [e.term for e in again.already_filled] == NEW
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == files
    assert again.unreachable == first.unreachable


def test_categories_share_the_pool_and_unfill_one(tiny_tokenizer_dir, tmp_path):
    a_terms, b_terms = _new_terms(tiny_tokenizer_dir, 30, "가"), _new_terms(tiny_tokenizer_dir, 30, "나")
    fill_slots(tiny_tokenizer_dir, a_terms, tmp_path / "tok", category="A")
    with pytest.raises(VocabError, match="only 20 of the 50 slots are free"):
        fill_slots(tmp_path / "tok", b_terms, tmp_path / "tok", category="B")
    b = fill_slots(tmp_path / "tok", b_terms, tmp_path / "tok", category="B", truncate=True)
    assert [e.slot_id for e in b.filled] == list(range(35, 55))
    clash = fill_slots(tmp_path / "tok", a_terms[:1], tmp_path / "tok", category="B")
    assert clash.rejected[0][1].startswith("already filled for another category ('A', slot 5)")
    info = inspect_tokenizer(tmp_path / "tok")
    assert info.filled_by_category == {"A": 30, "B": 20} and info.free_slots == 0
    assert any("All 50 slots are filled" in w.message for w in info.warnings)

    undone = unfill_slots(tmp_path / "tok", category="A")
    assert len(undone.restored) == 30 and len(undone.remaining) == 20
    info = inspect_tokenizer(tmp_path / "tok")
    assert info.filled_by_category == {"B": 20} and info.free_ranges == "5–34"
    b2 = fill_slots(tmp_path / "tok", b_terms, tmp_path / "tok", category="B")  # B takes what A freed
    assert [e.slot_id for e in b2.filled] == list(range(5, 15)) and len(b2.already_filled) == 20
    with pytest.raises(VocabError, match="No filled slot matches.*'C'") as e:
        unfill_slots(tmp_path / "tok", category="C")
    assert "B" in e.value.hint


def test_unfill_round_trip_restores_files(tiny_tokenizer_dir, tmp_path):
    fill_slots(tiny_tokenizer_dir, NEW, tmp_path / "filled")
    unfill_slots(tmp_path / "filled", tmp_path / "restored", terms=["꿀피부"])
    assert [e.term for e in read_manifest(tmp_path / "restored")] == ["보습크림", "##뽀송", "존맛탱"]
    unfill_slots(tmp_path / "restored")
    assert not (tmp_path / "restored" / "slots.json").exists()
    assert _tokenizer_json(tmp_path / "restored") == _tokenizer_json(tiny_tokenizer_dir)
    assert load_tokenizer(tmp_path / "restored").vocab == load_tokenizer(tiny_tokenizer_dir).vocab
    with pytest.raises(VocabError, match="no slots.json"):
        unfill_slots(tmp_path / "restored")


def test_fill_in_place_next_to_model_weights_touches_only_tokenizer_files(tiny_tokenizer_dir, tmp_path):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_tokenizer_dir, model_dir)
    (model_dir / "model.safetensors").write_bytes(b"weights")
    fill_slots(model_dir, NEW[:2], model_dir)
    assert (model_dir / "model.safetensors").read_bytes() == b"weights"
    assert read_manifest(model_dir)[0].term == "보습크림"
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".tmp")]
    unfill_slots(model_dir)
    assert not (model_dir / "slots.json").exists() and (model_dir / "model.safetensors").exists()


def test_unreachable_terms_are_reported(tiny_tokenizer_dir, tmp_path):
    # "습크림" only ever occurs inside "보습크림", where greedy longest-match takes "보습크림" first.
    contexts = ["보습크림 좋아요", "이 보습크림은 최고"]
    result = fill_slots(tiny_tokenizer_dir, ["보습크림", "습크림", "##습크림"], tmp_path / "out", contexts=contexts)
    reach = {r.term: r for r in result.reach}
    assert reach["보습크림"].emitted == 2 and reach["보습크림"].method == "contexts"
    assert "##습크림" in result.unreachable and reach["##습크림"].contexts == 2
    assert "보습크림" not in result.unreachable
    # Without contexts, a term is tested in its own example sentence, else alone.
    ex = fill_slots(tiny_tokenizer_dir, [Term("꿀피부", example="꿀피부 됐어요")], tmp_path / "ex")
    assert ex.reach[0].method == "example" and ex.unreachable == []


def test_decomposing_normaliser_is_refused_then_fixed(tiny_tokenizer_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_tokenizer_dir, broken)
    data = _tokenizer_json(broken)
    data["normalizer"]["strip_accents"] = None  # lowercase=True + unset: NFD-decomposes Hangul
    (broken / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    info = inspect_tokenizer(broken)
    assert not info.hangul_preserved and "NFD-decomposes Hangul" in info.warnings[0].message
    assert "strip_accents" in info.warnings[0].fix
    with pytest.raises(VocabError, match="NFD-decomposes Hangul") as e:
        fill_slots(broken, NEW, tmp_path / "out")
    assert "--fix-normalizer" in e.value.hint
    fixed = fill_slots(broken, NEW, tmp_path / "out", fix_normalizer=True)
    assert fixed.warnings and inspect_tokenizer(tmp_path / "out").hangul_preserved
    assert json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["strip_accents"] is False


def test_inconsistent_inputs_are_refused(tiny_tokenizer_dir, tmp_path):
    import shutil

    d = tmp_path / "d"
    shutil.copytree(tiny_tokenizer_dir, d)
    vocab = load_tokenizer(d).vocab
    (d / "vocab.txt").write_text("\n".join(vocab[:-1] + ["다른토큰"]) + "\n", encoding="utf-8")
    assert "disagree" in inspect_tokenizer(d).warnings[0].message
    with pytest.raises(VocabError, match="vocab.txt and tokenizer.json .* disagree: id"):
        fill_slots(d, NEW, tmp_path / "out")
    (d / "vocab.txt").unlink()
    fill_slots(d, NEW, d)
    manifest = json.loads((d / "slots.json").read_text(encoding="utf-8"))
    manifest["slots"][0]["term"] = "다른것"
    (d / "slots.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(VocabError, match="slots.json .* says slot 5 holds '다른것'"):
        fill_slots(d, NEW, tmp_path / "out")


def test_slots_registered_as_specials_in_the_config_become_plain_entries(tiny_tokenizer_dir, tmp_path):
    """kykim-style configs list [unusedN] in added_tokens_decoder / additional_special_tokens; a filled
    slot must leave those lists (else transformers would never split it with ## continuation)."""
    import shutil

    from transformers import AutoTokenizer

    src = tmp_path / "kykim_style"
    shutil.copytree(tiny_tokenizer_dir, src)
    config = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    slot_entry = {
        "content": "",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    config["added_tokens_decoder"] = {str(i): {**slot_entry, "content": f"[unused{i - 5}]"} for i in range(5, 55)}
    config["additional_special_tokens"] = [f"[unused{i}]" for i in range(50)]
    (src / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")

    fill_slots(src, ["보습크림", "##뽀송"], tmp_path / "out")
    out_config = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert "5" not in out_config["added_tokens_decoder"] and "7" in out_config["added_tokens_decoder"]
    assert out_config["additional_special_tokens"][:2] == ["[unused2]", "[unused3]"]
    fast = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    assert "보습크림" not in fast.all_special_tokens
    assert fast.tokenize("보습크림을 얼굴이뽀송")[:2] == ["보습크림", "##을"]
    assert "##뽀송" in fast.tokenize("얼굴이뽀송")

    unfill_slots(tmp_path / "out")
    back = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert back["added_tokens_decoder"] == config["added_tokens_decoder"]
    assert back["additional_special_tokens"] == config["additional_special_tokens"]


def test_append_slots_grows_both_files_with_the_same_ids_in_place(tiny_tokenizer_dir, tmp_path):
    import shutil

    from vocab_tools.slots import append_slots

    tok_dir = tmp_path / "tok"
    shutil.copytree(tiny_tokenizer_dir, tok_dir)
    (tok_dir / "vocab.txt").write_text("\n".join(load_tokenizer(tok_dir).vocab) + "\n", encoding="utf-8")
    base = load_tokenizer(tok_dir)
    new = append_slots(tok_dir, 3)
    assert new == ["[unused50]", "[unused51]", "[unused52]"]  # numbered after the last slot ([unused49])
    out = load_tokenizer(tok_dir)
    assert out.mismatch is None and out.vocab == base.vocab + new
    assert (tok_dir / "vocab.txt").read_text(encoding="utf-8").splitlines() == out.vocab
    added = {t["content"]: t for t in _tokenizer_json(tok_dir)["added_tokens"]}
    assert all(added[t]["special"] and added[t]["id"] == len(base.vocab) + k for k, t in enumerate(new))
    assert free_slots(tok_dir)[-3:] == list(range(len(base.vocab), len(base.vocab) + 3))
    assert not [p.name for p in tok_dir.iterdir() if p.name.endswith(".tmp")]  # nothing half-written left
    result = fill_slots(tok_dir, _new_terms(tok_dir, 53), tmp_path / "filled")  # the appended slots take terms too
    assert {e.slot_id for e in result.filled} >= {len(base.vocab), len(base.vocab) + 2}
