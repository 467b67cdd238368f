"""The stage runner (skip, rerun, resume), fingerprints, bundles, and a tiny recipe end to end."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from domainlm import io as fileio  # the file hashes live there
from domainlm.pipeline import hashing, runner
from domainlm.pipeline.bundle import BundleError, export_bundle, import_bundle
from domainlm.pipeline.stages import Stage
from domainlm.recipes import load_recipe
from vocab_tools.loading import vocab_sha256
from vocab_tools.manifest import SlotEntry, manifest_json

# ---------------------------------------------------------------- fingerprints


def test_small_files_are_hashed_whole_big_ones_by_edges(tmp_path, monkeypatch):
    f = tmp_path / "a.txt"
    f.write_text("하나\n둘\n", encoding="utf-8")
    h1 = hashing.hash_file(f)
    f.write_text("하나\n셋\n", encoding="utf-8")
    assert hashing.hash_file(f) != h1 and h1.startswith("sha256:")
    monkeypatch.setattr(fileio, "FULL_HASH_LIMIT", 10)
    monkeypatch.setattr(fileio, "EDGE", 4)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 100)
    hb = hashing.hash_file(big)
    assert hb.startswith("edges:")
    with open(big, "ab") as fh:
        fh.write(b"y")
    assert hashing.hash_file(big) != hb  # an append changes size and last bytes


def test_fingerprint_covers_settings_and_dirs(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "w.bin").write_bytes(b"1")
    h = hashing.hash_path(d)
    (d / "w.bin").write_bytes(b"2")
    assert hashing.hash_path(d) != h
    assert hashing.hash_path("kykim/bert-kor-base") == "name:kykim/bert-kor-base"
    assert hashing.fingerprint({"a": 1}) != hashing.fingerprint({"a": 2})


# ---------------------------------------------------------------- runner logic with fake stages


class FakeStages:
    """Two stages: `first` copies input.txt, `second` upper-cases first's output with a setting."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[tuple[str, bool]] = []
        self.setting = "v1"
        self.interrupt_second = False

    def stages(self):
        def first_run(ctx, resume):
            self.calls.append(("first", resume))
            (ctx.out_dir / "first.txt").write_text((self.root / "input.txt").read_text())
            return {"chars": 1}

        def second_run(ctx, resume):
            self.calls.append(("second", resume))
            if self.interrupt_second:
                self.interrupt_second = False
                (ctx.out_dir / "second.partial").write_text("half")
                raise KeyboardInterrupt
            (ctx.out_dir / "second").mkdir(exist_ok=True)
            (ctx.out_dir / "second" / "out.txt").write_text(
                (ctx.out_dir / "first.txt").read_text().upper() + self.setting
            )
            return {}

        return [
            Stage(
                "first",
                lambda c: {"in": hashing.hash_path(self.root / "input.txt")},
                first_run,
                lambda c: [c.out_dir / "first.txt"],
            ),
            Stage(
                "second",
                lambda c: {"up": hashing.hash_path(c.out_dir / "first.txt"), "s": self.setting},
                second_run,
                lambda c: [c.out_dir / "second"],
                resumable=True,
            ),
        ]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    f = FakeStages(tmp_path)
    (tmp_path / "input.txt").write_text("abc")
    monkeypatch.setattr(runner, "STAGES", f.stages())
    monkeypatch.setattr(runner, "STAGE_NAMES", ["first", "second"])
    return f


def _statuses(result):
    return [(s.name, s.status) for s in result.stages]


def test_unchanged_stages_are_skipped_and_changes_rerun_downstream(fake, tmp_path):
    recipe = load_recipe("tiny", data_dir=tmp_path)
    out = tmp_path / "run"
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "ran"), ("second", "ran")]
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "skipped"), ("second", "skipped")]
    assert (out / "recipe.resolved.yaml").exists() and (out / "second" / "recipe.resolved.yaml").exists()
    fake.setting = "v2"  # a setting of the second stage only
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "skipped"), ("second", "ran")]
    (tmp_path / "input.txt").write_text("abcd")  # an input of the first: both rerun
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "ran"), ("second", "ran")]
    assert (out / "second" / "out.txt").read_text() == "ABCDv2"
    shutil.rmtree(out / "second")  # a missing output is never skipped
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "skipped"), ("second", "ran")]
    assert _statuses(runner.run_recipe(recipe, out, force=["first"])) == [("first", "ran"), ("second", "skipped")]
    assert _statuses(runner.run_recipe(recipe, out, until="first", force=True)) == [
        ("first", "ran"),
        ("second", "not run"),
    ]
    state = json.loads((out / "stages.json").read_text())
    assert state["stages"]["first"]["status"] == "done" and state["recipe"] == "tiny"


