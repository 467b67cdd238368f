"""Every file domainlm writes atomically gets the mode a plain `open` gives (the umask's), through one
helper (`vocab_tools.atomic.atomic_write` / `stage_file`). terms.tsv and terms.json were written 0600."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
from pathlib import Path

import pytest

from vocab_tools.atomic import atomic_write, atomic_write_text, stage_file
from vocab_tools.terms import Term, read_terms, write_terms


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _no_leftovers(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_terms_files_follow_the_umask(umask, tmp_path):
    write_terms([Term("수분크림"), Term("##크림")], tmp_path / "terms.tsv", tmp_path / "terms.json")
    assert _mode(tmp_path / "terms.tsv") == _mode(tmp_path / "terms.json") == 0o666 & ~umask
    assert [t.term for t in read_terms(tmp_path / "terms.tsv")] == ["수분크림", "##크림"]
    _no_leftovers(tmp_path, "terms.tsv", "terms.json")


def test_the_one_helper_text_binary_gzip_and_staged(umask, tmp_path):
    atomic_write_text(tmp_path / "a.txt", "가나다\n")
    with atomic_write(tmp_path / "b.txt.gz") as fh:  # gzip by the name
        fh.write("라마\n")
    with atomic_write(tmp_path / "c.gz", "wb", compress=False) as fh:  # gzip bytes copied as they are
        fh.write(gzip.compress(b"x"))
    staged = stage_file(tmp_path / "d.json", "{}\n")
    assert staged.parent == tmp_path and staged.name.startswith(".d.json.")
    os.replace(staged, tmp_path / "d.json")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "가나다\n"
    assert gzip.open(tmp_path / "b.txt.gz", "rt", encoding="utf-8").read() == "라마\n"
    assert gzip.decompress((tmp_path / "c.gz").read_bytes()) == b"x"
    for name in ("a.txt", "b.txt.gz", "c.gz", "d.json"):
        assert _mode(tmp_path / name) == 0o666 & ~umask, name
    _no_leftovers(tmp_path, "a.txt", "b.txt.gz", "c.gz", "d.json")


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "a.txt") as fh:
            fh.write("new, half")
            raise RuntimeError("killed")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "old\n"
    _no_leftovers(tmp_path, "a.txt")


def test_in_place_tokenizer_edit_follows_the_umask(tiny_tokenizer_dir, tmp_path):
    from vocab_tools.slots import append_slots

    tok = tmp_path / "tok"
    shutil.copytree(tiny_tokenizer_dir, tok)
    old = os.umask(0o027)
    try:
        append_slots(tok, 3)  # rewrites the tokenizer files in place, each by a rename
    finally:
        os.umask(old)
    assert _mode(tok / "tokenizer.json") == 0o640  # the file it rewrote
    assert not [p.name for p in tok.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_no_hand_written_temporary_files_left():
    """One helper for atomic file writes: no other module in domainlm or vocab_tools makes its own
    temporary file (bundle.py writes an archive with its own and follows the umask there)."""
    root = Path(__file__).resolve().parents[1]
    allowed = {"vocab_tools/atomic.py", "domainlm/pipeline/bundle.py"}
    found = []
    for path in [*root.joinpath("domainlm").rglob("*.py"), *root.joinpath("vocab_tools").rglob("*.py")]:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel not in allowed and ("mkstemp(" in text or "NamedTemporaryFile(" in text):
            found.append(rel)
    assert not found


# --- D4: the swap of a folder output never leaves its path empty ------------------------------------


def _write_folder(path: Path, text: str, **kwargs) -> None:
    from vocab_tools.atomic import atomic_directory

    with atomic_directory(path, command="vocab build", **kwargs) as tmp:
        (tmp / "vocab.txt").write_text(text, encoding="utf-8")


def test_replacing_a_folder_output_is_one_exchange_on_linux(tmp_path, monkeypatch):
    import vocab_tools.atomic as atomic

    out = tmp_path / "tok"
    _write_folder(out, "old")
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (renames.append((a, b)), real_replace(a, b))[1])
    _write_folder(out, "new")
    assert (out / "vocab.txt").read_text(encoding="utf-8") == "new"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    if atomic._exchange(tmp_path / "a", tmp_path / "b"):  # exchange supported here: no two-rename window
        assert renames == []
    shutil.rmtree(tmp_path / "a"), shutil.rmtree(tmp_path / "b")
    _no_leftovers(tmp_path, "tok")


def test_a_kill_between_the_fallback_renames_is_repaired_not_deleted(tmp_path, monkeypatch):
    """D4: the fallback's first rename parked the old output; the process died before the second."""
    import vocab_tools.atomic as atomic

    out = tmp_path / "tok"
    _write_folder(out, "old")
    dead_pid = 2**22 + 12345  # above pid_max's default: no such process
    parked = tmp_path / f".tok.old-{dead_pid}-abcd"
    parked.mkdir()
    os.replace(out, parked / "previous")
    assert not out.exists()
    # The next run of the same command first puts the previous output back, then replaces it.
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    seen = []
    real = atomic._swap_in
    monkeypatch.setattr(
        atomic, "_swap_in", lambda new, path: (seen.append((path / "vocab.txt").read_text()), real(new, path))
    )
    _write_folder(out, "new")
    assert seen == ["old"]  # it was restored before the swap, so the fallback path was exercised
    assert (out / "vocab.txt").read_text(encoding="utf-8") == "new"
    _no_leftovers(tmp_path, "tok")


def test_a_failed_run_after_a_kill_still_restores_the_previous_output(tmp_path):
    import vocab_tools.atomic as atomic

    out = tmp_path / "tok"
    _write_folder(out, "old")
    parked = tmp_path / f".tok.old-{2**22 + 777}-efgh"
    parked.mkdir()
    os.replace(out, parked / "previous")
    with pytest.raises(RuntimeError):
        with atomic.atomic_directory(out, command="vocab build"):
            raise RuntimeError("the new build failed")
    assert (out / "vocab.txt").read_text(encoding="utf-8") == "old"
    _no_leftovers(tmp_path, "tok")
