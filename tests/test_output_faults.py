"""Write failures and odd outputs get a clear answer, never a traceback (issue 24: B4, B6, B14, P17, D4 aside).

The full disk is simulated at the one place files are written (`os.open` of the hidden sibling and
the write itself), so the test needs no special file system.
"""

from __future__ import annotations

import errno
import gzip

import pytest


def test_a_full_disk_under_a_single_file_output_is_a_clear_error(cli, tiny_tokenizer_dir, tmp_path, monkeypatch):
    """B4: `vocab measure -o` on a full disk was an OSError traceback from atomic_write."""
    import json

    corpus = tmp_path / "reviews.txt"
    corpus.write_text("보습크림 바르고 꿀피부 됐어요\n향이 너무 좋고 흡수도 빨라요\n", encoding="utf-8")
    real_dump = json.dump

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", full)
    r = cli("vocab", "measure", corpus, "-t", tiny_tokenizer_dir, "-o", tmp_path / "m.json")
    monkeypatch.setattr(json, "dump", real_dump)
    assert r.exit_code == 2, r.output
    assert "no space left on the device" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.txt"]  # no hidden sibling left


def test_the_current_folder_is_refused_as_an_output_folder_before_any_work(cli, tmp_path, monkeypatch):
    """B6: `-o .` was `ValueError: PosixPath('.') has an empty name` (mine-terms after all its mining)."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("보습크림 좋아요 정말\n배송 빨라요 최고\n" * 30, encoding="utf-8")
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    for target in (".", "..", str(work)):
        r = cli("vocab", "build", corpus, "-o", target, "--vocab-size", "200", "--unused", "10")
        assert r.exit_code == 2 and "is the current folder" in r.output and "-o out" in r.output, r.output
    assert list(work.iterdir()) == []


def test_a_truncated_gzip_corpus_names_the_file(cli, tiny_tokenizer_dir, tmp_path):
    """B14: mine-terms on a truncated .gz printed only "Aborted.", even with -v."""
    text = "\n".join(f"수분크림 발림성 좋아요 {i} 재구매각" for i in range(20000)).encode("utf-8")
    packed = gzip.compress(text)
    trunc = tmp_path / "trunc.txt.gz"
    trunc.write_bytes(packed[: len(packed) // 2])
    ref = tmp_path / "ref.txt"
    ref.write_text("영화 정말 재밌게 봤어요\n" * 50, encoding="utf-8")
    r = cli("mine-terms", "--corpus", trunc, "--reference", ref, "--base", tiny_tokenizer_dir, "-o", tmp_path / "m")
    assert r.exit_code == 2, r.output
    assert "trunc.txt.gz" in r.output and "corrupt or truncated" in r.output and "Aborted" not in r.output


def test_an_end_of_stream_no_reader_worded_is_still_a_clear_error(monkeypatch):
    """The CLI's last net: an EOFError anywhere (click would print "Aborted.") becomes a user error."""
    from domainlm.cli.root import _as_user_error

    error = _as_user_error(EOFError("Compressed file ended before the end-of-stream marker was reached"))
    assert error is not None and "corrupt or truncated" in error.message and "gzip -t" in error.hint
    assert _as_user_error(OSError(errno.ENOENT, "No such file")) is None  # not a write failure: re-raised as is


@pytest.mark.parametrize("command, resumable", [("adapt", True), ("finetune", False), ("vocab", False)])
def test_the_interrupt_message_offers_resume_only_where_it_exists(command, resumable, cli, monkeypatch):
    """P17: Ctrl-C during finetune said "resumed with --resume", an option finetune does not have."""
    import domainlm.cli.root as root

    group = root.ErrorHandlingGroup
    parent_invoke = group.__mro__[1].invoke

    def interrupted(self, ctx):
        ctx.invoked_subcommand = command
        raise KeyboardInterrupt

    monkeypatch.setattr(group.__mro__[1], "invoke", interrupted)
    try:
        r = cli("corpus", "stats", "x.txt")
    finally:
        monkeypatch.setattr(group.__mro__[1], "invoke", parent_invoke)
    assert r.exit_code == 130 and "Interrupted." in r.output
    assert ("--resume" in r.output) is resumable