def test_an_interrupted_stage_is_resumed(fake, tmp_path):
    recipe = load_recipe("tiny", data_dir=tmp_path)
    out = tmp_path / "run"
    fake.interrupt_second = True
    with pytest.raises(KeyboardInterrupt):
        runner.run_recipe(recipe, out)
    assert json.loads((out / "stages.json").read_text())["stages"]["second"]["status"] == "running"
    result = runner.run_recipe(recipe, out)
    assert _statuses(result) == [("first", "skipped"), ("second", "resumed")]
    assert fake.calls[-1] == ("second", True)
    # Interrupted again, but its inputs changed meanwhile: start over, not resume.
    fake.interrupt_second = True
    fake.setting = "v3"
    with pytest.raises(KeyboardInterrupt):
        runner.run_recipe(recipe, out)
    fake.setting = "v4"
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "skipped"), ("second", "ran")]
    assert fake.calls[-1] == ("second", False)


def test_unknown_stage_name_is_a_clear_error(fake, tmp_path):
    from domainlm.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown stage 'train' in --until; the stages are: first, second"):
        runner.run_recipe(load_recipe("tiny", data_dir=tmp_path), tmp_path / "run", until="train")


# ---------------------------------------------------------------- bundles


@pytest.fixture
def finished_run(tmp_path, tiny_tokenizer_dir):
    """A run folder shaped like `recipe run` output, on the tiny tokenizer as base."""
    data = tmp_path / "data"
    shutil.copytree(tiny_tokenizer_dir, data / "base")
    recipe = load_recipe("tiny", data_dir=data)
    run = tmp_path / "run"
    (run / "mine").mkdir(parents=True)
    (run / "mine" / "terms.tsv").write_text("term\tkind\tscore\n보습력\tword\t1.0\n", encoding="utf-8")
    (run / "fill" / "tokenizer").mkdir(parents=True)
    (run / "fill" / "tokenizer" / "slots.json").write_text(
        manifest_json([SlotEntry(slot_id=5, old_token="[unused0]", term="보습력")]), encoding="utf-8"
    )
    (run / "fill" / "fill.json").write_text(json.dumps({"base_vocab_sha256": vocab_sha256(str(data / "base"))}))
    (run / "report").mkdir()
    (run / "report" / "report.json").write_text('{"summary": []}')
    (run / "report" / "report.md").write_text("# report\n")
    (run / "recipe.resolved.yaml").write_text("name: tiny\n")
    return recipe, run, data


def test_export_import_round_trip(finished_run, tmp_path):
    recipe, run, data = finished_run
    archive = export_bundle(recipe, run, tmp_path / "tiny.tar.gz")
    imported = import_bundle(archive, tmp_path / "imported", base=str(data / "base"))
    assert imported.base_checked
    assert (tmp_path / "imported" / "terms.tsv").read_text(encoding="utf-8") == (run / "mine" / "terms.tsv").read_text(
        encoding="utf-8"
    )
    assert {"recipe.yaml", "terms.tsv", "slots.json", "report.md", "bundle.json"} <= set(imported.files)
    again = load_recipe(tmp_path / "imported" / "recipe.yaml", data_dir=data)
    assert again.name == "tiny" and again.data.domain[0].path == recipe.data.domain[0].path  # portable paths


def _rewrite(archive: Path, out: Path, change) -> Path:
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            m, data = change(m, data)
            if m is not None:
                dst.addfile(m, io.BytesIO(data) if data is not None else None)
    return out


