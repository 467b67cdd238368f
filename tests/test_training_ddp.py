"""DDP without code changes: `torchrun --nproc_per_node 2` on CPU (gloo) runs the same engine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers.training import write_corpus

SCRIPT = textwrap.dedent("""
    import hashlib, os, sys
    import torch
    import domainlm.training.engine as engine
    from domainlm.training import pretrain, TrainConfig
    from domainlm.training.config import ModelArchConfig

    original = engine.train

    def train(**kw):
        outcome = original(**kw)
        digest = hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in outcome.model.parameters())).hexdigest()
        with open(os.path.join(sys.argv[4], "rank%s.txt" % os.environ["RANK"]), "w") as fh:
            fh.write(digest)
        return outcome

    engine.train = train
    pretrain(sys.argv[1], sys.argv[2], sys.argv[3],
             arch=ModelArchConfig(layers=1, hidden=32, heads=2, intermediate=64, max_positions=64),
             config=TrainConfig(max_steps=3, batch_size=2, seq_len=32, lr=1e-3, save_every=2, log_every=1,
                                heldout_fraction=0.05, eval_documents=20))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_on_cpu(tiny_tokenizer_dir, tmp_path):
    from helpers.tiny import TINY_TEXT

    corpus = write_corpus(tmp_path / "c.txt", TINY_TEXT, repeat=40)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            str(script),
            str(tiny_tokenizer_dir),
            str(corpus),
            str(tmp_path / "out"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert steps[-1]["tokens"] == 3 * 2 * 32 * 2  # two processes, each its own slice of every step
    # Gradients were all-reduced: both ranks end with identical weights.
    assert (tmp_path / "rank0.txt").read_text() == (tmp_path / "rank1.txt").read_text()


def test_torchrun_cli_prints_once_and_records_the_world_size(tiny_mlm_dir, tmp_path):
    """Issue 25: both ranks printed their --json (stdout did not parse); the card said "batch 2" for 4."""
    from helpers.tiny import TINY_TEXT

    corpus = write_corpus(tmp_path / "c.txt", TINY_TEXT, repeat=40)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", DOMAINLM_PROGRESS="1")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "domainlm",
            "adapt",
            "--base",
            str(tiny_mlm_dir),
            "--corpus",
            str(corpus),
            "-o",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--seq-len",
            "32",
            "--lr",
            "1e-3",
            "--precision",
            "fp32",
            "--report-to",
            "tensorboard",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # one document: rank 1 printed nothing
    assert result["tokens"] == 2 * 2 * 32 * 2
    assert proc.stderr.count("continued pretraining without filling slots") == 1  # the note, once
    settings = json.loads((out / "settings.json").read_text())
    assert settings["world_size"] == 2 and settings["effective_batch"] == 4
    assert "batch 2 × 1 accumulation × 2 processes = 4 sequences per step" in (out / "README.md").read_text()
    assert len(list((tmp_path / "out.runs" / "tensorboard").rglob("events.out.tfevents.*"))) >= 1
    assert not list(tmp_path.glob("out.runs/tensorboard/*/*rank*"))
