"""Did adaptation help? `adapt --check-task TASK`: the base and the adapted model fine-tuned on one
task with the same seeds and examples, the paired verdict, and what to try when it is "worse".

The verdict goes into the adapted model's card (its fine-tuning section) and the run's output.
Adaptation can make a model worse (benchmarks/adaptation_benchmark.py measured it: a 2,000-slot fill
on a short budget fine-tuned 2.6 points below plain continued pretraining), so every adapted model
can say whether it helped, on the task that matters to its user.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.errors import ModelError
from domainlm.finetune.loop import FinetuneSettings


@dataclass
class AdaptationCheck:
    task: str
    metric: str
    base: dict  # mean, low, high over seeds
    adapted: dict
    difference: dict  # adapted − base, paired 95% interval
    verdict: str  # better | within noise | worse
    out_dir: Path
    seeds: list[int]
    advice: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        d = self.difference
        head = (
            f"{self.task} ({self.metric}): adapted {100 * self.adapted['mean']:.2f} vs base "
            f"{100 * self.base['mean']:.2f}, "
            f"{100 * d['value']:+.2f} [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] over seeds "
            f"{', '.join(map(str, self.seeds))}: {self.verdict}"
        )
        return [("warning: " if self.verdict == "worse" else "") + head] + self.advice


REREAD_PASSES = 5  # domain-text passes from which re-reading is named as a likely cause


def likely_causes(verdict: str, settings: dict | None) -> list[str]:
    """What the adaptation benchmark found behind a worse (or no) gain, for this run's settings."""
    if verdict == "better":
        return []
    settings = settings or {}
    plan = settings.get("slot_plan") or {}
    train = settings.get("train") or {}
    out = []
    if plan.get("under_threshold"):
        out.append(
            f"likely cause: {len(plan['under_threshold']):,} of the {plan.get('chosen', 0):,} filled terms are a "
            f"masked target fewer than {plan.get('threshold', 40):g} times in this training: too many slots for "
            "the budget. Use --slots auto, or train longer (--max-steps)."
        )
    elif settings.get("slots_filled"):
        out.append(
            f"likely cause: the {settings['slots_filled']:,} new tokens replace pieces the base had learned and "
            "are not yet as good; fewer slots (--slots 250) or a longer training make them pay."
        )
    passes = (settings.get("domain_reading") or {}).get("passes")
    if passes is not None and passes >= REREAD_PASSES:
        out.append(
            f"likely cause: the training read the domain text {passes:.0f} times: too little domain text for "
            "the budget (a model re-reading a small corpus learns it by heart; on news comments, 0.14M tokens "
            "read 12 and 36 times did not help and the longer run hurt). Add domain text, or lower --max-steps."
        )
    if train.get("replay_ratio", 0.2) < 0.2 or verdict == "worse":
        out.append("forgetting: general text mixed in (--replay-ratio, 0.2 by default) keeps what the base knew.")
    if verdict == "within noise":
        out.append(
            "no measurable gain: near-domain text (already in the base's pretraining) gains little "
            "(Gururangan et al. 2020); more labels or seeds narrow the interval."
        )
    return out


def check_adaptation(
    base: str | os.PathLike,
    adapted: str | os.PathLike,
    task: str,
    out_dir: str | os.PathLike,
    *,
    seeds: int | str = 5,
    data_dir: str | os.PathLike | None = None,
    settings: FinetuneSettings | None = None,
    force: bool = False,
    on_event=None,
    **overrides,
) -> AdaptationCheck:
    """Fine-tune `base` and `adapted` on `task` (same seeds and examples), write the benchmark into
    `out_dir`, the verdict into the adapted model's card, and return it with the likely causes."""
    from domainlm.card import update_model_card
    from domainlm.finetune.report import CARD_END, CARD_START, card_results, card_section
    from domainlm.finetune.run import benchmark

    result = benchmark(
        {"base": str(base), "adapted": str(adapted)},
        task,
        out_dir,
        seeds=seeds,
        data_dir=data_dir,
        settings=settings,
        force=force,
        update_card=False,
        on_event=on_event,
        **overrides,
    )
    (comparison,) = result.comparisons
    saved = Path(adapted) / "settings.json"
    run_settings = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else None
    check = AdaptationCheck(
        comparison.task,
        comparison.metric,
        result.results[("base", comparison.task)].summary,
        result.results[("adapted", comparison.task)].summary,
        comparison.difference,
        comparison.verdict,
        Path(out_dir),
        result.seeds,
        likely_causes(comparison.verdict, run_settings),
    )
    section = card_section(result, "adapted") + "\n\n**Did adaptation help?** " + "; ".join(check.messages()) + "."
    try:
        update_model_card(
            Path(adapted), section, markers=(CARD_START, CARD_END), results=card_results(result, "adapted")
        )
    except (OSError, ModelError):
        pass  # a read-only folder, or a card with unreadable front matter, keeps its card; the verdict is printed
    return check
