"""Replaced-word detection AUC: the language-modelling number of ELECTRA discriminators.

A discriminator has no MLM head, so MW-BPC does not apply. Definition (docs/DESIGN.md): replace a
fixed, seeded share of the eojeols of each text by eojeols drawn from the evaluated sample, let the
discriminator score every eojeol of the corrupted text, and measure how well the scores separate
replaced from original eojeols (ROC-AUC).

Choices, and why:

- The plan (which eojeols, replaced by what) depends only on the seed and the normalised texts,
  never on a tokenizer: the base vocab and the filled vocab are scored on the same corrupted words.
  Which eojeols are replaced is `mwbpc.choose_masked` (seeded by the text itself, so a text's plan
  does not depend on what else is evaluated or in what order).
- Replacements are drawn from all eojeol occurrences of the sample (frequency-weighted, like a
  unigram generator: frequent words come up often and are plausible in many places), never an
  eojeol equal to the original up to case (a tokenizer that lowercases would see no change).
- An eojeol's score is the MAX of the discriminator's replaced-logit over its tokens. A replaced
  eojeol often shares pieces with the original (맛있어요 for 맛있어), and those pieces rightly look
  original; one odd piece is the evidence. The mean would dilute it by the eojeol's fertility,
  which is exactly what differs between the base and the filled vocabulary. Logits, not
  probabilities: AUC only needs the order, and sigmoid saturation would create false ties.
- AUC is pooled over all scored eojeols; its bootstrap interval resamples TEXTS (the eojeols of one
  text share a context and are not independent), and the before/after difference is paired.
- A text longer than `max_seq_len` tokens is cut at an eojeol boundary (the eojeol-to-token map is
  the Rust tokenizer's word alignment, see `encode.py`); the cut is the shortest of the models
  compared, so both score the same eojeols in the same context words.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from domainlm.errors import EvaluationError, ModelError
from domainlm.evaluation.encode import Side
from domainlm.evaluation.mwbpc import choose_masked, length_batches
from domainlm.progress import progress_bar
from domainlm.stats import (
    Difference,
    Estimate,
    bootstrap_estimate,
    grouped_auc,
    paired_bootstrap_difference,
    tie_groups,
)

GENERATOR_HINT = (
    "This is the generator; pass the discriminator (the ElectraForPreTraining folder that was trained with it)."
)
SCORE_RULE = "max of the discriminator's replaced-logit over the eojeol's tokens"

# Rejection draws before falling back to a draw among the distinct other eojeols (a pool made of
# one frequent eojeol would otherwise loop for long).
_DRAWS = 32


@dataclass
class ReplacementPlan:
    """The corrupted texts, shared by every model compared."""

    originals: list[list[str]]  # eojeols of each planned text
    eojeols: list[list[str]]  # the same texts with the replaced eojeols swapped in
    replaced: list[list[int]]  # replaced eojeol indices of each text, sorted
    seed: int
    fraction: float
    skipped: int = 0  # texts without any eojeol

    def __len__(self) -> int:
        return len(self.eojeols)

    @property
    def texts(self) -> list[str]:
        return [" ".join(e) for e in self.eojeols]


def _draw(rng: random.Random, pool: list[str], original: str, distinct: list[str]) -> str | None:
    folded = original.casefold()
    for _ in range(_DRAWS):
        candidate = pool[rng.randrange(len(pool))]
        if candidate.casefold() != folded:
            return candidate
    others = [e for e in distinct if e.casefold() != folded]
    return rng.choice(others) if others else None


def plan_replacements(texts: Sequence[str], seed: int = 13, fraction: float = 0.15) -> ReplacementPlan:
    """Replace `fraction` of the eojeols of each text (at least one) by eojeols of the whole sample.

    `texts` are normalised already; eojeols are their whitespace units. The pool is sorted so that
    the plan of a text does not depend on the order of the texts.
    """
    if not 0 < fraction < 1:
        raise EvaluationError(
            f"The replaced share must be between 0 and 1, not {fraction}.", "Set eval.replace_fraction to e.g. 0.15."
        )
    lists = [t.split() for t in texts]
    pool = sorted(e for words in lists for e in words)
    distinct = sorted(set(pool))
    plan = ReplacementPlan([], [], [], seed=seed, fraction=fraction)
    for text, words in zip(texts, lists):
        if not words:
            plan.skipped += 1
            continue
        # Its own stream, apart from choose_masked's: the draws must not shift which eojeols are chosen.
        rng = random.Random(f"{seed}\x00replace\x00{text}")
        corrupted, replaced = list(words), []
        for j in choose_masked(len(words), text, seed=seed, mask_fraction=fraction):
            new = _draw(rng, pool, words[j], distinct)
            if new is not None:
                corrupted[j] = new
                replaced.append(j)
        plan.originals.append(words)
        plan.eojeols.append(corrupted)
        plan.replaced.append(replaced)
    return plan


def shared_cut(plan: ReplacementPlan, sides: Sequence[Side], max_seq_len: int) -> tuple[list[int], list[list[bool]]]:
    """Per text: how many leading eojeols every side can score, and which of them every side can score
    at all (an eojeol some tokenizer emits no token for has no score there)."""
    encodings = [side.encode(plan.eojeols) for side in sides]
    keep, scorable = [], []
    for i, words in enumerate(plan.eojeols):
        n = len(words)
        keep.append(min(enc[i].eojeols_within(n, max_seq_len) for enc in encodings))
        counts = [enc[i].tokens_per_eojeol(n) for enc in encodings]
        scorable.append([all(c[j] > 0 for c in counts) for j in range(n)])
    return keep, scorable


@dataclass
class DetectionResult:
    """One model's scores of every scored eojeol, with labels, and the AUC over texts."""

    auc: Estimate
    scores: np.ndarray = field(repr=False)  # per scored eojeol: max replaced-logit over its tokens
    labels: np.ndarray = field(repr=False)  # 1 where the eojeol was replaced
    text: np.ndarray = field(repr=False)  # index of its text among the scored texts
    tokens: int = 0  # tokens the model scored (special tokens excluded)
    skipped: int = 0  # texts with no eojeol to score (empty, or too long for one window)
    cut: int = 0  # texts cut to fit max_seq_len

    @property
    def n_texts(self) -> int:
        return self.auc.n

    def to_dict(self) -> dict:
        replaced = self.labels == 1
        return {
            "auc": self.auc.to_dict(),
            "texts": self.n_texts,
            "eojeols": int(len(self.labels)),
            "replaced_eojeols": int(replaced.sum()),
            "tokens": self.tokens,
            "mean_score_replaced": float(self.scores[replaced].mean()) if replaced.any() else None,
            "mean_score_original": float(self.scores[~replaced].mean()) if (~replaced).any() else None,
            "skipped_texts": self.skipped,
            "cut_texts": self.cut,
            "score": SCORE_RULE,
        }


