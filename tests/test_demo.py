"""The demo: its shipped real data (licence note, reproducible build) and the whole `domainlm demo` flow."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys

import pytest

from domainlm.demo import run as demo_run
from domainlm.demo.build_data import build_demo_data

SHIPPED = demo_run.DATA_DIR
SHIPPED_FILES = ("cosmetics_reviews.tsv.gz", "other_reviews.txt.gz", "general.txt.gz", "general_eval.txt.gz")


def shipped_reviews() -> list[dict]:
    with gzip.open(SHIPPED / "cosmetics_reviews.tsv.gz", "rt", encoding="utf-8") as fh:
        header, *lines = fh.read().splitlines()
    assert header == "id\trating\ttext"
    return [dict(zip(("id", "rating", "text"), line.split("\t"))) for line in lines]


def test_shipped_data_is_small_and_has_its_licence_note():
    manifest = json.loads((SHIPPED / "manifest.json").read_text(encoding="utf-8"))
    total = 0
    for name in SHIPPED_FILES:
        data = (SHIPPED / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest["files"][name]["sha256"], name
        total += len(data)
    assert total < 3 << 20  # "a few MB at most"
    note = (SHIPPED / "README.md").read_text(encoding="utf-8")
    for name in SHIPPED_FILES:
        assert f"`{name}`" in note
    for words in (
        "public domain",
        "CC BY-SA 4.0",
        "bab2min/corpus",
        "Universal Dependencies",
        "Korean Wikipedia contributors",
        "NOT covered by the project's Apache-2.0 licence",
    ):
        assert words in note, words
    licences = {p.name for p in (SHIPPED / "LICENSES").iterdir()}
    assert licences == {"CC-BY-SA-4.0.txt", "UD_Korean-NOTICE.txt", "naver-shopping-bab2min-corpus-README.md"}
    assert "Attribution-ShareAlike 4.0 International" in (SHIPPED / "LICENSES" / "CC-BY-SA-4.0.txt").read_text(
        encoding="utf-8"
    )


def test_shipped_reviews_are_real_rated_cosmetics_reviews(shared_data):
    reviews = shipped_reviews()
    assert (
        len(reviews)
        == json.loads((SHIPPED / "manifest.json").read_text(encoding="utf-8"))["counts"]["cosmetics_reviews"]
    )
    source = {}
    with open(shared_data / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            rid, rating, text = line.rstrip("\n").split("\t", 2)
            source[rid] = (rating, " ".join(text.split()))
    for r in reviews:  # each one is a shared review, verbatim (whitespace collapsed), with its rating
        assert source[r["id"]] == (r["rating"], r["text"]), r
    rated = [r for r in reviews if r["rating"]]
    assert {r["rating"] for r in rated} == {"1", "2", "4", "5"} and len(rated) > 800
    assert sum("피부" in r["text"] for r in reviews) > 250


def test_build_data_regenerates_the_shipped_bytes(shared_data, tmp_path):
    manifest = build_demo_data(shared_data, tmp_path / "data")
    for name in SHIPPED_FILES:
        assert (tmp_path / "data" / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    assert (tmp_path / "data" / "README.md").read_text(encoding="utf-8") == (SHIPPED / "README.md").read_text(
        encoding="utf-8"
    )
    assert manifest["counts"]["cosmetics_reviews"] > 1500


def test_build_data_names_a_missing_shared_root(tmp_path):
    from domainlm.errors import CorpusError

    with pytest.raises(CorpusError, match="lacks reviews/naver_shopping_50k.tsv") as e:
        build_demo_data(tmp_path / "nowhere", tmp_path / "out")
    assert "../shared/data" in e.value.hint


def test_demo_data_is_copied_once_and_left_alone_when_unchanged(tmp_path):
    shipped = {p.relative_to(SHIPPED).as_posix() for p in SHIPPED.rglob("*") if p.is_file()}
    assert shipped == set(demo_run.DATA_FILES)  # every shipped file, its licence note included, is copied
    paths = demo_run.write_demo_data(tmp_path)
    assert (tmp_path / "demo" / "LICENSES" / "CC-BY-SA-4.0.txt").is_file() and (
        tmp_path / "demo" / "README.md"
    ).is_file()
    target = paths["cosmetics_reviews.tsv.gz"]
    assert target.read_bytes() == (SHIPPED / "cosmetics_reviews.tsv.gz").read_bytes()
    stamp = target.stat().st_mtime_ns
    demo_run.write_demo_data(tmp_path)
    assert target.stat().st_mtime_ns == stamp
    target.write_bytes(b"edited")
    demo_run.write_demo_data(tmp_path)
    assert target.read_bytes() == (SHIPPED / "cosmetics_reviews.tsv.gz").read_bytes()


class _OpenRecorder:
    """Every path Python opens while on (an audit hook cannot be removed, so it is switched off after)."""

    def __init__(self):
        self.on, self.paths = False, []
        sys.addaudithook(self)

    def __call__(self, event, args):
        if self.on and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            self.paths.append(os.path.realpath(os.fsdecode(args[0])))


def test_demo_command_runs_the_whole_flow_on_the_shipped_reviews(cli, tmp_path, monkeypatch, shared_data):
    # The real demo pretrains 240 steps and adapts 120 (about 20 s on a quiet 2-core machine); a test checks the wiring
    # and what mining, which does not depend on the steps, really gives.
    monkeypatch.setattr(demo_run, "BASE_TRAIN", {**demo_run.BASE_TRAIN, "max_steps": 3, "save_every": 3})
    out = tmp_path / "demo"
    # Two steps teach no term (--slots auto would fill none): this checks the flow, so every mined term fills.
    args = [
        "demo",
        "-o",
        out,
        "--set",
        "train.max_steps=2",
        "--set",
        "train.slots=all",
        "--set",
        "eval.max_texts=30",
        "--set",
        "eval.bootstrap=100",
        "--set",
        "eval.tasks.0.max_train=60",
        "--set",
        "eval.tasks.0.max_test=40",
        "--set",
        "eval.suite.max_train=60",
        "--set",
        "eval.suite.seeds=2",
        "--set",
        "eval.suite.epochs=1",
    ]
    recorder = _OpenRecorder()
    recorder.on = True
    try:
        result = cli(*args)
    finally:
        recorder.on = False
    assert result.exit_code == 0, result.output
    shared = os.path.realpath(shared_data)
    assert recorder.paths and not [p for p in recorder.paths if p.startswith(shared + os.sep)]
    stdout = result.stdout
    assert "real cosmetics reviews" in stdout and "kykim/bert-kor-base" in stdout and "recipe run 화장품" in stdout
    assert "before → after" in stdout and "Report:" in stdout
    assert stdout.rstrip().splitlines()[-1].startswith("Demo finished in")

    report = json.loads((out / "run" / "report" / "report.json").read_text(encoding="utf-8"))
    assert {row["metric"] for row in report["summary"]} >= {
        "MW-BPC, domain text",
        "fertility, domain text",
        "probe rating: accuracy",
        "fine-tuning rating: accuracy",
    }
    # The fine-tuning suite's rating task, before and after, on the shipped ratings (same seeds and examples).
    suite = json.loads((out / "run" / "report" / "finetune" / "benchmark.json").read_text(encoding="utf-8"))
    assert suite["seeds"] == [1, 2] and suite["comparisons"][0]["task"] == "rating"
    # The filled terms are review language: each occurs in the shipped reviews, and the words a
    # cosmetics shopper writes most are among them.
    text = "\n".join(r["text"].lower() for r in shipped_reviews())
    terms = [t["term"] for t in report["filled_slots"]["terms"]]
    assert len(terms) == 100
    for term in terms:
        assert term.removeprefix("##") in text, term
    assert {"피부", "촉촉", "향이", "트러블", "발림성", "보습", "크림", "클렌징"} <= set(terms)
    # The report's example sentences are real reviews.
    shipped_texts = {r["text"] for r in shipped_reviews()}
    assert report["examples"] and all(e["text"] in shipped_texts for e in report["examples"])
    assert report["probes"][0]["task"] == "rating" and report["probes"][0]["test_examples"] == 40

    # The recipe is one line (issue 25: the demo printed the whole resolved recipe); all of it is in the run.
    assert "Recipe demo (데모): base" in stdout and "recipe.resolved.yaml" in stdout and "vocab:" not in stdout
    assert (out / "run" / "recipe.resolved.yaml").is_file()

    again = cli(*args)  # unchanged: the data copy, the base and every stage are reused
    assert again.exit_code == 0 and "base: unchanged, skipped" in again.stdout
    assert again.stdout.count("unchanged, skipped") == 6
    as_json = cli(*args, "--json")  # stdout is one JSON document
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [s["status"] for s in data["stages"]] == ["skipped"] * 5 and data["report_md"].endswith("report.md")
    assert any(row["metric"] == "MW-BPC, domain text" for row in data["summary"]) and "What it means" in data["notes"]


def test_demo_refuses_a_folder_of_the_users_files(cli, tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("notes\n", encoding="utf-8")
    result = cli("demo", "-o", mine)
    assert result.exit_code == 2, result.output
    assert "holds files the demo did not make (notes.txt, sub)" in " ".join(result.output.split())
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "sub"]  # nothing written, nothing removed


def test_demo_folder_claim_accepts_its_own_and_older_demo_folders(tmp_path):
    from domainlm.demo.run import claim_demo_folder
    from vocab_tools.atomic import output_owner

    claim_demo_folder(tmp_path / "new")
    assert output_owner(tmp_path / "new") == "demo"
    claim_demo_folder(tmp_path / "new")  # its own: accepted again
    old = tmp_path / "old"
    (old / "data").mkdir(parents=True)
    (old / "run").mkdir()
    claim_demo_folder(old)  # a demo folder from before markers: only data/ and run/
    assert output_owner(old) == "demo"
    forced = tmp_path / "forced"
    forced.mkdir()
    (forced / "keep.txt").write_text("x", encoding="utf-8")
    claim_demo_folder(forced, force=True)
    assert (forced / "keep.txt").read_text(encoding="utf-8") == "x"
