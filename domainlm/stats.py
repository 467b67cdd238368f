"""Bootstrap intervals for every number of the report.

Resampling is over the natural unit of each measurement: texts for MW-BPC, fertility and UNK rate
(a ratio of sums, so texts of different length weigh by their length), texts for replaced-word
detection AUC (the eojeols of one text are not independent), test examples for probes.
Before/after differences use a PAIRED bootstrap: the same resampled indices for both sides, which
is what makes a small but consistent difference detectable and a noisy one honestly "within noise".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

# Index matrices are drawn in blocks so 1,000 resamples of 50,000 items stay within ~100 MB.
_BLOCK_ITEMS = 5_000_000


@dataclass
class Estimate:
    """A value with its 95% interval and the sample size it was measured on."""

    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Difference(Estimate):
    """after − before with a paired 95% interval; `significant` is False when the interval holds 0."""

    significant: bool = False

    @property
    def verdict(self) -> str:
        return "significant" if self.significant else "within noise"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict
        return d


def _index_blocks(n: int, resamples: int, seed: int):
    rng = np.random.default_rng(seed)
    per_block = max(1, _BLOCK_ITEMS // max(n, 1))
    done = 0
    while done < resamples:
        k = min(per_block, resamples - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def _interval(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    total = den.sum()
    return float(num.sum() / total) if total else float("nan")


def ratio_estimate(num, den, *, resamples: int = 1000, seed: int = 0) -> Estimate:
    """sum(num) / sum(den) with a bootstrap interval over items (e.g. bits / characters over texts)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    n = len(num)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    samples = np.concatenate(
        [num[idx].sum(1) / np.maximum(den[idx].sum(1), 1e-12) for idx in _index_blocks(n, resamples, seed)]
    )
    return Estimate(_ratio(num, den), *_interval(samples), n)


def paired_ratio_difference(
    num_before, den_before, num_after, den_after, *, resamples: int = 1000, seed: int = 0
) -> Difference:
    """(Σnum_after/Σden_after) − (Σnum_before/Σden_before), resampling the same items for both."""
    nb, db = np.asarray(num_before, float), np.asarray(den_before, float)
    na, da = np.asarray(num_after, float), np.asarray(den_after, float)
    n = len(nb)
    if n == 0:
        return Difference(float("nan"), float("nan"), float("nan"), 0)
    samples = np.concatenate(
        [
            na[idx].sum(1) / np.maximum(da[idx].sum(1), 1e-12) - nb[idx].sum(1) / np.maximum(db[idx].sum(1), 1e-12)
            for idx in _index_blocks(n, resamples, seed)
        ]
    )
    low, high = _interval(samples)
    value = _ratio(na, da) - _ratio(nb, db)
    return Difference(value, low, high, n, significant=bool(low > 0 or high < 0))


def _weight_rows(n: int, resamples: int, seed: int):
    """Bootstrap resamples as weights: how many times each item was drawn (the same draws as the
    index blocks above, so the same seed resamples the same items)."""
    for idx in _index_blocks(n, resamples, seed):
        for row in idx:
            yield np.bincount(row, minlength=n).astype(np.float64)


def bootstrap_estimate(
    statistic: Callable[[np.ndarray], float], n: int, *, resamples: int = 1000, seed: int = 0
) -> Estimate:
    """A statistic that is not a ratio of sums (ROC-AUC), with a bootstrap interval over `n` items.

    `statistic(weights)` computes it with item i counted `weights[i]` times; all ones is the sample.
    Items are the clusters resampled (texts), however many measurements each holds.
    """
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    samples = np.array([statistic(w) for w in _weight_rows(n, resamples, seed)])
    return Estimate(float(statistic(np.ones(n))), *_interval(samples), n)


