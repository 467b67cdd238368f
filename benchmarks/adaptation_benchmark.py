"""Does it help, and where? The adaptation map, version 2 (issue 23).

One base for every arm: the shared `bert-4l256-general` (profile cpu; a 4 x 256 BERT pretrained with
token-level masking on the Wikipedia sample and NSMC train-split reviews, off the unigram plateau),
or a tiny base made on the fly (profile quick). Per domain, every arm starts from it with the same
data order and seed, and is fine-tuned on the domain's task at several label budgets over 5 seeds:

    base             no training
    plain-N          continued masked-LM for N tokens (20% general replay), vocabulary unchanged
    plain-3N         the same for 3N tokens
    tapt             masked-LM for N tokens on the task's own training texts only
                     (labels unused; Gururangan et al. 2020)
    fill-only-K      the K best mined terms in the slots, mean-of-pieces rows, no training (Sachidananda et al. 2021)
    fill-K           the K best mined terms, mean init, then plain-N's training (K swept: 100 ... 2000)
    fill-auto        as fill-K with K chosen by `--slots auto` (domainlm.training.slot_budget)
    fill-K-3N        as fill-K (or fill-auto) trained for 3N tokens: where the fill pays with a bigger budget
    phased-K         as fill-K, new rows alone first (own learning rate), then everything
    partial-K        as fill-K, training only the new rows, the output bias and the first and last layers
                     (--mode partial; Yamaguchi et al. 2024)
    rowlr-K          as fill-K, the new rows at their own higher learning rate (--new-rows-lr; Unsloth's
                     embedding_learning_rate); rowlr-auto: domainlm's defaults (--slots auto, --new-rows-lr auto);
                     rowlr-K-xF: the rows at F times the phase's rate (rowlr-K is 10x, the default factor)
    distill-K        as fill-K, the rows initialised by Token Distillation (--init distill) instead of the mean

Domains: shopping (Naver shopping reviews; not in the base; task shopping-rating), news (Korean news
comments; not in the base; task hate-speech, whose train texts are the domain text), movies (NSMC;
in the base: the control where nothing should gain and nothing may be lost).

Measured per arm: MW-BPC on held-out domain and general text (one mask plan for every arm),
fertility, the task fine-tuned at each label budget over the seeds (epoch on dev, test once), paired
95% intervals against plain-N (and fill arms against plain-3N); per domain the base's held-out
masked-LM loss against the unigram entropy of its vocabulary on the same text; on shopping the
fine-tuning examples per second of the filled tokenizer against the base's. Targets are recorded as
true or false under `targets`. Writes benchmarks/results/adaptation[_PROFILE].json, .md and .png
(the map: fine-tuning gain over plain-N against filled slots, per domain and label budget).

    python benchmarks/adaptation_benchmark.py [--profile cpu|quick] [--domains shopping,news,movies]
                                              [--arms base,plain-N,fill-500,...] [--budgets 200,1000]

Everything (mined terms, adapted arms, fine-tuning runs) is cached under --work by the content of its
settings, so a rerun continues where the last one stopped and the CPU protocol can be spread over
several sessions; the JSON is rewritten after every arm.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, shared_data  # noqa: E402

SHARED_BASE = "bases/bert-4l256-general"

PROFILES = {
    # 2 CPU cores, bf16 autocast: an adapted arm of N (200 x 64 x 128 = 1.6M tokens) takes about 5 minutes,
    # a fine-tuning run 10-40 s. The whole grid is several hours: it is cached and resumable.
    "cpu": dict(
        base=SHARED_BASE,
        steps=200,
        batch=64,
        seq_len=128,
        lr=2e-4,
        replay=0.2,
        cpu_bf16=True,
        new_rows_steps=40,
        new_rows_lr=2e-3,
        eval_texts=2000,
        budgets=(200, 1000),
        seeds=(1, 2, 3, 4, 5),
        ft_epochs={"200": 10, "1000": 5, "all": 3},
        ft_lr=2e-4,
        ft_dev=500,
        ft_test=2000,
        all_labels=10_000,
        bootstrap=1000,
        efficiency_examples=2000,
        efficiency_repeats=3,
        mine_slots=2000,
    ),
    # One H100 (benchmarks/gpu_protocol.py, at most 9 minutes): a 6 x 512 base pretrained here with token
    # masking over the shared base's vocabulary, then the key arms at two label budgets.
    "gpu": dict(
        base=None,
        base_tokenizer=SHARED_BASE,
        layers=6,
        hidden=512,
        heads=8,
        intermediate=2048,
        pretrain_steps=1500,
        pretrain_batch=128,
        pretrain_lr=5e-4,
        general_docs=None,
        nsmc_reviews=300_000,
        steps=300,
        batch=128,
        seq_len=128,
        lr=2e-4,
        replay=0.2,
        cpu_bf16=False,
        new_rows_steps=60,
        new_rows_lr=2e-3,
        eval_texts=2000,
        budgets=(200, 1000),
        seeds=(1, 2, 3, 4, 5),
        ft_epochs={"200": 10, "1000": 5, "all": 3},
        ft_lr=1e-4,
        ft_dev=500,
        ft_test=2000,
        all_labels=10_000,
        bootstrap=1000,
        efficiency_examples=5000,
        efficiency_repeats=3,
        mine_slots=2000,
    ),
    # A smoke run of every arm and measure on a tiny base made here (a minute or two); numbers mean nothing.
    "quick": dict(
        base=None,
        layers=2,
        hidden=64,
        heads=2,
        intermediate=256,
        vocab_size=6000,
        slots=300,
        pretrain_steps=30,
        pretrain_batch=16,
        pretrain_lr=2e-3,
        general_docs=3000,
        domain_docs=3000,
        steps=6,
        batch=16,
        seq_len=64,
        lr=1e-3,
        replay=0.2,
        cpu_bf16=False,
        new_rows_steps=2,
        new_rows_lr=2e-3,
        eval_texts=150,
        budgets=(100,),
        seeds=(1, 2),
        ft_epochs={"100": 1, "all": 1},
        ft_lr=5e-4,
        ft_dev=60,
        ft_test=150,
        all_labels=300,
        bootstrap=200,
        efficiency_examples=200,
        efficiency_repeats=1,
        mine_slots=300,
    ),
}

DEFAULT_ARMS = {
    "shopping": [
        "base",
        "plain-N",
        "fill-500",
        "fill-2000",
        "fill-1000",
        "fill-250",
        "fill-100",
        "plain-3N",
        "fill-auto",
        "fill-auto-3N",
        "tapt",
        "fill-only-1000",
        "phased-1000",
        "partial-1000",
        "rowlr-1000",
        "distill-1000",
    ],
    "news": ["base", "plain-N", "fill-auto", "plain-3N", "fill-auto-3N", "tapt", "fill-1000"],
    "movies": ["base", "plain-N", "fill-auto", "fill-500", "plain-3N", "fill-2000"],
}
QUICK_ARMS = [
    "base",
    "plain-N",
    "plain-3N",
    "tapt",
    "fill-only-50",
    "fill-50",
    "fill-150",
    "fill-auto",
    "phased-50",
    "partial-50",
    "rowlr-50",
    "distill-50",
]
REFERENCE = "plain-N"
# Arms that fill K slots and train (compared as fills); fill-only fills without training.
TRAINED_FILLS = ("fill", "phased", "partial", "rowlr", "distill")
FILLS = (*TRAINED_FILLS, "fill-only")
DOMAINS = {"shopping": "shopping-rating", "news": "hate-speech", "movies": "nsmc"}


def describe_arm(name: str) -> str:
    kind, k = parse_arm(name)
    n = "3N" if name.endswith("3N") else "N"
    return {
        "base": "the base, no training",
        "plain": f"continued masked-LM for {'3N' if name == 'plain-3N' else 'N'} tokens, vocabulary unchanged",
        "tapt": "masked-LM for N tokens on the task's own training texts (no replay)",
        "fill-only": f"the {k} best mined terms, mean init, no training",
        "fill": (
            f"the {k} best mined terms, mean init, then {n} tokens of masked-LM"
            if k != "auto"
            else f"--slots auto: the terms a budget of {n} tokens can teach, then {n} tokens of masked-LM"
        ),
        "phased": f"the {k} best mined terms, new rows alone first, then everything, N in all",
        "partial": f"the {k} best mined terms, mean init, then N tokens training only the new rows, the output "
        "bias and the first and last layers (--mode partial)",
        "rowlr": f"as fill-{k}, the new rows at their own higher learning rate (--new-rows-lr"
        + (f" = {_named_factor(name):g}x the phase's" if _named_factor(name) else "")
        + (", both as domainlm's defaults: --slots auto --new-rows-lr auto)" if k == "auto" else ")"),
        "distill": f"as fill-{k}, the rows initialised by Token Distillation (--init distill) instead of the mean",
    }[kind]


def parse_arm(name: str) -> tuple[str, int | str | None]:
    """(kind, slot count or 'auto' or None) of an arm name; a bad name is refused."""
    if name in ("base", "tapt"):
        return name, None
    if name in ("plain-N", "plain-3N"):
        return "plain", None
    for kind in ("fill-only", "phased", "partial", "rowlr", "distill", "fill"):
        if name.startswith(kind + "-"):
            k = name[len(kind) + 1 :]
            if kind == "fill" and k.endswith("-3N"):  # fill-K-3N, fill-auto-3N: the fill trained for 3N
                k = k[:-3]
            if kind == "rowlr" and "-x" in k:  # rowlr-K-xF: the rows at F times the phase's rate
                k, factor = k.split("-x", 1)
                if not _positive_number(factor):
                    break
            if k == "auto" and kind in TRAINED_FILLS:
                return kind, "auto"
            if k.isdigit() and int(k) > 0:
                return kind, int(k)
    raise SystemExit(
        f"unknown arm {name!r}: base, plain-N, plain-3N, tapt, fill-K, fill-auto, fill-K-3N, fill-auto-3N, "
        "fill-only-K, phased-K, partial-K, rowlr-K, rowlr-K-xF, distill-K"
    )


def _positive_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def _named_factor(name: str) -> float | None:
    """F of a rowlr-K-xF arm (checked by parse_arm); None for any other name."""
    return float(name.rsplit("-x", 1)[1]) if parse_arm(name)[0] == "rowlr" and "-x" in name else None


def rows_factor(name: str, p: dict) -> float | None:
    """How many times the phase's rate a rowlr arm's new rows train at (rowlr-K: the profile's new_rows_lr,
    10x its lr, as `new_rows_lr auto`; rowlr-K-xF: F); None for every other arm."""
    if parse_arm(name)[0] != "rowlr":
        return None
    return _named_factor(name) or p["new_rows_lr"] / p["lr"]


def _precision(p: dict) -> str:
    return "bf16" if p["cpu_bf16"] else "auto"


def config_key(config) -> dict:
    """An arm's TrainConfig as its cache key reads it: what can change the trained model, written as the
    keys of the arms already trained were (precision as the two flags it replaced, trackers left out),
    so a settings rename does not retrain hours of cached arms."""
    d = config.model_dump()
    for name in ("report_to", "logging_dir"):
        d.pop(name, None)
    # Settings added after arms were cached enter the key only when set.
    for name in ("new_rows_lr",):
        if d.get(name) is None:
            d.pop(name, None)
    precision = d.pop("precision", "auto")
    d["bf16"], d["cpu_bf16"] = precision != "fp32", precision == "bf16"
    return d


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(folder: Path, key: str) -> bool:
    """True when `folder` holds a finished result made with these settings."""
    marker = folder.parent / f"{folder.name}.key"
    return folder.exists() and marker.exists() and marker.read_text() == key


def _mark(folder: Path, key: str) -> None:
    (folder.parent / f"{folder.name}.key").write_text(key)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _write_lines(path: Path, texts) -> int:
    n = 0
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", encoding="utf-8") as f:
        for text in texts:
            text = " ".join(text.split())
            if text:
                f.write(text + "\n")
                n += 1
    tmp.replace(path)
    return n


# --- the base ---------------------------------------------------------------------------------------


def prepare_base(work: Path, p: dict, data: Path) -> dict:
    """The base every arm starts from: the shared one, or (quick) a tiny one pretrained here once."""
    if p.get("base"):
        path = data / p["base"]
        weights = path / "model.safetensors"
        if not weights.exists():
            raise SystemExit(f"the shared base {path} is missing: see ../shared/data/README.md (bases/)")
        st = weights.stat()
        return {
            "path": str(path),
            "key": _key({"base": str(p["base"]), "size": st.st_size}),
            "general": str(data / "general" / "kowiki_sample.txt.gz"),
            "description": "the shared bert-4l256-general: 4 layers x 256, 26,000-entry vocab with 2,000 [unusedN] "
            "slots, token-level masked-LM for 27.9M tokens on the Korean Wikipedia sample and the "
            "NSMC train-split reviews (../shared/data/bases/bert-4l256-general/README.md)",
        }
    from domainlm.corpus import CorpusSpec
    from domainlm.modeling.config import ModelArchConfig
    from domainlm.training import TrainConfig, pretrain
    from domainlm.training.data import training_texts
    from vocab_tools import build_vocab

    arch = ModelArchConfig(
        arch="bert",
        layers=p["layers"],
        hidden=p["hidden"],
        heads=p["heads"],
        intermediate=p["intermediate"],
        max_positions=128,
    )
    settings = {
        k: p.get(k)
        for k in (
            "layers",
            "hidden",
            "heads",
            "intermediate",
            "vocab_size",
            "slots",
            "pretrain_steps",
            "pretrain_batch",
            "pretrain_lr",
            "general_docs",
            "seq_len",
            "base_tokenizer",
            "nsmc_reviews",
        )
    }
    key = _key(settings)
    base, general, wiki = work / "base", work / "pretraining.txt", work / "general.txt"
    if not (_cached(base, key) and general.exists() and wiki.exists()):
        texts = list(
            training_texts(
                CorpusSpec(path=str(data / "general" / "kowiki_sample.txt.gz")), max_documents=p["general_docs"]
            )
        )
        random.Random(0).shuffle(texts)
        _write_lines(wiki, texts)  # the mining reference and the replay text
        if p.get("nsmc_reviews"):  # as the shared base: Wikipedia and NSMC train-split reviews
            texts = texts + list(
                training_texts(
                    CorpusSpec(
                        path=str(data / "reviews" / "nsmc_reviews.tsv.gz"), field="text", where={"split": "train"}
                    ),
                    max_documents=p["nsmc_reviews"],
                )
            )
            random.Random(0).shuffle(texts)
        _write_lines(general, texts)
        if p.get("base_tokenizer"):
            tok = data / p["base_tokenizer"]
        else:
            tok = work / "tok"
            build_vocab(texts, tok, vocab_size=p["vocab_size"], unused=p["slots"], min_frequency=2, limit_alphabet=3000)
        config = TrainConfig(
            max_steps=p["pretrain_steps"],
            batch_size=p["pretrain_batch"],
            seq_len=p["seq_len"],
            lr=p["pretrain_lr"],
            warmup_ratio=0.06,
            save_every=10**6,
            eval_documents=0,
            seed=0,
            replay_ratio=0.0,
            masking="token",
            precision=_precision(p),
        )
        pretrain(tok, [str(general)], base, arch=arch, config=config)
        _mark(base, key)
    return {
        "path": str(base),
        "key": key,
        "general": str(wiki),
        "description": f"a BERT {p['layers']} x {p['hidden']} pretrained here (token masking) for "
        f"{p['pretrain_steps']:,} steps x {p['pretrain_batch']} x {p['seq_len']}"
        + (
            " on the Korean Wikipedia sample and NSMC train-split reviews"
            if p.get("nsmc_reviews")
            else " on the Korean Wikipedia sample: a smoke test, not a real base"
        ),
    }


def base_quality(base_path: str, texts: list[str], train_corpus: Path, p: dict) -> dict:
    """Is the base off the unigram plateau on this domain? Its held-out masked-LM loss (token-level and
    whole-word masking, nats per masked token) against the held-out loss of a unigram model with its
    vocabulary: token frequencies counted on (up to 2M tokens of) the domain's training text, add-0.5
    smoothed over the vocabulary, scored on the same held-out text. A model that ignores context can
    do no better than that unigram model; the shared base's README measures the same way."""
    from collections import Counter

    from domainlm.corpus import CorpusSpec
    from domainlm.modeling.loading import load_mlm
    from domainlm.training.data import training_texts
    from domainlm.training.heldout import heldout_mlm_loss

    model, tokenizer = load_mlm(base_path)
    train: Counter = Counter()
    lines = list(training_texts(CorpusSpec(path=str(train_corpus)), max_documents=100_000))
    total = 0
    for enc in tokenizer(lines, add_special_tokens=False)["input_ids"]:
        train.update(enc)
        total += len(enc)
        if total > 2_000_000:
            break
    vocab = len(tokenizer)
    held = [i for enc in tokenizer(texts, add_special_tokens=False)["input_ids"] for i in enc]
    unigram = -sum(math.log((train.get(i, 0) + 0.5) / (total + 0.5 * vocab)) for i in held) / len(held)
    out = {
        "method": "unigram fit on the training text, scored on held-out",
        "texts": len(texts),
        "tokens": len(held),
        "unigram_tokens": total,
        "unigram_loss_nats": round(unigram, 4),
    }
    for masking in ("token", "whole-word"):
        out[f"mlm_loss_{masking}"] = round(
            heldout_mlm_loss(
                model,
                tokenizer,
                texts,
                seq_len=p["seq_len"],
                batch_size=32,
                seed=13,
                masking=masking,
                max_sequences=256,
            ),
            4,
        )
    out["off_plateau_nats"] = round(unigram - out["mlm_loss_token"], 4)
    return out