def _auc_of(scores: np.ndarray, labels: np.ndarray, text: np.ndarray):
    """AUC as a function of per-text bootstrap weights (the ranking is sorted once)."""
    groups, n_groups = tie_groups(scores)
    return lambda text_weights: grouped_auc(groups, n_groups, labels, text_weights[text])


def _layout(side: Side, plan: ReplacementPlan, keep: Sequence[int], scorable: Sequence[Sequence[bool]]):
    """Token ids of each scored text and, per token, the slot of its eojeol among all scored eojeols (-1: none)."""
    seqs: list[list[int]] = []
    owners: list[list[int]] = []
    labels: list[int] = []
    text: list[int] = []
    for i, enc in enumerate(side.encode(plan.eojeols)):
        k = keep[i]
        slots = [j for j in range(k) if scorable[i][j]]
        if not slots:
            continue
        enc = enc.cut(k) if k < len(plan.eojeols[i]) else enc
        slot_of = {j: len(labels) + r for r, j in enumerate(slots)}
        chosen = set(plan.replaced[i])
        labels += [1 if j in chosen else 0 for j in slots]
        text += [len(seqs)] * len(slots)
        seqs.append(enc.ids)
        owners.append([slot_of.get(w, -1) if w is not None else -1 for w in enc.word_ids])
    return seqs, owners, np.asarray(labels, dtype=np.int64), np.asarray(text, dtype=np.int64)


