"""Corpus reading: formats, compression, encodings, and every bad input of issue 2."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pytest

from domainlm.corpus import CorpusReader, CorpusSpec, iter_texts
from domainlm.errors import CorpusError

DOCS = ["수분크림 발림성 좋아요", "가성비 최고 재구매각", "배송이 빨라요 ㅋㅋ"]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def tsv_bytes(rows=DOCS) -> bytes:
    return ("id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(rows))).encode()


@pytest.mark.parametrize(
    "name,payload",
    [
        ("c.txt", "\n".join(DOCS).encode()),
        ("c.tsv", tsv_bytes()),
        ("c.csv", ("id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(DOCS))).encode()),
        ("c.jsonl", "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in DOCS).encode()),
        ("c.json", json.dumps([{"text": t} for t in DOCS], ensure_ascii=False).encode()),
    ],
)
def test_formats(tmp_path, name, payload):
    assert list(iter_texts(write(tmp_path / name, payload))) == DOCS


@pytest.mark.parametrize(
    "suffix,compress",
    [
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
        (".zst", lambda b: __import__("zstandard").ZstdCompressor().compress(b)),
    ],
)
def test_compression(tmp_path, suffix, compress):
    path = write(tmp_path / f"c.tsv{suffix}", compress(tsv_bytes()))
    assert list(iter_texts(path)) == DOCS


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": DOCS, "split": ["train", "test", "train"]}), path)
    spec = CorpusSpec(path=str(path), where={"split": "train"})
    assert list(iter_texts(spec)) == [DOCS[0], DOCS[2]]


def test_directory_and_glob(tmp_path):
    (tmp_path / "d").mkdir()
    write(tmp_path / "d" / "a.txt", DOCS[0].encode())
    write(tmp_path / "d" / "b.txt.gz", gzip.compress(DOCS[1].encode()))
    write(tmp_path / "d" / "notes.md", b"ignored")
    assert list(iter_texts(tmp_path / "d")) == DOCS[:2]
    assert list(iter_texts(str(tmp_path / "d" / "*.txt"))) == DOCS[:1]


def test_saved_datasets_dataset(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": DOCS}).save_to_disk(str(tmp_path / "ds"))
    assert list(iter_texts(tmp_path / "ds")) == DOCS


def test_hub_dataset_offline_error(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CorpusError, match="Cannot load the dataset 'nobody/nothing'.*save_to_disk"):
        list(iter_texts("hf:nobody/nothing"))


def test_where_filter_and_ids(tmp_path):
    path = write(tmp_path / "c.tsv", b"id\tsplit\ttext\n1\ttrain\t\xea\xb0\x80\n2\ttest\tb\n")
    docs = list(CorpusReader(CorpusSpec(path=str(path), where={"split": ["test"]}, id_field="id")))
    assert [(d.text, d.id) for d in docs] == [("b", "2")]


def test_utf8_bom_is_stripped(tmp_path):
    path = write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + "\n".join(DOCS).encode())
    assert list(iter_texts(path)) == DOCS


def test_cp949_is_detected(tmp_path):
    path = write(
        tmp_path / "cp949.tsv", ("id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(DOCS[:2]))).encode("cp949")
    )
    reader = CorpusReader(path)
    assert [d.text for d in reader] == DOCS[:2]
    assert reader.stats.encodings[str(path)] == "cp949"


def test_explicit_encoding_mismatch_names_offset(tmp_path):
    path = write(tmp_path / "cp949.txt", "가나다\n라마".encode("cp949"))
    with pytest.raises(CorpusError, match=r"cannot be decoded as utf-8: bad byte at offset 0 \(line 1\).*--encoding"):
        list(iter_texts(path, encoding="utf-8"))


def test_undecodable_file(tmp_path):
    path = write(tmp_path / "bad.txt", bytes([0x80, 0xFF, 0xFE, 0x81, 0x41]) * 10)
    with pytest.raises(CorpusError, match="neither UTF-8 nor cp949.*offset 0.*--encoding"):
        list(iter_texts(path))


def test_missing_path():
    with pytest.raises(CorpusError, match="does not exist"):
        CorpusReader("/no/such/corpus.txt")


def test_directory_without_readable_files(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(CorpusError, match="holds no readable corpus files"):
        CorpusReader(tmp_path)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(("가나다라\n" * 20000).encode())
    path = write(tmp_path / "t.txt.gz", data[: len(data) // 2])
    with pytest.raises(CorpusError, match="corrupt or truncated"):
        list(iter_texts(path))


def test_binary_file(tmp_path):
    path = write(tmp_path / "blob.txt", bytes(range(256)) * 40)
    with pytest.raises(CorpusError, match="binary"):
        list(iter_texts(path))


def test_missing_column_lists_columns(tmp_path):
    path = write(tmp_path / "c.tsv", b"id\treview\n1\tx\n")
    with pytest.raises(CorpusError, match="no column 'text'; its columns are: id, review"):
        list(iter_texts(path))


def test_bad_jsonl_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "c.jsonl", b'{"text": "a"}\n{"text": "b"}\nnot json\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl:3: not valid JSON"):
        list(iter_texts(path))


def test_huge_line_is_skipped_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as fh:
        fh.write("첫 문서\n".encode())
        fh.write(("가" * 3_000_000).encode() + b"\n")  # a 9 MB line
        fh.write("끝 문서\n".encode())
    reader = CorpusReader(path, max_line_bytes=1 << 20)
    assert [d.text for d in reader] == ["첫 문서", "끝 문서"]
    assert reader.stats.skipped_long_lines == 1


def test_limit(tmp_path):
    path = write(tmp_path / "c.txt", "\n".join(DOCS).encode())
    assert list(iter_texts(CorpusSpec(path=str(path), limit=2))) == DOCS[:2]


def test_real_shopping_reviews(shared_data):
    reader = CorpusReader(
        CorpusSpec(path=str(shared_data / "reviews" / "naver_shopping_50k.tsv"), where={"rating": ["1", "2"]})
    )
    docs = list(reader)
    assert 5_000 < len(docs) < 20_000
    assert all(d.text for d in docs[:100])


def test_real_nsmc_test_split_streams(shared_data):
    spec = CorpusSpec(
        path=str(shared_data / "reviews" / "nsmc_reviews.tsv.gz"), where={"split": "test"}, id_field="review_id"
    )
    n = sum(1 for _ in CorpusReader(spec))
    assert n == 42_331
