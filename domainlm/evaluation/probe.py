"""Downstream probes: does the adapted encoder carry more usable signal for a labelled task?

`linear`: L2-regularised logistic regression (full-batch L-BFGS, float64, zero init, so it is
deterministic) on frozen mean-pooled last-layer features; cheap enough for CPU runs.
`finetune`: a short fine-tune of a copy of the encoder with a linear head, fixed seed and budget.
Both sides get the same examples, the same seed and the same budget; only the encoder differs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from domainlm.evaluation.encode import Side, encoder_of
from domainlm.progress import progress_bar
from domainlm.stats import Difference, Estimate, classification_estimates, paired_classification_differences
from domainlm.tasks.probe import LabelledData


def _batches_of(side: Side, texts: Sequence[str], max_seq_len: int, batch_size: int):
    """(order, list of (ids, body-mask) per text) sorted by length, cut at an eojeol boundary."""
    eojeol_lists = [t.split() for t in texts]
    encoded = side.encode(eojeol_lists)
    seqs = []
    for enc, words in zip(encoded, eojeol_lists):
        if len(enc.ids) > max_seq_len:
            budget = max_seq_len - enc.n_special
            counts = enc.tokens_per_eojeol(len(words))
            keep, total = 0, 0
            for c in counts:
                if total + c > budget:
                    break
                total += c
                keep += 1
            enc = enc.cut(max(keep, 1))
            if len(enc.ids) > max_seq_len:  # one eojeol longer than the whole window
                enc = type(enc)(
                    enc.ids[: max_seq_len - 1] + enc.ids[-1:], enc.word_ids[: max_seq_len - 1] + enc.word_ids[-1:]
                )
        seqs.append((enc.ids, [w is not None for w in enc.word_ids]))
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)], seqs


def _tensors(side: Side, seqs, batch):
    import torch

    pad = side.tokenizer.pad_token_id or 0
    width = max(len(seqs[i][0]) for i in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    body = torch.zeros((len(batch), width), dtype=torch.float32)
    for r, i in enumerate(batch):
        n = len(seqs[i][0])
        ids[r, :n] = torch.tensor(seqs[i][0])
        attention[r, :n] = 1
        body[r, :n] = torch.tensor(seqs[i][1], dtype=torch.float32)
    return ids.to(side.device), attention.to(side.device), body.to(side.device)


def _mean_pool(hidden, body):
    # Mean over the text's own tokens: [CLS]/[SEP] and padding carry no information about the text.
    weights = body / body.sum(1, keepdim=True).clamp(min=1)
    return (hidden * weights.unsqueeze(-1)).sum(1)


def features(
    side: Side, texts: Sequence[str], *, max_seq_len: int, batch_size: int, description: str = "features"
) -> np.ndarray:
    """Mean-pooled last-layer features of `texts` (frozen encoder), in input order."""
    import torch

    batches, seqs = _batches_of(side, texts, max_seq_len, batch_size)
    encoder = encoder_of(side.model)
    out = np.zeros((len(texts), side.model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode(), progress_bar(description, total=len(texts), unit="texts") as update:
        for batch in batches:
            ids, attention, body = _tensors(side, seqs, batch)
            with side.autocast():
                hidden = encoder(ids, attention)
            pooled = _mean_pool(hidden.float(), body)
            out[np.asarray(batch)] = pooled.cpu().numpy()
            update(advance=len(batch))
    return out


def logistic_regression(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    *,
    l2: float = 1e-3,
    max_iter: int = 200,
) -> np.ndarray:
    """Predicted classes of `x_test`; features standardised on the training set."""
    import torch

    mean = x_train.mean(0, keepdims=True)
    std = x_train.std(0, keepdims=True) + 1e-6
    xtr = torch.tensor((x_train - mean) / std, dtype=torch.float64)
    xte = torch.tensor((x_test - mean) / std, dtype=torch.float64)
    ytr = torch.tensor(y_train, dtype=torch.long)
    weight = torch.zeros((xtr.shape[1], n_classes), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(xtr @ weight + bias, ytr) + l2 * (weight**2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        return (xte @ weight + bias).argmax(1).numpy()


def finetune_predict(
    side: Side,
    train: LabelledData,
    test: LabelledData,
    n_classes: int,
    *,
    seed: int,
    max_seq_len: int,
    batch_size: int,
    epochs: int,
    lr: float = 3e-5,
    description: str = "fine-tune",
) -> np.ndarray:
    """Fine-tune a copy of the encoder with a linear head for a fixed budget; predict the test set."""
    import torch

    torch.manual_seed(seed)
    model = copy.deepcopy(side.model)  # the side's model is still needed unchanged by later steps
    model.train()
    encoder = encoder_of(model)
    head = torch.nn.Linear(model.config.hidden_size, n_classes).to(side.device)
    optimizer = torch.optim.AdamW(
        [{"params": model.base_model.parameters(), "lr": lr}, {"params": head.parameters(), "lr": 1e-3}],
        weight_decay=0.01,
    )
    batches, seqs = _batches_of(side, train.texts, max_seq_len, batch_size)
    labels = torch.tensor(train.labels, dtype=torch.long, device=side.device)
    rng = np.random.default_rng(seed)
    with torch.enable_grad(), progress_bar(description, total=epochs * len(batches), unit="steps") as update:
        for _ in range(epochs):
            for b in rng.permutation(len(batches)):
                batch = batches[b]
                ids, attention, body = _tensors(side, seqs, batch)
                logits = head(_mean_pool(encoder(ids, attention), body))
                loss = torch.nn.functional.cross_entropy(logits, labels[torch.tensor(batch, device=side.device)])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                update(advance=1)
    model.eval()
    batches, seqs = _batches_of(side, test.texts, max_seq_len, batch_size)
    preds = np.zeros(len(test), dtype=np.int64)
    with torch.inference_mode():
        for batch in batches:
            ids, attention, body = _tensors(side, seqs, batch)
            preds[np.asarray(batch)] = head(_mean_pool(encoder(ids, attention), body)).argmax(1).cpu().numpy()
    del model
    return preds


@dataclass
class ProbeResult:
    """One task, both sides: metrics with intervals and the paired after − before differences."""

    task: str
    classes: list[str]
    n_train: int
    n_test: int
    method: str
    before: dict[str, Estimate]
    after: dict[str, Estimate]
    difference: dict[str, Difference]
    majority_accuracy: float
    predictions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "classes": self.classes,
            "train_examples": self.n_train,
            "test_examples": self.n_test,
            "method": self.method,
            "majority_accuracy": self.majority_accuracy,
            "before": {k: v.to_dict() for k, v in self.before.items()},
            "after": {k: v.to_dict() for k, v in self.after.items()},
            "difference": {k: v.to_dict() for k, v in self.difference.items()},
        }


def run_probe(
    name: str,
    before: Side,
    after: Side,
    train: LabelledData,
    test: LabelledData,
    classes: list[str],
    *,
    method: str,
    seed: int,
    max_seq_len: int,
    batch_size: int,
    resamples: int,
    epochs: int = 1,
) -> ProbeResult:
    """Train the same probe on both encoders and compare on the same test examples."""
    n_classes = len(classes)
    predictions = {}
    for side in (before, after):
        if method == "linear":
            x_train = features(
                side,
                train.texts,
                max_seq_len=max_seq_len,
                batch_size=batch_size,
                description=f"{name}: {side.name} train features",
            )
            x_test = features(
                side,
                test.texts,
                max_seq_len=max_seq_len,
                batch_size=batch_size,
                description=f"{name}: {side.name} test features",
            )
            predictions[side.name] = logistic_regression(x_train, train.labels, x_test, n_classes)
        else:
            predictions[side.name] = finetune_predict(
                side,
                train,
                test,
                n_classes,
                seed=seed,
                max_seq_len=max_seq_len,
                batch_size=batch_size,
                epochs=epochs,
                description=f"{name}: fine-tune {side.name}",
            )
    y = test.labels
    pb, pa = predictions[before.name], predictions[after.name]
    return ProbeResult(
        task=name,
        classes=classes,
        n_train=len(train),
        n_test=len(test),
        method=method,
        before=classification_estimates(y, pb, resamples=resamples, seed=seed),
        after=classification_estimates(y, pa, resamples=resamples, seed=seed),
        difference=paired_classification_differences(y, pb, pa, resamples=resamples, seed=seed),
        majority_accuracy=float(np.bincount(y, minlength=n_classes).max() / len(y)),
        predictions={"before": pb, "after": pa},
    )
