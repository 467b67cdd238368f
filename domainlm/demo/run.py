"""`domainlm demo`: the whole flow on real data shipped with the package, in a few minutes on a CPU.

1. copy the embedded data (domainlm/demo/data: 1,903 real Naver shopping reviews routed to cosmetics,
   with their ratings, and general UD Korean / Wikipedia text; see its README.md for sources and
   licences) under OUTPUT/data/demo/
2. build a tiny base: a small WordPiece vocab with [unusedN] slots (vocab_tools.build_vocab) and a
   short masked-LM pretraining of a 2-layer BERT on the general text plus a few unrouted shopping
   reviews (domainlm.training.pretrain)
3. run the `demo` recipe (prepare → mine → fill → adapt → evaluate) into OUTPUT/run/

With `data_dir` it runs a real recipe (default 화장품) on real data instead, into OUTPUT/.
Each step is skipped when its inputs are unchanged, so running the demo twice is instant.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from domainlm.io import atomic_write, write_json
from domainlm.pipeline.hashing import fingerprint, hash_path, sha256_file
from domainlm.pipeline.runner import RunResult, run_recipe

# The embedded data (built by domainlm.demo.build_data from the shared data; never read from there).
DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = (
    "cosmetics_reviews.tsv.gz",
    "other_reviews.txt.gz",
    "general.txt.gz",
    "general_eval.txt.gz",
    "manifest.json",
    "README.md",
    "LICENSES/CC-BY-SA-4.0.txt",
    "LICENSES/UD_Korean-NOTICE.txt",
    "LICENSES/naver-shopping-bab2min-corpus-README.md",
)  # the licence note travels with every copy
BASE_TEXTS = ("general.txt.gz", "other_reviews.txt.gz")  # what the tiny base reads: no cosmetics review

# The tiny base: small enough to pretrain in well under a minute on 2 quiet cores. Real Korean text
# has ~2,700 distinct characters; the alphabet is capped at the 1,500 most frequent (the rest become
# [UNK], about 1 eojeol in 60 of the reviews) so that the pieces get the rest of the 6,000 entries.
BASE_VOCAB_SIZE = 6000
BASE_UNUSED = 200
BASE_ALPHABET = 1500
BASE_ARCH = {"arch": "bert", "layers": 2, "hidden": 128, "heads": 2, "intermediate": 256, "max_positions": 128}
BASE_TRAIN = {
    "max_steps": 240,
    "lr": 1e-3,
    "warmup_ratio": 0.1,
    "batch_size": 16,
    "seq_len": 64,
    "replay_ratio": 0.0,
    "save_every": 240,
    "heldout_fraction": 0.02,
    "precision": "fp32",
    "seed": 7,
}


@dataclass
class DemoResult:
    out_dir: Path
    run: RunResult
    base_dir: Path | None
    seconds: float
    base_seconds: float


def write_demo_data(data_root: str | os.PathLike) -> dict[str, Path]:
    """Copy the embedded data under `data_root/demo/` (the paths recipes/demo.yaml names).

    A file is rewritten only when its content differs, so an unchanged demo stays unchanged."""
    root = Path(data_root) / "demo"
    paths = {}
    for name in DATA_FILES:
        source, target = DATA_DIR / name, root / name
        if not target.is_file() or sha256_file(target) != sha256_file(source):
            # Copied byte for byte (not gzipped again), beside the target, then renamed.
            with atomic_write(target, "wb", compress=False) as fh, open(source, "rb") as src:
                shutil.copyfileobj(src, fh)
        paths[name] = target
    return paths


def _base_texts(data: Path, name: str) -> list[str]:
    import gzip

    with gzip.open(data / "demo" / name, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh if line.strip()]


def base_description(base: Path) -> str:
    """One line saying what the tiny base is (size, training), from the files that made it."""
    marker = json.loads((base.parent / "base.json").read_text(encoding="utf-8"))
    general, reviews = (marker["texts"].get(name, 0) for name in BASE_TEXTS)
    return (
        f"a {BASE_ARCH['layers']}-layer BERT (hidden {BASE_ARCH['hidden']}, {marker['parameters'] / 1e6:.1f}M "
        "parameters, "
        f"{marker['vocab']:,}-entry vocab with {BASE_UNUSED} [unusedN] slots) pretrained by this demo for "
        f"{marker['steps']} steps ({marker['seconds']:.0f} s) on {general:,} general sentences and paragraphs and "
        f"{reviews:,} shopping reviews of other categories"
    )


def build_demo_base(
    data: Path, *, steps: int | None = None, notify: Callable[[str, str, dict], None] | None = None
) -> Path:
    """Build (or reuse, when unchanged) the tiny base under `data/base` from the `data/demo` texts."""
    from domainlm.training.config import ModelArchConfig, TrainConfig

    notify = notify or (lambda *a: None)
    base = data / "base"
    tok_dir = data / "base-tokenizer"
    corpus_file = data / "base-corpus.txt"
    train = {**BASE_TRAIN, **({"max_steps": steps, "save_every": steps} if steps else {})}
    fp = fingerprint(
        {
            "texts": [hash_path(data / "demo" / name) for name in BASE_TEXTS],
            "vocab": [BASE_VOCAB_SIZE, BASE_UNUSED, BASE_ALPHABET],
            "arch": BASE_ARCH,
            "train": train,
        }
    )
    marker = data / "base.json"
    if marker.exists() and base.is_dir():
        if json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fp:
            notify("base", "skip", {})
            return base
    notify("base", "start", {})
    t0 = time.perf_counter()
    from domainlm.training import pretrain
    from vocab_tools import build_vocab

    per_file = {name: _base_texts(data, name) for name in BASE_TEXTS}
    texts = [t for name in BASE_TEXTS for t in per_file[name]]
    with atomic_write(corpus_file) as fh:
        fh.write("\n".join(texts) + "\n")
    build_vocab(
        texts, tok_dir, vocab_size=BASE_VOCAB_SIZE, unused=BASE_UNUSED, min_frequency=2, limit_alphabet=BASE_ALPHABET
    )
    pretrain(tok_dir, [str(corpus_file)], base, arch=ModelArchConfig(**BASE_ARCH), config=TrainConfig(**train))
    from safetensors import safe_open

    with safe_open(str(base / "model.safetensors"), "pt") as st:
        parameters = sum(_numel(st.get_slice(k).get_shape()) for k in st.keys())
    vocab = sum(1 for _ in open(tok_dir / "vocab.txt", encoding="utf-8"))
    seconds = round(time.perf_counter() - t0, 1)
    write_json(
        marker,
        {
            "fingerprint": fp,
            "seconds": seconds,
            "steps": train["max_steps"],
            "texts": {name: len(lines) for name, lines in per_file.items()},
            "parameters": parameters,
            "vocab": vocab,
            "note": "tiny base of `domainlm demo`: shows the flow at small scale, not a useful model",
        },
    )
    notify("base", "done", {"seconds": seconds})
    return base


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def demo_intro() -> str:
    """What the demo is about to run on, from the shipped data's manifest."""
    counts = json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))["counts"]
    rated = sum(v for k, v in counts["ratings"].items() if k != "unrated")
    general = counts["ud_sentences"] + counts["wiki_paragraphs"]
    return (
        f"{counts['cosmetics_reviews']:,} real cosmetics reviews ({rated:,} with star ratings; Naver shopping, public "
        f"domain) and {general + counts['ud_eval_sentences']:,} general sentences and paragraphs (UD Korean, Korean "
        f"Wikipedia; CC BY-SA), shipped with domainlm (sources and licences: {DATA_DIR / 'README.md'}). "
        "A tiny base model is built here first, then mine → fill → adapt → evaluate."
    )


