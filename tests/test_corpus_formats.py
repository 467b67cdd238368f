"""The corpus-format registry: one registration makes a format readable by every reader of corpora."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest

from domainlm.corpus import CorpusReader, CorpusSpec, iter_rows
from domainlm.corpus.files import Document
from domainlm.corpus.formats import (
    CorpusFile,
    Format,
    corpus_suffixes,
    format_for,
    is_corpus_file,
    register_format,
    unregister_format,
)
from domainlm.corpus.rows import columns_of
from domainlm.errors import CorpusError


def _kv_rows(file: CorpusFile, spec: CorpusSpec) -> Iterator[tuple[int, dict]]:
    """A toy format: `key=value;key=value` a line."""
    for line_no, text in file.lines(spec.encoding):
        if text:
            yield line_no, dict(cell.split("=", 1) for cell in text.split(";"))


def _kv_documents(file: CorpusFile, spec: CorpusSpec) -> Iterator[Document]:
    for line_no, row in _kv_rows(file, spec):
        yield Document(row[spec.field], row.get(spec.id_field) if spec.id_field else None, str(file.path), line_no)


@pytest.fixture
def kv_format():
    fmt = register_format(
        Format(
            "kv",
            (".kv",),
            read_documents=_kv_documents,
            columns=lambda file, spec: sorted(next(_kv_rows(file, spec))[1]),
            read_rows=lambda file, spec: (row for _, row in _kv_rows(file, spec)),
        )
    )
    yield fmt
    unregister_format("kv")


def test_a_registered_format_is_read_by_every_reader(tmp_path, kv_format):
    path = tmp_path / "reviews.kv"
    path.write_text("id=1;text=수분크림 좋아요;rating=5\nid=2;text=별로예요;rating=1\n", encoding="utf-8")
    with gzip.open(tmp_path / "more.kv.gz", "wt", encoding="utf-8") as fh:  # compression comes with it
        fh.write("id=3;text=배송 빨라요;rating=4\n")
    assert format_for(path) is kv_format and is_corpus_file(tmp_path / "more.kv.gz") and ".kv" in corpus_suffixes()
    spec = CorpusSpec(path=str(tmp_path), field="text", id_field="id")
    assert [(d.text, d.id) for d in CorpusReader(spec)] == [
        ("배송 빨라요", "3"),
        ("수분크림 좋아요", "1"),
        ("별로예요", "2"),
    ]
    assert list(iter_rows(CorpusSpec(path=str(path), field="text", limit=1))) == [
        {"id": "1", "text": "수분크림 좋아요", "rating": "5"}
    ]
    assert columns_of(CorpusSpec(path=str(path))) == ["id", "rating", "text"]


def test_the_suffixes_in_messages_come_from_the_registry(tmp_path, kv_format):
    (tmp_path / "notes.md").write_text("x\n", encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        CorpusReader(str(tmp_path))
    assert ".txt, .jsonl, .json, .csv, .tsv, .parquet, .kv" in caught.value.hint


def test_unregistered_suffixes_are_plain_text_again(tmp_path, kv_format):
    unregister_format("kv")
    path = tmp_path / "reviews.kv"
    path.write_text("id=1;text=좋아요\n", encoding="utf-8")
    assert not is_corpus_file(path) and format_for(path).name == "txt"
    assert [d.text for d in CorpusReader(str(path))] == ["id=1;text=좋아요"]
    register_format(kv_format)  # the fixture removes it again


def test_a_taken_suffix_is_refused_and_plain_text_stays():
    with pytest.raises(ValueError, match="already reads .tsv"):
        register_format(Format("tabs", (".tsv",), read_documents=lambda f, s: iter(()), columns=lambda f, s: []))
    with pytest.raises(ValueError, match="cannot be removed"):
        unregister_format("txt")


def test_rows_keep_all_their_columns_in_every_format_with_columns(tmp_path):
    rows = [{"id": "a", "rating": 5, "text": "좋아요"}, {"id": "b", "rating": 1, "text": "별로"}]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    (tmp_path / "r.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "r.txt").write_text("좋아요\n", encoding="utf-8")
    for name in ("r.jsonl", "r.json"):
        spec = CorpusSpec(path=str(tmp_path / name), where={"rating": "5"})
        assert list(iter_rows(spec)) == rows[:1], name
    assert columns_of(CorpusSpec(path=str(tmp_path / "r.jsonl"))) == ["id", "rating", "text"]
    assert columns_of(CorpusSpec(path=str(tmp_path / "r.json"))) is None  # an array: its reader speaks
    assert list(iter_rows(CorpusSpec(path=str(tmp_path / "r.txt")))) == [{"id": None, "text": "좋아요"}]
    assert columns_of(CorpusSpec(path=str(tmp_path / "r.txt"))) == []


def test_the_ray_datasource_reads_an_opened_stream_with_the_local_readers(tmp_path):
    from domainlm.mining.distributed import _documents

    path = tmp_path / "r.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump([{"text": "좋아요", "id": 7}], fh, ensure_ascii=False)
    spec = CorpusSpec(path=str(path), id_field="id")
    with open(path, "rb") as raw:
        docs = list(_documents(raw, str(path), "s3://bucket/r.json.gz", spec))
    # A JSON array behind a compression, as the local reader reads it; messages name the shown path.
    assert docs == [Document("좋아요", "7", "s3://bucket/r.json.gz", 1)]
    assert [(d.text, d.id, d.line) for d in CorpusReader(spec)] == [("좋아요", "7", 1)]
