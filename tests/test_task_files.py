"""Task files get the corpus reader's care and their labels are checked (issue 24: B11, B23, B24, P4, P14)."""

from __future__ import annotations

import gzip

import pytest

from domainlm.errors import EvaluationError
from domainlm.tasks import Task, load_task_data

ROWS = [
    (f"{t} {i}", label)
    for i, (t, label) in enumerate(
        [
            ("정말 좋아요 또 살게요", "1"),
            ("별로예요 환불했어요", "0"),
            ("배송 빠르고 만족", "1"),
            ("냄새가 이상해요", "0"),
        ]
        * 10
    )
]


def _single(path, **update) -> Task:
    task = Task(
        name="t", type="single", metric="accuracy", train=str(path), text_columns=["text"], label_column="label"
    )
    return task.model_copy(update=update)


def _tsv(rows) -> str:
    return "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows)


@pytest.mark.parametrize(
    "encoding, packed", [("cp949", False), ("utf-16", False), ("utf-8-sig", True), ("cp949", True)]
)
def test_task_files_in_korean_legacy_encodings_and_compressed_are_read(tmp_path, encoding, packed):
    """B11: a cp949 or UTF-16 train TSV was a UnicodeDecodeError traceback."""
    data = _tsv(ROWS).replace("\n", "\r\n").encode(encoding)
    path = tmp_path / ("train.tsv.gz" if packed else "train.tsv")
    path.write_bytes(gzip.compress(data) if packed else data)
    loaded = load_task_data(_single(path))
    texts = {ex.texts[0] for ex in loaded.train + loaded.dev}
    assert texts <= {t for t, _ in ROWS} and len(texts) >= 25


def test_undecodable_task_file_is_a_clear_error(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes(b"text\tlabel\n" + bytes(range(0x80, 0xFF)) * 4 + b"\t1\n")
    with pytest.raises(Exception) as e:
        load_task_data(_single(path))
    assert "--encoding" in str(getattr(e.value, "hint", "")) or "UTF-8" in str(getattr(e.value, "hint", ""))


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_scores_are_refused(tmp_path, bad):
    """B23: `inf` trained as a gold score."""
    path = tmp_path / "sts.tsv"
    rows = [(f"문장 {i}", f"다른 문장 {i}", str(i % 5)) for i in range(30)] + [("문장 x", "문장 y", bad)]
    path.write_text("s1\ts2\tscore\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows), encoding="utf-8")
    task = Task(
        name="s", type="regression", metric="spearman", train=str(path), text_columns=["s1", "s2"], label_column="score"
    )
    with pytest.raises(EvaluationError, match="not a finite number"):
        load_task_data(task)


def test_scores_outside_the_declared_range_are_refused(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text(
        "s1\ts2\tscore\n" + "".join(f"문장 {i}\t다른 {i}\t{i % 5}\n" for i in range(30)) + "a\tb\t99\n",
        encoding="utf-8",
    )
    task = Task(
        name="s",
        type="regression",
        metric="spearman",
        train=str(path),
        text_columns=["s1", "s2"],
        label_column="score",
        score_range=(0, 5),
    )
    with pytest.raises(EvaluationError, match=r"outside the task's range \[0, 5\]"):
        load_task_data(task)
    load_task_data(task.model_copy(update={"score_range": None}))  # no range declared: any finite score


def test_a_test_file_equal_to_train_is_noted(tmp_path):
    """B24: test = train gave a score with no warning."""
    path = tmp_path / "train.tsv"
    path.write_text(_tsv(ROWS), encoding="utf-8")
    data = load_task_data(_single(path, test=str(path)))
    data.load_test()
    assert any("the test file is the train file" in n and "not held out" in n for n in data.notes)
    separate = tmp_path / "test.tsv"
    separate.write_text(_tsv([("완전히 다른 리뷰", "1"), ("또 다른 리뷰", "0")]), encoding="utf-8")
    data = load_task_data(_single(path, test=str(separate)))
    data.load_test()
    assert data.notes == []


def test_a_folder_or_a_missing_absolute_path_is_named_as_such(tmp_path):
    """P4: a folder was "does not exist"; P14: an absolute path's message named the data folder."""
    with pytest.raises(EvaluationError) as e:
        load_task_data(_single(tmp_path))
    assert "is a folder" in e.value.message
    with pytest.raises(EvaluationError) as e:
        load_task_data(_single(tmp_path / "nope.tsv"), tmp_path / "data")
    assert "does not exist" in e.value.message and "data folder" not in e.value.hint