def demo_notes(result: DemoResult, terms: int = 15) -> list[tuple[str, str]]:
    """(title, text) lines that say what the demo's output is: its terms, its base, what the numbers
    mean at this scale, and the same recipe on a real base. Empty for a --data-dir run."""
    if result.base_dir is None or result.run.report is None:
        return []
    report = result.run.report
    filled = sorted(report.get("filled_slots", {}).get("terms", []), key=lambda t: -t.get("emitted_domain", 0))
    notes = [
        (
            "Filled terms",
            f"{', '.join(t['term'] for t in filled[:terms])} … ({len(filled)} in all, most used on "
            "held-out reviews first): each one mined from the shipped reviews.",
        )
    ]
    notes.append(
        (
            "The base",
            f"{base_description(result.base_dir)}. kykim/bert-kor-base, the "
            "reference base, has 12 layers, ~118M parameters and a 42,000-entry vocab trained on "
            "gigabytes of Korean text.",
        )
    )
    rows = {row["metric"]: row for row in report.get("summary", [])}
    domain, general = rows.get("MW-BPC, domain text"), rows.get("MW-BPC, general text")
    meaning = (
        "At this scale the numbers are large or noisy: a base this small, trained this briefly, "
        "predicts masked words poorly"
    )
    if domain:
        meaning += (
            f" (MW-BPC {domain['before']['value']:.2f} bits per character on held-out reviews; a base pretrained "
            "on gigabytes does far better), so a short adaptation moves it a lot "
            f"({domain['change']['value']:+.2f})"
        )
    if general:
        change = general["change"]["value"]
        meaning += (
            f" and general text gets harder ({change:+.2f}: forgetting)"
            if change > 0
            else f" and general text does not get harder ({change:+.2f})"
        )
    probe = next((row for name, row in rows.items() if name.startswith("probe ") and name.endswith(": accuracy")), None)
    if probe:
        half = (probe["change"]["high"] - probe["change"]["low"]) / 2
        meaning += (
            f"; the rating probe tests on {probe['change']['n']} reviews, so a change must exceed about "
            f"±{half * 100:.0f} points to count"
        )
    tuned = next((row for name, row in rows.items() if name.startswith("fine-tuning ")), None)
    if tuned:
        meaning += (
            "; the fine-tuned rating task (the whole model trained per seed, epoch chosen on a dev part, "
            f"seeds paired) changes by {tuned['change']['value'] * 100:+.1f} points "
            f"[{tuned['change']['low'] * 100:+.1f}, {tuned['change']['high'] * 100:+.1f}], on reviews the "
            "adaptation also read, unlabelled"
        )
    notes.append(
        (
            "What it means",
            meaning + ". The table shows what each stage does and how it is measured, "
            "not what adaptation gains on a real base.",
        )
    )
    notes.append(
        (
            "On a real base",
            "domainlm recipe run 화장품 --data-dir DATA (DATA laid out like the project's shared data: "
            "reviews/naver_shopping_50k.tsv, general/; the 50k shopping reviews routed to cosmetics, "
            "kykim/bert-kor-base, 600 "
            "slots, 2,000 steps; a GPU helps), or domainlm adapt --base kykim/bert-kor-base "
            "--category 화장품 --data-dir DATA -o OUT, or domainlm demo --data-dir DATA.",
        )
    )
    return notes