# --- the domains ------------------------------------------------------------------------------------


def prepare_domain(name: str, work: Path, p: dict, data: Path) -> dict:
    """Write the domain's training text and the task's own training texts (each shuffled once: every
    arm reads them in the same order); the task's dev and test texts never train."""
    from domainlm.tasks import load_task_data, resolve_tasks

    (task,) = resolve_tasks(DOMAINS[name])
    split = load_task_data(task, data)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    corpus, tapt = folder / "domain.txt", folder / "tapt.txt"
    test_texts = [ex.texts[0] for ex in split.load_test()]
    train_texts = [ex.texts[0] for ex in split.train]
    limit = p.get("domain_docs")
    key = _key({"domain": name, "limit": limit, "version": 2})
    if not (_cached(corpus, key) and tapt.exists()):
        if name == "shopping":
            with open(data / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8", newline="") as f:
                texts = [row["text"] for row in csv.DictReader(f, delimiter="\t") if not row["rating"].strip()]
            texts += train_texts
        elif name == "news":
            texts = list(train_texts)  # the comments themselves: the news domain text is the task's text
        else:
            from domainlm.corpus import CorpusSpec
            from domainlm.training.data import training_texts

            test_set = set(test_texts)
            texts = [
                t
                for t in training_texts(
                    CorpusSpec(
                        path=str(data / "reviews" / "nsmc_reviews.tsv.gz"), field="text", where={"split": "train"}
                    )
                )
                if t not in test_set
            ]
        for path, items in ((corpus, texts), (tapt, list(train_texts))):
            random.Random(0).shuffle(items)
            _write_lines(path, items[:limit] if limit else items)
        _mark(corpus, key)
    heldout = test_texts[: p["eval_texts"] * 2]
    return {
        "name": name,
        "task": task.name,
        "corpus": corpus,
        "tapt": tapt,
        "heldout": heldout,
        "dir": folder,
        "corpus_key": key,
    }


def mined_terms(domain: dict, base: dict, p: dict) -> Path:
    """The domain's mined terms (the most slots any arm fills; a K-slot arm takes the first K, which
    is what mining K would select: selection is greedy, best first)."""
    from domainlm.mining import MineConfig, mine_terms

    out = domain["dir"] / "mined"
    key = _key({"slots": p["mine_slots"], "corpus": domain["corpus_key"], "base": base["key"]})
    if not _cached(out, key):
        mine_terms(
            [str(domain["corpus"])], [base["general"]], base["path"], MineConfig(slots=p["mine_slots"]), out_dir=out
        )
        _mark(out, key)
    return out / "terms.tsv"


# --- the arms ---------------------------------------------------------------------------------------


def arm_config(name: str, p: dict):
    from domainlm.training import TrainConfig

    kind, k = parse_arm(name)
    common = dict(
        batch_size=p["batch"],
        seq_len=p["seq_len"],
        lr=p["lr"],
        warmup_ratio=0.06,
        save_every=10**6,
        eval_documents=500,
        seed=p.get("adapt_seed", 0),
        precision=_precision(p),
        replay_ratio=0.0 if kind == "tapt" else p["replay"],
        slots=k if kind in FILLS else "all",
        # The rows' own rate is the rowlr arms' question; every other arm trains them at the phase's rate (as
        # each was measured before 'auto' became the default: their cache keys stay).
        # rowlr-K keeps the profile's new_rows_lr as written (its cache key); rowlr-K-xF scales the phase's lr.
        new_rows_lr=(p["lr"] * factor if (factor := _named_factor(name)) else p["new_rows_lr"])
        if kind == "rowlr"
        else None,
    )
    steps = p["steps"] * (3 if name.endswith("3N") else 1)
    if kind == "fill-only":
        return TrainConfig(max_steps=0, **common)
    if kind == "partial":
        return TrainConfig(mode="partial", max_steps=steps, **common)
    if kind == "rowlr":
        return TrainConfig(max_steps=steps, **common)
    if kind == "distill":
        return TrainConfig(max_steps=steps, init="distill", **common)
    if kind == "phased":
        rows = p["new_rows_steps"]
        return TrainConfig(
            mode="phased",
            max_steps=steps,
            **common,
            phases=[
                {"mode": "new-rows", "steps": rows, "lr": p["new_rows_lr"]},
                {"mode": "full", "steps": steps - rows},
            ],
        )
    return TrainConfig(max_steps=steps, **common)


def run_arm(name: str, domain: dict, base: dict, p: dict, terms: Path | None) -> dict:
    """Adapt one arm from the base (cached by its settings and inputs); return its path and cost."""
    from domainlm.training import adapt

    kind, _ = parse_arm(name)
    if kind == "base":
        return {
            "path": base["path"],
            "tokens": 0,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
            "key": base["key"],
            "slots_filled": 0,
        }
    out = domain["dir"] / f"arm-{name}"
    arm_terms = terms if kind in FILLS else None
    config = arm_config(name, p)
    terms_digest = hashlib.sha256(Path(arm_terms).read_bytes()).hexdigest() if arm_terms else None
    corpus = domain["tapt"] if kind == "tapt" else domain["corpus"]
    key = _key(
        {
            "config": config_key(config),
            "terms": terms_digest,
            "base": base["key"],
            "corpus": domain["corpus_key"],
            "which": corpus.name,
        }
    )
    info_path = out.parent / f"arm-{name}.json"
    if _cached(out, key) and info_path.exists():
        return json.loads(info_path.read_text()) | {"key": key}
    print(f"{domain['name']}: arm {name}", file=sys.stderr)
    cpu, t = _cpu_seconds(), time.perf_counter()
    result = adapt(
        base["path"],
        out,
        corpus=[str(corpus)],
        replay=[base["general"]] if config.replay_ratio else [],
        terms=arm_terms,
        config=config,
        category=domain["name"],
    )
    info = {
        "path": str(out),
        "tokens": result.tokens,
        "steps": result.steps,
        "seconds": round(time.perf_counter() - t, 1),
        "train_seconds": round(result.seconds, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu, 1),
        "slots_filled": result.slots_filled,
        "heldout_mlm_loss_before": result.eval_loss_before,
        "heldout_mlm_loss_after": result.eval_loss,
        "slot_plan": result.slot_plan,
    }
    info_path.write_text(json.dumps(info, indent=1, default=str))
    _mark(out, key)
    return info | {"key": key}


# --- language-model measures ------------------------------------------------------------------------


def language_model_measures(arms: dict, domain: dict, general_texts: list[str], p: dict) -> dict:
    """MW-BPC of every arm on one mask plan per text set, paired against plain-N; fertility."""
    from domainlm.corpus.normalize import Normalizer
    from domainlm.evaluation.encode import load_side
    from domainlm.evaluation.mwbpc import plan_masks, score_plan
    from domainlm.evaluation.texts import load_texts
    from domainlm.stats import paired_ratio_difference
    from vocab_tools.metrics import measure

    normalizer = Normalizer()
    domain_sample = load_texts(
        domain["heldout"], max_texts=p["eval_texts"], seed=13, what="held-out domain", normalizer=normalizer
    )
    general_sample = load_texts(
        general_texts, max_texts=p["eval_texts"], seed=13, what="general", normalizer=normalizer
    )
    sides = {arm: load_side(arm, info["path"]) for arm, info in arms.items()}
    out: dict = {"texts": {"domain": len(domain_sample), "general": len(general_sample)}, "mw_bpc": {}}
    for set_name, sample in (("domain", domain_sample), ("general", general_sample)):
        plan = plan_masks(sample.texts, list(sides.values()), seed=13, mask_fraction=0.15, max_seq_len=p["seq_len"])
        scores = {
            arm: score_plan(
                side,
                plan,
                batch_size=64,
                resamples=p["bootstrap"],
                seed=13,
                description=f"MW-BPC {domain['name']} {set_name} {arm}",
            )
            for arm, side in sides.items()
        }
        rows = {}
        for arm, s in scores.items():
            row = {"bpc": s.bpc.to_dict(), "masked_tokens": s.masked_tokens}
            for ref in ("base", REFERENCE):
                if ref in scores and ref != arm:
                    r = scores[ref]
                    row[f"minus_{ref}"] = paired_ratio_difference(
                        r.bits, r.chars, s.bits, s.chars, resamples=p["bootstrap"], seed=13
                    ).to_dict()
            rows[arm] = row
        out["mw_bpc"][set_name] = rows
    measured = measure(domain_sample.texts, {arm: info["path"] for arm, info in arms.items()})
    out["tokenization"] = {
        arm: {k: t.get(k) for k in ("fertility", "filled_slots", "slot_token_share")}
        | {"compression_gain": measured.get("compression_gain", {}).get(arm)}
        for arm, t in measured["tokenizers"].items()
    }
    return out


# --- fine-tuning ------------------------------------------------------------------------------------


def finetune_runs(arm: str, info: dict, domain: dict, budget: str, p: dict, data: Path) -> dict:
    """The task fine-tuned from one arm at one label budget over the seeds (cached)."""
    from domainlm.finetune import finetune
    from domainlm.finetune.loop import FinetuneSettings

    settings = FinetuneSettings(
        max_train=p["all_labels"] if budget == "all" else int(budget),
        max_dev=p["ft_dev"],
        max_test=p["ft_test"],
        epochs=p["ft_epochs"][budget],
        lr=p["ft_lr"],
        precision="bf16" if p["cpu_bf16"] else "auto",
        # Every cached run used the for-loop AdamW: the fused kernel rounds differently, and arms are compared
        # with each other's fine-tuning runs, so the map keeps one kernel (and its cache keys).
        fused_adamw=False,
    )
    # Trackers and their folder do not change a score: leave them out so the cache survives their addition;
    # the for-loop kernel, the setting's state before it existed, stays out too.
    scored = {
        k: v
        for k, v in settings.__dict__.items()
        if k not in ("report_to", "logging_dir") and not (k == "fused_adamw" and v is False)
    }
    key = _key({"arm": info["key"], "settings": scored, "seeds": p["seeds"], "task": domain["task"]})
    folder = domain["dir"] / f"finetune-{arm}-{budget}"
    if not _cached(folder, key):
        print(f"{domain['name']}: fine-tuning {domain['task']} from {arm} on {budget} labels", file=sys.stderr)
        finetune(info["path"], domain["task"], folder, seeds=list(p["seeds"]), data_dir=data, settings=settings)
        _mark(folder, key)
    saved = json.loads((folder / "finetune.json").read_text(encoding="utf-8"))
    return {
        "saved": saved,
        "predictions": _seed_predictions(folder, saved["metric"], p["seeds"]),
        "settings": settings.__dict__,
    }


def _seed_predictions(folder: Path, metric: str, seeds) -> list:
    """The test predictions of each seed (seed-N/test_predictions.tsv) as the suite's MetricData."""
    from domainlm.tasks.metrics import MetricData

    out = []
    for seed in seeds:
        seed_dir = folder / f"seed-{seed}"
        names = json.loads((seed_dir / "metrics.json").read_text(encoding="utf-8"))["label_names"]
        index = {n: i for i, n in enumerate(names)}
        with open(seed_dir / "test_predictions.tsv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        out.append(
            MetricData(
                metric,
                [index[r["gold"]] for r in rows],
                [index[r["predicted"]] for r in rows],
                classes=list(range(len(names))) if metric == "macro_f1" else None,
            )
        )
    return out


def finetune_table(runs: dict, p: dict) -> dict:
    """Scores of every arm at one budget, and paired differences against plain-N, base and plain-3N."""
    from domainlm.finetune.metrics import paired_difference

    first = next(iter(runs.values()))["saved"]
    out = {
        "metric": first["metric"],
        "sizes": first["sizes"],
        "settings": next(iter(runs.values()))["settings"],
        "scores": {},
        "minus": {},
    }
    for arm, r in runs.items():
        out["scores"][arm] = r["saved"]["summary"] | {"seeds": [s["test"] for s in r["saved"]["seeds"]]}
    for ref in (REFERENCE, "base", "plain-3N"):
        if ref not in runs:
            continue
        out["minus"][ref] = {}
        for arm, r in runs.items():
            if arm != ref:
                diff, verdict = paired_difference(
                    runs[ref]["predictions"], r["predictions"], resamples=p["bootstrap"], seed=0
                )
                out["minus"][ref][arm] = diff.to_dict() | {"verdict": verdict}
    return out


PROBE_L2 = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def probe_runs(arm: str, info: dict, domain: dict, budgets: list[str], p: dict, data: Path) -> dict:
    """The frozen-encoder linear probe (cached): logistic regression on the arm's mean-pooled last-layer
    features of each budget's training examples, its L2 weight chosen on dev, the test read once.

    It asks whether adaptation changed what the encoder carries before any task training moves it; the
    examples (train subset, dev, test) are the fine-tuning runs' own, so the two measures are paired."""
    import numpy as np

    from domainlm.evaluation.encode import load_side
    from domainlm.evaluation.probe import features, logistic_regression
    from domainlm.tasks import load_task_data, resolve_tasks
    from domainlm.tasks.metrics import MetricData

    scope = {k: p[k] for k in ("seq_len", "all_labels", "ft_dev", "ft_test")}
    key = _key({"arm": info["key"], "probe": "linear-meanpool", "l2": PROBE_L2, "budgets": budgets} | scope)
    folder = domain["dir"] / f"probe-{arm}"
    if not _cached(folder, key):
        print(f"{domain['name']}: linear probe of {arm}", file=sys.stderr)
        (task,) = resolve_tasks(domain["task"])
        side = load_side(arm, info["path"], device="cpu", precision="fp32")
        saved: dict = {"metric": task.metric, "budgets": {}}
        test_set = None
        for budget in budgets:
            split = load_task_data(
                task,
                data,
                max_train=p["all_labels"] if budget == "all" else int(budget),
                max_dev=p["ft_dev"],
                max_test=p["ft_test"],
            )
            if test_set is None:
                test_set = split.load_test()
                x_test = features(side, [ex.texts[0] for ex in test_set], max_seq_len=p["seq_len"], batch_size=64)
                x_dev = features(side, [ex.texts[0] for ex in split.dev], max_seq_len=p["seq_len"], batch_size=64)
            x_train = features(side, [ex.texts[0] for ex in split.train], max_seq_len=p["seq_len"], batch_size=64)
            y_train = np.array([ex.label for ex in split.train])
            y_dev = np.array([ex.label for ex in split.dev])
            classes = list(range(split.num_labels))
            both = np.concatenate([x_dev, x_test])
            best = None
            for l2 in PROBE_L2:
                pred = logistic_regression(x_train, y_train, both, len(classes), l2=l2)
                dev_score = MetricData(task.metric, y_dev, pred[: len(y_dev)], classes=classes).score()
                if best is None or dev_score > best[1]:
                    best = (l2, dev_score, pred[len(y_dev) :])
            assert best is not None
            saved["budgets"][budget] = {
                "l2": best[0],
                "dev": best[1],
                "classes": classes,
                "gold": [int(ex.label) for ex in test_set],
                "predicted": [int(x) for x in best[2]],
            }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "probe.json").write_text(json.dumps(saved) + "\n", encoding="utf-8")
        _mark(folder, key)
    saved = json.loads((folder / "probe.json").read_text(encoding="utf-8"))
    return {
        b: {"test": MetricData(saved["metric"], r["gold"], r["predicted"], classes=r["classes"]), "l2": r["l2"]}
        for b, r in saved["budgets"].items()
    }


