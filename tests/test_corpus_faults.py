"""Corpus faults a user met: over-long lines, text that normalises to nothing, full-width forms, clean's output file."""

from __future__ import annotations

import errno
import json

import pytest

from domainlm.corpus import CorpusReader, clean_corpus, corpus_stats, normalize
from domainlm.corpus.files import MAX_LINE_BYTES, line_is_too_long
from domainlm.errors import CorpusError, OutputError

# ---------------------------------------------------------------- the long-line rule


def test_the_long_line_rule_counts_bytes_without_the_line_break(tmp_path):
    limit = 10
    assert not line_is_too_long(b"x" * 10 + b"\n", limit) and not line_is_too_long(b"x" * 10 + b"\r\n", limit)
    assert not line_is_too_long(b"x" * 10, limit) and line_is_too_long(b"x" * 11 + b"\n", limit)
    path = tmp_path / "c.txt"
    # 10 bytes kept (with \n, with \r\n, and as a last line without a break); 11 and 30 bytes skipped.
    path.write_bytes(b"a" * 10 + b"\n" + b"b" * 11 + b"\n" + b"c" * 10 + b"\r\n" + b"d" * 30 + b"\n" + b"e" * 10)
    reader = CorpusReader(path, max_line_bytes=limit)
    assert [d.text for d in reader] == ["a" * 10, "c" * 10, "e" * 10]
    assert reader.stats.skipped_long_lines == 2
    assert [d.line for d in CorpusReader(path, max_line_bytes=limit)] == [1, 3, 5]


@pytest.fixture
def one_long_line(tmp_path):
    """A 1.2 MB file without a single line break: what corpus stats used to call an empty corpus."""
    path = tmp_path / "dump.txt"
    path.write_bytes(("보습크림 최고 " * 60_000).encode("utf-8"))
    assert path.stat().st_size > MAX_LINE_BYTES
    return path


def test_stats_and_clean_say_why_a_corpus_of_one_long_line_has_no_documents(cli, one_long_line, tmp_path):
    with pytest.raises(CorpusError) as e:
        corpus_stats(one_long_line)
    assert (
        "1 line was skipped for being longer than 1 MiB" in e.value.message
        and "the corpus is empty" not in e.value.message
    )
    r = cli("corpus", "stats", one_long_line)
    assert r.exit_code == 2 and "longer than 1 MiB" in r.output and "Traceback" not in r.output
    r = cli("corpus", "clean", one_long_line, "-o", tmp_path / "out.txt")
    assert r.exit_code == 2 and "longer than 1 MiB" in r.output and not (tmp_path / "out.txt").exists()


def test_stats_and_clean_report_skipped_lines_beside_documents(cli, one_long_line, tmp_path):
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes("첫 리뷰 좋아요\n".encode() + one_long_line.read_bytes() + "\n둘째 리뷰 별로\n".encode())
    stats = corpus_stats(mixed)
    assert stats.documents == 2 and stats.skipped_long_lines == 1
    assert stats.warnings == [
        "1 line was skipped for being longer than 1 MiB, the limit of one document (a file without "
        "line breaks, or with only \\r as a line break, is one such line)."
    ]
    r = cli("corpus", "stats", mixed)
    assert r.exit_code == 0 and "lines skipped: over 1 MiB" in r.stdout and "Warning" in r.stdout
    r = cli("corpus", "stats", mixed, "--json")
    assert json.loads(r.stdout)["skipped_long_lines"] == 1 and "longer than 1 MiB" in r.stderr
    report = clean_corpus(mixed, tmp_path / "clean.txt")
    assert report.written == 2 and report.skipped_long_lines == 1 and "longer than 1 MiB" in report.warnings[0]
    r = cli("corpus", "clean", mixed, "-o", tmp_path / "clean.txt")
    assert r.exit_code == 0 and "lines skipped: over 1 MiB (not documents)" in r.stdout and "Warning" in r.stdout


# ---------------------------------------------------------------- text that normalises to nothing