def _forward_scores(
    side: Side, seqs: list[list[int]], owners: list[list[int]], n_slots: int, batch_size: int, description: str
) -> np.ndarray:
    """Run the discriminator over the corrupted texts; each eojeol slot keeps the max logit of its tokens."""
    import torch

    pad_id = side.tokenizer.pad_token_id if side.tokenizer.pad_token_id is not None else 0
    scores = np.full(n_slots, -np.inf, dtype=np.float64)
    lengths = [len(s) for s in seqs]
    order = sorted(range(len(seqs)), key=lambda i: lengths[i])
    with torch.inference_mode(), progress_bar(description, total=len(seqs), unit="texts") as update:
        for batch in length_batches(order, lengths, batch_size, max_tokens=batch_size * 128):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            owner = torch.full((len(batch), width), -1, dtype=torch.long)
            for r, i in enumerate(batch):
                ids[r, : lengths[i]] = torch.tensor(seqs[i])
                attention[r, : lengths[i]] = 1
                owner[r, : lengths[i]] = torch.tensor(owners[i])
            with side.autocast():
                logits = side.model(input_ids=ids.to(side.device), attention_mask=attention.to(side.device)).logits
            logits = logits.float().cpu()
            at = owner >= 0
            np.maximum.at(scores, owner[at].numpy(), logits[at].double().numpy())
            update(advance=len(batch))
    return scores


def score_side(
    side: Side,
    plan: ReplacementPlan,
    keep: Sequence[int],
    scorable: Sequence[Sequence[bool]],
    *,
    batch_size: int,
    resamples: int = 1000,
    seed: int = 0,
    description: str | None = None,
) -> DetectionResult:
    """Score one discriminator on a plan cut by `shared_cut`."""
    seqs, owners, labels, text = _layout(side, plan, keep, scorable)
    scores = _forward_scores(side, seqs, owners, len(labels), batch_size, description or f"detection {side.name}")
    auc = bootstrap_estimate(_auc_of(scores, labels, text), len(seqs), resamples=resamples, seed=seed)
    tokens = sum(sum(1 for o in row if o >= 0) for row in owners)
    cut = sum(1 for k, words in zip(keep, plan.eojeols) if 0 < k < len(words))
    return DetectionResult(
        auc, scores, labels, text, tokens=tokens, skipped=plan.skipped + len(plan) - len(seqs), cut=cut
    )


def score_detection(
    model,
    tokenizer,
    plan: ReplacementPlan,
    *,
    batch_size: int = 32,
    max_seq_len: int = 128,
    resamples: int = 1000,
    seed: int = 0,
) -> DetectionResult:
    """Replaced-word detection of one discriminator (`ElectraForPreTraining`) on a plan.

    Two models scored separately on the same plan see the same corrupted eojeols (only the length cut
    may differ); `compare_detection` cuts both alike.
    """
    device = str(next(model.parameters()).device)
    side = Side(name="model", path="", model=model, tokenizer=tokenizer, device=device)
    keep, scorable = shared_cut(plan, [side], max_seq_len)
    return score_side(side, plan, keep, scorable, batch_size=batch_size, resamples=resamples, seed=seed)


@dataclass
class DetectionComparison:
    """Detection AUC of both models on one text set (the same corrupted eojeols), and after − before."""

    name: str  # "domain" or "general"
    source: str
    texts_read: int
    before: DetectionResult
    after: DetectionResult
    difference: Difference  # after − before AUC: positive is better
    fraction: float = 0.15
    examples: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "texts_read": self.texts_read,
            "replace_fraction": self.fraction,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "difference": self.difference.to_dict(),
            "examples": self.examples,
        }


