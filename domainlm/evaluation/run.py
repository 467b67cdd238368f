"""`evaluate(before, after, out_dir, ...)`: the before/after comparison behind `domainlm evaluate`.

Order of work, chosen so nothing is computed twice: load each model once; read and normalise the
texts once; tokenize each text once per model (the cache in `Side` serves MW-BPC, the tokenization
counts and the examples); plan the masked eojeols once for both models; extract probe features once
per model and task.

ELECTRA discriminators have no MLM head: when the models are discriminators, the replaced-word
detection AUC (`detection.py`) takes MW-BPC's place on the domain and general text; everything else
(tokenization, probes, suite, card) is the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from domainlm.card import report_link, report_results, update_model_card
from domainlm.corpus import Normalizer
from domainlm.errors import CorpusError, EvaluationError, OutputError, VocabError
from domainlm.evaluation.config import EvalConfig
from domainlm.evaluation.detection import (
    DetectionComparison,
    compare_detection,
    is_discriminator,
    load_discriminator,
    plan_replacements,
)
from domainlm.evaluation.encode import Side, load_side, max_positions
from domainlm.evaluation.mwbpc import plan_masks, score_plan
from domainlm.evaluation.plots import plot_loss_curve, plot_metrics
from domainlm.evaluation.probe import run_probe
from domainlm.evaluation.report import BpcComparison, Report, Row, headline, render_markdown, summary_markdown
from domainlm.evaluation.texts import (
    TextSample,
    count_overlap,
    load_texts,
    recorded_training_corpus,
    recorded_training_hashes,
)
from domainlm.evaluation.tokenization import (
    TokenStats,
    check_related_vocabularies,
    example_rows,
    filled_slots,
    normalisation_warnings,
    token_stats,
)
from domainlm.io import atomic_directory, check_output_dir, write_json
from domainlm.stats import Difference, Estimate, paired_ratio_difference
from domainlm.tasks.probe import load_task
from domainlm.tasks.schema import TaskSpec
from vocab_tools.atomic import write_failure


def _versions() -> dict[str, str]:
    import torch
    import transformers

    from domainlm import __version__

    return {"domainlm": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def _compare_bpc(name: str, sample: TextSample, before: Side, after: Side, config: EvalConfig) -> BpcComparison:
    plan = plan_masks(
        sample.texts,
        [before, after],
        seed=config.seed,
        mask_fraction=config.mask_fraction,
        max_seq_len=config.max_seq_len,
    )
    if not len(plan):
        raise EvaluationError(
            f"None of the {len(sample)} {name} texts has an eojeol both tokenizers can score.",
            "Check that the text is Korean/Latin text the tokenizers cover.",
        )
    kw = dict(batch_size=config.batch_size, resamples=config.bootstrap, seed=config.seed)
    b = score_plan(before, plan, description=f"MW-BPC before, {name} text", **kw)
    a = score_plan(after, plan, description=f"MW-BPC after, {name} text", **kw)
    diff = paired_ratio_difference(b.bits, b.chars, a.bits, a.chars, resamples=config.bootstrap, seed=config.seed)
    return BpcComparison(name, sample.description, sample.read, b, a, diff)


def _compare_detection(
    name: str, sample: TextSample, before: Side, after: Side, config: EvalConfig
) -> DetectionComparison:
    plan = plan_replacements(sample.texts, seed=config.seed, fraction=config.replace_fraction)
    return compare_detection(
        before,
        after,
        plan,
        batch_size=config.batch_size,
        max_seq_len=config.max_seq_len,
        resamples=config.bootstrap,
        seed=config.seed,
        name=name,
        source=sample.description,
        texts_read=sample.read,
    )


def _load_sides(before, after, config: EvalConfig) -> tuple[Side, Side, bool]:
    """Both sides, and whether they are ELECTRA discriminators. One discriminator makes both load as
    discriminators, so a generator or a BERT on the other side is refused with a message saying so."""
    discriminators = is_discriminator(before) or is_discriminator(after)
    loader = load_discriminator if discriminators else None
    return (
        load_side("before", before, config.device, config.precision, loader=loader),
        load_side("after", after, config.device, config.precision, loader=loader),
        discriminators,
    )


def _language_model_metrics(
    samples: dict[str, TextSample], before: Side, after: Side, config: EvalConfig, discriminators: bool
) -> tuple[dict[str, BpcComparison], dict[str, DetectionComparison]]:
    """(MW-BPC, {}) for masked-LMs, ({}, detection AUC) for discriminators, per text set."""
    if discriminators:
        return {}, {name: _compare_detection(name, s, before, after, config) for name, s in samples.items()}
    return {name: _compare_bpc(name, s, before, after, config) for name, s in samples.items()}, {}


def _tokenization_section(
    texts: list[str], before: Side, after: Side, stats_b: TokenStats, stats_a: TokenStats, config: EvalConfig
) -> dict:
    """vocab_tools.measure's numbers (the one definition of fertility, UNK rate, slot usage), plus
    bootstrap intervals from the per-text counts of the cached encodings."""
    from vocab_tools.metrics import measure

    r, s = config.bootstrap, config.seed
    try:
        section = measure(texts, {"before": before.path, "after": after.path})
    except VocabError as e:
        # A tokenizer vocab_tools cannot read (not WordPiece, say): MW-BPC and the counts below still hold.
        section = {
            "texts": len(texts),
            "measure_error": str(e),
            "tokenizers": {
                side: {
                    "tokens": int(st.tokens.sum()),
                    "fertility": st.fertility(r, s).value,
                    "unk_rate": st.unk_rate(r, s).value,
                }
                for side, st in (("before", stats_b), ("after", stats_a))
            },
        }
    section["intervals"] = {
        "before": {
            "fertility": stats_b.fertility(r, s).to_dict(),
            "unk_rate": stats_b.unk_rate(r, s).to_dict(),
            "unk_per_eojeol": stats_b.unk_per_eojeol(r, s).to_dict(),
        },
        "after": {
            "fertility": stats_a.fertility(r, s).to_dict(),
            "unk_rate": stats_a.unk_rate(r, s).to_dict(),
            "unk_per_eojeol": stats_a.unk_per_eojeol(r, s).to_dict(),
            "filled_token_share": stats_a.filled_share(r, s).to_dict(),
        },
        "fertility_change": paired_ratio_difference(
            stats_b.tokens, stats_b.eojeols, stats_a.tokens, stats_a.eojeols, resamples=r, seed=s
        ).to_dict(),
    }
    return section


def _rows(
    bpc: dict[str, BpcComparison],
    stats: dict[str, tuple[TokenStats, TokenStats]],
    probes,
    config: EvalConfig,
    detection: dict[str, DetectionComparison] | None = None,
) -> list[Row]:
    r, s = config.bootstrap, config.seed
    rows = []
    for name, comp in bpc.items():
        rows.append(Row(f"MW-BPC, {name} text", comp.before.bpc, comp.after.bpc, comp.difference, "lower", "bits/char"))
    for name, det in (detection or {}).items():
        rows.append(Row(f"detection AUC, {name} text", det.before.auc, det.after.auc, det.difference, "higher", "AUC"))
    for name, (b, a) in stats.items():
        rows.append(
            Row(
                f"fertility, {name} text",
                b.fertility(r, s),
                a.fertility(r, s),
                paired_ratio_difference(b.tokens, b.eojeols, a.tokens, a.eojeols, resamples=r, seed=s),
                "lower",
                "tokens/eojeol",
            )
        )
        # Per eojeol, not per token: filling slots removes tokens, which would make an unchanged
        # number of [UNK]s look like a worse per-token rate.
        rows.append(
            Row(
                f"UNK per eojeol, {name} text",
                b.unk_per_eojeol(r, s),
                a.unk_per_eojeol(r, s),
                paired_ratio_difference(b.unk, b.eojeols, a.unk, a.eojeols, resamples=r, seed=s),
                "lower",
            )
        )
    for p in probes:
        rows.append(
            Row(
                f"probe {p.task}: accuracy",
                p.before["accuracy"],
                p.after["accuracy"],
                p.difference["accuracy"],
                "higher",
            )
        )
        rows.append(
            Row(
                f"probe {p.task}: macro-F1",
                p.before["macro_f1"],
                p.after["macro_f1"],
                p.difference["macro_f1"],
                "higher",
            )
        )
    return rows


def _overlap(sample: TextSample, after: str | os.PathLike, train_corpus) -> tuple[dict | None, list[str]]:
    """Held-out texts that training also saw: against `train_corpus`, else what the after model recorded."""
    recorded, fraction, basis = None, 0.0, "the training corpus given"
    if train_corpus is None and Path(str(after)).is_dir():
        recorded = recorded_training_hashes(after)
        basis = "the training data hashes recorded in the after model"
        if recorded is None and (named := recorded_training_corpus(after)) is not None:
            train_corpus, fraction = named
            basis = f"the training corpus named in {Path(str(after)) / 'settings.json'}"
    try:
        found = count_overlap(sample.texts, train_corpus=train_corpus, recorded=recorded, heldout_fraction=fraction)
    except CorpusError as e:
        if fraction or recorded is not None:  # the recorded corpus moved or needs a field we do not know
            return {"checked_against": basis, "error": e.message}, []
        raise
    if found is None:
        return None, []
    info = {"overlapping_texts": found, "texts": len(sample), "checked_against": basis}
    if not found:
        return info, []
    return info, [
        f"{found} of {len(sample)} held-out domain texts ({found / len(sample):.1%}) also occur in {basis}: "
        f"the domain gain is inflated by memorisation. Evaluate on text held out from training "
        f"(e.g. `domainlm corpus clean --heldout-fraction`)."
    ]


EVALUATE_COMMAND = "evaluate"  # named in the marker of the report folders it writes


def evaluate(
    before: str | os.PathLike,
    after: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    domain,
    general=None,
    config: EvalConfig | None = None,
    tasks: Sequence[TaskSpec] = (),
    train_corpus=None,
    update_card: bool = True,
    on_warning: Callable[[str], None] | None = None,
    force: bool = False,
) -> Report:
    """Compare a base model and its adaptation on held-out domain text, general text and probes.

    `domain` / `general`: a CorpusSpec, a path, a list of them, or a list of texts. `tasks` are added to
    `config.tasks`. `train_corpus` (optional) is checked for held-out texts that leaked into training.
    Writes `report.json`, `report.md` and PNG charts to `out_dir` (new, empty or an earlier report;
    anything else only with `force`), in one swap; puts the table and the results (model-index) into
    `after/README.md`. Put `out_dir` beside the model, not inside it: a model folder is what gets uploaded.
    `after` must be `before` with [unusedN] slots filled (or the same vocabulary).
    """
    config = config or EvalConfig()
    all_tasks = list(config.tasks) + list(tasks)
    out_dir = Path(out_dir)
    check_output_dir(out_dir, EVALUATE_COMMAND, force)  # before minutes of work, not after
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    domain_sample, general_sample, task_data = _read_inputs(domain, general, config, all_tasks)
    seconds["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    before_side, after_side, discriminators = _load_sides(before, after, config)
    seconds["load"] = time.perf_counter() - t

    config, warnings, overlap = _checks(before_side, after_side, domain_sample, after, train_corpus, config)
    if on_warning is not None:
        for w in warnings:
            on_warning(w)

    t = time.perf_counter()
    samples = {"domain": domain_sample} | ({"general": general_sample} if general_sample else {})
    bpc, detection = _language_model_metrics(samples, before_side, after_side, config, discriminators)
    seconds["detection" if discriminators else "mw_bpc"] = time.perf_counter() - t

    t = time.perf_counter()
    stats, tokenization, terms, filled_source, examples = _tokenization_parts(samples, before_side, after_side, config)
    seconds["tokenization"] = time.perf_counter() - t

    t = time.perf_counter()
    probes = _run_probes(task_data, before_side, after_side, config)
    if all_tasks:
        seconds["probes"] = time.perf_counter() - t
    t = time.perf_counter()
    suite_dir, suite_rows, suite_results = _run_suite(before, after, config, all_tasks)
    if config.suite.tasks:
        seconds["finetune"] = time.perf_counter() - t
    report = Report(
        before=str(before),
        after=str(after),
        out_dir=out_dir,
        config=config.model_dump(mode="json") | {"tasks": [task.model_dump(mode="json") for task in all_tasks]},
        bpc=bpc,
        tokenization=tokenization,
        rows=_rows(bpc, stats, probes, config, detection) + suite_rows,
        probes=probes,
        filled_terms=terms,
        filled_source=filled_source,
        examples=examples,
        warnings=warnings,
        overlap=overlap,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=_versions(),
        detection=detection,
    )
    seconds["total"] = time.perf_counter() - t0  # everything but writing the files, which takes well under a second
    report.seconds = seconds
    _write_and_clean(report, after, update_card, force, suite_dir, suite_results)
    return report


def _write_and_clean(report: Report, after, update_card: bool, force: bool, suite_dir: Path | None, results) -> None:
    """Write the report (and card); the suite's temporary folder goes whatever happens."""
    try:
        _write(report, after, update_card, force, suite_dir=suite_dir, card_results=results)
    finally:
        if suite_dir is not None:
            shutil.rmtree(suite_dir.parent, ignore_errors=True)