def test_emoji_and_hanja_only_corpus_says_it_is_empty_after_normalisation(cli, tmp_path):
    corpus = tmp_path / "emoji.txt"
    corpus.write_text("😀😍👍\n韓國語 漢字\n🎉🎉 ♡♡\n", encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        clean_corpus(corpus, tmp_path / "out.txt")
    assert e.value.message.startswith("All 3 documents are empty after normalisation")
    assert "drops Hanja, emoji" in e.value.message and "--min-chars" not in str(e.value)
    r = cli("corpus", "clean", corpus, "-o", tmp_path / "out.txt")
    assert r.exit_code == 2 and "empty after normalisation" in r.output and "--min-chars" not in r.output
    r = cli("vocab", "build", corpus, "-o", tmp_path / "tok", "--vocab-size", "100", "--unused", "5")
    assert r.exit_code == 2 and "empty after normalisation" in r.output and not (tmp_path / "tok").exists()
    # Too short is another cause, with the other advice.
    short = tmp_path / "short.txt"
    short.write_text("가\n나\n😀\n", encoding="utf-8")
    with pytest.raises(
        CorpusError,
        match=r"All 3 documents were removed by cleaning \(2 shorter than 2 chars, "
        r"1 empty after normalisation\)",
    ) as e:
        clean_corpus(short, tmp_path / "out.txt")
    assert "Lower --min-chars" in e.value.hint


# ---------------------------------------------------------------- full-width forms


def test_full_width_letters_and_digits_are_mapped_and_jamo_kept():
    assert normalize("ｆｕｌｌ 사이즈 １２３") == "full 사이즈 123"
    assert normalize("ＬＧ　그램 ５０㎖ 좋아요…") == "LG 그램 50ml 좋아요..."
    assert (
        normalize("ㅋㅋㅋㅋ ㅠㅠ 존맛 ㄱㄱ") == "ㅋㅋㅋ ㅠㅠ 존맛 ㄱㄱ"
    )  # compatibility jamo as typed (runs capped at 3)
    assert normalize("ㅋㅏ") == "ㅋㅏ"  # NFKC alone would compose these into 카
    assert normalize("ﾡﾢ") == "ㄱㄲ"  # half-width Hangul letters: the jamo they stand for
    assert normalize("한국어 발림성") == "한국어 발림성" and normalize("\u1100\u1161") == "가"


# ---------------------------------------------------------------- corpus clean's output file


def test_clean_refuses_to_overwrite_a_file_it_did_not_write(cli, tmp_path):
    corpus = tmp_path / "in.txt"
    corpus.write_text("보습크림 좋아요\n배송 빨라요\n", encoding="utf-8")
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes", encoding="utf-8")
    r = cli("corpus", "clean", corpus, "-o", mine)
    assert r.exit_code == 2 and "already exists" in r.output and "--force" in r.output
    assert mine.read_text(encoding="utf-8") == "my notes"
    for force in ([], ["--force"]):  # the input itself is never clean's to replace
        r = cli("corpus", "clean", corpus, "-o", corpus, *force)
        assert r.exit_code == 2 and "would destroy the input" in r.output
        assert corpus.read_text(encoding="utf-8").startswith("보습크림")
    out = tmp_path / "clean.txt"
    for _ in range(2):  # an earlier output of corpus clean is replaced
        r = cli("corpus", "clean", corpus, "-o", out, "--heldout-fraction", "0.5")
        assert r.exit_code == 0, r.output
    r = cli("corpus", "clean", out, "-o", out)  # not even an earlier output of clean, when it is the input
    assert r.exit_code == 2 and "would destroy the input" in r.output
    assert cli("corpus", "clean", corpus, "-o", mine, "--force").exit_code == 0
    assert mine.read_text(encoding="utf-8") != "my notes"
    r = cli("corpus", "clean", corpus, "-o", tmp_path)
    assert r.exit_code == 2 and "is a folder, not a file" in r.output


def test_clean_on_a_full_disk_is_a_clear_error(cli, tmp_path, monkeypatch):
    corpus = tmp_path / "in.txt"
    corpus.write_text("보습크림 좋아요\n배송 빨라요\n", encoding="utf-8")
    out = tmp_path / "clean.txt"
    assert cli("corpus", "clean", corpus, "-o", out).exit_code == 0
    before = out.read_bytes()

    def full_disk(fh, doc, jsonl):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("domainlm.corpus.clean._write_doc", full_disk)
    with pytest.raises(OutputError, match="no space left on the device"):
        clean_corpus(corpus, out)
    r = cli("corpus", "clean", corpus, "-o", out)
    assert r.exit_code == 2 and "no space left on the device" in r.output and "Traceback" not in r.output
    assert out.read_bytes() == before and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
