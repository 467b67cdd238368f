"""The scores of tasks: one registry of metrics (name, label, hub name, how a resample is scored).

Each metric is computed from a per-example representation that resamples cheaply, so a paired
bootstrap of 1,000 resamples costs milliseconds even for entity F1: a sentence contributes its
(true positives, predicted entities, gold entities) counts, which sum to exactly what seqeval's
micro entity F1 computes over the whole set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from domainlm.stats import accuracy_rows, macro_f1_rows


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (x * y).sum(-1) / np.where(den > 0, den, 1), np.nan)


def _spearman_rows(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return _pearson_rows(rankdata(gold, axis=-1), rankdata(pred, axis=-1))


def _entity_f1_rows(counts: np.ndarray) -> np.ndarray:
    """Micro entity F1 of each row of (R, n, 3) per-sentence counts summed over n."""
    c = counts.sum(axis=1)
    den = c[:, 1] + c[:, 2]
    return np.where(den > 0, 2 * c[:, 0] / np.maximum(den, 1), 0.0)


@dataclass(frozen=True)
class Metric:
    """One score a task reports. `rows(data, idx)` scores each row of an (R, n) index matrix."""

    name: str
    label: str  # as printed in tables
    hub: tuple[str, dict | None]  # huggingface_hub EvalResult metric_type and metric_args
    rows: Callable[[MetricData, np.ndarray], np.ndarray]
    continuous: bool = False  # gold and predictions are scores (float), not class ids


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "acc", ("accuracy", None), lambda d, idx: accuracy_rows(d.gold[idx], d.pred[idx])),
        Metric(
            "macro_f1",
            "macro-F1",
            ("f1", {"average": "macro"}),
            lambda d, idx: macro_f1_rows(d.gold[idx], d.pred[idx], d.classes),
        ),
        Metric(
            "spearman",
            "Spearman",
            ("spearmanr", None),
            lambda d, idx: _spearman_rows(d.gold[idx], d.pred[idx]),
            continuous=True,
        ),
        Metric(
            "pearson",
            "Pearson",
            ("pearsonr", None),
            lambda d, idx: _pearson_rows(d.gold[idx], d.pred[idx]),
            continuous=True,
        ),
        # entity-level (seqeval); the metric name says so
        Metric("entity_f1", "entity F1", ("f1", None), lambda d, idx: _entity_f1_rows(d.counts[idx])),
    )
}
METRIC_LABELS = {name: m.label for name, m in METRICS.items()}


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


class MetricData:
    """Gold and predictions of one task in a form every resample can be scored from."""

    gold: np.ndarray
    pred: np.ndarray
    classes: np.ndarray
    counts: np.ndarray  # entity_f1: per-sentence (correct, predicted, gold) entity counts

    def __init__(self, metric: str, gold, pred, classes: Sequence[int] | None = None):
        if metric not in METRICS:
            raise ValueError(metric)
        self.metric = metric
        if metric == "entity_f1":
            self.counts = sentence_entity_counts(gold, pred)
        else:
            self.gold = np.asarray(gold, dtype=np.float64 if METRICS[metric].continuous else np.int64)
            self.pred = np.asarray(pred, dtype=self.gold.dtype)
            # Every resample averages macro-F1 over the same classes: those of the full test set.
            self.classes = np.union1d(self.gold, self.pred) if classes is None else np.asarray(classes)

    def __len__(self) -> int:
        return len(self.counts) if self.metric == "entity_f1" else len(self.gold)

    def score(self, idx: np.ndarray | None = None) -> np.ndarray | float:
        """The metric on rows `idx` (an (R, n) index matrix → R values), or on everything."""
        single = idx is None
        if idx is None:
            idx = np.arange(len(self))[None, :]
        out = METRICS[self.metric].rows(self, idx)
        return float(out[0]) if single else out


def compute(metric: str, gold, pred) -> float:
    return float(MetricData(metric, gold, pred).score())