def _read_inputs(domain, general, config: EvalConfig, all_tasks: list[TaskSpec]):
    """(domain sample, general sample or None, each probe task's data); an unknown suite task is refused here,
    before any model work, as is a task file without labels: they fail in seconds, not minutes."""
    normalizer = Normalizer()
    domain_sample = load_texts(
        domain, max_texts=config.max_texts, seed=config.seed, what="held-out domain", normalizer=normalizer
    )
    general_sample = None
    if general is not None:
        general_sample = load_texts(
            general, max_texts=config.max_texts, seed=config.seed, what="general", normalizer=normalizer
        )
    task_data = [(task, *load_task(task, seed=config.seed, normalizer=normalizer)) for task in all_tasks]
    if config.suite.tasks:
        from domainlm.tasks import resolve_tasks

        resolve_tasks(_suite_tasks(config, all_tasks))
    return domain_sample, general_sample, task_data


def _run_probes(task_data: list, before_side: Side, after_side: Side, config: EvalConfig) -> list:
    """One probe per task, on both models."""
    return [
        run_probe(
            task.name,
            before_side,
            after_side,
            train,
            test,
            classes,
            method=config.probe,
            seed=config.seed,
            max_seq_len=config.max_seq_len,
            batch_size=config.batch_size,
            resamples=config.bootstrap,
            epochs=config.finetune_epochs,
        )
        for task, train, test, classes in task_data
    ]