def probe_table(probes: dict, budget: str, p: dict) -> dict:
    """Probe scores of every arm at one budget and their paired differences against plain-N (test examples
    resampled; the probe is deterministic, so there are no seeds)."""
    from domainlm.finetune.metrics import paired_difference

    out: dict = {
        "scores": {a: r[budget]["test"].score() for a, r in probes.items()},
        "l2": {a: r[budget]["l2"] for a, r in probes.items()},
        "minus": {},
    }
    if REFERENCE in probes:
        for arm, r in probes.items():
            if arm != REFERENCE:
                diff, verdict = paired_difference(
                    [probes[REFERENCE][budget]["test"]], [r[budget]["test"]], resamples=p["bootstrap"], seed=0
                )
                out["minus"][arm] = diff.to_dict() | {"verdict": verdict}
    return out


def versus(runs: dict, a: str, b: str, p: dict) -> dict | None:
    """b − a, paired by seed and test example."""
    from domainlm.finetune.metrics import paired_difference

    if a not in runs or b not in runs:
        return None
    diff, verdict = paired_difference(runs[a]["predictions"], runs[b]["predictions"], resamples=p["bootstrap"], seed=0)
    return diff.to_dict() | {"verdict": verdict}


# --- efficiency -------------------------------------------------------------------------------------


