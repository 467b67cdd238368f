"""How many new tokens a training budget can teach: `--slots auto`.

A filled slot starts as the mean of the pieces it replaces and has to be learned from the times it is
a masked target. A term that is rarely masked in the planned run stays a poor copy of its pieces,
yet it replaces those pieces wherever it occurs, and fine-tuning pays for it (the adaptation
benchmark: 2,000 slots on a short budget fine-tuned worse than plain continued pretraining, 500 were
level). So the automatic count keeps a term only if it is expected to be a masked target at least
`MIN_TARGET_EXPOSURES` times in the planned training:

    exposures(term) = share of the domain tokens that are this term (measured: a sample of the training
                      corpus tokenized with every candidate filled)
                      x planned domain tokens (steps x batch x accumulation x processes x seq_len x (1 - replay))
                      x mlm_probability (its eojeol, or the token itself, is chosen with that probability)

capped by the free slots (or, with --resize, not capped: new rows are appended). An explicit count
fills the first K terms and warns about those the budget cannot teach.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Decided by benchmarks/adaptation_benchmark.py (the slot sweep on shopping, README "Does it help?"): at
# N = 1.3M domain tokens, 100-2,000 slots all fine-tuned within noise of plain continued pretraining,
# 1,000 slots (median 16 exposures) best and 2,000 (half of them under 11) worst; 10 keeps ~1,070 terms
# there, and with them the shorter sequences (12% fewer tokens per review).
MIN_TARGET_EXPOSURES = 10.0
SAMPLE_CHARACTERS = 4_000_000  # enough text to count the frequent terms well; tokenized in a second or two


@dataclass
class SlotPlan:
    """Which terms a run fills and what the budget gives each of them."""

    mode: str  # "auto" or "fixed"
    chosen: list[str]  # the terms to fill, in rank order
    exposures: dict[str, float]  # expected masked-target count of every candidate measured
    planned_domain_tokens: int
    threshold: float
    candidates: int
    free_slots: int | None  # None: --resize (no cap by slots)
    sample_tokens: int
    under_threshold: list[str] = field(default_factory=list)  # chosen (explicit count) yet below the threshold
    trainable_without_slot: int = 0  # over the threshold but no free slot left (--resize would take them)

    @property
    def median_exposure(self) -> float | None:
        values = sorted(self.exposures[t] for t in self.chosen if t in self.exposures)
        return values[len(values) // 2] if values else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exposures"] = {t: round(self.exposures[t], 1) for t in self.chosen[:50] if t in self.exposures}
        d["median_exposure"] = self.median_exposure
        d["chosen"] = len(self.chosen)
        d["messages"] = self.messages()
        return d

    def messages(self) -> list[str]:
        """What a user should read about the fill (printed by adapt, written in the card)."""
        med = self.median_exposure
        times = "time" if med is not None and round(med) == 1 else "times"
        out = [
            f"{len(self.chosen):,} of {self.candidates:,} terms filled"
            + (" (--slots auto)" if self.mode == "auto" else "")
            + f": each new token is a masked target about {med:,.0f} {times} in the planned "
            f"{self.planned_domain_tokens:,} domain tokens (median; {self.threshold:g} needed to learn it)"
            if med is not None
            else f"no term filled: none would be a masked target {self.threshold:g} times in "
            f"the planned {self.planned_domain_tokens:,} domain tokens"
        ]
        if self.under_threshold:
            out.append(
                f"warning: {len(self.under_threshold):,} of the {len(self.chosen):,} terms asked for would be a "
                f"masked target fewer than {self.threshold:g} times ({', '.join(self.under_threshold[:5])}"
                f"{' …' if len(self.under_threshold) > 5 else ''}): more slots than this budget can train. "
                "Use --slots auto, or train longer (--max-steps)."
            )
        if self.trainable_without_slot:
            out.append(
                f"the budget could train {self.trainable_without_slot:,} more terms than there are free slots: "
                "--resize appends rows for them"
            )
        return out


def planned_domain_tokens(config, world_size: int = 1) -> int:
    """Domain tokens the run will read: every step's sequences less the replayed general ones."""
    return int(
        config.max_steps
        * config.batch_size
        * config.grad_accum
        * world_size
        * config.seq_len
        * (1.0 - config.replay_ratio)
    )


def term_counts(
    tokenizer_json: str | Path,
    slot_terms: dict[int, str],
    texts: Iterable[str],
    max_characters: int = SAMPLE_CHARACTERS,
    batch: int = 2000,
) -> tuple[dict[str, int], int]:
    """(occurrences of each filled term, tokens) in a sample of `texts` tokenized by the filled tokenizer."""
    import numpy as np
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    ids = np.fromiter(slot_terms, dtype=np.int64)
    counts = np.zeros(len(ids), dtype=np.int64)
    total, chars = 0, 0
    chunk: list[str] = []

    def flush():
        nonlocal total
        flat = np.fromiter(
            (i for enc in tok.encode_batch(chunk, add_special_tokens=False) for i in enc.ids), dtype=np.int64
        )
        total += flat.size
        hits = flat[np.isin(flat, ids)]
        if hits.size:
            uniq, n = np.unique(hits, return_counts=True)
            counts[np.searchsorted(ids, uniq)] += n
        chunk.clear()

    order = np.argsort(ids)
    ids = ids[order]
    for text in texts:
        chunk.append(text)
        chars += len(text)
        if len(chunk) >= batch:
            flush()
        if chars >= max_characters:
            break
    if chunk:
        flush()
    terms = [list(slot_terms.values())[i] for i in order]
    return {t: int(c) for t, c in zip(terms, counts)}, total


def plan_slots(
    ranked_terms: list[str],
    counts: dict[str, int],
    sample_tokens: int,
    *,
    domain_tokens: int,
    mlm_probability: float,
    slots: int | str,
    free_slots: int | None,
    threshold: float = MIN_TARGET_EXPOSURES,
) -> SlotPlan:
    """Choose the terms to fill (see the module doc). `ranked_terms` best first; `counts` their
    occurrences in `sample_tokens` tokens of training text; `free_slots` None when rows can be appended."""
    rate = domain_tokens * mlm_probability / max(sample_tokens, 1)
    exposures = {t: counts.get(t, 0) * rate for t in ranked_terms}
    capacity = len(ranked_terms) if free_slots is None else free_slots
    if slots == "auto":
        trainable = [t for t in ranked_terms if exposures[t] >= threshold]
        chosen = trainable[:capacity]
        return SlotPlan(
            "auto",
            chosen,
            exposures,
            domain_tokens,
            threshold,
            len(ranked_terms),
            free_slots,
            sample_tokens,
            trainable_without_slot=len(trainable) - len(chosen),
        )
    chosen = ranked_terms[: int(slots)] if slots != "all" else list(ranked_terms)
    return SlotPlan(
        "fixed",
        chosen,
        exposures,
        domain_tokens,
        threshold,
        len(ranked_terms),
        free_slots,
        sample_tokens,
        under_threshold=[t for t in chosen if exposures[t] < threshold],
    )
