"""The scores of the suite, their spread over seeds, and paired model comparisons.

Each metric is computed from a per-example representation that resamples cheaply, so a paired
bootstrap of 1,000 resamples costs milliseconds even for entity F1: a sentence contributes its
(true positives, predicted entities, gold entities) counts, which sum to exactly what seqeval's
micro entity F1 computes over the whole set.

A comparison of two models is paired twice over: the same test examples and the same seeds. Each
resample draws seeds (with replacement) and test examples (with replacement) once and scores both
models on that draw; the verdict is "better" or "worse" only when the 95% interval of the difference
excludes 0, so two identical models are always "within noise".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from domainlm.evaluation.stats import Difference, Estimate, accuracy_rows, macro_f1_rows

METRIC_LABELS = {
    "accuracy": "acc",
    "macro_f1": "macro-F1",
    "spearman": "Spearman",
    "pearson": "Pearson",
    "entity_f1": "entity F1",
}


# ---------------------------------------------------------------- point metrics


def accuracy(gold, pred) -> float:
    return float(accuracy_rows(np.asarray(gold), np.asarray(pred)))


def macro_f1(gold, pred) -> float:
    """Macro-F1 over the classes present in gold or predictions (scikit-learn's default)."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    return float(macro_f1_rows(gold, pred, np.union1d(gold, pred)))


def pearson(gold, pred) -> float:
    gold, pred = np.asarray(gold, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    return float(_pearson_rows(gold[None, :], pred[None, :])[0])


def spearman(gold, pred) -> float:
    from scipy.stats import rankdata

    return pearson(rankdata(gold), rankdata(pred))


def sentence_entity_counts(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> np.ndarray:
    """(n, 3) true positives, predicted and gold entities of each sentence (seqeval's entity rules)."""
    from seqeval.metrics.sequence_labeling import get_entities

    counts = np.zeros((len(gold_tags), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold_tags, pred_tags)):
        gold_set, pred_set = set(get_entities(list(g))), set(get_entities(list(p)))
        counts[i] = (len(gold_set & pred_set), len(pred_set), len(gold_set))
    return counts


def entity_f1(gold_tags, pred_tags) -> float:
    """Micro entity F1 over all sentences, as `seqeval.metrics.f1_score` (default mode) computes it."""
    c = sentence_entity_counts(gold_tags, pred_tags).sum(0)
    return float(2 * c[0] / (c[1] + c[2])) if c[1] + c[2] else 0.0


# ---------------------------------------------------------------- resampled metrics


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (x * y).sum(-1) / np.where(den > 0, den, 1), np.nan)


class MetricData:
    """Gold and predictions of one task in a form every resample can be scored from."""

    def __init__(self, metric: str, gold, pred, classes: Sequence[int] | None = None):
        self.metric = metric
        if metric == "entity_f1":
            self.counts = sentence_entity_counts(gold, pred)
        else:
            self.gold = np.asarray(gold, dtype=np.float64 if metric in ("spearman", "pearson") else np.int64)
            self.pred = np.asarray(pred, dtype=self.gold.dtype)
            # Every resample averages macro-F1 over the same classes: those of the full test set.
            self.classes = np.union1d(self.gold, self.pred) if classes is None else np.asarray(classes)

    def __len__(self) -> int:
        return len(self.counts) if self.metric == "entity_f1" else len(self.gold)

    def score(self, idx: np.ndarray | None = None) -> np.ndarray | float:
        """The metric on rows `idx` (an (R, n) index matrix → R values), or on everything."""
        single = idx is None
        if single:
            idx = np.arange(len(self))[None, :]
        if self.metric == "entity_f1":
            c = self.counts[idx].sum(axis=1)
            den = c[:, 1] + c[:, 2]
            out = np.where(den > 0, 2 * c[:, 0] / np.maximum(den, 1), 0.0)
        elif self.metric == "accuracy":
            out = accuracy_rows(self.gold[idx], self.pred[idx])
        elif self.metric == "macro_f1":
            out = macro_f1_rows(self.gold[idx], self.pred[idx], self.classes)
        elif self.metric == "pearson":
            out = _pearson_rows(self.gold[idx], self.pred[idx])
        elif self.metric == "spearman":
            from scipy.stats import rankdata

            out = _pearson_rows(rankdata(self.gold[idx], axis=-1), rankdata(self.pred[idx], axis=-1))
        else:
            raise ValueError(self.metric)
        return float(out[0]) if single else out


def compute(metric: str, gold, pred) -> float:
    return float(MetricData(metric, gold, pred).score())


# ---------------------------------------------------------------- over seeds


def seed_summary(values: Sequence[float]) -> dict:
    """Mean, standard deviation and a 95% t-interval of the mean over seeds."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    n = len(v)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    mean = float(v.mean())
    if n == 1:
        return {"mean": mean, "std": 0.0, "low": float("nan"), "high": float("nan"), "n": 1}
    from scipy.stats import t

    std = float(v.std(ddof=1))
    half = float(t.ppf(0.975, n - 1) * std / math.sqrt(n))
    return {"mean": mean, "std": std, "low": mean - half, "high": mean + half, "n": n}


def bootstrap_metric(data: MetricData, *, resamples: int = 1000, seed: int = 0) -> Estimate:
    """The metric with a 95% bootstrap interval over test examples (one seed)."""
    rng = np.random.default_rng(seed)
    samples = np.asarray(data.score(rng.integers(0, len(data), size=(resamples, len(data)))))
    samples = samples[np.isfinite(samples)]
    low, high = np.percentile(samples, [2.5, 97.5]) if samples.size else (float("nan"),) * 2
    return Estimate(float(data.score()), float(low), float(high), len(data))


def verdict_of(diff: Difference) -> str:
    if diff.low > 0:
        return "better"
    if diff.high < 0:
        return "worse"
    return "within noise"


def paired_difference(
    a: Sequence[MetricData], b: Sequence[MetricData], *, resamples: int = 1000, seed: int = 0
) -> tuple[Difference, str]:
    """Mean-over-seeds metric of b − of a, with a 95% interval resampling seeds and examples together.

    `a[i]` and `b[i]` are the same seed's test predictions on the same examples.
    """
    if len(a) != len(b) or not a:
        raise ValueError("paired seeds differ")
    n = len(a[0])
    if any(len(x) != n for x in list(a) + list(b)):
        raise ValueError("paired examples differ")
    rng = np.random.default_rng(seed)
    k = len(a)
    diffs = np.zeros(resamples)
    seed_draws = rng.integers(0, k, size=(resamples, k))
    idx = rng.integers(0, n, size=(resamples, n))
    # Score every seed on the shared example draws, then average the drawn seeds.
    score_a = np.stack([x.score(idx) for x in a], axis=1)  # (R, k)
    score_b = np.stack([x.score(idx) for x in b], axis=1)
    rows = np.arange(resamples)[:, None]
    diffs = (score_b[rows, seed_draws] - score_a[rows, seed_draws]).mean(1)
    diffs = diffs[np.isfinite(diffs)]
    value = float(np.mean([y.score() for y in b]) - np.mean([x.score() for x in a]))
    low, high = np.percentile(diffs, [2.5, 97.5]) if diffs.size else (float("nan"),) * 2
    d = Difference(value, float(low), float(high), n, significant=bool(low > 0 or high < 0))
    return d, verdict_of(d)