def efficiency(domain: dict, base_path: str, filled_path: str, p: dict, data: Path) -> dict:
    """Fine-tuning throughput with the filled tokenizer against the base's on the domain task: one
    epoch over the same examples from the same weights, the two alternating `efficiency_repeats`
    times (median), examples per second of wall and of CPU time; tokens per text."""
    import statistics

    from domainlm.finetune.loop import FinetuneSettings, run_seed
    from domainlm.tasks import load_task_data, resolve_tasks

    (task,) = resolve_tasks(domain["task"])
    split = load_task_data(task, data, max_train=p["efficiency_examples"], max_dev=50, max_test=50)
    settings = FinetuneSettings(epochs=1, lr=p["ft_lr"], precision="bf16" if p["cpu_bf16"] else "auto")
    rows: dict = {"base": [], "filled": []}
    run_seed(base_path, split, 1, settings)  # warm-up (first-run allocations), not timed
    for _ in range(p["efficiency_repeats"]):
        for side, path in (("base", base_path), ("filled", filled_path)):
            run = run_seed(path, split, 1, settings)
            n = len(split.train)
            rows[side].append(
                {
                    "examples_per_second": n / run.train_seconds,
                    "examples_per_cpu_second": n / max(run.train_cpu_seconds, 1e-9),
                    "tokens_per_example": run.train_tokens / n,
                }
            )
    out = {"examples": len(split.train), "repeats": p["efficiency_repeats"], "runs": rows}
    for side in rows:
        out[side] = {k: statistics.median(r[k] for r in rows[side]) for k in rows[side][0]}
    out["ratio_wall"] = out["filled"]["examples_per_second"] / out["base"]["examples_per_second"]
    out["ratio_cpu"] = out["filled"]["examples_per_cpu_second"] / out["base"]["examples_per_cpu_second"]
    out["inference"] = inference_speed([ex.texts[0] for ex in split.train], base_path, filled_path, p)
    out["load_average"] = os.getloadavg()
    return out


