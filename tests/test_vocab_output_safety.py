"""`vocab build|fill|unfill` never destroy a user's folder, replace earlier outputs whole, and word write failures."""

from __future__ import annotations

import errno
import pathlib
import shutil

import pytest
from helpers.tiny import TINY_TEXT

from vocab_tools.atomic import output_owner
from vocab_tools.errors import OutputError
from vocab_tools.fill import fill_slots
from vocab_tools.slots import read_manifest


@pytest.fixture
def terms(tmp_path):
    path = tmp_path / "terms.txt"
    path.write_text("보습크림\n꿀피부\n", encoding="utf-8")
    return path


@pytest.fixture
def victim(tmp_path):
    """A folder holding a user's own files."""
    folder = tmp_path / "victim"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes", encoding="utf-8")
    return folder


def _untouched(folder):
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "my notes" and (folder / "sub").is_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "sub"]


def test_fill_refuses_a_folder_of_user_files_until_force(cli, tiny_tokenizer_dir, terms, victim):
    r = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", victim)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "is not empty" in r.output and "notes.txt" in r.output and "--force" in r.output
    _untouched(victim)
    r = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", victim, "--force")
    assert r.exit_code == 0, r.output
    assert not (victim / "notes.txt").exists() and output_owner(victim) == "vocab fill"
    assert [e.term for e in read_manifest(victim)] == ["보습크림", "꿀피부"]


def test_an_earlier_fill_output_is_replaced_whole(cli, tiny_tokenizer_dir, terms, tmp_path):
    out = tmp_path / "filled"
    assert cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", out).exit_code == 0
    other = tmp_path / "other.txt"
    other.write_text("존맛탱\n", encoding="utf-8")
    r = cli("vocab", "fill", tiny_tokenizer_dir, other, "-o", out)
    assert r.exit_code == 0, r.output
    assert [e.term for e in read_manifest(out)] == ["존맛탱"]  # the new output, not a merge with the old one
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".filled.")]  # no temp or lock left beside


def test_build_and_unfill_refuse_foreign_folders_up_front(cli, tiny_tokenizer_dir, terms, victim, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TINY_TEXT * 5), encoding="utf-8")
    r = cli("vocab", "build", corpus, "-o", victim, "--vocab-size", "150", "--unused", "20", "--min-frequency", "1")
    assert r.exit_code == 2 and "--force" in r.output and "vocab build" in r.output
    _untouched(victim)
    tok = tmp_path / "tok"
    for _ in range(2):  # the second build replaces the first: it is the same command's output
        r = cli("vocab", "build", corpus, "-o", tok, "--vocab-size", "150", "--unused", "20", "--min-frequency", "1")
        assert r.exit_code == 0, r.output
    assert cli("vocab", "fill", tok, terms, "-o", tmp_path / "filled").exit_code == 0
    # A `vocab build` output is not a `vocab fill` one: filling another base into it is refused.
    r = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", tok)
    assert r.exit_code == 2 and "the output of `domainlm vocab build`" in r.output and "--force" in r.output
    r = cli("vocab", "unfill", tmp_path / "filled", "-o", victim)
    assert r.exit_code == 2 and "--force" in r.output
    _untouched(victim)
    r = cli("vocab", "unfill", tmp_path / "filled", "-o", tmp_path / "restored")
    assert r.exit_code == 0 and output_owner(tmp_path / "restored") == "vocab unfill"


def test_output_that_is_a_file_is_a_clear_error(cli, tiny_tokenizer_dir, terms, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    r = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", target)
    assert r.exit_code == 2 and "is a file, not a folder" in r.output and "Traceback" not in r.output
    assert target.read_text(encoding="utf-8") == "x"


def test_full_disk_during_fill_is_a_clear_error_and_keeps_the_old_output(
    cli, tiny_tokenizer_dir, terms, tmp_path, monkeypatch
):
    out = tmp_path / "filled"
    assert cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_write_text = pathlib.Path.write_text

    def full_disk(self, *args, **kwargs):
        if self.name == "tokenizer.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full_disk)
    other = tmp_path / "other.txt"
    other.write_text("존맛탱\n", encoding="utf-8")
    r = cli("vocab", "fill", tiny_tokenizer_dir, other, "-o", out)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "no space left on the device" in r.output and "Nothing was replaced" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".filled.")]


def test_full_disk_during_an_in_place_fill_leaves_the_model_folder_unchanged(tiny_tokenizer_dir, tmp_path, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(tiny_tokenizer_dir, model)
    (model / "model.safetensors").write_bytes(b"weights")
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    calls = []
    from vocab_tools import writing

    real = writing.stage_file

    def full_disk(path, data):  # the first file is staged, the disk is full at the second
        calls.append(pathlib.Path(path).name)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(writing, "stage_file", full_disk)
    with pytest.raises(OutputError, match="no space left on the device.*unchanged"):
        fill_slots(model, ["보습크림"], model)
    assert len(calls) == 2 and {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_empty_terms_file_is_an_error(cli, tiny_tokenizer_dir, tmp_path):
    for name, content in (("empty.txt", ""), ("header.tsv", "term\tkind\tscore\n"), ("blank.txt", "\n  \n")):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        r = cli("vocab", "fill", tiny_tokenizer_dir, path, "-o", tmp_path / "out")
        assert r.exit_code == 2 and f"no terms in {path}" in r.output and "Traceback" not in r.output
        assert not (tmp_path / "out").exists()