def _checks(
    before_side: Side, after_side: Side, domain_sample: TextSample, after, train_corpus, config: EvalConfig
) -> tuple[EvalConfig, list[str], dict | None]:
    """Refuse unrelated vocabularies; the warnings (normalisers, positions, overlap with training), the
    config with max_seq_len capped to what the models hold, and the overlap found."""
    check_related_vocabularies(before_side, after_side)
    warnings = normalisation_warnings(before_side, after_side, domain_sample.texts)
    positions = min(max_positions(before_side), max_positions(after_side))
    if positions < config.max_seq_len:
        # A longer sequence would index past the position embeddings; cut texts to what the models hold.
        warnings.append(
            f"The models hold {positions} positions: eval.max_seq_len {config.max_seq_len} was capped to "
            f"{positions} (longer texts are cut at an eojeol boundary)."
        )
        config = config.model_copy(update={"max_seq_len": positions})
    overlap, overlap_warnings = _overlap(domain_sample, after, train_corpus)
    return config, warnings + overlap_warnings, overlap


def _tokenization_parts(samples: dict[str, TextSample], before: Side, after: Side, config: EvalConfig):
    """(per-set token stats, tokenization sections, filled terms by use, where the slots came from, examples)."""
    filled, filled_source = filled_slots(before, after)
    filled_ids = {slot.slot_id for slot in filled}
    stats = {}
    tokenization = {}
    for name, s in samples.items():
        lists = [text.split() for text in s.texts]
        stats[name] = (token_stats(before, lists, set()), token_stats(after, lists, filled_ids))
        tokenization[name] = _tokenization_section(s.texts, before, after, *stats[name], config)
    terms = []
    for slot in filled:
        entry = slot.to_dict()
        entry["emitted_domain"] = int(stats["domain"][1].slot_counts.get(slot.slot_id, 0))
        entry["emitted_general"] = (
            int(stats["general"][1].slot_counts.get(slot.slot_id, 0)) if "general" in stats else 0
        )
        terms.append(entry)
    terms.sort(key=lambda e: (-e["emitted_domain"], -(e.get("score") or 0), e["slot_id"]))
    examples = example_rows(
        before, after, [text.split() for text in samples["domain"].texts], filled_ids, config.examples
    )
    return stats, tokenization, terms, filled_source, examples


