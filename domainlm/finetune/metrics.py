"""Fine-tuning scores over seeds and paired model comparisons.

A comparison of two models is paired twice over: the same test examples and the same seeds. Each
resample draws seeds (with replacement) and test examples (with replacement) once and scores both
models on that draw; the verdict is "better" or "worse" only when the 95% interval of the difference
excludes 0, so two identical models are always "within noise". The metrics themselves are
`domainlm.tasks.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from domainlm.stats import Difference
from domainlm.tasks.metrics import MetricData


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
