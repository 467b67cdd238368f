"""Mining reads exactly the documents `corpus stats` reads: the one long-line rule on the fast path too."""

from __future__ import annotations

from domainlm.corpus.fastread import drop_long_lines, raw_chunks, raw_plan
from domainlm.corpus.files import MAX_LINE_BYTES
from domainlm.corpus.reader import CorpusReader


def _corpus(path, long_sizes):
    lines = [f"리뷰 {i} 발림성 좋아요 촉촉해요" for i in range(300)]
    for k, size in enumerate(long_sizes):
        lines.insert(50 + 70 * k, "가" * (size // 3))  # 3 bytes a syllable
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _fast_documents(path):
    reader = CorpusReader(str(path))
    plan = raw_plan(reader)
    assert plan, "the fast path applies to a plain utf-8 .txt"
    texts = []
    for _index, chunk in raw_chunks(plan, lambda done: None):
        texts += [t for t in chunk.decode("utf-8").split("\n") if t]
    return texts, sum(e.skipped_long_lines for e in plan)


def test_fast_path_skips_and_counts_the_lines_the_reader_skips(tmp_path):
    # Over the limit, just under it, and a line several chunks long (never held whole).
    path = _corpus(tmp_path / "c.txt", [MAX_LINE_BYTES + 3, MAX_LINE_BYTES - 30, 3 * MAX_LINE_BYTES + 300])
    reader = CorpusReader(str(path))
    expected = [d.text for d in reader]
    texts, skipped = _fast_documents(path)
    assert skipped == reader.stats.skipped_long_lines == 2
    assert texts == expected and len(texts) == 301


def test_drop_long_lines_keeps_every_line_within_the_limit():
    limit = 10
    block = b"short\n" + b"x" * 11 + b"\n" + b"y" * 10 + b"\r\n" + b"z" * 30 + b"\nend\n"
    kept, dropped = drop_long_lines(block, limit)
    assert dropped == 2 and kept == b"short\n" + b"y" * 10 + b"\r\nend\n"
    assert drop_long_lines(b"a\nb\n" * 100, limit) == (b"a\nb\n" * 100, 0)


def test_mine_terms_says_why_a_corpus_of_one_long_line_is_empty(cli, tmp_path, tiny_tokenizer_dir):
    corpus = tmp_path / "one_line.txt"
    corpus.write_bytes(("리뷰 좋아요 " * (MAX_LINE_BYTES // 8)).encode("utf-8"))  # no line break at all
    reference = tmp_path / "ref.txt"
    reference.write_text("일반 문장 입니다\n" * 50, encoding="utf-8")
    result = cli(
        "mine-terms",
        "--corpus",
        corpus,
        "--reference",
        reference,
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        5,
        "-o",
        tmp_path / "out",
    )
    assert result.exit_code == 2, result.output
    assert "empty" in result.output and "longer than 1 MiB" in result.output