def inference_speed(texts: list[str], base_path: str, filled_path: str, p: dict) -> dict:
    """Inference examples per second (the encoder's forward pass over every text, batched by length as the
    probe and the evaluation batch it) of the filled model against the base, alternating, median.

    Fine-tuning's step also pays the optimizer's update of the whole embedding matrix, which fewer tokens
    do not shrink; inference pays only for the tokens."""
    import statistics

    from domainlm.evaluation.encode import load_side
    from domainlm.evaluation.probe import features

    sides = {
        side: load_side(side, path, device="cpu", precision="bf16" if p["cpu_bf16"] else "fp32")
        for side, path in (("base", base_path), ("filled", filled_path))
    }
    for side in sides.values():  # tokenize once and warm up: the measure is the model's, as in serving
        features(side, texts, max_seq_len=p["seq_len"], batch_size=64, description=f"{side.name} warm-up")
    runs: dict = {"base": [], "filled": []}
    for _ in range(p["efficiency_repeats"]):
        for name, side in sides.items():
            started = time.perf_counter()
            features(side, texts, max_seq_len=p["seq_len"], batch_size=64, description=f"{name} inference")
            runs[name].append(len(texts) / (time.perf_counter() - started))
    out: dict = {"examples": len(texts), "runs": runs}
    for name in runs:
        tokens = sum(len(e.ids) for e in sides[name].encode([t.split() for t in texts]))
        out[name] = {"examples_per_second": statistics.median(runs[name]), "tokens_per_example": tokens / len(texts)}
    out["ratio"] = out["filled"]["examples_per_second"] / out["base"]["examples_per_second"]
    return out


# --- targets, table, chart --------------------------------------------------------------------------


def fill_arms(arms) -> list[str]:
    return [a for a in arms if parse_arm(a)[0] in TRAINED_FILLS]


def best_fill(dom: dict, budget: str, *, swept_at_n: bool = True) -> str | None:
    """The fill arm with the best mean: among the swept counts (fill-K trained for N: what --slots auto, a
    way of choosing K, is held against), or (swept_at_n=False) among every fill configuration, the other
    schedules, auto and 3N included."""
    ft = dom.get("finetune", {}).get(budget)

    def swept(arm: str) -> bool:
        kind, k = parse_arm(arm)
        return kind == "fill" and isinstance(k, int) and not arm.endswith("3N")

    candidates = [a for a in fill_arms(dom["arms"]) if ft and a in ft["scores"] and (swept(a) or not swept_at_n)]
    return max(candidates, key=lambda a: ft["scores"][a]["mean"]) if candidates else None


def targets(result: dict, budget: str) -> dict:
    """The issue's targets, each true or false with the numbers it was decided on."""
    out = {}
    shop = result["domains"].get("shopping")
    if shop and budget in shop.get("finetune", {}):
        ft = shop["finetune"][budget]
        best = best_fill(shop, budget, swept_at_n=False)
        if best and REFERENCE in ft["scores"] and "plain-3N" in ft["scores"]:
            diff = ft["minus"][REFERENCE][best]
            out[
                f"shopping, {budget} labels: the best fill beats plain-N (interval above 0) and is at least plain-3N"
            ] = {
                "met": bool(diff["low"] > 0 and ft["scores"][best]["mean"] >= ft["scores"]["plain-3N"]["mean"]),
                "best": best,
                "best_minus_plain_N": diff,
                "best_mean": ft["scores"][best]["mean"],
                "plain_3N_mean": ft["scores"]["plain-3N"]["mean"],
            }
    for name, dom in result["domains"].items():
        for b, ft in dom.get("finetune", {}).items():
            # The slot rule at one rate (fill-auto), and domainlm's defaults as a user gets them (rowlr-auto).
            for arm, what in (("fill-auto", "--slots auto"), ("rowlr-auto", "the defaults (rowlr-auto)")):
                if arm in ft["scores"] and REFERENCE in ft["scores"]:
                    diff = ft["minus"][REFERENCE][arm]
                    out[f"{name}, {b} labels: {what} not worse than plain-N beyond noise"] = {
                        "met": bool(diff["high"] >= 0),
                        "auto_minus_plain_N": diff,
                    }
            if "fill-auto" not in ft["scores"]:
                continue
            best = best_fill(dom, b)
            if name != "movies" and best and dom.get("auto_vs_best", {}).get(b):
                diff = dom["auto_vs_best"][b]
                out[f"{name}, {b} labels: --slots auto within noise of the best swept count ({best})"] = {
                    "met": bool(diff["high"] >= 0),
                    "auto_minus_best": diff,
                }
    if shop and shop.get("efficiency"):
        e = shop["efficiency"]
        out["shopping: the filled tokenizer's fine-tuning examples per second at least 10% above the base's"] = {
            "met": bool(e["ratio_wall"] >= 1.10),
            "ratio_wall": e["ratio_wall"],
            "ratio_cpu": e["ratio_cpu"],
            "filled_arm": e.get("arm"),
        }
    return out