def test_tampered_bundle_is_refused(finished_run, tmp_path):
    recipe, run, data = finished_run
    archive = export_bundle(recipe, run, tmp_path / "tiny.tar.gz")

    def edit_terms(m, data):
        if m.name.endswith("terms.tsv"):
            data = data + "악성\tword\t9.9\n".encode()
            m.size = len(data)
        return m, data

    bad = _rewrite(archive, tmp_path / "bad.tar.gz", edit_terms)
    with pytest.raises(BundleError) as e:
        import_bundle(bad, tmp_path / "x", base=str(data / "base"))
    assert "failed verification" in e.value.message
    assert "terms.tsv: sha256 does not match (modified after export)" in e.value.message
    assert not (tmp_path / "x").exists()

    def escape(m, data):
        if m.name.endswith("report.md"):
            m.name = "../evil.md"
        return m, data

    with pytest.raises(BundleError, match="unsafe entry '../evil.md'"):
        import_bundle(_rewrite(archive, tmp_path / "evil.tar.gz", escape), tmp_path / "y", base=str(data / "base"))


def test_bundle_for_another_base_vocabulary_is_refused(finished_run, tmp_path, shared_data):
    recipe, run, data = finished_run
    archive = export_bundle(recipe, run, tmp_path / "tiny.tar.gz")
    with pytest.raises(BundleError) as e:
        import_bundle(archive, tmp_path / "x", base=str(shared_data / "vocab" / "koelectra_vocab.txt"))
    assert "was made on a different base vocabulary" in e.value.message


def test_export_without_a_run_says_what_to_do(tmp_path):
    recipe = load_recipe("tiny", data_dir=tmp_path)
    with pytest.raises(BundleError, match=r"holds no mined terms \(mine/terms.tsv\): nothing to share yet") as e:
        export_bundle(recipe, tmp_path / "nothing")
    assert e.value.hint.startswith("Run the recipe first: domainlm recipe run tiny --output ")


def test_cli_export_import(cli, finished_run, tmp_path):
    recipe, run, data = finished_run
    archive = tmp_path / "b.tar.gz"
    result = cli("recipe", "export", "tiny", "--run-dir", run, "-o", archive, "--data-dir", data)
    assert result.exit_code == 0, result.output
    result = cli("recipe", "import", archive, "-o", tmp_path / "in", "--base", data / "base")
    assert result.exit_code == 0, result.output
    assert "files verified (sha256), base vocabulary matches" in result.stdout


# ---------------------------------------------------------------- end to end (needs every area)


def test_tiny_recipe_end_to_end(tmp_path, tiny_mlm_dir):
    from domainlm.demo import write_demo_data
    from domainlm.pipeline import run_recipe

    data = tmp_path / "data"
    write_demo_data(data)
    shutil.copytree(tiny_mlm_dir, data / "base")
    recipe = load_recipe("tiny", ["train.max_steps=2"], data_dir=data)
    out = tmp_path / "run"
    result = run_recipe(recipe, out)
    assert [s.status for s in result.stages] == ["ran"] * 5
    report = result.report
    assert report is not None and report["summary"]
    assert (out / "model" / "recipe.resolved.yaml").exists() and (out / "report" / "report.md").exists()
    assert json.loads((out / "fill" / "fill.json").read_text())["filled"] > 0
    again = run_recipe(recipe, out)
    assert [s.status for s in again.stages] == ["skipped"] * 5
    archive = export_bundle(recipe, out, tmp_path / "tiny.tar.gz")
    assert import_bundle(archive, tmp_path / "imported", base=str(data / "base")).base_checked


def test_run_layout_names_the_checkpoints_where_training_keeps_them(tmp_path):
    from domainlm.pipeline import RunLayout
    from domainlm.training.checkpoint import checkpoint_dir_for

    run = RunLayout(tmp_path)
    assert run.checkpoints == checkpoint_dir_for(tmp_path / "model") == tmp_path / "model.checkpoints"
    assert run.slots_json == tmp_path / "fill" / "tokenizer" / "slots.json" and run.state == tmp_path / "stages.json"


def test_adapt_resumes_only_from_a_real_checkpoint(tmp_path):
    from domainlm.pipeline.stages import STAGES, StageContext

    adapt = next(s for s in STAGES if s.name == "adapt")
    ctx = StageContext(recipe=load_recipe("tiny", data_dir=tmp_path), out_dir=tmp_path)
    assert adapt.resumable and not adapt.can_resume(ctx)
    (tmp_path / "model.checkpoints" / "step-2").mkdir(parents=True)
    assert not adapt.can_resume(ctx)  # a checkpoint folder without its state is not resumable
    (tmp_path / "model.checkpoints" / "step-2" / "state.pt").write_bytes(b"")
    assert adapt.can_resume(ctx)