def _suite_tasks(config: EvalConfig, probe_tasks: Sequence[TaskSpec]) -> list:
    """The suite's tasks: a name of one of the probe tasks (`eval.tasks`) fine-tunes that task; any
    other name is a suite task (nsmc, kornli …) or a YAML task file."""
    from domainlm.tasks import task_from_spec

    by_name = {t.name: t for t in probe_tasks}
    return [task_from_spec(by_name[name]) if name in by_name else name for name in config.suite.tasks]


def _run_suite(
    before, after, config: EvalConfig, probe_tasks: Sequence[TaskSpec]
) -> tuple[Path | None, list[Row], list]:
    """Fine-tune both models on the suite tasks (same seeds, same examples); one row per task, and the
    after model's scores as model-index entries for its card.

    The suite's own folder (benchmark.json/md/png, per-seed predictions) is built in a temporary
    folder and moved into the report folder with the rest, in the same swap.
    """
    if not config.suite.tasks:
        return None, [], []
    from domainlm.finetune.report import card_results
    from domainlm.finetune.run import benchmark

    suite = config.suite
    work = Path(tempfile.mkdtemp(prefix="domainlm-eval-suite-"))
    result = benchmark(
        {"before": str(before), "after": str(after)},
        _suite_tasks(config, probe_tasks),
        work / "finetune",
        seeds=suite.seeds,
        data_dir=suite.data_dir,
        update_card=False,
        resamples=config.bootstrap,
        max_train=suite.max_train,
        max_dev=suite.max_dev,
        max_test=suite.max_test,
        epochs=suite.epochs,
        lr=suite.lr,
        device=config.device,
        precision=config.precision,
    )
    rows = []
    for comparison in result.comparisons:
        sides = [result.results[(name, comparison.task)].summary for name in ("before", "after")]
        b, a = (Estimate(s["mean"], s["low"], s["high"], s["n"]) for s in sides)
        d = comparison.difference
        change = Difference(d["value"], d["low"], d["high"], d["n"], significant=comparison.verdict != "within noise")
        rows.append(Row(f"fine-tuning {comparison.task}: {comparison.metric}", b, a, change, "higher"))
    return work / "finetune", rows, card_results(result, "after")