def claim_demo_folder(out: Path, force: bool = False) -> None:
    """The demo writes `data/` and `run/` into `out`: refuse a folder holding anything else.

    The folder is built up over runs (unchanged stages are reused), so it is not swapped whole; it is
    marked as the demo's instead. A folder an earlier demo made before markers existed holds only
    data/ and run/.
    """
    from domainlm.errors import OutputError
    from vocab_tools.atomic import MARKER_NAME, output_owner, write_marker

    if out.exists() and not out.is_dir():
        raise OutputError(f"The demo folder '{out}' is a file.", "Choose another folder with -o.")
    if out.is_dir() and not force and output_owner(out) != "demo":
        foreign = sorted({p.name for p in out.iterdir()} - {MARKER_NAME, "data", "run"})
        if foreign:
            shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
            raise OutputError(
                f"The demo folder '{out}' holds files the demo did not make ({shown}).",
                "Choose another folder with -o, or pass --force to write the demo's data/ and run/ "
                "into it anyway (its other files are left alone).",
            )
    out.mkdir(parents=True, exist_ok=True)
    if output_owner(out) != "demo":
        write_marker(out, "demo")


def run_demo(
    output: str | os.PathLike = "domainlm-demo",
    *,
    data_dir: str | os.PathLike | None = None,
    category: str | None = None,
    overrides: Sequence[str] = (),
    force: Sequence[str] | bool = (),
    on_stage: Callable[[str, str, dict], None] | None = None,
    on_recipe: Callable[[object], None] | None = None,
) -> DemoResult:
    """Run the demo (embedded real reviews + tiny base) or, with `data_dir`, a real recipe on real data."""
    from domainlm.recipes import load_recipe

    started = time.perf_counter()
    out = Path(output)
    if data_dir is not None:
        recipe = load_recipe(category or "화장품", overrides, data_dir=data_dir)
        if on_recipe:
            on_recipe(recipe)
        result = run_recipe(recipe, out, force=force, on_stage=on_stage)
        return DemoResult(out, result, None, round(time.perf_counter() - started, 1), 0.0)
    data = out / "data"
    # The recipe and every --set are checked first: a bad key is said now, not after the base is built
    # (minutes on a loaded machine: P23). Loading reads no data, so the folder need not exist yet.
    recipe = load_recipe(category or "demo", overrides, data_dir=data)
    claim_demo_folder(out, force=bool(force))
    write_demo_data(data)
    t0 = time.perf_counter()
    base = build_demo_base(data, notify=on_stage)
    base_seconds = round(time.perf_counter() - t0, 1)
    if on_recipe:
        on_recipe(recipe)
    result = run_recipe(recipe, out / "run", force=force, on_stage=on_stage)
    return DemoResult(out, result, base, round(time.perf_counter() - started, 1), base_seconds)
