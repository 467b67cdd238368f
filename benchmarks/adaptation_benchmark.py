"""Does it help? Fill + adapt against plain continued pretraining, from one general-only base (issue 13).

One base is made here once and cached: a BERT pretrained by domainlm on the Korean Wikipedia sample
only, with a WordPiece vocab holding 2,000 [unusedN] slots. Then, per domain, every arm starts from
that base with the same data order and seed:

    a  base             no training
    b  plain-N          continued masked-LM for N tokens, vocabulary unchanged
    c  plain-3N         the same for 3N tokens
    d  fill             mined terms fill the slots (mean-of-pieces rows), then full training for N
    e  phased           the same fill, new rows alone first, then everything, N in all
    f  frequency-terms  as d, with the frequency baseline's terms (count x (pieces - 1)) instead
    g  random-init      as d, the filled rows initialised at random
    h  distill          as d, the filled rows initialised by Token Distillation (--init distill)

Domains: movies (mine and adapt on the NSMC train split, MW-BPC on its test split, the NSMC task) and
shopping (the unrated and train-part rated Naver shopping reviews, MW-BPC on the task's test part,
the shopping-rating task). General text for forgetting: the UD Korean sentences (never trained on).

Measured per arm: MW-BPC on held-out domain and general text (one mask plan for every arm), fertility,
the domain task's fine-tuning score over 3 seeds, training wall/CPU time and tokens; paired 95%
intervals of every arm against (b), and of (d) against (c). The targets of the issue are recorded as
true or false under `targets`. Writes benchmarks/results/adaptation[_quick|_gpu].json, .md and .png.

    python benchmarks/adaptation_benchmark.py [--profile cpu|quick|gpu] [--domains movies,shopping]
                                              [--arms a,b,...] [--work runs/adaptation_benchmark]

The base, the mined terms, every adapted arm and every fine-tuning result are cached under --work
(keyed by their settings), so a rerun only does what is missing or changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, shared_data  # noqa: E402

PROFILES = {
    # About 2 hours on 2 CPU cores once the base is cached (the base itself about 30 minutes).
    "cpu": dict(layers=4, hidden=256, heads=4, intermediate=1024, vocab_size=18_000, slots=2000,
                pretrain_steps=1500, pretrain_batch=32, pretrain_lr=1e-3,
                steps=150, batch=32, seq_len=128, lr=5e-4, replay=0.2, new_rows_steps=30, new_rows_lr=2e-3,
                distill_contexts=20, eval_texts=2000, ft_train=2000, ft_dev=500, ft_test=2000, ft_epochs=2,
                ft_lr=2e-4, seeds=(1, 2, 3), bootstrap=1000),
    # A smoke run of every arm and every measure (minutes); its numbers mean nothing.
    "quick": dict(layers=2, hidden=64, heads=2, intermediate=256, vocab_size=6000, slots=300,
                  pretrain_steps=40, pretrain_batch=16, pretrain_lr=2e-3, general_docs=4000, domain_docs=6000,
                  steps=12, batch=16, seq_len=64, lr=1e-3, replay=0.2, new_rows_steps=4, new_rows_lr=2e-3,
                  distill_contexts=4, eval_texts=200, ft_train=200, ft_dev=100, ft_test=200, ft_epochs=1,
                  ft_lr=5e-4, seeds=(1, 2), bootstrap=200),
    # For a GPU machine: a bigger base, longer runs, the tasks' full budgets.
    "gpu": dict(layers=6, hidden=512, heads=8, intermediate=2048, vocab_size=32_000, slots=2000,
                pretrain_steps=4000, pretrain_batch=128, pretrain_lr=5e-4,
                steps=400, batch=64, seq_len=128, lr=2e-4, replay=0.2, new_rows_steps=80, new_rows_lr=1e-3,
                distill_contexts=100, eval_texts=5000, ft_train=None, ft_dev=None, ft_test=None, ft_epochs=3,
                ft_lr=5e-5, seeds=(1, 2, 3), bootstrap=1000),
}

ARMS = {
    "a": ("base", "the base, no training"),
    "b": ("plain-N", "continued masked-LM for N tokens, vocabulary unchanged"),
    "c": ("plain-3N", "continued masked-LM for 3N tokens, vocabulary unchanged"),
    "d": ("fill", "mined terms in the slots, mean-of-pieces rows, full training for N"),
    "e": ("phased", "mined terms, new rows alone first, then full training, N in all"),
    "f": ("frequency-terms", "frequency-baseline terms in the slots, otherwise as d"),
    "g": ("random-init", "mined terms, filled rows initialised at random, otherwise as d"),
    "h": ("distill", "mined terms, filled rows by Token Distillation, otherwise as d"),
}
REFERENCE = "b"


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(folder: Path, key: str) -> bool:
    """True when `folder` holds a finished result made with these settings."""
    marker = folder.parent / f"{folder.name}.key"
    return folder.exists() and marker.exists() and marker.read_text() == key


def _mark(folder: Path, key: str) -> None:
    (folder.parent / f"{folder.name}.key").write_text(key)


def _reuse(domain: dict, own: Path, key: str) -> Path | None:
    """A finished result made with `key`: `own`, or, in an attempt, any result of the protocol's run
    with the same key (an arm the attempt's settings leave unchanged is not trained twice)."""
    if _cached(own, key):
        return own
    shared = domain.get("shared_dir")
    if shared is not None:
        for marker in sorted(shared.glob(own.name.split("-")[0] + "*.key")):
            folder = marker.with_suffix("")
            if folder.exists() and marker.read_text() == key:
                return folder
    return None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _write_lines(path: Path, texts) -> int:
    n = 0
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(text.replace("\n", " ") + "\n")
            n += 1
    tmp.replace(path)
    return n


# --- the base ---------------------------------------------------------------------------------------

def make_base(work: Path, p: dict, data: Path) -> dict:
    """Pretrain the general-only base once (cached under work/base)."""
    from domainlm.corpus import CorpusSpec
    from domainlm.modeling.config import ModelArchConfig
    from domainlm.training import TrainConfig, pretrain
    from domainlm.training.data import corpus_texts
    from vocab_tools import build_vocab

    arch = ModelArchConfig(arch="bert", layers=p["layers"], hidden=p["hidden"], heads=p["heads"],
                           intermediate=p["intermediate"], max_positions=max(128, p["seq_len"]))
    settings = {"arch": arch.model_dump(), "vocab_size": p["vocab_size"], "slots": p["slots"],
                "steps": p["pretrain_steps"], "batch": p["pretrain_batch"], "lr": p["pretrain_lr"],
                "general_docs": p.get("general_docs")}
    key = _key(settings)
    base, general = work / "base", work / "general.txt"
    info_path = work / "base.json"
    if _cached(base, key) and general.exists() and info_path.exists():
        print(f"base: cached at {base}", file=sys.stderr)
        return json.loads(info_path.read_text())
    texts = list(corpus_texts(CorpusSpec(path=str(data / "general" / "kowiki_sample.txt.gz")),
                              max_documents=p.get("general_docs")))
    random.Random(0).shuffle(texts)
    _write_lines(general, texts)
    t, cpu = time.perf_counter(), _cpu_seconds()
    # No force: the library replaces only its own earlier output, never a user's folder under --work.
    build_vocab(texts, work / "tok", vocab_size=p["vocab_size"], unused=p["slots"], min_frequency=2,
                limit_alphabet=3000)
    config = TrainConfig(max_steps=p["pretrain_steps"], batch_size=p["pretrain_batch"], seq_len=p["seq_len"],
                         lr=p["pretrain_lr"], warmup_ratio=0.06, save_every=10**6, eval_documents=0, seed=0,
                         replay_ratio=0.0)
    pretrain(work / "tok", [str(general)], base, arch=arch, config=config)
    info = {"settings": settings, "general_paragraphs": len(texts),
            "seconds": round(time.perf_counter() - t, 1), "cpu_seconds": round(_cpu_seconds() - cpu, 1),
            "tokens": p["pretrain_steps"] * p["pretrain_batch"] * p["seq_len"]}
    info_path.write_text(json.dumps(info, indent=1))
    _mark(base, key)
    return info


# --- the domains ------------------------------------------------------------------------------------

def prepare_domain(name: str, work: Path, p: dict, data: Path) -> dict:
    """Write the domain's training text (shuffled once: every arm reads it in the same order) and
    return where its held-out text and its task are."""
    from domainlm.corpus import CorpusSpec
    from domainlm.training.data import corpus_texts

    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "domain.txt"
    limit = p.get("domain_docs")
    if name == "movies":
        nsmc = str(data / "reviews" / "nsmc_reviews.tsv.gz")
        heldout = CorpusSpec(path=nsmc, field="text", where={"split": "test"})
        task = "nsmc"
        make = lambda: list(corpus_texts(CorpusSpec(path=nsmc, field="text", where={"split": "train"})))  # noqa: E731
    elif name == "shopping":
        task = "shopping-rating"
        heldout_texts, make = _shopping_texts(data)
        heldout = heldout_texts
    else:
        raise SystemExit(f"unknown domain {name!r}: movies or shopping")
    key = _key({"domain": name, "limit": limit})
    if not _cached(corpus, key):
        texts = make()
        random.Random(0).shuffle(texts)
        _write_lines(corpus, texts[:limit] if limit else texts)
        _mark(corpus, key)
    return {"name": name, "corpus": corpus, "heldout": heldout, "task": task, "dir": folder}


def _shopping_texts(data: Path):
    """(held-out texts: the rating task's test part; a maker of the training text: the unrated rows
    and the task's train part). The task's dev and test rows never train."""
    from domainlm.finetune.tasks import load_task_data, resolve_tasks

    (task,) = resolve_tasks("shopping-rating")
    split = load_task_data(task, data)
    test = [ex.texts[0] for ex in split.load_test()]

    def make():
        with open(data / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8", newline="") as f:
            unrated = [row["text"] for row in csv.DictReader(f, delimiter="\t") if not row["rating"].strip()]
        return unrated + [ex.texts[0] for ex in split.train]

    return test, make


# --- terms ------------------------------------------------------------------------------------------

def mined_terms(domain: dict, work: Path, p: dict) -> Path:
    from domainlm.mining import MineConfig, mine_terms

    out = domain["dir"] / "mined"
    key = _key({"slots": p.get("fill") or p["slots"], "corpus": str(domain["corpus"]), "base": (work / "base.key").read_text()})
    found = _reuse(domain, out, key)
    if found is not None:
        return found / "terms.tsv"
    mine_terms([str(domain["corpus"])], [str(work / "general.txt")], work / "base",
               MineConfig(slots=p.get("fill") or p["slots"]), out_dir=out)
    _mark(out, key)
    return out / "terms.tsv"


def frequency_terms(domain: dict, work: Path, p: dict) -> Path:
    """The frequency baseline of the mining benchmark: whole pre-tokenized words by count x (pieces - 1)."""
    from collections import Counter

    from domainlm.mining.base import load_base_tokenizer
    from domainlm.mining.wordpiece import pretokenize
    from mining_benchmark import filter_ranked
    from vocab_tools.terms import Term, write_terms

    out = domain["dir"] / "frequency_terms.tsv"
    key = _key({"slots": p.get("fill") or p["slots"], "corpus": str(domain["corpus"]), "base": (work / "base.key").read_text()})
    found = _reuse(domain, out, key)
    if found is not None:
        return found
    counts: Counter = Counter()
    with open(domain["corpus"], encoding="utf-8") as f:
        for line in f:
            counts.update(pretokenize(line.strip()))
    wp = load_base_tokenizer(str(work / "base")).wordpiece()
    scored = sorted(((c * (wp.count_word(w) - 1), w) for w, c in counts.items() if c >= 5), reverse=True)
    ranked = filter_ranked([w for s, w in scored if s > 0], work / "base", p.get("fill") or p["slots"])
    score = dict((w, s) for s, w in scored)
    write_terms([Term(w, score=float(score.get(w, 0)), tokens_saved=int(score.get(w, 0)), category_count=counts[w])
                 for w in ranked], out)
    _mark(out, key)
    return out


# --- the arms ---------------------------------------------------------------------------------------

def arm_config(arm: str, p: dict):
    from domainlm.training import TrainConfig

    common = dict(batch_size=p["batch"], seq_len=p["seq_len"], lr=p["lr"], warmup_ratio=0.06,
                  replay_ratio=p["replay"], save_every=10**6, eval_documents=500, seed=0,
                  distill_contexts=p["distill_contexts"])
    steps = p["steps"] * (3 if arm == "c" else 1)
    if arm == "e":
        rows = p["new_rows_steps"]
        return TrainConfig(mode="phased", max_steps=steps, **common,
                           phases=[{"mode": "new-rows", "steps": rows, "lr": p["new_rows_lr"]},
                                   {"mode": "full", "steps": steps - rows}])
    init = {"g": "random", "h": "distill"}.get(arm, "mean")
    return TrainConfig(max_steps=steps, init=init, **common)


def run_arm(arm: str, domain: dict, work: Path, p: dict, terms: dict) -> dict:
    """Adapt one arm from the base (cached); return its path and its cost."""
    from domainlm.training import adapt

    if arm == "a":
        return {"path": str(work / "base"), "tokens": 0, "seconds": 0.0, "cpu_seconds": 0.0,
                "key": (work / "base.key").read_text()}
    out = domain["dir"] / f"arm-{arm}"
    arm_terms = None if arm in "bc" else terms["frequency"] if arm == "f" else terms["mined"]
    config = arm_config(arm, p)
    # The terms by content: an attempt may mine other terms into the same path.
    terms_digest = hashlib.sha256(Path(arm_terms).read_bytes()).hexdigest() if arm_terms else None
    key = _key({"config": config.model_dump(), "terms": terms_digest, "base": (work / "base.key").read_text(),
                "corpus": str(domain["corpus"])})
    found = _reuse(domain, out, key)
    if found is not None and (found.parent / f"{found.name}.json").exists():
        return json.loads((found.parent / f"{found.name}.json").read_text()) | {"key": key}
    info_path = out.parent / f"arm-{arm}.json"
    print(f"{domain['name']}: arm {arm} ({ARMS[arm][0]})", file=sys.stderr)
    cpu = _cpu_seconds()
    t = time.perf_counter()
    result = adapt(str(work / "base"), out, corpus=[str(domain["corpus"])], replay=[str(work / "general.txt")],
                   terms=arm_terms, config=config, category=domain["name"], truncate=True)
    info = {"path": str(out), "tokens": result.tokens, "steps": result.steps,
            "seconds": round(time.perf_counter() - t, 1), "train_seconds": round(result.seconds, 1),
            "cpu_seconds": round(_cpu_seconds() - cpu, 1), "slots_filled": result.slots_filled,
            "heldout_mlm_loss_before": result.eval_loss_before, "heldout_mlm_loss_after": result.eval_loss,
            "init_report": result.init_report}
    info_path.write_text(json.dumps(info, indent=1, default=str))
    _mark(out, key)
    return info | {"key": key}


# --- measures ---------------------------------------------------------------------------------------

def language_model_measures(arms: dict, domain: dict, general_texts: list[str], p: dict) -> dict:
    """MW-BPC of every arm on one mask plan per text set; differences paired against a and b (and d vs c)."""
    from domainlm.corpus.normalize import Normalizer
    from domainlm.evaluation.encode import load_side
    from domainlm.evaluation.mwbpc import plan_masks, score_plan
    from domainlm.evaluation.stats import paired_ratio_difference
    from domainlm.evaluation.texts import load_texts
    from vocab_tools.metrics import measure

    normalizer = Normalizer()
    heldout = domain["heldout"]
    domain_sample = load_texts(heldout, max_texts=p["eval_texts"], seed=13, what="held-out domain",
                               normalizer=normalizer)
    general_sample = load_texts(general_texts, max_texts=p["eval_texts"], seed=13, what="general",
                                normalizer=normalizer)
    sides = {arm: load_side(arm, info["path"]) for arm, info in arms.items()}
    out: dict = {"texts": {"domain": len(domain_sample), "general": len(general_sample)}, "mw_bpc": {}}
    plans = {}
    for set_name, sample in (("domain", domain_sample), ("general", general_sample)):
        plan = plans[set_name] = plan_masks(sample.texts, list(sides.values()), seed=13, mask_fraction=0.15,
                                            max_seq_len=128)
        scores = {arm: score_plan(side, plan, batch_size=64, resamples=p["bootstrap"], seed=13,
                                  description=f"MW-BPC {domain['name']} {set_name} {arm}")
                  for arm, side in sides.items()}
        rows = {}
        for arm, s in scores.items():
            row = {"bpc": s.bpc.to_dict(), "masked_tokens": s.masked_tokens}
            for ref in ("a", REFERENCE, "c", "d"):
                if ref in scores and ref != arm:
                    r = scores[ref]
                    row[f"minus_{ref}"] = paired_ratio_difference(r.bits, r.chars, s.bits, s.chars,
                                                                  resamples=p["bootstrap"], seed=13).to_dict()
            rows[arm] = row
        out["mw_bpc"][set_name] = rows
    out["changed_words"] = changed_word_bpc(sides, plans["domain"], p)
    measured = measure(domain_sample.texts, {arm: info["path"] for arm, info in arms.items()})
    out["tokenization"] = {arm: {k: t.get(k) for k in ("fertility", "unk_rate", "filled_slots", "filled_slots_emitted",
                                                         "slot_token_share")}
                           | {"compression_gain": measured.get("compression_gain", {}).get(arm)}
                           for arm, t in measured["tokenizers"].items()}
    del sides
    return out


def split_plan(plan, side, slot_ids: set[int]):
    """(words the fill changed, the other words): the masked eojeols of `plan` by whether `side`'s
    tokenizer (a filled one) emits a filled slot for them. Every side still scores the same words."""
    import copy

    import numpy as np

    changed, unchanged = copy.copy(plan), copy.copy(plan)
    changed.masked, unchanged.masked = [], []
    for enc, eojeols, masked in zip(side.encode(plan.eojeols), plan.eojeols, plan.masked):
        hit = {w for w, i in zip(enc.word_ids, enc.ids) if w is not None and i in slot_ids}
        changed.masked.append([j for j in masked if j in hit])
        unchanged.masked.append([j for j in masked if j not in hit])
    for part in (changed, unchanged):
        part.chars = np.asarray([sum(len(e[j]) for j in m) for e, m in zip(part.eojeols, part.masked)], dtype=np.int64)
    return changed, unchanged


def changed_word_bpc(sides: dict, plan, p: dict) -> dict | None:
    """MW-BPC of every arm on the held-out domain words the mined fill tokenizes differently (a new
    token among them) and on the rest: where a gain of the fill comes from, and whether the new rows
    are predicted well (the words they cover) without harm to the other words. `plan` is the domain
    plan of the headline MW-BPC; each part is scored with only its own words masked, so the other
    part's words are context (the two parts do not add up to the headline figure)."""
    from domainlm.evaluation.mwbpc import score_plan
    from domainlm.evaluation.stats import paired_ratio_difference
    from vocab_tools.slots import slot_ids as slots_of

    if "d" not in sides or "a" not in sides:
        return None
    base_slots = set(slots_of(sides["a"].vocab))
    parts = dict(zip(("changed", "unchanged"), split_plan(plan, sides["d"], base_slots)))
    out = {}
    for part_name, part in parts.items():
        scores = {arm: score_plan(side, part, batch_size=64, resamples=p["bootstrap"], seed=13,
                                  description=f"MW-BPC {part_name} words {arm}") for arm, side in sides.items()}
        rows = {"masked_characters": int(part.chars.sum())}
        for arm, s in scores.items():
            rows[arm] = {"bpc": s.bpc.to_dict()}
            if arm != REFERENCE and REFERENCE in scores:
                r = scores[REFERENCE]
                rows[arm]["minus_b"] = paired_ratio_difference(r.bits, r.chars, s.bits, s.chars,
                                                               resamples=p["bootstrap"], seed=13).to_dict()
        out[part_name] = rows
    return out


def row_diagnostics(arms: dict) -> dict:
    """Are the new rows trained? For each filled arm: how far training moved its filled input rows
    from their init (mean init: the mean of the pieces; random: its seeded draw; distill: measured
    from the mean init, so it includes the distillation), against how far it moved the base's own
    rows; and the decoder bias of the filled rows against the base's tokens'."""
    import copy

    import torch

    from domainlm.modeling.init_rows import init_filled_rows
    from domainlm.modeling.loading import load_mlm
    from vocab_tools.manifest import read_manifest
    from vocab_tools.slots import slot_ids as slots_of

    base, base_tok = load_mlm(arms["a"]["path"])
    slots = set(slots_of([t for t, _ in sorted(base_tok.get_vocab().items(), key=lambda kv: kv[1])]))
    ordinary = torch.tensor([i for i in range(base.get_input_embeddings().weight.shape[0])
                             if i not in slots and i >= 5])
    out = {}
    for arm in (a for a in arms if a in "defgh"):
        entries = read_manifest(arms[arm]["path"])
        if not entries:
            continue
        init = copy.deepcopy(base)
        with torch.no_grad():
            init_filled_rows(init, base_tok, entries, method="random" if arm == "g" else "mean", seed=0)
        trained, _ = load_mlm(arms[arm]["path"])
        ids = torch.tensor([e.slot_id for e in entries])
        e_init, e_base = init.get_input_embeddings().weight.detach(), base.get_input_embeddings().weight.detach()
        e_arm = trained.get_input_embeddings().weight.detach()

        def drift(now, then, rows):
            return float(((now[rows] - then[rows]).norm(dim=1) / then[rows].norm(dim=1).clamp_min(1e-12)).median())

        bias_init, bias_arm = init.get_output_embeddings().bias.detach(), trained.get_output_embeddings().bias.detach()
        out[arm] = {"filled_rows": len(entries), "filled_row_drift_median": drift(e_arm, e_init, ids),
                    "base_row_drift_median": drift(e_arm, e_base, ordinary),
                    "filled_bias_mean_init": float(bias_init[ids].mean()), "filled_bias_mean_after": float(bias_arm[ids].mean()),
                    "base_bias_mean": float(bias_init[ordinary].mean())}
        del trained, init
    return out


def finetune_measures(arms: dict, domain: dict, p: dict, data: Path) -> dict:
    """The domain task fine-tuned from every arm with the same seeds and examples (each arm cached on
    its own, so a retrained arm costs only its own runs); paired against b by seed and test example."""
    from domainlm.finetune import finetune
    from domainlm.finetune.engine import FinetuneSettings
    from domainlm.finetune.metrics import paired_difference

    settings = FinetuneSettings(max_train=p["ft_train"], max_dev=p["ft_dev"], max_test=p["ft_test"],
                                epochs=p["ft_epochs"], lr=p["ft_lr"])
    scores, predictions, saved = {}, {}, {}
    for arm, info in arms.items():
        key = _key({"arm": info["key"], "settings": settings.__dict__, "seeds": p["seeds"], "task": domain["task"]})
        folder = _reuse(domain, domain["dir"] / f"finetune-{arm}", key)
        if folder is None:
            folder = domain["dir"] / f"finetune-{arm}"
            print(f"{domain['name']}: fine-tuning {domain['task']} from arm {arm}", file=sys.stderr)
            finetune(info["path"], domain["task"], folder, seeds=list(p["seeds"]), data_dir=data, settings=settings)
            _mark(folder, key)
        saved[arm] = json.loads((folder / "finetune.json").read_text(encoding="utf-8"))
        scores[arm] = saved[arm]["summary"] | {"seeds": [s["test"] for s in saved[arm]["seeds"]]}
        predictions[arm] = _seed_predictions(folder, saved[arm]["metric"], p["seeds"])
    minus_b = {}
    for arm in arms:
        if arm != REFERENCE and REFERENCE in arms:
            diff, verdict = paired_difference(predictions[REFERENCE], predictions[arm], resamples=p["bootstrap"], seed=0)
            minus_b[arm] = diff.to_dict() | {"verdict": verdict}
    first = next(iter(saved.values()))
    return {"task": domain["task"], "metric": first["metric"], "protocol": first["protocol"],
            "sizes": first["sizes"], "settings": settings.__dict__ | {"seeds": list(p["seeds"])}, "scores": scores,
            "minus_b": minus_b, "seconds": round(sum(s["seconds"] for s in saved.values()), 1)}


def _seed_predictions(folder: Path, metric: str, seeds) -> list:
    """The test predictions of each seed (seed-N/test_predictions.tsv) as the suite's MetricData."""
    from domainlm.finetune.metrics import MetricData

    out = []
    for seed in seeds:
        seed_dir = folder / f"seed-{seed}"
        names = json.loads((seed_dir / "metrics.json").read_text(encoding="utf-8"))["label_names"]
        index = {n: i for i, n in enumerate(names)}
        with open(seed_dir / "test_predictions.tsv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        out.append(MetricData(metric, [index[r["gold"]] for r in rows], [index[r["predicted"]] for r in rows],
                              classes=list(range(len(names))) if metric == "macro_f1" else None))
    return out


# --- targets, table, chart --------------------------------------------------------------------------

def targets(result: dict) -> dict:
    """The issue's targets, each true or false with the numbers it was decided on."""
    out = {}
    for name, dom in result["domains"].items():
        bpc, ft = dom["mw_bpc"], dom.get("finetune")
        d, c = bpc["domain"].get("d"), bpc["domain"].get("c")
        if d and c:
            gain_d, gain_c = -d["minus_a"]["value"], -c["minus_a"]["value"]
            general_d_minus_c = bpc["general"]["d"]["minus_c"]
            out[f"{name}: (d) fill at N reaches (c) plain at 3N's domain MW-BPC gain, no more forgetting"] = {
                "met": bool(gain_d >= gain_c and general_d_minus_c["low"] <= 0),
                "gain_d": gain_d, "gain_c": gain_c, "domain_d_minus_c": bpc["domain"]["d"]["minus_c"],
                "general_d_minus_c": general_d_minus_c}
        if ft and "d" in ft["minus_b"]:
            diff = ft["minus_b"]["d"]
            out[f"{name}: (d)'s fine-tuning score at least (b)'s, interval not below 0"] = {
                "met": bool(diff["value"] >= 0 and diff["high"] >= 0), "difference": diff}
        ablations = [arm for arm in ("f", "g", "h") if "minus_d" in bpc["domain"].get(arm, {})]
        if ablations:  # their intervals against (d) and (b) are in mw_bpc and finetune
            out[f"{name}: the ablations measured with intervals"] = {"met": True, "arms": ablations}
    return out


def markdown(result: dict) -> str:
    lines = ["# Does it help? Fill + adapt against plain continued pretraining", "",
             f"Profile `{result['profile']}`; base: {result['base']['description']}.", ""]
    for name, dom in result["domains"].items():
        ft = dom.get("finetune")
        metric = ft["metric"] if ft else ""
        lines += [f"## {name}", "",
                  f"MW-BPC (bits per character of masked words; lower is better) on {dom['texts']['domain']:,} held-out "
                  f"domain texts and {dom['texts']['general']:,} general sentences; differences are paired 95% intervals. "
                  + (f"Fine-tuning: {ft['task']} ({metric}) ×100, mean over seeds {ft['settings']['seeds']} and the "
                     "difference to (b) paired by seed and test example." if ft else ""), "",
                  "| arm | tokens | train s | domain MW-BPC | vs (b) | general MW-BPC | vs (b) | fertility | "
                  + (f"{ft['task']} | vs (b) |" if ft else ""),
                  "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if ft else "")]
        for arm, cost in dom["arms"].items():
            dm, gm = dom["mw_bpc"]["domain"][arm], dom["mw_bpc"]["general"][arm]
            tok = dom["tokenization"].get(arm, {})
            row = [f"({arm}) {ARMS[arm][0]}", f"{cost['tokens']:,}", f"{cost.get('seconds', 0):.0f}",
                   f"{dm['bpc']['value']:.4f}", _diff(dm.get("minus_b")), f"{gm['bpc']['value']:.4f}",
                   _diff(gm.get("minus_b")), f"{tok.get('fertility', float('nan')):.3f}"]
            if ft:
                s = ft["scores"].get(arm, {})
                row += [f"{100 * s.get('mean', float('nan')):.2f}", _diff(ft["minus_b"].get(arm), 100)]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        split = dom.get("changed_words")
        if split:
            lines += [f"Where the difference comes from: MW-BPC on the held-out words the mined fill tokenizes with a "
                      f"new token ({split['changed']['masked_characters']:,} masked characters) and on the other words "
                      f"({split['unchanged']['masked_characters']:,}).", "",
                      "| arm | words with a new token | vs (b) | other words | vs (b) |", "|---|---:|---:|---:|---:|"]
            for arm in dom["arms"]:
                c, u = split["changed"][arm], split["unchanged"][arm]
                lines.append(f"| ({arm}) {ARMS[arm][0]} | {c['bpc']['value']:.4f} | {_diff(c.get('minus_b'))} | "
                             f"{u['bpc']['value']:.4f} | {_diff(u.get('minus_b'))} |")
            lines.append("")
    lines += ["## Targets", ""]
    for name, t in result["targets"].items():
        lines.append(f"- {'met' if t['met'] else '**not met**'}: {name}")
    return "\n".join(lines) + "\n"


def _diff(d: dict | None, scale: float = 1.0) -> str:
    if not d:
        return "—"
    return f"{scale * d['value']:+.4f} [{scale * d['low']:+.4f}, {scale * d['high']:+.4f}]" if scale == 1 else \
        f"{scale * d['value']:+.2f} [{scale * d['low']:+.2f}, {scale * d['high']:+.2f}]"


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(result["domains"].items())
    fig, axes = plt.subplots(len(domains), 2, figsize=(11, 4.2 * len(domains)), squeeze=False)
    for row, (name, dom) in zip(axes, domains):
        for ax, what in zip(row, ("mw_bpc", "finetune")):
            for k, (arm, cost) in enumerate(dom["arms"].items()):
                # Arms at the same token count are spread a little so their points and labels stay apart.
                x = cost["tokens"] / 1e6 * (1 + 0.04 * (k - 5) if arm in "defgh" else 1)
                if what == "mw_bpc":
                    d = dom["mw_bpc"]["domain"][arm].get("minus_a")
                    if d is None:
                        y, err = 0.0, [[0], [0]]
                    else:  # gain = base minus arm: up is better
                        y, err = -d["value"], [[d["high"] - d["value"]], [d["value"] - d["low"]]]
                else:
                    ft = dom.get("finetune")
                    if not ft or arm not in ft["scores"]:
                        continue
                    s = ft["scores"][arm]
                    y, err = 100 * s["mean"], [[100 * (s["mean"] - s.get("low", s["mean"]))],
                                               [100 * (s.get("high", s["mean"]) - s["mean"])]]
                ax.errorbar([x], [y], yerr=err, fmt="o", capsize=3, color="C0" if arm in "abc" else "C1")
                ax.annotate(f"({arm}) {ARMS[arm][0]}", (x, y), textcoords="offset points",
                            xytext=(5, 4 if k % 2 else -10), fontsize=8)
            ax.set_xlabel("training tokens (millions)")
            ax.set_ylabel("domain MW-BPC gain over the base (bits/char)" if what == "mw_bpc"
                          else f"{dom['finetune']['task']} {dom['finetune']['metric']} x100" if dom.get("finetune") else "")
            ax.set_title(f"{name}: {'language modelling' if what == 'mw_bpc' else 'fine-tuning'}")
            ax.grid(alpha=0.3)
    fig.suptitle("Fill + adapt (orange) against plain continued pretraining (blue), 95% intervals")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main -------------------------------------------------------------------------------------------

def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--quick", action="store_true", help="the same as --profile quick")
    parser.add_argument("--domains", default="movies,shopping")
    parser.add_argument("--arms", default="abcdefgh")
    parser.add_argument("--no-finetune", action="store_true", help="skip the fine-tuning scores")
    parser.add_argument("--work", type=Path, default=None, help="cache folder (default runs/adaptation_benchmark/PROFILE)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results/adaptation[_PROFILE].json)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of the profile for an attempt (e.g. fill=500, replay=0.5, steps=300)")
    parser.add_argument("--attempt", default=None, metavar="NAME",
                        help="record this run as an attempt: its arms train in their own folders, its result goes to "
                             "adaptation_NAME.json and a summary under `attempts` of the profile's JSON")
    args = parser.parse_args(argv)
    profile = "quick" if args.quick else args.profile
    p = dict(PROFILES[profile])
    overrides = _overrides(args.set, p)
    if overrides and not args.attempt:
        parser.error("--set changes the protocol: name the run with --attempt NAME")
    p |= overrides
    arms_wanted = [a for a in ARMS if a in args.arms.replace(",", "")]
    work = args.work or REPO / "runs" / "adaptation_benchmark" / profile
    work.mkdir(parents=True, exist_ok=True)
    main_out = args.out or REPO / "benchmarks" / "results" / ("adaptation.json" if profile == "cpu" else f"adaptation_{profile}.json")
    out = main_out.with_name(f"{main_out.stem}_{args.attempt}.json") if args.attempt else main_out
    data = shared_data()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from domainlm.versions import library_versions

    if not torch.cuda.is_available():
        torch.set_num_threads(os.cpu_count() or 2)
    started, load_at_start = time.perf_counter(), os.getloadavg()
    base_info = make_base(work, p, data)
    general_texts = [t for t in (data / "general" / "ud_korean_sentences.txt").read_text(encoding="utf-8").splitlines()
                     if t.strip()]
    result = {"benchmark": "adaptation", "profile": profile, "settings": p, "attempt": args.attempt, "set": overrides,
              "base": base_info | {"description": (
                  f"BERT {p['layers']} layers x {p['hidden']} (FFN {p['intermediate']}), vocab {p['vocab_size']:,} "
                  f"with {p['slots']:,} [unusedN] slots, pretrained by domainlm for {p['pretrain_steps']:,} steps x "
                  f"{p['pretrain_batch']} x {p['seq_len']} tokens on the Korean Wikipedia sample only")},
              "arms": {a: ARMS[a][1] for a in arms_wanted}, "domains": {}}
    for name in [d.strip() for d in args.domains.split(",") if d.strip()]:
        domain = prepare_domain(name, work, p, data)
        if args.attempt:  # the base, the general text and the domain text are shared; the arms are not
            domain["shared_dir"], domain["dir"] = domain["dir"], work / "attempts" / args.attempt / name
            domain["dir"].mkdir(parents=True, exist_ok=True)
        terms = {}
        if any(a in arms_wanted for a in "deghf"):
            terms["mined"] = mined_terms(domain, work, p)
        if "f" in arms_wanted:
            terms["frequency"] = frequency_terms(domain, work, p)
        arms = {arm: run_arm(arm, domain, work, p, terms) for arm in arms_wanted}
        dom = {"arms": arms} | language_model_measures(arms, domain, general_texts, p)
        if "a" in arms:
            dom["rows"] = row_diagnostics(arms)
        if not args.no_finetune:
            dom["finetune"] = finetune_measures(arms, domain, p, data)
        result["domains"][name] = dom
    result["targets"] = targets(result)
    result |= {"seconds": round(time.perf_counter() - started, 1), "load_average_at_start": load_at_start,
               "load_average_at_end": os.getloadavg(), "versions": library_versions(),
               "machine": {"cpus": os.cpu_count(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}}
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.attempt and out.exists():  # a rerun of the protocol keeps the attempts recorded beside it
        result["attempts"] = json.loads(out.read_text(encoding="utf-8")).get("attempts", {})
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    chart(result, out.with_suffix(".png"))
    if args.attempt:
        record_attempt(main_out, args.attempt, result, out)
    print(markdown(result))
    print(f"wrote {out}, {out.with_suffix('.md').name}, {out.with_suffix('.png').name}")
    return result


def _overrides(pairs: list[str], p: dict) -> dict:
    """--set KEY=VALUE pairs as typed values; a key the profile lacks (or one that would change the
    cached base) is refused."""
    base_keys = {"layers", "hidden", "heads", "intermediate", "vocab_size", "slots", "pretrain_steps", "pretrain_batch",
                 "pretrain_lr", "general_docs"}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in p.keys() | {"fill"}:
            raise SystemExit(f"--set {pair}: expected KEY=VALUE with KEY one of {', '.join(sorted(p.keys() | {'fill'}))}")
        if key in base_keys:
            raise SystemExit(f"--set {key}: the base is shared by every attempt; change it in PROFILES instead")
        out[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return out


def record_attempt(main_out: Path, name: str, result: dict, out: Path) -> None:
    """Add an attempt's settings, headline numbers and targets to the profile's JSON (`attempts`)."""
    summary = {"set": result["set"], "file": out.name, "targets": result["targets"], "domains": {}}
    for dom_name, dom in result["domains"].items():
        row = {}
        for arm in dom["arms"]:
            row[arm] = {"domain_mw_bpc": dom["mw_bpc"]["domain"][arm]["bpc"]["value"],
                        "domain_minus_b": dom["mw_bpc"]["domain"][arm].get("minus_b"),
                        "general_minus_b": dom["mw_bpc"]["general"][arm].get("minus_b")}
            if dom.get("finetune"):
                row[arm]["finetune_mean"] = dom["finetune"]["scores"][arm]["mean"]
                row[arm]["finetune_minus_b"] = dom["finetune"]["minus_b"].get(arm)
        summary["domains"][dom_name] = row
    saved = json.loads(main_out.read_text(encoding="utf-8")) if main_out.exists() else {}
    saved.setdefault("attempts", {})[name] = summary
    main_out.write_text(json.dumps(saved, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