def plan_examples(plan: ReplacementPlan, limit: int = 3, max_eojeols: int = 16) -> list[dict]:
    """A few short corrupted texts for the report, the replaced eojeols marked ⟦…⟧."""
    out: list[dict[str, str]] = []
    for words, corrupted, replaced in zip(plan.originals, plan.eojeols, plan.replaced):
        if len(out) >= limit:
            break
        if replaced and len(words) <= max_eojeols:
            marked = [f"⟦{w}⟧" if j in replaced else w for j, w in enumerate(corrupted)]
            out.append({"original": " ".join(words), "corrupted": " ".join(marked)})
    return out


def compare_detection(
    before: Side,
    after: Side,
    plan: ReplacementPlan,
    *,
    batch_size: int,
    max_seq_len: int,
    resamples: int = 1000,
    seed: int = 0,
    name: str = "domain",
    source: str = "",
    texts_read: int = 0,
) -> DetectionComparison:
    """Both discriminators on the same corrupted eojeols; the paired bootstrap resamples the same texts."""
    keep, scorable = shared_cut(plan, [before, after], max_seq_len)
    kw = dict(batch_size=batch_size, resamples=resamples, seed=seed)
    b = score_side(before, plan, keep, scorable, description=f"detection before, {name} text", **kw)
    a = score_side(after, plan, keep, scorable, description=f"detection after, {name} text", **kw)
    if not len(b.labels):
        raise EvaluationError(
            f"None of the {len(plan)} {name} texts has an eojeol both tokenizers can score.",
            "Check that the text is Korean/Latin text the tokenizers cover (and eval.max_seq_len).",
        )
    diff = paired_bootstrap_difference(
        _auc_of(b.scores, b.labels, b.text),
        _auc_of(a.scores, a.labels, a.text),
        b.n_texts,
        resamples=resamples,
        seed=seed,
    )
    return DetectionComparison(
        name, source, texts_read, b, a, diff, fraction=plan.fraction, examples=plan_examples(plan)
    )


# ---------------------------------------------------------------- loading a discriminator


def is_discriminator(name_or_path: str | os.PathLike) -> bool:
    """True for an ELECTRA discriminator (modeling's `electra_role`: an ELECTRA config that does not
    name the generator class). It is evaluated by replaced-word detection, everything else by MW-BPC."""
    from domainlm.modeling.electra import electra_role

    return electra_role(name_or_path) == "discriminator"


def _check_architecture(name: str) -> None:
    from domainlm.modeling.electra import electra_role

    role = electra_role(name)
    if role == "generator":
        raise ModelError(
            f"'{name}' is an ELECTRA generator (ElectraForMaskedLM), not a discriminator: replaced-word "
            "detection scores the discriminator's replaced-token head.",
            GENERATOR_HINT,
        )
    if role is None:
        from transformers import AutoConfig

        try:
            kind = f"a {AutoConfig.from_pretrained(name, trust_remote_code=False).model_type} model"
        except Exception:  # no readable config: from_pretrained below says what is wrong with the folder
            return
        raise ModelError(
            f"'{name}' is {kind}, not an ELECTRA discriminator.",
            "Pass an ELECTRA discriminator (ElectraForPreTraining) folder; BERT and ALBERT masked-LMs "
            "are evaluated by MW-BPC when both models are masked-LMs.",
        )


def load_discriminator(name_or_path: str | os.PathLike, *, option: str = "--base"):
    """`(model, tokenizer)` of an ELECTRA discriminator, in eval mode; ModelError for anything else.

    The model is loaded as adapt loads a base (`modeling.loading.load_base`: the same checks of the
    tokenizer, the detection head and damaged files); `option` names the command-line option for the
    hint when the path does not exist (`evaluation.encode.load_side` rewrites `--base` into
    `--before` / `--after`).
    """
    from domainlm.modeling.loading import check_local_source, load_base

    name = str(name_or_path)
    check_local_source(name, option=option)
    _check_architecture(name)
    loaded = load_base(name, keep_tensors=False)
    return loaded.model.eval(), loaded.tokenizer
