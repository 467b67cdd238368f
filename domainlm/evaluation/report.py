"""The evaluation report: one object, written as report.json (versioned) and report.md.

Every number carries its sample size and 95% interval; every before/after difference carries a
paired interval and the verdict "significant" or "within noise", so nobody reads noise as a gain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainlm.evaluation.detection import DetectionComparison
from domainlm.evaluation.mwbpc import BpcResult
from domainlm.evaluation.probe import ProbeResult
from domainlm.stats import Difference, Estimate

SCHEMA = "domainlm.report/1"


@dataclass
class BpcComparison:
    """MW-BPC of both models on one text set (same masked eojeols), and after − before."""

    name: str  # "domain" or "general"
    source: str
    texts_read: int
    before: BpcResult
    after: BpcResult
    difference: Difference  # after − before in bits per character: negative is better

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "texts_read": self.texts_read,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "difference": self.difference.to_dict(),
        }


@dataclass
class Row:
    """One line of the summary table."""

    metric: str
    before: Estimate | None
    after: Estimate | None
    change: Difference | None
    better: str  # "lower" or "higher": which direction is an improvement
    unit: str = ""

    @property
    def n(self) -> int:
        for e in (self.change, self.after, self.before):
            if e is not None:
                return e.n
        return 0

    @property
    def verdict(self) -> str:
        if self.change is None:
            return ""
        if not self.change.significant:
            return "within noise"
        improved = (self.change.value < 0) == (self.better == "lower")
        return "better" if improved else "worse"

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "change": self.change.to_dict() if self.change else None,
            "better": self.better,
            "verdict": self.verdict,
            "n": self.n,
        }


@dataclass
class Report:
    before: str
    after: str
    out_dir: Path
    config: dict
    bpc: dict[str, BpcComparison]
    tokenization: dict[str, Any]
    rows: list[Row]
    probes: list[ProbeResult] = field(default_factory=list)
    filled_terms: list[dict] = field(default_factory=list)
    filled_source: str = ""
    examples: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    overlap: dict | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    # Replaced-word detection AUC, in place of MW-BPC when both models are ELECTRA discriminators.
    detection: dict[str, DetectionComparison] = field(default_factory=dict)

    # ------------------------------------------------------------ headline numbers
    @property
    def measured(self) -> dict:
        """The language-modelling comparisons of each text set: MW-BPC, or detection AUC for discriminators."""
        return self.bpc or self.detection

    @property
    def domain_gain(self) -> Difference | None:
        """before − after MW-BPC on the domain text: positive means the adapted model predicts it better
        (None for discriminators, measured by detection AUC)."""
        return _negate(self.bpc["domain"].difference) if "domain" in self.bpc else None

    @property
    def forgetting(self) -> Difference | None:
        """after − before MW-BPC on general text: positive means general language got worse."""
        general = self.bpc.get("general")
        return general.difference if general else None

    def _headline_dict(self) -> dict:
        gain, forgetting = self.domain_gain, self.forgetting
        domain_before = self.bpc["domain"].before.bpc.value if gain is not None else None
        head = {
            "domain_gain_bpc": gain.to_dict() if gain is not None else None,
            "domain_gain_relative": gain.value / domain_before if gain is not None and domain_before else None,
            "forgetting_bpc": forgetting.to_dict() if forgetting else None,
        }
        if self.detection:
            # after − before AUC: positive is better on the domain text, negative on general text is forgetting.
            general = self.detection.get("general")
            head["domain_detection_auc"] = self.detection["domain"].difference.to_dict()
            head["forgetting_detection_auc"] = general.difference.to_dict() if general else None
        head["probes"] = {p.task: p.difference["accuracy"].to_dict() for p in self.probes}
        return head

    def to_dict(self) -> dict:
        out = {
            "schema": SCHEMA,
            "created": self.created,
            "before": self.before,
            "after": self.after,
            "headline": self._headline_dict(),
            "summary": [r.to_dict() for r in self.rows],
            "mw_bpc": {k: v.to_dict() for k, v in self.bpc.items()},
            "tokenization": self.tokenization,
            "probes": [p.to_dict() for p in self.probes],
            "filled_slots": {"source": self.filled_source, "count": len(self.filled_terms), "terms": self.filled_terms},
            "examples": self.examples,
            "overlap": self.overlap,
            "warnings": self.warnings,
            "config": self.config,
            "seconds": self.seconds,
            "files": self.files,
            "versions": self.versions,
        }
        if self.detection:
            out["detection"] = {k: v.to_dict() for k, v in self.detection.items()}
        return out


def _negate(d: Difference) -> Difference:
    return Difference(-d.value, -d.high, -d.low, d.n, significant=d.significant)


# ---------------------------------------------------------------- formatting


def fmt_number(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    if abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def fmt_estimate(e: Estimate | None) -> str:
    if e is None:
        return "—"
    return f"{fmt_number(e.value)} [{fmt_number(e.low)}, {fmt_number(e.high)}]"


def fmt_change(d: Difference | None) -> str:
    if d is None:
        return "—"
    sign = "+" if d.value > 0 else ""
    return f"{sign}{fmt_number(d.value)} [{fmt_number(d.low)}, {fmt_number(d.high)}]"


def headline(report: Report) -> list[str]:
    """Sentences a person reads first."""
    lines = _bpc_lines(report) if report.bpc else _detection_lines(report)
    for p in report.probes:
        d = p.difference["accuracy"]
        lines.append(
            f"Probe '{p.task}': accuracy {fmt_number(p.before['accuracy'].value)} → "
            f"{fmt_number(p.after['accuracy'].value)}, change {fmt_change(d)}, n = {d.n} test examples: {d.verdict}."
        )
    return lines


def _verdict_higher(d: Difference) -> str:
    """better / worse / within noise of a change where higher is better (an AUC)."""
    return Row("", None, None, d, "higher").verdict


def _detection_lines(report: Report) -> list[str]:
    lines = []
    for name, what in (("domain", "held-out domain text"), ("general", "general text")):
        comp = report.detection.get(name)
        if comp is None:
            continue
        d = comp.difference
        verdict = _verdict_higher(d)
        label = "Domain" if name == "domain" else "Forgetting"
        note = ""
        if name == "general" and verdict == "worse":
            note = " (the discriminator spots replaced words in general text less well)"
        elif name == "domain" and verdict == "worse":
            note = " (the adapted discriminator spots replaced domain words less well)"
        lines.append(
            f"{label}: replaced-word detection AUC on {what} {fmt_number(comp.before.auc.value)} → "
            f"{fmt_number(comp.after.auc.value)}, change {fmt_change(d)}, n = {d.n} texts: {verdict}{note}."
        )
    return lines


def _bpc_lines(report: Report) -> list[str]:
    lines = []
    gain = report.domain_gain
    assert gain is not None  # the domain text is always measured
    before = report.bpc["domain"].before.bpc.value
    # Said as what happened: a negative gain is a rise, never "fell by -5.37 (-146%)".
    if gain.value >= 0:
        moved, amount, low, high = "fell", gain.value, gain.low, gain.high
        label = "Domain gain"
    else:
        moved, amount, low, high = "rose", -gain.value, -gain.high, -gain.low
        label = "Domain loss" if gain.significant else "Domain gain (none)"
    rel = f" ({amount / before:.1%} of the base's {fmt_number(before)})" if before else ""
    lines.append(
        f"{label}: MW-BPC on held-out domain text {moved} by {fmt_number(amount)} bits/char{rel}, "
        f"95% CI of the {'drop' if moved == 'fell' else 'rise'} [{fmt_number(low)}, {fmt_number(high)}], "
        f"n = {gain.n} texts: {gain.verdict}"
        + (" (the adapted model predicts domain text worse)." if moved == "rose" and gain.significant else ".")
    )
    forgetting = report.forgetting
    if forgetting is not None:
        lines.append(
            f"Forgetting: MW-BPC on general text changed by {fmt_change(forgetting)} bits/char, "
            f"n = {forgetting.n} texts: {forgetting.verdict}"
            + (" (general text got harder)." if forgetting.significant and forgetting.value > 0 else ".")
        )
    return lines


def summary_markdown(report: Report) -> str:
    """The before/after table (also used in the model card)."""
    out = ["| metric | before | after | change (95% CI) | n | verdict |", "|---|---|---|---|---|---|"]
    for r in report.rows:
        out.append(
            f"| {r.metric} | {fmt_estimate(r.before)} | {fmt_estimate(r.after)} | {fmt_change(r.change)} | "
            f"{r.n:,} | {r.verdict} |"
        )
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


_BPC_NOTE = "MW-BPC: masked-word bits per character (lower is better), the same eojeols masked for both models. "
_DETECTION_NOTE = (
    "Detection AUC: replaced-word detection by the ELECTRA discriminators (higher is better; 0.5 is "
    "chance), the same corrupted eojeols for both models. "
)


def _detection_markdown(report: Report) -> list[str]:
    lines = [
        "## Replaced-word detection",
        "",
        "| text | texts | eojeols scored | replaced | AUC before | AUC after | change (95% CI) | verdict | cut texts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, comp in report.detection.items():
        b = comp.before
        verdict = _verdict_higher(comp.difference)
        lines.append(
            f"| {name} | {b.n_texts:,} | {len(b.labels):,} | {int(b.labels.sum()):,} | {fmt_estimate(b.auc)} | "
            f"{fmt_estimate(comp.after.auc)} | {fmt_change(comp.difference)} | {verdict} | {b.cut:,} |"
        )
    fraction = next(iter(report.detection.values())).fraction
    lines += [
        "",
        f"{fraction:.0%} of the eojeols of each text (at least one) were replaced by eojeols drawn from the "
        "same text sample (never an equal one); the same corrupted texts were given to both models. An eojeol's "
        "score is the maximum of the discriminator's replaced-logit over its tokens (a replaced eojeol often "
        "keeps some original pieces; one odd piece is the evidence). The AUC pools all scored eojeols; its "
        "interval resamples texts.",
        "",
    ]
    for ex in next(iter(report.detection.values())).examples:
        lines += [f"- `{_md_escape(ex['corrupted'])}` (was: {_md_escape(ex['original'])})"]
    return lines + [""]


def _shown_path(name: str, out_dir: Path) -> str:
    """A local path relative to the report's folder (the report moves with its folder, and an absolute path
    of someone's machine reads as noise); hub ids and names that are not local files stay as given."""
    path = Path(str(name)).expanduser()
    if not path.exists():
        return str(name)
    return os.path.relpath(path.resolve(), Path(out_dir).resolve())