def paired_bootstrap_difference(
    statistic_before: Callable[[np.ndarray], float],
    statistic_after: Callable[[np.ndarray], float],
    n: int,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> Difference:
    """statistic_after − statistic_before, the same resampled items (weights) for both sides."""
    if n == 0:
        return Difference(float("nan"), float("nan"), float("nan"), 0)
    samples = np.array([statistic_after(w) - statistic_before(w) for w in _weight_rows(n, resamples, seed)])
    low, high = _interval(samples)
    ones = np.ones(n)
    value = float(statistic_after(ones) - statistic_before(ones))
    return Difference(value, low, high, n, significant=bool(low > 0 or high < 0))


# ---------------------------------------------------------------- classification metrics


def tie_groups(scores) -> tuple[np.ndarray, int]:
    """The rank group of each score (equal scores share one) and the number of groups."""
    unique, groups = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    return groups.ravel(), len(unique)


def grouped_auc(groups: np.ndarray, n_groups: int, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ROC-AUC from precomputed `tie_groups`: the Mann-Whitney statistic with ties counted one half.

    AUC = P(score of a positive > score of a negative) + ½ P(equal), over weighted pairs: each group
    of equal scores adds its positives × (negatives below it + ½ negatives in it). Sorting happens
    once in `tie_groups`, so a bootstrap only re-weights (two bincounts per resample). NaN when one
    class is absent.
    """
    labels = np.asarray(labels, dtype=np.float64)
    weights = np.ones_like(labels) if weights is None else np.asarray(weights, dtype=np.float64)
    pos = np.bincount(groups, weights=weights * labels, minlength=n_groups)
    neg = np.bincount(groups, weights=weights * (1.0 - labels), minlength=n_groups)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos <= 0 or n_neg <= 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))


def roc_auc(scores, labels, weights=None) -> float:
    """Area under the ROC curve of `scores` for binary `labels` (1 = positive), ties handled."""
    groups, n_groups = tie_groups(scores)
    return grouped_auc(groups, n_groups, labels, weights)


def accuracy_rows(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Accuracy of each row of (resamples × n) label matrices."""
    return (y_true == y_pred).mean(axis=-1)


def macro_f1_rows(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Macro-F1 of each row over `classes`, the classes of the whole test set, so that every
    resample averages over the same classes."""
    f1s = []
    for c in classes:
        t = y_true == c
        p = y_pred == c
        tp = (t & p).sum(axis=-1)
        denom = t.sum(axis=-1) + p.sum(axis=-1)
        f1s.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1s, axis=0)


def _metric_fn(name: str, classes: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if name == "accuracy":
        return accuracy_rows
    if name == "macro_f1":
        return lambda t, p: macro_f1_rows(t, p, classes)
    raise ValueError(name)


def classification_estimates(y_true, y_pred, *, resamples: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    """Accuracy and macro-F1 with bootstrap intervals over test examples."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    out = {}
    for name in ("accuracy", "macro_f1"):
        fn = _metric_fn(name, classes)
        samples = np.concatenate([fn(y_true[idx], y_pred[idx]) for idx in _index_blocks(len(y_true), resamples, seed)])
        out[name] = Estimate(float(fn(y_true, y_pred)), *_interval(samples), len(y_true))
    return out


def paired_classification_differences(
    y_true, pred_before, pred_after, *, resamples: int = 1000, seed: int = 0
) -> dict[str, Difference]:
    """after − before of accuracy and macro-F1, the same test examples resampled for both."""
    y_true = np.asarray(y_true)
    pb, pa = np.asarray(pred_before), np.asarray(pred_after)
    classes = np.unique(y_true)
    out = {}
    for name in ("accuracy", "macro_f1"):
        fn = _metric_fn(name, classes)
        samples = np.concatenate(
            [fn(y_true[idx], pa[idx]) - fn(y_true[idx], pb[idx]) for idx in _index_blocks(len(y_true), resamples, seed)]
        )
        low, high = _interval(samples)
        value = float(fn(y_true, pa) - fn(y_true, pb))
        out[name] = Difference(value, low, high, len(y_true), significant=bool(low > 0 or high < 0))
    return out
