"""`domainlm demo`: the whole flow on an embedded default, in a few minutes on a laptop CPU.

1. write the illustrative corpus (domainlm.demo.corpus) under OUTPUT/data/demo/
2. build a tiny base: a small WordPiece vocab with [unusedN] slots (vocab_tools.build_vocab) and a
   short masked-LM pretraining of a 2-layer BERT on general text (domainlm.training.pretrain)
3. run the `demo` recipe (prepare → mine → fill → adapt → evaluate) into OUTPUT/run/

With `data_dir` it runs a real recipe (default 화장품) on real data instead, into OUTPUT/.
Each step is skipped when its inputs are unchanged, so running the demo twice is instant.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from domainlm.io import write_json
from domainlm.pipeline.hashing import fingerprint, hash_path
from domainlm.pipeline.runner import RunResult, run_recipe

# The tiny base: small enough to pretrain in well under a minute on 2 cores, big enough that
# cosmetics words are split into several pieces (the problem slot filling solves).
BASE_VOCAB_SIZE = 900
BASE_UNUSED = 100
BASE_ARCH = {"arch": "bert", "layers": 2, "hidden": 128, "heads": 2, "intermediate": 256, "max_positions": 128}
BASE_TRAIN = {"max_steps": 240, "lr": 1e-3, "warmup_ratio": 0.1, "batch_size": 16, "seq_len": 64,
              "replay_ratio": 0.0, "save_every": 240, "heldout_fraction": 0.02, "bf16": False, "seed": 7}
REVIEW_SHARE = 0.1  # the base sees a little review text, as real bases do, but mostly general text


@dataclass
class DemoResult:
    out_dir: Path
    run: RunResult
    base_dir: Path | None
    seconds: float
    base_seconds: float


def _base_texts(data: Path) -> Iterable[str]:
    general = (data / "demo" / "general.txt").read_text(encoding="utf-8").splitlines()
    reviews = (data / "demo" / "cosmetics_reviews.txt").read_text(encoding="utf-8").splitlines()
    return general + reviews[: int(len(reviews) * REVIEW_SHARE)]


def build_demo_base(data: Path, *, steps: int | None = None, notify: Callable[[str, str, dict], None] | None = None) -> Path:
    """Build (or reuse, when unchanged) the tiny base under `data/base` from `data/demo` texts."""
    from domainlm.training.config import ModelArchConfig, TrainConfig

    notify = notify or (lambda *a: None)
    base = data / "base"
    tok_dir = data / "base-tokenizer"
    corpus_file = data / "base-corpus.txt"
    train = {**BASE_TRAIN, **({"max_steps": steps, "save_every": steps} if steps else {})}
    fp = fingerprint({"texts": [hash_path(data / "demo" / "general.txt"), hash_path(data / "demo" / "cosmetics_reviews.txt")],
                      "vocab": [BASE_VOCAB_SIZE, BASE_UNUSED], "arch": BASE_ARCH, "train": train, "share": REVIEW_SHARE})
    marker = data / "base.json"
    if marker.exists() and base.is_dir():
        import json

        if json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fp:
            notify("base", "skip", {})
            return base
    notify("base", "start", {})
    t0 = time.perf_counter()
    from domainlm.training import pretrain
    from vocab_tools import build_vocab

    texts = list(_base_texts(data))
    corpus_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    build_vocab(texts, tok_dir, vocab_size=BASE_VOCAB_SIZE, unused=BASE_UNUSED, min_frequency=2)
    pretrain(tok_dir, [str(corpus_file)], base, arch=ModelArchConfig(**BASE_ARCH), config=TrainConfig(**train))
    write_json(marker, {"fingerprint": fp, "seconds": round(time.perf_counter() - t0, 1),
                        "note": "tiny base of `domainlm demo`: illustrative, not a useful model"})
    notify("base", "done", {"seconds": round(time.perf_counter() - t0, 1)})
    return base


def run_demo(output: str | os.PathLike = "domainlm-demo", *, data_dir: str | os.PathLike | None = None,
             category: str | None = None, overrides: Sequence[str] = (), force: Sequence[str] | bool = (),
             on_stage: Callable[[str, str, dict], None] | None = None,
             on_recipe: Callable[[object], None] | None = None) -> DemoResult:
    """Run the demo (embedded corpus + tiny base) or, with `data_dir`, a real recipe on real data."""
    from domainlm.recipes import load_recipe

    started = time.perf_counter()
    out = Path(output)
    if data_dir is not None:
        recipe = load_recipe(category or "화장품", overrides, data_dir=data_dir)
        if on_recipe:
            on_recipe(recipe)
        result = run_recipe(recipe, out, force=force, on_stage=on_stage)
        return DemoResult(out, result, None, round(time.perf_counter() - started, 1), 0.0)
    from domainlm.demo.corpus import write_demo_corpus

    data = out / "data"
    write_demo_corpus(data)
    t0 = time.perf_counter()
    base = build_demo_base(data, notify=on_stage)
    base_seconds = round(time.perf_counter() - t0, 1)
    recipe = load_recipe(category or "demo", overrides, data_dir=data)
    if on_recipe:
        on_recipe(recipe)
    result = run_recipe(recipe, out / "run", force=force, on_stage=on_stage)
    return DemoResult(out, result, base, round(time.perf_counter() - started, 1), base_seconds)
