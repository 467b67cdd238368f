"""The built-in row initialisations of filled `[unusedN]` slots (mean of the pieces they replace, random).

A filled row left at its old value is noise the model has never seen (LMkor issue 6: fine-tuning
gets worse). The mean of the base pieces' embeddings starts the new token where the model already
reads that text. Continuation terms (`##크림`) are split the way WordPiece splits the inside of a
word (greedy longest match over `##` pieces), so their mean comes from continuation pieces too. The
MLM decoder bias of the row gets the mean bias of the same pieces, so the new token is neither
over- nor under-predicted at start. Writing the input embedding also writes a tied decoder.
They are registered by name in `domainlm.modeling.init_methods` (the choices of `--init`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch

PREFIX = "##"


@dataclass
class RowInit:
    slot_id: int
    term: str
    pieces: list[str]  # base pieces averaged (empty: random init)


def wordpiece(word: str, vocab: dict[str, int], continuation: bool, unk: str = "[UNK]") -> list[str]:
    """Greedy longest-match WordPiece of one word; `continuation` starts inside a word (## pieces)."""
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while end > start:
            piece = word[start:end]
            if start > 0 or continuation:
                piece = PREFIX + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def base_pieces(term: str, kind: str, base_tokenizer) -> list[str]:
    """The pieces the BASE tokenizer produces for a term (special and unknown pieces dropped)."""
    backend = base_tokenizer.backend_tokenizer
    vocab = base_tokenizer.get_vocab()
    special = set(base_tokenizer.all_special_tokens)
    unk = base_tokenizer.unk_token or "[UNK]"
    body = term[len(PREFIX) :] if term.startswith(PREFIX) else term
    if backend.normalizer is not None:
        body = backend.normalizer.normalize_str(body)
    if kind == "continuation" or term.startswith(PREFIX):
        pieces = wordpiece(body, vocab, continuation=True, unk=unk)
    else:
        pieces = backend.encode(body, add_special_tokens=False).tokens
    return [p for p in pieces if p != unk and p not in special and not p.startswith("[unused")]


def _embedding_std(weight: torch.Tensor) -> float:
    return float(weight.float().std()) or 0.02


def mean_rows(model, base_tokenizer, entries, seed: int = 0) -> list[RowInit]:
    """Each filled row (input embedding, untied output embedding, decoder bias) the mean of the rows of
    the base pieces its term replaces; terms with no usable piece fall back to `random_rows`'s draw."""
    planned = [(e, base_pieces(e.term, getattr(e, "kind", "word"), base_tokenizer)) for e in entries]
    return write_rows(model, base_tokenizer, planned, seed)


def random_rows(model, base_tokenizer, entries, seed: int = 0) -> list[RowInit]:
    """Each filled row normal with the embedding's own std, its decoder bias the mean bias."""
    return write_rows(model, base_tokenizer, [(entry, []) for entry in entries], seed)


@torch.no_grad()
def write_rows(model, base_tokenizer, planned: list[tuple], seed: int) -> list[RowInit]:
    """Write the filled rows in place: `planned` holds (entry with `.slot_id` and `.term`, the base
    pieces to average); an entry with no usable piece gets a random row (drawn in entry order from
    one generator seeded with `seed`) and the mean decoder bias."""
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings()
    out_weight = out.weight if out is not None and out.weight is not emb else None
    bias = _decoder_bias(model)
    vocab = base_tokenizer.get_vocab()
    gen = torch.Generator().manual_seed(seed)
    std = _embedding_std(emb)
    mean_bias = float(bias.mean()) if bias is not None else 0.0
    report: list[RowInit] = []
    for entry, pieces in planned:
        sid = int(entry.slot_id)
        ids = [vocab[p] for p in pieces if p in vocab and vocab[p] < emb.shape[0]]
        if ids:
            index = torch.tensor(ids)
            emb[sid] = emb.index_select(0, index.to(emb.device)).mean(0)
            if out_weight is not None:
                out_weight[sid] = out_weight.index_select(0, index.to(out_weight.device)).mean(0)
            if bias is not None:
                bias[sid] = bias.index_select(0, index.to(bias.device)).mean()
        else:
            row = torch.randn(emb.shape[1], generator=gen) * std
            emb[sid] = row.to(emb)
            if out_weight is not None:
                out_weight[sid] = (torch.randn(out_weight.shape[1], generator=gen) * _embedding_std(out_weight)).to(
                    out_weight
                )
            if bias is not None:
                bias[sid] = mean_bias
        report.append(RowInit(sid, entry.term, pieces if ids else []))
    return report


def input_embeddings(model: torch.nn.Module) -> torch.nn.Embedding:
    """The token-embedding layer of a transformers model.

    Typed in one place: through `nn.Module`, mypy reads `model.get_input_embeddings` as a tensor or a
    module (its `__getattr__`), so each call site would otherwise need its own cast.
    """
    get = cast(Callable[[], torch.nn.Embedding], model.get_input_embeddings)
    return get()


def output_embeddings(model: torch.nn.Module) -> torch.nn.Module | None:
    """The output (decoder) layer of a transformers model, or None; typed as `input_embeddings`."""
    get = cast(Callable[[], "torch.nn.Module | None"], model.get_output_embeddings)
    return get()


def _decoder_bias(model) -> torch.Tensor | None:
    """The MLM decoder's bias vector (tied to `*.predictions.bias` in BERT / ALBERT)."""
    out = model.get_output_embeddings()
    if out is not None and getattr(out, "bias", None) is not None:
        return out.bias
    for name, param in model.named_parameters():
        if name.endswith("predictions.bias") or name.endswith("lm_head.bias"):
            return param
    return None


decoder_bias = _decoder_bias
