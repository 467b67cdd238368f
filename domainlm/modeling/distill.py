"""Token Distillation: learn the input row of each filled slot from what the base computes.

The mean of a term's base pieces (`init_rows.py`) starts the new row where the embedding table
reads those pieces, but a word split into pieces is assembled by the first Transformer layers, not
stored in the table. Token Distillation (Dobler, Elliott and de Melo, ICLR 2026,
arXiv:2505.20133) instead optimises the new input rows so that the model, reading the term as ONE
token, produces the same last-layer hidden states as the base produces reading the term's ORIGINAL
pieces, in real contexts of the term.

For a bidirectional encoder every other position attends to the term, so the distillation targets
are the hidden states at all positions outside the term (aligned by character offsets between the
two tokenizations) plus, at the term's own position, the mean of the states of its pieces. Only the
new input rows are trained (the base's weights stay frozen); the output rows and the MLM decoder
bias keep the mean-of-pieces values written before (with tied embeddings the output row follows
the input row, as in the base). Terms seen in no context keep their mean init.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class DistillReport:
    terms: int  # filled rows considered
    distilled: int  # rows with at least one context (the others keep the mean init)
    contexts: int  # (term, context) pairs trained on
    steps: int
    seconds: float
    loss_first: float | None  # mean distillation loss of the first and last 10% of steps
    loss_last: float | None
    without_context: list[str] = field(default_factory=list)


@dataclass
class _Pair:
    new_ids: list[int]
    old_ids: list[int]
    new_pos: list[int]  # positions in the new sequence whose targets are
    old_groups: list[list[int]]  # the mean of these positions of the old sequence


def _encoder(model):
    """The encoder inside a masked-LM (BertModel in BertForMaskedLM, AlbertModel, ElectraModel)."""
    prefix = getattr(model, "base_model_prefix", None)
    return getattr(model, prefix, model) if prefix else model


def _align(new, old, slot_ids: set[int]) -> tuple[list[int], list[list[int]]] | None:
    """Pair each new-token position with the old positions covering the same characters.

    Returns (new positions, old position groups), or None when the tokenizations disagree on the
    text outside the filled tokens (then the context teaches nothing reliable).
    """
    old_by_span: dict[tuple[int, int], int] = {}
    for j, (s, e) in enumerate(old.offsets):
        if e > s:
            old_by_span.setdefault((s, e), j)
    new_pos, groups = [], []
    for i, (tid, (s, e)) in enumerate(zip(new.ids, new.offsets)):
        if e <= s:  # [CLS], [SEP]: the same special token on both sides
            continue
        if tid in slot_ids:
            group = [j for j, (os_, oe) in enumerate(old.offsets) if oe > os_ and os_ >= s and oe <= e]
            if not group:
                return None
        elif (s, e) in old_by_span:
            group = [old_by_span[(s, e)]]
        else:
            return None
        new_pos.append(i)
        groups.append(group)
    specials = [i for i, (s, e) in enumerate(new.offsets) if e <= s]
    old_specials = [j for j, (s, e) in enumerate(old.offsets) if e <= s]
    if len(specials) == len(old_specials):
        new_pos += specials
        groups += [[j] for j in old_specials]
    return new_pos, groups


def find_contexts(
    texts: Iterable[str],
    base_tokenizer,
    filled_tokenizer,
    slot_ids: Sequence[int],
    *,
    per_term: int = 100,
    max_len: int = 64,
    max_texts: int = 50_000,
    batch_size: int = 512,
) -> dict[int, list[_Pair]]:
    """Up to `per_term` contexts of each slot id: texts whose filled tokenization emits it."""
    wanted = set(int(s) for s in slot_ids)
    found: dict[int, list[_Pair]] = {s: [] for s in wanted}
    new_backend = filled_tokenizer.backend_tokenizer
    old_backend = base_tokenizer.backend_tokenizer
    for backend in (new_backend, old_backend):
        backend.enable_truncation(max_len)
        backend.no_padding()

    def flush(batch: list[str]) -> None:
        for text, new in zip(batch, new_backend.encode_batch(batch)):
            present = [t for t in set(new.ids) if t in wanted and len(found[t]) < per_term]
            if not present:
                continue
            old = old_backend.encode(text)
            aligned = _align(new, old, wanted)
            if aligned is None:
                continue
            for t in present:
                found[t].append(_Pair(list(new.ids), list(old.ids), *aligned))

    batch: list[str] = []
    for n, text in enumerate(texts):
        if n >= max_texts or all(len(v) >= per_term for v in found.values()):
            break
        if text and text.strip():
            batch.append(text)
        if len(batch) >= batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    for backend in (new_backend, old_backend):
        backend.no_truncation()
    return found


def _pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def _targets_and_outputs(encoder, emb_weight, rows, slot_index, pairs, pad_id, device, with_grad=True):
    """(student states at the aligned new positions, teacher targets) for one batch of pairs."""
    new_ids, new_mask = _pad([p.new_ids for p in pairs], pad_id)
    old_ids, old_mask = _pad([p.old_ids for p in pairs], pad_id)
    new_ids, new_mask, old_ids, old_mask = (t.to(device) for t in (new_ids, new_mask, old_ids, old_mask))
    with torch.no_grad():
        teacher = encoder(input_ids=old_ids, attention_mask=old_mask).last_hidden_state
    embeds = F.embedding(new_ids, emb_weight)
    is_new = slot_index[new_ids] >= 0
    if is_new.any():
        embeds = torch.where(is_new.unsqueeze(-1), rows[slot_index[new_ids].clamp(min=0)].to(embeds.dtype), embeds)
    with torch.set_grad_enabled(with_grad):
        student = encoder(inputs_embeds=embeds, attention_mask=new_mask).last_hidden_state
    outs, targets = [], []
    for b, pair in enumerate(pairs):
        outs.append(student[b, pair.new_pos])
        targets.append(torch.stack([teacher[b, g].mean(0) for g in pair.old_groups]))
    return torch.cat(outs), torch.cat(targets)


def _at_terms(pair: _Pair, slot_ids: set[int]) -> _Pair:
    keep = [k for k, i in enumerate(pair.new_pos) if pair.new_ids[i] in slot_ids]
    return _Pair(pair.new_ids, pair.old_ids, [pair.new_pos[k] for k in keep], [pair.old_groups[k] for k in keep])


def hidden_state_mismatch(
    model, entries, pairs_by_slot: dict[int, list[_Pair]], pad_id: int, batch_size: int = 16, at: str = "all"
) -> float:
    """Mean squared error between the model's last-layer states with the filled tokens and the
    base's states with the original pieces, over the given contexts (what distillation minimises).

    `at="all"`: every aligned position; `at="terms"`: only the filled tokens' own positions (the
    context positions also differ because the positions after a term shift, which no row can fix).
    """
    encoder = _encoder(model)
    emb = model.get_input_embeddings().weight.detach()
    device = emb.device
    slot_index = torch.full((emb.shape[0],), -1, dtype=torch.long, device=device)
    pairs = [p for v in pairs_by_slot.values() for p in v]
    if at == "terms":
        wanted = {int(e.slot_id) for e in entries}
        pairs = [q for q in (_at_terms(p, wanted) for p in pairs) if q.new_pos]
    if not pairs:
        return float("nan")
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            out, tgt = _targets_and_outputs(
                encoder, emb, emb, slot_index, pairs[i : i + batch_size], pad_id, device, with_grad=False
            )
            total += float(((out.float() - tgt.float()) ** 2).sum())
            count += out.numel()
    model.train(was_training)
    return total / count


def distill_rows(
    model,
    base_tokenizer,
    filled_tokenizer,
    entries,
    texts: Iterable[str],
    *,
    contexts_per_term: int = 100,
    max_len: int = 64,
    lr: float = 1e-3,
    epochs: int = 1,
    batch_size: int = 16,
    seed: int = 0,
    max_texts: int = 50_000,
    contexts: dict[int, list[_Pair]] | None = None,
) -> DistillReport:
    """Learn the input rows of `entries` (filled slots: `.slot_id`, `.term`) in place.

    Call after the mean init (`init_filled_rows`), which gives the starting point and the output
    side. `texts` are domain texts in which the terms occur (the adaptation corpus).
    """
    started = time.perf_counter()
    slot_ids = [int(e.slot_id) for e in entries]
    if contexts is None:
        contexts = find_contexts(
            texts,
            base_tokenizer,
            filled_tokenizer,
            slot_ids,
            per_term=contexts_per_term,
            max_len=max_len,
            max_texts=max_texts,
        )
    pairs = [p for s in slot_ids for p in contexts.get(s, [])]
    without = [e.term for e in entries if not contexts.get(int(e.slot_id))]
    report = DistillReport(
        terms=len(entries),
        distilled=len(entries) - len(without),
        contexts=len(pairs),
        steps=0,
        seconds=0.0,
        loss_first=None,
        loss_last=None,
        without_context=without,
    )
    if not pairs:
        report.seconds = round(time.perf_counter() - started, 2)
        return report
    trained = sorted({int(e.slot_id) for e in entries if contexts.get(int(e.slot_id))})
    losses = _learn_rows(
        model, trained, pairs, filled_tokenizer, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed
    )
    tenth = max(1, len(losses) // 10)
    report.steps = len(losses)
    report.loss_first = round(sum(losses[:tenth]) / tenth, 6)
    report.loss_last = round(sum(losses[-tenth:]) / tenth, 6)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _learn_rows(
    model,
    trained: list[int],
    pairs: list[_Pair],
    filled_tokenizer,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    """Adam on the input rows `trained` alone (every other weight frozen, no dropout), written back into
    the embedding matrix; the loss of each step."""
    encoder = _encoder(model)
    emb_param = model.get_input_embeddings().weight
    device = emb_param.device
    emb = emb_param.detach()
    slot_index = torch.full((emb.shape[0],), -1, dtype=torch.long, device=device)
    slot_index[torch.tensor(trained, device=device)] = torch.arange(len(trained), device=device)
    rows = torch.nn.Parameter(emb[trained].clone().float())
    optimizer = torch.optim.Adam([rows], lr=lr)
    pad_id = filled_tokenizer.pad_token_id if filled_tokenizer.pad_token_id is not None else 0
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in frozen:
        p.requires_grad_(False)
    was_training = model.training
    model.eval()  # no dropout: the targets are the base's deterministic states
    rng = random.Random(seed)
    losses: list[float] = []
    try:
        for _ in range(epochs):
            order = list(pairs)
            rng.shuffle(order)
            for i in range(0, len(order), batch_size):
                out, tgt = _targets_and_outputs(
                    encoder, emb, rows, slot_index, order[i : i + batch_size], pad_id, device
                )
                loss = F.mse_loss(out.float(), tgt.float())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
        with torch.no_grad():
            emb_param[torch.tensor(trained, device=device)] = rows.detach().to(emb_param.dtype)
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)
        model.train(was_training)
    return losses