# ---------------------------------------------------------------- a person's path: folders, fingerprints, exports


def test_run_refuses_a_folder_of_user_files_and_force_all_keeps_them(fake, tmp_path, cli):
    from domainlm.errors import OutputError

    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("my notes")
    recipe = load_recipe("tiny", data_dir=tmp_path)
    with pytest.raises(OutputError, match="not a run folder") as e:
        runner.run_recipe(recipe, victim)
    assert "--force all" in e.value.hint and sorted(p.name for p in victim.iterdir()) == ["notes.txt", "sub"]
    r = cli("recipe", "run", "tiny", "--data-dir", tmp_path, "-o", victim, "-q")
    assert r.exit_code == 2 and "--force all" in r.output and "Traceback" not in r.output
    assert _statuses(runner.run_recipe(recipe, victim, force=True)) == [("first", "ran"), ("second", "ran")]
    assert (victim / "notes.txt").read_text() == "my notes" and (victim / "second" / "out.txt").exists()
    assert _statuses(runner.run_recipe(recipe, victim)) == [
        ("first", "skipped"),
        ("second", "skipped"),
    ]  # now a run folder


def test_a_failed_rerun_keeps_the_previous_output(fake, tmp_path):
    recipe = load_recipe("tiny", data_dir=tmp_path)
    out = tmp_path / "run"
    runner.run_recipe(recipe, out)
    (out / "second.checkpoints").mkdir()
    fake.setting = "v2"  # the resumable stage must rerun ...
    fake.interrupt_second = True  # ... and fails
    with pytest.raises(KeyboardInterrupt):
        runner.run_recipe(recipe, out)
    assert (out / "second" / "out.txt").read_text() == "ABCv1"  # the previous model is still there
    assert not (out / "second.checkpoints").exists()  # its checkpoints belonged to the old inputs
    assert _statuses(runner.run_recipe(recipe, out)) == [("first", "skipped"), ("second", "resumed")]
    assert (out / "second" / "out.txt").read_text() == "ABCv2"


