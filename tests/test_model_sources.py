"""What is not a usable model gets one clear answer in every command (issue 24: B9, B10, P11-P13, P18)."""

from __future__ import annotations

import pickle
import shutil

import pytest

SMALL = ["--task", "nsmc", "--max-train", "40", "--max-dev", "20", "--max-test", "20", "--epochs", "1", "--seeds", "1"]


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.fixture()
def broken_models(tiny_mlm_dir, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_mlm_dir, corrupt)
    with open(corrupt / "model.safetensors", "r+b") as fh:
        fh.write(b"\xff" * 16)
    evil = tmp_path / "evil"
    shutil.copytree(tiny_mlm_dir, evil)
    (evil / "model.safetensors").unlink()
    (evil / "pytorch_model.bin").write_bytes(pickle.dumps({"x": _Payload()}))
    tokonly = tmp_path / "tokonly"
    tokonly.mkdir()
    for f in tiny_mlm_dir.iterdir():
        if "token" in f.name or f.name == "vocab.txt":
            shutil.copy(f, tokonly)
    return {"corrupt": corrupt, "evil": evil, "tokonly": tokonly}


def test_finetune_names_a_damaged_weights_file(cli, broken_models, tmp_path, shared_data):
    """B9: a SafetensorError traceback in finetune and benchmark."""
    r = cli("finetune", broken_models["corrupt"], *SMALL, "-o", tmp_path / "ft")
    assert r.exit_code == 2 and "damaged or incomplete" in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("command", ["finetune", "adapt"])
def test_a_pickle_with_objects_is_refused_without_suggesting_to_unpickle_it(
    cli, broken_models, tmp_path, shared_data, command, capfd
):
    """B10, P18: an UnpicklingError traceback, or "damaged ... weights_only=False" advice."""
    args = (
        ["finetune", broken_models["evil"], *SMALL]
        if command == "finetune"
        else ["adapt", "--base", broken_models["evil"], "--corpus", shared_data / "general" / "ud_korean_sentences.txt"]
    )
    r = cli(*args, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "objects other than tensors" in r.output, r.output
    assert "weights_only=False" not in r.output and "damaged" not in r.output
    assert "this must never run" not in r.output + capfd.readouterr().out


@pytest.mark.parametrize("command", ["finetune", "adapt"])
def test_a_tokenizer_folder_is_named_as_such(cli, broken_models, tmp_path, shared_data, command):
    """P13: "Should have a `model_type` key in its config.json" for a folder with no config.json."""
    args = (
        ["finetune", broken_models["tokonly"], *SMALL]
        if command == "finetune"
        else [
            "adapt",
            "--base",
            broken_models["tokonly"],
            "--corpus",
            shared_data / "general" / "ud_korean_sentences.txt",
        ]
    )
    r = cli(*args, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "holds a tokenizer, not a model" in r.output, r.output


def test_finetune_names_its_own_argument(cli, tmp_path, shared_data):
    """P11: "Check the path passed as --base" from a command that has no --base; P12: the offline wording."""
    from domainlm.modeling.loading import load_error

    r = cli("finetune", tmp_path / "nope", *SMALL, "-o", tmp_path / "ft")
    assert r.exit_code == 2 and "MODEL argument" in r.output and "--base" not in r.output
    error = load_error("kykim/bert-kor-base", "model", OSError("We couldn't connect"), "as MODEL")
    assert "hf download kykim/bert-kor-base" in error.hint and "as MODEL DIR" in error.hint and "cache" in error.message