def _write(
    report: Report, after, update_card: bool, force: bool, suite_dir: Path | None = None, card_results: Sequence = ()
) -> None:
    """The report folder in one swap (charts, report.json, report.md), then the model card that points at it."""
    out = report.out_dir
    card = update_card and Path(str(after)).is_dir()
    # An ELECTRA run logs the generator's and the discriminator's losses together, not an MLM loss.
    loss_label = {"ylabel": "training loss (as logged)"} if report.detection else {}
    with atomic_directory(out, command=EVALUATE_COMMAND, force=force) as tmp:
        for name, plot, file_name in (
            ("metrics_chart", lambda p: plot_metrics(report, p), "metrics.png"),
            ("loss_chart", lambda p: plot_loss_curve(after, p, **loss_label), "loss_curve.png"),
        ):
            if plot(tmp / file_name) is not None:
                report.files[name] = str(out / file_name)
        report.files["report_json"] = str(out / "report.json")
        report.files["report_md"] = str(out / "report.md")
        if card:
            report.files["model_card"] = str(Path(str(after)) / "README.md")
        if suite_dir is not None:
            shutil.move(str(suite_dir), tmp / "finetune")
            report.files["finetune"] = str(out / "finetune" / "benchmark.md")
        write_json(tmp / "report.json", report.to_dict())
        (tmp / "report.md").write_text(render_markdown(report), encoding="utf-8")
    if card:
        section = (
            "## Evaluation (domainlm)\n\n"
            + "\n".join(f"- {line}" for line in headline(report))
            + "\n\n"
            + summary_markdown(report)
            + "\n\n"
            + _report_note(out, Path(str(after)))
        )
        try:
            update_model_card(after, section, results=report_results(report) + list(card_results))
        except OSError as e:
            if write_failure(e) is None:
                raise
            raise OutputError(
                f"Wrote the report in '{out}', but could not update the model card "
                f"'{report.files['model_card']}': {write_failure(e)}.",
                "Free space or fix the permissions of the model folder, or pass --no-card.",
            ) from None


def _report_note(out: Path, after: Path) -> str:
    """Where the full report is, relative to the card: a report inside the model folder is not uploaded
    with it (`domainlm push` sends only the model's files), so it is named, never linked."""
    return (
        f"Full report: `{report_link(out / 'report.md', after)}` (relative to this card; charts and report.json "
        "beside it), written by `domainlm evaluate` and not part of the model's files."
    )