def _diff(d: dict | None, scale: float = 100.0) -> str:
    if not d:
        return "—"
    if scale == 1:
        return f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    return f"{scale * d['value']:+.2f} [{scale * d['low']:+.2f}, {scale * d['high']:+.2f}]"


def markdown(result: dict) -> str:
    lines = [
        "# Does it help, and where? The adaptation map (v2)",
        "",
        f"Profile `{result['profile']}`; base: {result['base']['description']}. N = {result['settings']['steps']} "
        f"steps x {result['settings']['batch']} x {result['settings']['seq_len']} tokens; fine-tuning over seeds "
        f"{list(result['settings']['seeds'])}, epoch chosen on dev, test read once; differences are paired 95% "
        "intervals (seeds and test examples resampled together).",
        "",
    ]
    g = result.get("base_quality_general")
    if g:
        lines += [
            f"Base on general text (UD sentences): masked-LM loss {g['mlm_loss_token']:.3f} nats (token masking) "
            "against "
            f"{g['unigram_loss_nats']:.3f} for a unigram model of its vocabulary fit on the Wikipedia sample: "
            f"{g['off_plateau_nats']:+.3f} nats off the plateau.",
            "",
        ]
    for name, dom in result["domains"].items():
        q = dom.get("base_quality", {})
        lines += [f"## {name} (task {dom['task']})", ""]
        if q:
            lines += [
                f"Base on this domain's held-out text: masked-LM loss {q['mlm_loss_token']:.3f} nats (token masking; "
                f"whole-word {q['mlm_loss_whole-word']:.3f}) against {q['unigram_loss_nats']:.3f} for a unigram model "
                "of its "
                "vocabulary fit on this domain's training text: "
                + (
                    f"{q['off_plateau_nats']:+.3f} nats better."
                    if q["off_plateau_nats"] > 0
                    else f"{-q['off_plateau_nats']:.3f} nats worse: the base has not seen this domain, whose own word "
                    "frequencies predict it better (room for adaptation)."
                ),
                "",
            ]
        budgets = list(dom.get("finetune", {}))
        head = (
            "| arm | slots | tokens | domain MW-BPC | vs plain-N | general vs plain-N | fertility | "
            + " | ".join(f"{b} labels | vs plain-N" for b in budgets)
            + " |"
        )
        lines += [head, "|---|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(budgets)]
        for arm, cost in dom["arms"].items():
            blank = {"bpc": {"value": float("nan")}}
            dm = dom.get("mw_bpc", {}).get("domain", {}).get(arm, blank)
            gm = dom.get("mw_bpc", {}).get("general", {}).get(arm, blank)
            tok = dom.get("tokenization", {}).get(arm, {})
            row = [
                arm,
                f"{cost.get('slots_filled', 0):,}",
                f"{cost['tokens']:,}",
                f"{dm['bpc']['value']:.4f}",
                _diff(dm.get(f"minus_{REFERENCE}"), 1),
                _diff(gm.get(f"minus_{REFERENCE}"), 1),
                f"{tok.get('fertility', float('nan')):.3f}",
            ]
            for b in budgets:
                ft = dom["finetune"][b]
                s = ft["scores"].get(arm)
                row += [f"{100 * s['mean']:.2f}" if s else "—", _diff(ft["minus"].get(REFERENCE, {}).get(arm))]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        if dom.get("probe"):
            pb = list(dom["probe"])
            lines += [
                "Frozen-encoder linear probe (logistic regression on mean-pooled last-layer features, L2 chosen on "
                "dev; the fine-tuning runs' examples):",
                "",
                "| arm | " + " | ".join(f"{b} labels | vs plain-N" for b in pb) + " |",
                "|---|" + "---:|---:|" * len(pb),
            ]
            for arm in dom["arms"]:
                row = [arm]
                for b in pb:
                    s = dom["probe"][b]["scores"].get(arm)
                    row += [f"{100 * s:.2f}" if s is not None else "—", _diff(dom["probe"][b]["minus"].get(arm))]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
        if dom.get("efficiency"):
            e = dom["efficiency"]
            lines += [
                f"Fine-tuning throughput ({e['examples']:,} examples, one epoch, median of {e['repeats']}): base "
                f"{e['base']['examples_per_second']:.1f} examples/s ({e['base']['tokens_per_example']:.1f} tokens "
                "each), "
                f"{e['arm']} {e['filled']['examples_per_second']:.1f} ({e['filled']['tokens_per_example']:.1f}): "
                f"{e['ratio_wall']:.2f}x wall, {e['ratio_cpu']:.2f}x per CPU-second."
                + (
                    f" Inference (the encoder's forward pass, batched by length): base "
                    f"{e['inference']['base']['examples_per_second']:.1f} examples/s, {e['arm']} "
                    f"{e['inference']['filled']['examples_per_second']:.1f}: {e['inference']['ratio']:.2f}x."
                    if e.get("inference")
                    else ""
                ),
                "",
            ]
    lines += ["## Targets", ""]
    for name, t in result["targets"].items():
        lines.append(f"- {'met' if t['met'] else '**not met**'}: {name}")
    return "\n".join(lines) + "\n"


def _factor_shift(arm: str, profile: dict) -> float:
    factor = rows_factor(arm, profile) if "lr" in profile and "new_rows_lr" in profile else None
    return 1.0 if factor is None else (factor / 10) ** 0.04


def chart(result: dict, path: Path) -> None:
    """The map: fine-tuning gain over plain-N against filled slots, per domain and label budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = [
        (n, d)
        for n, d in result["domains"].items()
        if any(ft.get("minus", {}).get(REFERENCE) for ft in d.get("finetune", {}).values())
    ]
    if not domains:
        return
    p_rows = result.get("settings", {})
    fig, axes = plt.subplots(1, len(domains), figsize=(5.5 * len(domains), 5.6), squeeze=False)
    for ax, (name, dom) in zip(axes[0], domains):
        for j, (budget, ft) in enumerate(dom["finetune"].items()):
            # Only arms of this run's table: a rerun redraws after each arm, before the last run's rows are re-read.
            minus = {a: d for a, d in ft["minus"].get(REFERENCE, {}).items() if a in dom["arms"]}
            # By slot count, then name: two arms may fill as many slots (fill-1000, phased-1000).
            pts = sorted(
                ((dom["arms"][a]["slots_filled"], minus[a], a) for a in fill_arms(dom["arms"]) if a in minus),
                key=lambda p: (p[0], p[2]),
            )
            shift = 1 + 0.05 * (j - 0.5)
            markers = (("fill", "o-"), ("phased", "s"), ("partial", "P"), ("rowlr", "^"), ("distill", "X"))
            # The schedules and inits share a slot count (1,000): spread them along it so each interval shows.
            spread = {"phased": 0.86, "partial": 0.92, "rowlr": 1.08, "distill": 1.16, "fill-only": 0.8}
            for kind, marker in (*markers, ("fill-only", "v")):
                sel = (
                    [
                        (x, d, a)
                        for x, d, a in pts
                        if parse_arm(a)[0] == kind and a != "fill-auto" and not a.endswith("3N")
                    ]
                    if kind != "fill-only"
                    else sorted(
                        (
                            (dom["arms"][a]["slots_filled"], minus[a], a)
                            for a in dom["arms"]
                            if parse_arm(a)[0] == "fill-only" and a in minus
                        ),
                        key=lambda p: (p[0], p[2]),
                    )
                )
                if not sel:
                    continue
                # rowlr-K-xF at one K: each factor a little further along (x3 left of x10, x30 right of it).
                xs = [x * shift * spread.get(kind, 1.0) * _factor_shift(a, p_rows) for x, _, a in sel]
                ys = [100 * d["value"] for _, d, _ in sel]
                err = [
                    [100 * (d["value"] - d["low"]) for _, d, _ in sel],
                    [100 * (d["high"] - d["value"]) for _, d, _ in sel],
                ]
                ax.errorbar(
                    xs,
                    ys,
                    yerr=err,
                    fmt=marker,
                    capsize=3,
                    color=f"C{j}",
                    label=f"{budget} labels: {kind}" if kind != "fill" else f"{budget} labels: fill + N",
                    alpha=1.0 if kind == "fill" else 0.6,
                )
            longer = [
                (dom["arms"][a]["slots_filled"], minus[a]) for a in minus if a.startswith("fill") and a.endswith("-3N")
            ]
            if longer:
                ax.errorbar(
                    [x * shift for x, _ in longer],
                    [100 * d["value"] for _, d in longer],
                    yerr=[
                        [100 * (d["value"] - d["low"]) for _, d in longer],
                        [100 * (d["high"] - d["value"]) for _, d in longer],
                    ],
                    fmt="D",
                    capsize=3,
                    color=f"C{j}",
                    label=f"{budget} labels: fill + 3N",
                )
            if "fill-auto" in minus:
                d = minus["fill-auto"]
                x = dom["arms"]["fill-auto"]["slots_filled"] * shift
                ax.errorbar(
                    [x],
                    [100 * d["value"]],
                    yerr=[[100 * (d["value"] - d["low"])], [100 * (d["high"] - d["value"])]],
                    fmt="*",
                    markersize=13,
                    capsize=3,
                    color=f"C{j}",
                    label=f"{budget} labels: --slots auto",
                )
            for ref, style in (("plain-3N", ":"), ("tapt", "-."), ("base", "--")):
                if ref in minus:
                    ax.axhline(
                        100 * minus[ref]["value"],
                        linestyle=style,
                        color=f"C{j}",
                        alpha=0.5,
                        linewidth=1,
                        label=f"{budget} labels: {ref}",
                    )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("filled slots")
        ax.set_ylabel(f"{dom['task']} {next(iter(dom['finetune'].values()))['metric']} minus plain-N (x100)")
        ax.set_title(f"{name}" + (" (control: in the base)" if name == "movies" else ""))
        ax.grid(alpha=0.3)
        # Below the axes, not over the points: a dozen entries would hide the intervals they explain.
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.suptitle("Fine-tuning gain over plain continued pretraining (plain-N), 95% intervals", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main -------------------------------------------------------------------------------------------


def pooled_seeds(works: list[Path], domain: str, arms: list[str], budgets: list[str], p: dict) -> dict:
    """Every (adaptation seed, fine-tuning seed) run of `arms`, read from the caches of several
    `--adapt-seed` runs, compared with plain-N as one paired set: each adaptation seed's fine-tuning seeds
    are paired with the same seeds of its own plain-N, so the interval covers the adaptation run's noise
    too, which the 5 fine-tuning seeds of one run do not."""
    from domainlm.finetune.metrics import paired_difference

    out: dict = {"domain": domain, "work": [w.name for w in works], "budgets": {}}
    for budget in budgets:
        runs: dict[str, list] = {}
        for arm in [REFERENCE, *arms]:
            for work in works:
                folder = work / domain / f"finetune-{arm}-{budget}"
                if not (folder / "finetune.json").exists():
                    raise SystemExit(f"--pooled: {folder} has no finished fine-tuning; run that seed's arms first")
                metric = json.loads((folder / "finetune.json").read_text(encoding="utf-8"))["metric"]
                runs.setdefault(arm, []).extend(_seed_predictions(folder, metric, p["seeds"]))
        rows = {}
        for arm in arms:
            diff, verdict = paired_difference(runs[REFERENCE], runs[arm], resamples=p["bootstrap"], seed=0)
            rows[arm] = {"runs": len(runs[arm]), "minus_plain_N": diff.to_dict() | {"verdict": verdict}}
            # A schedule or init of K rows (rowlr-K, phased-K, ...) against the plain fill of the same K rows:
            # what changing the default schedule would change.
            kind, k = parse_arm(arm)
            same_rows = f"fill-{k}"
            if kind in TRAINED_FILLS and kind != "fill" and same_rows in runs:
                diff, verdict = paired_difference(runs[same_rows], runs[arm], resamples=p["bootstrap"], seed=0)
                rows[arm][f"minus_{same_rows}"] = diff.to_dict() | {"verdict": verdict}
        out["budgets"][budget] = rows
    return out


def write_outputs(result: dict, out: Path) -> None:
    result["targets"] = {}
    for budget in {b for d in result["domains"].values() for b in d.get("finetune", {})}:
        result["targets"] |= targets(result, budget)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(out)
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    chart(result, out.with_suffix(".png"))


def run_domain(
    name: str,
    arms_wanted: list[str],
    budgets: list[str],
    work: Path,
    base: dict,
    p: dict,
    data: Path,
    general_texts: list[str],
    result: dict,
    out: Path,
    no_finetune: bool,
    with_efficiency: bool,
    deadline: float | None = None,
) -> None:
    domain = prepare_domain(name, work, p, data)
    terms = mined_terms(domain, base, p) if any(parse_arm(a)[0] in FILLS for a in arms_wanted) else None
    dom = result["domains"].setdefault(name, {})
    dom |= {"task": domain["task"], "arms": {}}
    if "method" not in dom.get("base_quality", {}):
        dom["base_quality"] = base_quality(base["path"], domain["heldout"][: p["eval_texts"]], domain["corpus"], p)
    runs: dict = {b: {} for b in budgets}
    probes: dict = {}
    for arm in arms_wanted:
        # A time-boxed run keeps what it measured; the reference arms always run (every row is paired to them).
        if deadline is not None and time.time() > deadline and arm not in ("base", REFERENCE):
            dom.setdefault("skipped_by_deadline", []).append(arm)
            continue
        dom["arms"][arm] = run_arm(arm, domain, base, p, terms)
        if not no_finetune:
            for b in budgets:
                runs[b][arm] = finetune_runs(arm, dom["arms"][arm], domain, b, p, data)
            dom["finetune"] = {b: finetune_table(runs[b], p) for b in budgets}
            probes[arm] = probe_runs(arm, dom["arms"][arm], domain, budgets, p, data)
            dom["probe"] = {b: probe_table(probes, b, p) for b in budgets}
            dom["auto_vs_best"] = {
                b: versus(runs[b], best_fill(dom, b), "fill-auto", p) for b in budgets if best_fill(dom, b)
            }
        write_outputs(result, out)  # a stopped run keeps every arm fine-tuned so far
    # MW-BPC once per run: its mask plan spans every arm's tokenizer, so one more arm rescores them all.
    dom |= language_model_measures(dom["arms"], domain, general_texts, p)
    write_outputs(result, out)
    # The tokenizer --slots auto chose, else the most-filled arm's: the one whose speed-up is in question.
    with_slots = [a for a in fill_arms(dom["arms"]) if dom["arms"][a].get("slots_filled")]
    filled = (
        "fill-auto"
        if "fill-auto" in with_slots
        else max(with_slots, key=lambda a: dom["arms"][a]["slots_filled"], default=None)
    )
    if with_efficiency and filled:
        dom["efficiency"] = efficiency(domain, base["path"], dom["arms"][filled]["path"], p, data) | {"arm": filled}
        write_outputs(result, out)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--quick", action="store_true", help="the same as --profile quick")
    parser.add_argument("--domains", default="shopping,news,movies")
    parser.add_argument(
        "--arms",
        default=None,
        help="comma-separated arm names (default: the profile's list per domain); arms the --out JSON already "
        "holds for the domain are kept (re-read from the cache)",
    )
    parser.add_argument(
        "--budgets",
        default=None,
        help="label budgets, comma-separated (default: the profile's; 'all' = every label up to all_labels)",
    )
    parser.add_argument("--no-finetune", action="store_true", help="skip the fine-tuning scores")
    parser.add_argument("--no-efficiency", action="store_true", help="skip the throughput measure")
    parser.add_argument(
        "--work", type=Path, default=None, help="cache folder (default runs/adaptation_benchmark/PROFILE)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/results/adaptation[_PROFILE].json)"
    )
    parser.add_argument(
        "--deadline-minutes",
        type=float,
        default=None,
        help="start no new arm after this many minutes (what was measured is written)",
    )
    parser.add_argument(
        "--adapt-seed",
        type=int,
        default=0,
        help="seed of every arm's adaptation run (data order, masking, row init): a second seed measures how much "
        "one more adaptation run moves an arm; non-zero seeds get their own cache and JSON (…_seedS)",
    )
    parser.add_argument("--replot", action="store_true", help="only rewrite the .md and .png from the JSON (no runs)")
    parser.add_argument(
        "--efficiency-only",
        action="store_true",
        help="only measure again the fine-tuning and inference throughput of shopping's filled tokenizer against "
        "the base (on a quiet machine), with the arms the --out JSON names; no training",
    )
    parser.add_argument(
        "--pooled",
        default=None,
        help="adaptation seeds to pool, e.g. 0,1: compare --arms with plain-N over every (adaptation seed, "
        "fine-tuning seed) run already in those seeds' caches (--work is seed 0's; no training); writes "
        "adaptation_pooled.json",
    )
    args = parser.parse_args(argv)
    if args.pooled:
        profile = "quick" if args.quick else args.profile
        seeds = [int(x) for x in args.pooled.split(",")]
        # --work names seed 0's cache; seed S's sits beside it as WORK-seedS (the names --adapt-seed gives them).
        first = args.work or REPO / "runs" / "adaptation_benchmark" / profile
        works = [first.with_name(f"{first.name}-seed{x}") if x else first for x in seeds]
        arms = [a.strip() for a in (args.arms or "").split(",") if a.strip() and a.strip() != REFERENCE]
        if not arms:
            parser.error("--pooled needs --arms (the arms to compare with plain-N)")
        budgets = [b.strip() for b in (args.budgets or "200,1000").split(",") if b.strip()]
        pooled = pooled_seeds(works, args.domains.split(",")[0], arms, budgets, PROFILES[profile]) | {
            "adapt_seeds": seeds
        }
        out = args.out or REPO / "benchmarks" / "results" / "adaptation_pooled.json"
        out.write_text(json.dumps(pooled, indent=1) + "\n", encoding="utf-8")
        for budget, rows in pooled["budgets"].items():
            for arm, row in rows.items():
                for key, d in row.items():
                    if key.startswith("minus_"):
                        ref = "plain-N" if key == "minus_plain_N" else key.removeprefix("minus_")
                        print(
                            f"{budget} labels, {arm} - {ref} over {row['runs']} runs: {100 * d['value']:+.2f} "
                            f"[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] ({d['verdict']})"
                        )
        print(f"wrote {out}")
        return pooled
    if args.efficiency_only:
        out = args.out or REPO / "benchmarks" / "results" / "adaptation.json"
        result = json.loads(out.read_text(encoding="utf-8"))
        dom = result["domains"]["shopping"]
        arm = dom.get("efficiency", {}).get("arm", "fill-auto")
        p = dict(PROFILES[result["profile"]])
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        measured = efficiency(dom, dom["arms"]["base"]["path"], dom["arms"][arm]["path"], p, shared_data())
        dom["efficiency"] = measured | {"arm": arm}
        write_outputs(result, out)
        e = dom["efficiency"]
        print(f"fine-tuning {e['ratio_wall']:.3f}x, inference {e['inference']['ratio']:.3f}x ({arm}); wrote {out}")
        return result
    if args.replot:
        out = args.out or REPO / "benchmarks" / "results" / "adaptation.json"
        result = json.loads(out.read_text(encoding="utf-8"))
        write_outputs(result, out)
        print(f"rewrote {out.with_suffix('.md').name} and {out.with_suffix('.png').name} from {out}")
        return result
    profile = "quick" if args.quick else args.profile
    p = dict(PROFILES[profile])
    budgets = [b.strip() for b in (args.budgets or ",".join(map(str, p["budgets"]))).split(",") if b.strip()]
    for b in budgets:
        if b not in p["ft_epochs"]:
            parser.error(f"--budgets {b}: the profile has epochs for {', '.join(p['ft_epochs'])}")
    suffix = f"-seed{args.adapt_seed}" if args.adapt_seed else ""
    if args.adapt_seed:
        p["adapt_seed"] = args.adapt_seed  # seed 0 leaves the settings (and every cache key) as they were
    work = args.work or REPO / "runs" / "adaptation_benchmark" / f"{profile}{suffix}"
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or REPO / "benchmarks" / "results" / (
        f"adaptation{suffix.replace('-', '_')}.json"
        if profile == "cpu"
        else f"adaptation_{profile}{suffix.replace('-', '_')}.json"
    )
    data = shared_data()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from domainlm.versions import library_versions

    if not torch.cuda.is_available():
        torch.set_num_threads(len(os.sched_getaffinity(0)))  # the cores it may use (taskset), not the machine's
    started = time.perf_counter()
    deadline = time.time() + 60 * args.deadline_minutes if args.deadline_minutes is not None else None
    base = prepare_base(work, p, data)
    general_texts = [
        t for t in (data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8").splitlines() if t.strip()
    ]
    # A rerun adds to what the last one measured (other domains and arms are kept).
    result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    if result.get("profile") != profile or result.get("settings", {}).get("base") != p.get("base"):
        result = {}
    result |= {
        "benchmark": "adaptation v2",
        "profile": profile,
        "settings": p,
        "base": base,
        "arm_descriptions": result.get("arm_descriptions", {}),
        "versions": library_versions(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpus_used": len(os.sched_getaffinity(0)),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "load_average_at_start": os.getloadavg(),
    }
    result.setdefault("domains", {})
    if "method" not in result.get("base_quality_general", {}):
        # Off the plateau on its own (general) text: UD sentences against a unigram model fit on the Wikipedia sample.
        result["base_quality_general"] = base_quality(
            base["path"], general_texts[: p["eval_texts"]], Path(base["general"]), p
        )
    for name in [d.strip() for d in args.domains.split(",") if d.strip()]:
        if name not in DOMAINS:
            parser.error(f"unknown domain {name!r}: {', '.join(DOMAINS)}")
        arms_wanted = (
            [a.strip() for a in args.arms.split(",")]
            if args.arms
            else (QUICK_ARMS if profile == "quick" else DEFAULT_ARMS[name])
        )
        # --arms adds to the domain's table: the arms the JSON already holds stay (cached, so only re-read).
        kept = list(result["domains"].get(name, {}).get("arms", {}))
        arms_wanted = kept + [a for a in arms_wanted if a not in kept]
        for a in arms_wanted:
            result["arm_descriptions"][a] = describe_arm(a)
        if "base" not in arms_wanted or REFERENCE not in arms_wanted:
            arms_wanted = [a for a in ("base", REFERENCE) if a not in arms_wanted] + arms_wanted
        run_domain(
            name,
            arms_wanted,
            budgets,
            work,
            base,
            p,
            data,
            general_texts,
            result,
            out,
            args.no_finetune,
            with_efficiency=name == "shopping" and not args.no_efficiency,
            deadline=deadline,
        )
    result |= {"seconds_this_run": round(time.perf_counter() - started, 1), "load_average_at_end": os.getloadavg()}
    write_outputs(result, out)
    print(markdown(result))
    print(f"wrote {out}, {out.with_suffix('.md').name}, {out.with_suffix('.png').name}")
    return result


if __name__ == "__main__":
    main()
