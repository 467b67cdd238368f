"""Training people can watch (issue 25): `--report-to tensorboard|wandb|mlflow` on adapt, pretrain and
finetune through accelerate's trackers, read back from the files each tracker writes."""

from __future__ import annotations

import glob
import importlib.util
import json
import struct
from pathlib import Path

import pytest
from helpers.training import write_corpus

from domainlm.errors import ConfigError
from domainlm.runtime import flat_hparams, logging_dir_for, parse_report_to
from domainlm.training import TrainConfig, pretrain
from domainlm.training.config import ModelArchConfig

ARCH = ModelArchConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=64)
STEPS = dict(
    max_steps=4,
    batch_size=2,
    seq_len=32,
    lr=1e-3,
    save_every=10,
    log_every=1,
    eval_every=2,
    heldout_fraction=0.05,
    eval_documents=20,
    precision="fp32",
)
FAST = [
    "--max-steps",
    "3",
    "--batch-size",
    "2",
    "--seq-len",
    "32",
    "--save-every",
    "10",
    "--lr",
    "1e-3",
    "--precision",
    "fp32",
]
SMALL_FT = dict(
    max_train=24, max_dev=16, max_test=16, epochs=2, batch_size=4, max_seq_len=32, threads=1, precision="fp32"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from helpers.tiny import TINY_TEXT

    return write_corpus(tmp_path_factory.mktemp("track") / "c.txt", TINY_TEXT, repeat=40)


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files under `folder`: tag → [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list] = {}
    for events in sorted({p.parent for p in folder.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def _hparams(folder: Path) -> dict:
    """The hyperparameters TensorBoard's HParams plugin holds (what `add_hparams` wrote)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for events in sorted({p.parent for p in folder.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(events))
        acc.Reload()
        try:
            content = acc.PluginTagToContent("hparams")
        except KeyError:  # the scalars' file; add_hparams writes a folder of its own
            continue
        if "_hparams_/session_start_info" in content:
            data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
            return {k: v.ListFields()[0][1] for k, v in data.session_start_info.hparams.items()}
    return {}


# ---------------------------------------------------------------- settings


def test_report_to_takes_names_commas_and_none():
    assert TrainConfig(report_to="tensorboard,mlflow").report_to == ["tensorboard", "mlflow"]
    assert TrainConfig(report_to=["wandb", "wandb"]).report_to == ["wandb"]
    assert TrainConfig(report_to="none").report_to == TrainConfig().report_to == []
    assert parse_report_to(["tensorboard,none", "mlflow"]) == ["tensorboard", "mlflow"]
    with pytest.raises(ValueError, match="Unknown tracker 'tensorbord'"):
        TrainConfig(report_to="tensorbord")


def test_recipe_sets_report_to(tmp_path):
    from domainlm.recipes import load_recipe

    r = load_recipe("화장품", ["train.report_to=tensorboard,wandb", f"train.logging_dir={tmp_path}"])
    assert r.train.report_to == ["tensorboard", "wandb"] and r.train.logging_dir == str(tmp_path)


def test_logging_folder_is_beside_the_model_never_inside(tmp_path):
    out = tmp_path / "model"
    assert logging_dir_for(out) == tmp_path / "model.runs"
    assert logging_dir_for(out, tmp_path / "logs") == tmp_path / "logs"
    with pytest.raises(ConfigError, match="inside the output folder") as e:
        logging_dir_for(out, out / "runs")
    assert "pushed with it" in e.value.message


def test_hyperparameters_are_flat_scalars():
    flat = flat_hparams(
        {
            "train": {
                "lr": 1e-3,
                "lora": {"target_modules": ["query", "value"]},
                "eval_every": None,
                "phases": [{"mode": "new-rows", "steps": 2}],
            },
            "base": Path("b"),
        }
    )
    assert flat == {
        "train.lr": 1e-3,
        "train.lora.target_modules.0": "query",
        "train.lora.target_modules.1": "value",
        "train.phases.0.mode": "new-rows",
        "train.phases.0.steps": 2,
        "base": "b",
    }


def test_missing_tracker_package_is_named_before_any_work(cli, tiny_tokenizer_dir, corpus, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    r = cli(
        "pretrain",
        "-t",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        *FAST,
        "--report-to",
        "tensorboard",
        "--report-to",
        "wandb",
    )
    assert r.exit_code == 2, r.output
    assert "wandb: the package is not installed" in r.output
    assert "pip install 'domainlm[wandb]'" in r.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.runs").exists()


def test_missing_tracker_package_is_named_by_finetune_and_recipe_run(cli, tiny_mlm_dir, tmp_path, monkeypatch):
    from domainlm.pipeline.runner import run_recipe
    from domainlm.recipes import load_recipe

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    r = cli("finetune", tiny_mlm_dir, "--task", "nsmc", "-o", tmp_path / "ft", "--report-to", "mlflow")
    assert r.exit_code == 2 and "pip install 'domainlm[mlflow]'" in r.output, r.output
    with pytest.raises(ConfigError, match="mlflow: the package is not installed"):
        run_recipe(load_recipe("tiny", ["train.report_to=mlflow"]), tmp_path / "run")
    assert not (tmp_path / "ft").exists() and not (tmp_path / "run").exists()


def test_logging_dir_inside_the_output_is_refused_by_the_cli(cli, tiny_tokenizer_dir, corpus, tmp_path):
    r = cli(
        "pretrain",
        "-t",
        tiny_tokenizer_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        *FAST,
        "--report-to",
        "tensorboard",
        "--logging-dir",
        tmp_path / "out" / "tb",
    )
    assert r.exit_code == 2 and "inside the output folder" in r.output


# ---------------------------------------------------------------- TensorBoard, read back


def test_pretrain_tensorboard_logs_loss_lr_speed_heldout_and_settings(tiny_tokenizer_dir, corpus, tmp_path):
    out = pretrain(
        tiny_tokenizer_dir,
        str(corpus),
        tmp_path / "base",
        arch=ARCH,
        config=TrainConfig(**STEPS, report_to="tensorboard"),
    )
    runs = tmp_path / "base.runs"
    scalars = _scalars(runs / "tensorboard")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([m["loss"] for m in metrics if "loss" in m])
    assert [s for s, _ in scalars["eval/loss"]] == [2, 4]
    assert {"train/lr", "train/tokens_per_second", "train/tokens"} <= set(scalars)
    hparams = _hparams(runs / "tensorboard")
    assert hparams["command"] == "pretrain" and hparams["train.lr"] == pytest.approx(1e-3)
    assert hparams["arch.hidden"] == 32 and hparams["world_size"] == 1 and hparams["effective_batch"] == 2
    # Nothing of the trackers in the model folder (it is what `domainlm push` uploads).
    assert not list(out.rglob("events.out.tfevents.*")) and not (out / "runs").exists()


def test_adapt_cli_tensorboard_starts_with_the_heldout_loss_before(cli, tiny_mlm_dir, corpus, tmp_path):
    logs = tmp_path / "logs"
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "out",
        *FAST,
        "--report-to",
        "tensorboard",
        "--logging-dir",
        logs,
        "--set",
        "train.eval_documents=20",
        "--set",
        "train.heldout_fraction=0.05",
        "--set",
        "train.log_every=1",
    )
    assert r.exit_code == 0, r.output
    assert "Tracker logs (tensorboard)" in r.output and "tensorboard --logdir" in r.output
    scalars = _scalars(logs / "tensorboard")
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert scalars["eval/loss"][0][0] == 0  # the base's held-out loss, before any step
    assert scalars["eval/loss"][-1][0] == 3
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3]
    assert settings["train"]["report_to"] == ["tensorboard"] and not (tmp_path / "out.runs").exists()


def test_finetune_tensorboard_logs_each_seed(tiny_mlm_dir, shared_data, tmp_path):
    from domainlm.finetune import finetune

    finetune(
        tiny_mlm_dir, "nsmc", tmp_path / "ft", seeds=[1, 2], data_dir=shared_data, report_to="tensorboard", **SMALL_FT
    )
    runs = sorted(p.name for p in (tmp_path / "ft.runs" / "tensorboard").iterdir())
    assert runs == [f"{Path(tiny_mlm_dir).name}-nsmc-seed1", f"{Path(tiny_mlm_dir).name}-nsmc-seed2"]
    scalars = _scalars(tmp_path / "ft.runs" / "tensorboard" / runs[0])
    metrics = json.loads((tmp_path / "ft" / "seed-1" / "metrics.json").read_text())
    assert [e for _, e in scalars["train/epoch"]] == [1, 2] and len(scalars["eval/dev_accuracy"]) == 2
    assert scalars["test/accuracy"][0][1] == pytest.approx(metrics["test"])
    assert {"train/loss", "train/lr", "train/tokens_per_second"} <= set(scalars)
    assert _hparams(tmp_path / "ft.runs" / "tensorboard" / runs[0])["settings.lr"] > 0


# ---------------------------------------------------------------- MLflow (local file store) and W&B (offline)


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed (pip install mlflow)")
def test_pretrain_mlflow_local_store(tiny_tokenizer_dir, corpus, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    pretrain(
        tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=ARCH, config=TrainConfig(**STEPS, report_to="mlflow")
    )
    client = MlflowClient((tmp_path / "base.runs" / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("domainlm").experiment_id])
    assert run.info.run_name == "base" and run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2, 3, 4]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "eval/loss")] == [2, 4]
    assert run.data.params["train.batch_size"] == "2" and run.data.params["precision_used"] == "fp32"


def _wandb_records(path: Path) -> list:
    """The records of a W&B offline run file (a LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, records, part = path.read_bytes(), 7, 32768, [], b""  # 7: the ':W&B' header
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a record header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        part, pos = part + data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(part)
            records.append(record)
            part = b""
    return records


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed (pip install wandb)")
def test_pretrain_wandb_offline(tiny_tokenizer_dir, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    pretrain(
        tiny_tokenizer_dir, str(corpus), tmp_path / "base", arch=ARCH, config=TrainConfig(**STEPS, report_to="wandb")
    )
    (run_file,) = glob.glob(str(tmp_path / "base.runs" / "wandb" / "offline-run-*" / "run-*.wandb"))
    records = _wandb_records(Path(run_file))
    key = lambda item: item.key or "/".join(item.nested_key)  # noqa: E731 ("train/loss" is stored as a nested key)
    history = [{key(i): json.loads(i.value_json) for i in r.history.item} for r in records if r.HasField("history")]
    config = {key(i): json.loads(i.value_json) for r in records if r.HasField("config") for i in r.config.update}
    shown = [sorted(h) for h in history]  # what the run file held, if the steps are not there
    assert [h["_step"] for h in history if "train/loss" in h] == [1, 2, 3, 4], shown
    assert [h["_step"] for h in history if "eval/loss" in h] == [2, 4], shown
    assert config["train.lr"] == pytest.approx(1e-3) and config["command"] == "pretrain"