def test_fingerprints_do_not_depend_on_where_the_data_is(tmp_path):
    from domainlm.pipeline.stages import StageContext, evaluate_inputs, prepare_inputs

    first = tmp_path / "first"
    (first / "demo").mkdir(parents=True)
    for name in ("cosmetics_reviews.tsv.gz", "general.txt.gz", "general_eval.txt.gz"):  # only hashed here
        (first / "demo" / name).write_text(f"{name} 보습크림 좋아요\n" * 50, encoding="utf-8")
    (first / "base").mkdir()
    (first / "base" / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    second = tmp_path / "elsewhere" / "second"
    shutil.copytree(first, second)  # copies get new modification times too
    prints = []
    for data in (first, second):
        recipe = load_recipe(
            "tiny",
            ["eval.tasks=[{name: t, train: {path: demo/general.txt.gz}, test: {path: demo/general_eval.txt.gz}}]"],
            data_dir=data,
        )
        run = data / "run"
        for part in ("prepare/heldout.txt", "model/config.json"):
            (run / part).parent.mkdir(parents=True, exist_ok=True)
            (run / part).write_text("같은 내용\n", encoding="utf-8")
        ctx = StageContext(recipe=recipe, out_dir=run)
        prints.append((hashing.fingerprint(prepare_inputs(ctx)), hashing.fingerprint(evaluate_inputs(ctx))))
    assert prints[0] == prints[1]
    (second / "demo" / "general.txt.gz").write_text("다른 내용\n", encoding="utf-8")  # content still counts
    recipe = load_recipe("tiny", data_dir=second)
    assert hashing.hash_corpora(recipe.data.reference) != hashing.hash_corpora(
        load_recipe("tiny", data_dir=first).data.reference
    )


def test_big_files_are_fingerprinted_by_content_not_mtime(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(fileio, "FULL_HASH_LIMIT", 1000)
    monkeypatch.setattr(fileio, "EDGE", 100)
    monkeypatch.setattr(fileio, "SAMPLE", 10)
    big = tmp_path / "big.txt"
    big.write_bytes(bytes(range(256)) * 40)
    h = hashing.hash_file(big)
    os.utime(big, (1, 1))
    assert hashing.hash_file(big) == h  # touched, not changed
    data = bytearray(big.read_bytes())
    span = len(data) - 2 * fileio.EDGE - fileio.SAMPLE
    data[fileio.EDGE + span * 32 // (fileio.SAMPLES - 1) + 3] ^= 0xFF  # one byte in the middle, in a sampled block
    big.write_bytes(bytes(data))
    assert hashing.hash_file(big) != h


def test_export_ships_the_recipe_the_run_was_made_with(finished_run, tmp_path, cli):
    import yaml

    from domainlm.recipes.load import save_portable

    recipe, run, data = finished_run
    save_portable(load_recipe("tiny", ["train.max_steps=7", "vocab.slots=11"], data_dir=data), run)
    result = cli("recipe", "export", "tiny", "--run-dir", run, "-o", tmp_path / "b.tar.gz", "--data-dir", data)
    assert result.exit_code == 0, result.output
    imported = import_bundle(tmp_path / "b.tar.gz", tmp_path / "in", base=str(data / "base"))
    shipped = yaml.safe_load((imported.out_dir / "recipe.yaml").read_text(encoding="utf-8"))
    assert shipped["train"]["max_steps"] == 7 and shipped["vocab"]["slots"] == 11
    assert shipped["data"]["domain"][0]["path"] == "demo/cosmetics_reviews.tsv.gz"  # still portable
    with pytest.raises(BundleError, match="holds a run of the recipe 'tiny', not 'demo'"):
        export_bundle(load_recipe("demo", data_dir=data), run, tmp_path / "x.tar.gz")


def test_the_runner_records_the_recipe_as_run(fake, tmp_path):
    import yaml

    out = tmp_path / "run"
    runner.run_recipe(load_recipe("tiny", ["train.max_steps=9"], data_dir=tmp_path), out)
    recorded = yaml.safe_load((out / "recipe.yaml").read_text(encoding="utf-8"))
    assert recorded["train"]["max_steps"] == 9 and recorded["base"] == "./base"


def test_import_and_export_never_replace_what_they_did_not_write(finished_run, tmp_path, cli):
    recipe, run, data = finished_run
    archive = tmp_path / "b.tar.gz"
    notes = tmp_path / "notes.tar.gz"
    notes.write_text("not a bundle")
    r = cli("recipe", "export", "tiny", "--run-dir", run, "-o", notes, "--data-dir", data)
    assert r.exit_code == 2 and "is not a domainlm bundle" in r.output and "--force" in r.output
    assert notes.read_text() == "not a bundle"
    for _ in range(2):  # an earlier export is replaced
        assert cli("recipe", "export", "tiny", "--run-dir", run, "-o", archive, "--data-dir", data).exit_code == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("my notes")
    r = cli("recipe", "import", archive, "-o", victim, "--base", data / "base")
    assert r.exit_code == 2 and "--force" in r.output and (victim / "notes.txt").exists()
    for _ in range(2):  # an earlier import is replaced without --force
        r = cli("recipe", "import", archive, "-o", tmp_path / "in", "--base", data / "base")
        assert r.exit_code == 0, r.output
    assert cli("recipe", "import", archive, "-o", victim, "--base", data / "base", "--force").exit_code == 0
    assert not (victim / "notes.txt").exists() and (victim / "terms.tsv").exists()


def test_a_full_disk_during_a_run_is_a_clear_error(fake, tmp_path, cli, monkeypatch):
    import errno

    runner.run_recipe(load_recipe("tiny", data_dir=tmp_path), tmp_path / "run")
    fake.setting = "v2"

    def full_disk(path, data, indent=2):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_json", full_disk)
    r = cli("recipe", "run", "tiny", "--data-dir", tmp_path, "-o", tmp_path / "run", "-q")
    assert r.exit_code == 2 and "no space left on the device" in r.output and "Traceback" not in r.output
    assert (tmp_path / "run" / "second" / "out.txt").read_text() == "ABCv1"