def _settings_text(config: dict, prefix: str = "") -> str:
    """Settings as key=value, nested ones flattened as suite.seeds=3 (report.md showed a Python dict repr)."""
    parts = []
    for key, value in config.items():
        if isinstance(value, dict):
            parts.append(_settings_text(value, f"{prefix}{key}."))
        elif value not in (None, [], {}):
            parts.append(f"{prefix}{key}={value}")
    return ", ".join(p for p in parts if p)


def _filled_terms_section(report: Report) -> list[str]:
    """The filled terms, most emitted first, and how many were never emitted."""
    if not report.filled_terms:
        return []
    lines: list[str] = []
    lines += [
        f"## Filled terms ({len(report.filled_terms)} slots, from {report.filled_source})",
        "",
        "| term | kind | slot | emitted in domain text | emitted in general text | score |",
        "|---|---|---|---|---|---|",
    ]
    top = report.config.get("top_terms", 20)
    for t in report.filled_terms[:top]:
        lines.append(
            f"| {_md_escape(t['term'])} | {t.get('kind', '')} | {t['slot_id']} | {t['emitted_domain']:,} | "
            f"{t['emitted_general']:,} | {fmt_number(t.get('score'))} |"
        )
    never = sum(1 for t in report.filled_terms if not t["emitted_domain"] and not t["emitted_general"])
    if never:
        lines.append("")
        lines.append(f"{never} filled term(s) were never emitted on the evaluation text.")
    lines.append("")
    return lines


