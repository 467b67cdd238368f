"""adapt / pretrain never lose what a user has: output folders, finished trainings, checkpoints of another run.

Write failures are simulated with the exception types the real libraries raise (torch's RuntimeError
from inline_container.cc, safetensors' SafetensorError, OSError with ENOSPC / EACCES).
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest
import torch
from helpers.training import Killed, kill_at, tiny_corpus, tiny_train_config, write_corpus

from domainlm.errors import ModelError, OutputError, TrainingError, VocabError
from domainlm.training import TrainConfig, adapt, pretrain
from domainlm.training.config import ModelArchConfig
from domainlm.training.engine import TrainingInterrupted

TINY_ARCH = ModelArchConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=64)
TORCH_DISK_FULL = (
    "[enforce fail at inline_container.cc:626] . unexpected pos 4352 vs 4240 "
    "PytorchStreamWriter failed writing file data/3: file write failed"
)
SAFETENSORS_DISK_FULL = (
    'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
)


TINY = dict(
    max_steps=3,
    batch_size=2,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=2,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=20,
    replay_ratio=0.0,
    seed=7,
)


def tiny_config(**kw) -> TrainConfig:
    return tiny_train_config(TINY, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("safety_corpus"), limit=800)


@pytest.fixture(scope="module")
def other_corpus(corpus, tmp_path_factory):
    lines = corpus.read_text(encoding="utf-8").splitlines()
    return write_corpus(tmp_path_factory.mktemp("safety_other") / "other.txt", list(reversed(lines)))


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("notes", encoding="utf-8")
    return victim


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def _no_space_on_model_save(monkeypatch):
    import safetensors
    import transformers.modeling_utils as mu

    def full(*a, **k):
        raise safetensors.SafetensorError(SAFETENSORS_DISK_FULL)

    monkeypatch.setattr(mu, "safe_save_file", full)


# ---------------------------------------------------------------- output folders


def test_adapt_refuses_a_folder_of_user_files_before_loading_anything(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.modeling.loading as loading

    victim = _victim(tmp_path)
    monkeypatch.setattr(loading, "load_base", lambda *a, **k: pytest.fail("the base was loaded before the refusal"))
    with pytest.raises(OutputError) as e:
        adapt(str(tiny_mlm_dir), victim, corpus=str(corpus), config=tiny_config())
    assert "is not empty" in str(e.value) and "notes.txt" in str(e.value) and "--force" in str(e.value)
    assert (victim / "notes.txt").read_text() == "notes" and (victim / "sub").is_dir()


def test_cli_adapt_and_pretrain_refuse_and_keep_the_files(cli, tiny_mlm_dir, tiny_tokenizer_dir, corpus, tmp_path):
    victim = _victim(tmp_path)
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", victim, "--max-steps", "2")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "is not empty" in r.output and "--force" in r.output
    r = cli("pretrain", "--tokenizer", tiny_tokenizer_dir, "--corpus", corpus, "-o", victim, "--max-steps", "2")
    assert r.exit_code == 2 and "is not empty" in r.output and "--force" in r.output
    assert sorted(p.name for p in victim.iterdir()) == ["notes.txt", "sub"]
    # A file where the folder should be.
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", victim / "notes.txt", "--max-steps", "2")
    assert r.exit_code == 2 and "is a file, not a folder" in r.output


def test_force_replaces_the_folder(cli, tiny_tokenizer_dir, corpus, tmp_path):
    victim = _victim(tmp_path)
    r = cli(
        "pretrain",
        "--tokenizer",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        victim,
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--max-positions",
        "64",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--force",
    )
    assert r.exit_code == 0, r.output
    assert not (victim / "notes.txt").exists() and (victim / "model.safetensors").exists()


def test_an_earlier_output_is_replaced_only_once_the_new_one_is_complete(tiny_mlm_dir, corpus, tmp_path):
    out = tmp_path / "model"
    adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=2))
    first = (out / "model.safetensors").read_bytes()

    with pytest.raises(Killed):
        adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=4, seed=8), on_step=kill_at(3))
    assert (out / "model.safetensors").read_bytes() == first  # the earlier model is intact
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model.tmp")]
    # The same command may replace its own output; another command may not.
    (tmp_path / "model.checkpoints").rename(tmp_path / "old.checkpoints")
    result = adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=2, seed=9))
    assert result.steps == 2 and (out / "model.safetensors").read_bytes() != first
    with pytest.raises(OutputError, match="holds the output of `domainlm adapt`"):
        pretrain(str(tiny_mlm_dir), str(corpus), out, arch=TINY_ARCH, config=tiny_config())


def test_outputs_written_before_markers_existed_are_still_replaced(tmp_path):
    from domainlm.training.output import check_model_output

    old = tmp_path / "old_model"  # an `adapt` output of an earlier version: settings.json, no marker
    old.mkdir()
    (old / "config.json").write_text("{}", encoding="utf-8")
    (old / "settings.json").write_text(json.dumps({"command": "adapt"}), encoding="utf-8")
    assert check_model_output(old, "adapt") is True
    with pytest.raises(OutputError, match="is not empty"):
        check_model_output(old, "pretrain")
    lookalike = tmp_path / "notes"  # a settings.json alone is not a model folder
    lookalike.mkdir()
    (lookalike / "settings.json").write_text(json.dumps({"command": "adapt"}), encoding="utf-8")
    with pytest.raises(OutputError, match="files domainlm did not make"):
        check_model_output(lookalike, "adapt")
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is a file"):
        check_model_output(tmp_path / "a_file" / "model", "adapt")


def test_model_files_follow_the_umask(tiny_mlm_dir, corpus, tmp_path):
    old = os.umask(0o022)
    try:
        result = adapt(
            str(tiny_mlm_dir),
            tmp_path / "out",
            corpus=str(corpus),
            terms=["수분크림", "발림성"],
            config=tiny_config(max_steps=2),
        )
    finally:
        os.umask(old)
    assert (result.out_dir.stat().st_mode & 0o777) == 0o755
    modes = {p.name: p.stat().st_mode & 0o777 for p in result.out_dir.iterdir()}
    assert set(modes.values()) == {0o644}, {k: oct(v) for k, v in modes.items() if v != 0o644}
    assert {"tokenizer.json", "slots.json", "model.safetensors", ".domainlm.json"} <= set(modes)


# ---------------------------------------------------------------- write failures


def test_full_disk_at_the_final_save_keeps_the_training_as_a_checkpoint(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        _no_space_on_model_save(m)
        with pytest.raises(TrainingError) as e:
            adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=3, save_every=100))
    text = str(e.value)
    assert "No space left on the device while writing the model" in text
    assert "The trained model was kept as a checkpoint (step 3)" in text and "--resume" in text
    assert not out.exists()
    assert [p.name for p in (tmp_path / "out.checkpoints").iterdir()] == ["step-000003"]
    # --resume writes the model from that checkpoint: no step is trained again, no record doubled.
    trained = []
    result = adapt(
        str(tiny_mlm_dir),
        out,
        corpus=str(corpus),
        config=tiny_config(max_steps=3, save_every=100),
        resume=True,
        on_step=lambda step, record: trained.append(step),
    )
    assert trained == [] and result.steps == 3 and result.resumed_from == 3
    records = _records(out)
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    assert [r["step"] for r in records if "eval_loss" in r] == [0, 3]
    assert not (tmp_path / "out.checkpoints").exists()


def test_when_nothing_can_be_written_the_last_checkpoint_is_named(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.training.checkpoint as ckpt

    out = tmp_path / "out"
    real_save = torch.save
    calls = {"n": 0}

    def save_once(*a, **k):  # the periodic checkpoint at step 2 fits; then the disk is full
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError(TORCH_DISK_FULL)
        return real_save(*a, **k)

    with monkeypatch.context() as m:
        _no_space_on_model_save(m)
        m.setattr(ckpt.torch, "save", save_once)
        with pytest.raises(TrainingError) as e:
            adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=3, save_every=2))
    text = str(e.value)
    assert "No space left on the device while writing the model" in text
    assert "the last checkpoint is step 2 of 3" in text and "step-000002" in text and "--resume" in text
    result = adapt(
        str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=3, save_every=2), resume=True
    )
    assert result.resumed_from == 2 and result.steps == 3 and (out / "model.safetensors").exists()


def test_files_that_appear_in_the_output_during_training_are_kept(tiny_tokenizer_dir, corpus, tmp_path):
    out = tmp_path / "base"

    def someone_writes_there(step, record):
        if step == 2:
            out.mkdir()
            (out / "notes.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(OutputError) as e:
        pretrain(
            tiny_tokenizer_dir,
            str(corpus),
            out,
            arch=TINY_ARCH,
            config=tiny_config(max_steps=2),
            on_step=someone_writes_there,
        )
    assert "is not empty" in str(e.value) and "kept as a checkpoint (step 2)" in str(e.value)
    assert "add --force to replace them; then rerun the same `domainlm pretrain` command with --resume" in str(e.value)
    assert (out / "notes.txt").read_text() == "mine"
    pretrain(
        tiny_tokenizer_dir, str(corpus), out, arch=TINY_ARCH, config=tiny_config(max_steps=2), resume=True, force=True
    )
    assert (out / "model.safetensors").exists() and not (out / "notes.txt").exists()


def test_permission_denied_at_the_final_save(tiny_tokenizer_dir, corpus, tmp_path, monkeypatch):
    from transformers import BertForMaskedLM

    def denied(self, path, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(Path(path) / "config.json"))

    monkeypatch.setattr(BertForMaskedLM, "save_pretrained", denied)
    with pytest.raises(TrainingError) as e:
        pretrain(tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=TINY_ARCH, config=tiny_config(max_steps=2))
    assert "Cannot write the model to" in str(e.value) and "permission denied" in str(e.value)
    assert "kept as a checkpoint (step 2)" in str(e.value)
    assert "rerun the same `domainlm pretrain` command with --resume" in str(e.value)


def test_torch_write_error_while_checkpointing_is_a_clear_error(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.training.checkpoint as ckpt

    def full(*a, **k):
        raise RuntimeError(TORCH_DISK_FULL)

    monkeypatch.setattr(ckpt.torch, "save", full)
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        "--max-steps",
        "3",
        "--save-every",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    flat = " ".join(r.output.split())
    assert "No space left on the device while writing the checkpoint" in flat
    assert "No earlier checkpoint exists" in flat
    assert not (tmp_path / "out").exists()


def test_cli_full_disk_at_the_final_save_says_where_the_checkpoint_is(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    _no_space_on_model_save(monkeypatch)
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    flat = " ".join(r.output.split())
    assert "No space left on the device while writing the model" in flat and "kept as a checkpoint (step 2)" in flat
    assert "out.checkpoints" in flat and "--resume" in flat


# ---------------------------------------------------------------- resume is checked


def _interrupt_at(n):
    def hook(step, record):
        if step == n:
            raise KeyboardInterrupt

    return hook


def test_resume_with_other_inputs_is_refused(tiny_mlm_dir, corpus, other_corpus, tmp_path):
    out = tmp_path / "out"
    config = tiny_config(max_steps=4, save_every=100)
    with pytest.raises(TrainingInterrupted):
        adapt(
            str(tiny_mlm_dir),
            out,
            corpus=str(corpus),
            terms=["수분크림", "발림성"],
            config=config,
            on_step=_interrupt_at(2),
        )
    with pytest.raises(TrainingError) as e:
        adapt(
            str(tiny_mlm_dir), out, corpus=str(other_corpus), terms=["수분크림", "발림성"], config=config, resume=True
        )
    assert "other inputs" in str(e.value) and "corpus: 'domain.txt' → 'other.txt'" in str(e.value)
    with pytest.raises(TrainingError, match="terms: '2 terms' has other content"):
        adapt(str(tiny_mlm_dir), out, corpus=str(corpus), terms=["수분크림", "가성비"], config=config, resume=True)
    other_base = tmp_path / "other_base"
    other_base.mkdir()
    for f in Path(tiny_mlm_dir).iterdir():
        (other_base / f.name).write_bytes(f.read_bytes())
    # The same base under another folder still resumes... but a changed one does not.
    (other_base / "config.json").write_text((other_base / "config.json").read_text().replace("}", ', "x": 1}', 1))
    with pytest.raises(TrainingError, match="base: '.*' → 'other_base'"):
        adapt(str(other_base), out, corpus=str(corpus), terms=["수분크림", "발림성"], config=config, resume=True)
    result = adapt(str(tiny_mlm_dir), out, corpus=str(corpus), terms=["수분크림", "발림성"], config=config, resume=True)
    assert result.resumed_from == 2 and result.steps == 4


def test_resumed_from_is_the_step_the_run_continued_from(cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    import domainlm.training.objectives as engine  # the masked-LM objective masks each micro-batch

    calls = {"n": 0}
    original = engine.whole_word_mask

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:  # during step 5: checkpoints at 2 and 4 exist
            raise KeyboardInterrupt
        return original(*a, **k)

    fast = ["--batch-size", "2", "--seq-len", "32", "--max-steps", "8", "--save-every", "2", "--eval-every", "8"]
    monkeypatch.setattr(engine, "whole_word_mask", interrupted)
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", *fast)
    assert r.exit_code == 130, r.output
    monkeypatch.setattr(engine, "whole_word_mask", original)
    r = cli("adapt", "--base", tiny_mlm_dir, "--corpus", corpus, "-o", tmp_path / "out", *fast, "--resume", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout[r.stdout.index("{") :])
    # The resumed run wrote a checkpoint at step 6 itself; it still continued from step 4.
    assert result["resumed_from"] == 4 and result["steps"] == 8
    records = _records(tmp_path / "out")
    # eval_every fell on the last step: one final evaluation record, not two.
    assert [r["step"] for r in records if "eval_loss" in r] == [0, 8]


# ---------------------------------------------------------------- faults


def test_pretrain_refuses_a_hangul_decomposing_tokenizer(cli, tiny_tokenizer_dir, corpus, tmp_path):
    nfd = tmp_path / "nfd_tok"
    nfd.mkdir()
    for f in Path(tiny_tokenizer_dir).iterdir():
        (nfd / f.name).write_bytes(f.read_bytes())
    data = json.loads((nfd / "tokenizer.json").read_text(encoding="utf-8"))
    data["normalizer"]["strip_accents"] = None  # lowercase=True with strip_accents unset: NFD jamo
    (nfd / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    # transformers rebuilds the normaliser from tokenizer_config.json's strip_accents when it is set.
    config = json.loads((nfd / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("strip_accents", None)
    (nfd / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelError) as e:
        pretrain(nfd, str(corpus), tmp_path / "base", arch=TINY_ARCH, config=tiny_config())
    assert "NFD-decomposes Hangul into jamo" in str(e.value) and "strip_accents to false" in str(e.value)
    r = cli("pretrain", "--tokenizer", nfd, "--corpus", corpus, "-o", tmp_path / "base2")
    assert r.exit_code == 2 and "NFD-decomposes Hangul" in r.output
    assert not (tmp_path / "base").exists() and not (tmp_path / "base2").exists()


def _many_terms(n: int) -> list[str]:
    syllables = "가나다라마바사아자차카타파하"
    return [a + b + c + "크림" for a in syllables for b in syllables for c in "룽뭉"][:n]


def test_adapt_with_more_terms_than_slots_follows_the_vocab_fill_rule(cli, tiny_mlm_dir, corpus, tmp_path):
    from helpers.tiny import TINY_UNUSED

    terms = tmp_path / "terms.txt"
    terms.write_text("\n".join(_many_terms(TINY_UNUSED + 10)) + "\n", encoding="utf-8")
    with pytest.raises(VocabError) as e:
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), terms=terms, config=tiny_config(max_steps=1))
    assert f"terms passed the checks but only {TINY_UNUSED} of the {TINY_UNUSED} slots are free" in str(e.value)
    assert "Pass --truncate" in str(e.value)
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--terms",
        terms,
        "-o",
        tmp_path / "out2",
        "--max-steps",
        "1",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--truncate",
        "--slots",
        "all",
        "--json",
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout[r.stdout.index("{") :])
    assert result["slots_filled"] == TINY_UNUSED and len(result["slots_rejected"]) == 10


def test_a_missing_relative_base_is_reported_without_asking_the_hub(tmp_path, monkeypatch):
    import transformers.utils.hub as hub

    from domainlm.modeling import load_mlm

    def hub_called(*a, **k):
        raise AssertionError("the hub was asked about a local path")

    monkeypatch.setattr(hub, "cached_files", hub_called)
    monkeypatch.setattr(hub, "cached_file", hub_called)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for name in ("./base", "../nope/base", "models/bert-kor", "runs/a/model", "~/no-such-model-dir"):
        started = time.perf_counter()
        with pytest.raises(ModelError, match="does not exist"):
            load_mlm(name)
        assert time.perf_counter() - started < 2, name


def test_a_corrupt_model_file_is_a_clear_error(cli, tiny_mlm_dir, corpus, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in Path(tiny_mlm_dir).iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])  # an interrupted copy
    r = cli("adapt", "--base", broken, "--corpus", corpus, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "Traceback" not in r.output
    flat = " ".join(r.output.split())
    assert "model.safetensors" in flat and "damaged or incomplete" in flat and "SafetensorError" in flat
    # A tokenizer.json cut short names that file.
    (broken / "model.safetensors").write_bytes(data)
    (broken / "tokenizer.json").write_text('{"version": "1.0", "truncation": ', encoding="utf-8")
    from domainlm.modeling import load_mlm

    with pytest.raises(ModelError, match=r"Cannot read '.*broken/tokenizer\.json': the file is damaged"):
        load_mlm(broken)


# --- D3, B26: the base is never the output; one run per output folder from its first second --------


def test_adapt_refuses_its_own_base_or_a_corpus_as_the_output_even_with_force(tiny_mlm_dir, corpus, tmp_path):
    """D3: `adapt --base M -o M` replaced the base with the re-adapted model, exit 0."""
    out = tmp_path / "m"
    adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=1))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for target, force in ((out, False), (out, True), (tmp_path, True)):
        with pytest.raises(OutputError, match="would destroy the input"):
            adapt(str(out), target, corpus=str(corpus), config=tiny_config(max_steps=1), force=force)
    with pytest.raises(OutputError, match="would destroy the input"):
        adapt(str(tiny_mlm_dir), corpus.parent, corpus=str(corpus), config=tiny_config(max_steps=1), force=True)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_pretrain_refuses_its_tokenizer_as_the_output(tiny_tokenizer_dir, corpus):
    with pytest.raises(OutputError, match="would destroy the input"):
        pretrain(
            str(tiny_tokenizer_dir),
            str(corpus),
            tiny_tokenizer_dir,
            arch=TINY_ARCH,
            config=tiny_config(max_steps=1),
            force=True,
        )


def test_a_second_adapt_into_a_held_output_is_refused_at_its_start(tiny_mlm_dir, corpus, tmp_path, monkeypatch):
    """B26: the lock was taken only at the end, so two runs shared the checkpoints and the last one won."""
    import fcntl

    out = tmp_path / "same"
    lock = tmp_path / ".same.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)  # another process's lock: a separate open file
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4242")
    started = []
    try:
        with pytest.raises(OutputError, match="Another domainlm run is writing") as e:
            adapt(
                str(tiny_mlm_dir),
                out,
                corpus=str(corpus),
                config=tiny_config(max_steps=1),
                on_step=lambda *a, **k: started.append(1),
            )
        assert "Wait for it to finish" in e.value.hint and "Free disk space" not in e.value.hint  # P24
    finally:
        os.close(fd)
    assert started == [] and not out.exists() and not Path(f"{out}.checkpoints").exists()
    # Once the other run is gone, the same call runs and writes (the lock inside the write re-enters).
    result = adapt(str(tiny_mlm_dir), out, corpus=str(corpus), config=tiny_config(max_steps=1))
    assert (Path(result.out_dir) / "config.json").exists() and not lock.exists()