def _examples_section(report: Report) -> list[str]:
    """Example sentences tokenized before and after."""
    if not report.examples:
        return []
    lines: list[str] = []
    lines += ["## Example sentences", ""]
    for ex in report.examples:
        lines += [
            f"**{_md_escape(ex['text'])}**",
            "",
            f"- before ({len(ex['before'])} tokens): `{' '.join(ex['before'])}`",
            f"- after ({len(ex['after'])} tokens): `{' '.join(ex['after'])}`",
            "",
        ]
    return lines


def _probes_section(report: Report) -> list[str]:
    """The downstream probes' table."""
    if not report.probes:
        return []
    lines: list[str] = []
    lines += [
        "## Downstream probes",
        "",
        "| task | method | train | test | majority | accuracy before | accuracy after | "
        "macro-F1 before | macro-F1 after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report.probes:
        lines.append(
            f"| {p.task} | {p.method} | {p.n_train:,} | {p.n_test:,} | {fmt_number(p.majority_accuracy)} | "
            f"{fmt_estimate(p.before['accuracy'])} | {fmt_estimate(p.after['accuracy'])} | "
            f"{fmt_estimate(p.before['macro_f1'])} | {fmt_estimate(p.after['macro_f1'])} |"
        )
    lines.append("")
    return lines


def render_markdown(report: Report) -> str:
    d = report.measured["domain"]
    out = report.out_dir
    lines = [
        "# domainlm evaluation report",
        "",
        "Paths are relative to this report's folder.",
        "",
        f"- before: `{_shown_path(report.before, out)}`",
        f"- after: `{_shown_path(report.after, out)}`",
        f"- domain text: `{_shown_path(d.source, out)}` ({d.before.n_texts:,} texts scored of {d.texts_read:,} read)",
    ]
    if "general" in report.measured:
        g = report.measured["general"]
        scored = f"{g.before.n_texts:,} texts scored of {g.texts_read:,} read"
        lines.append(f"- general text: `{_shown_path(g.source, out)}` ({scored})")
    lines += [f"- created: {report.created}; schema `{SCHEMA}`", ""]
    lines += ["## Summary", ""] + [f"- {s}" for s in headline(report)] + [""]
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- ⚠ {w}" for w in report.warnings] + [""]
    lines += [
        "## Before and after",
        "",
        summary_markdown(report),
        "",
        (_BPC_NOTE if report.bpc else _DETECTION_NOTE)
        + "Intervals are 95% bootstrap intervals; changes use a paired bootstrap over the same texts or test "
        "examples, and a change whose interval contains 0 is reported as *within noise*.",
        "",
    ]
    if report.detection:
        lines += _detection_markdown(report)
    charts = [(k, v) for k, v in report.files.items() if v.endswith(".png")]
    if charts:
        lines += ["## Charts", ""] + [f"![{k}]({Path(v).name})" for k, v in charts] + [""]
    lines += _filled_terms_section(report) + _examples_section(report) + _probes_section(report)
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    lines += [
        "## Run",
        "",
        f"Seconds: {timing}.",
        "",
        "Settings: `" + _settings_text({k: v for k, v in report.config.items() if k != "tasks"}) + "`",
        "",
    ]
    return "\n".join(lines)
