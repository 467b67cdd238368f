"""Fertility, UNK rate and slot usage of tokenizers on a corpus, and side-by-side tokenization.

Definitions (docs/DESIGN.md): fertility = tokens per eojeol (whitespace-separated unit), special
tokens excluded; UNK rate = [UNK] tokens / tokens; slot usage = share of filled slots emitted at
least once, and the tokens that came from filled slots. Texts are streamed once and encoded in
batches through the Rust tokenizer (`encode_batch`), every tokenizer on the same batch.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vocab_tools.errors import VocabError
from vocab_tools.loading import LoadedTokenizer, load_tokenizer


@dataclass
class _Tally:
    tok: LoadedTokenizer
    unk_id: int | None
    filled: dict[int, str]  # slot id -> term, from the manifest
    tokens: int = 0
    unk: int = 0
    per_slot: Counter = field(default_factory=Counter)

    def add(self, ids: Sequence[int]) -> None:
        self.tokens += len(ids)
        if self.unk_id is not None:
            self.unk += ids.count(self.unk_id)
        if self.filled:
            filled = self.filled
            self.per_slot.update(i for i in ids if i in filled)


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        if text and not text.isspace():
            batch.append(text)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _load_all(tokenizers: Mapping[str, str | os.PathLike | LoadedTokenizer]) -> dict[str, LoadedTokenizer]:
    if not tokenizers:
        raise VocabError("No tokenizer to measure.", "Pass one tokenizer, or two to compare before and after.")
    return {name: load_tokenizer(src) for name, src in tokenizers.items()}


def _filled_slots(tok: LoadedTokenizer) -> dict[int, str]:
    return {
        e.slot_id: e.term for e in tok.manifest if 0 <= e.slot_id < len(tok.vocab) and tok.vocab[e.slot_id] == e.term
    }


def measure(
    texts: Iterable[str],
    tokenizers: Mapping[str, str | os.PathLike | LoadedTokenizer],
    *,
    batch_size: int = 1000,
    top: int = 20,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Measure each tokenizer (name → path) on the same texts. The first one is the baseline of
    `compression_gain` = 1 − fertility / baseline fertility."""
    loaded = _load_all(tokenizers)
    tallies = {
        name: _Tally(tok, tok.token_to_id.get(tok.unk_token), _filled_slots(tok)) for name, tok in loaded.items()
    }
    n_texts = eojeols = characters = 0
    for batch in _batches(texts, batch_size):
        n_texts += len(batch)
        eojeols += sum(len(t.split()) for t in batch)
        characters += sum(len(t) for t in batch)
        for tally in tallies.values():
            for enc in tally.tok.tokenizer.encode_batch(batch, add_special_tokens=False):
                tally.add(enc.ids)
        if progress is not None:
            progress(n_texts)
    if n_texts == 0:
        raise VocabError(
            "No text to measure on (the corpus is empty).", "Check the corpus paths, --field and any --where filter."
        )

    report: dict = {"texts": n_texts, "eojeols": eojeols, "characters": characters, "tokenizers": {}}
    for name, t in tallies.items():
        filled = len(t.filled)
        emitted = len(t.per_slot)
        slot_tokens = sum(t.per_slot.values())
        report["tokenizers"][name] = {
            "source": t.tok.source,
            "vocab_size": len(t.tok.vocab),
            "tokens": t.tokens,
            "fertility": t.tokens / eojeols if eojeols else None,
            "tokens_per_character": t.tokens / characters if characters else None,
            # Per token, the UNK rate rises when filling shrinks the token count; per eojeol it does not.
            "unk_tokens": t.unk,
            "unk_rate": t.unk / t.tokens if t.tokens else 0.0,
            "unk_per_eojeol": t.unk / eojeols if eojeols else 0.0,
            "filled_slots": filled,
            "filled_slots_emitted": emitted,
            "slot_usage": emitted / filled if filled else None,
            "slot_tokens": slot_tokens,
            "slot_token_share": slot_tokens / t.tokens if t.tokens else 0.0,
            "top_slot_terms": [{"term": t.filled[i], "count": c} for i, c in t.per_slot.most_common(top)],
            "never_emitted": [term for i, term in sorted(t.filled.items()) if i not in t.per_slot][:top],
        }
    names = list(tallies)
    base = report["tokenizers"][names[0]]["fertility"]
    if len(names) > 1 and base:
        report["baseline"] = names[0]
        report["compression_gain"] = {n: 1 - report["tokenizers"][n]["fertility"] / base for n in names[1:]}
    report["warnings"] = unk_warnings(report)
    return report


# Above this share of [UNK] tokens, fertility stops meaning "how finely words are cut": a word the
# vocab cannot spell at all becomes ONE [UNK], which looks like perfect compression.
UNK_WARNING_RATE = 0.01


def unk_warnings(report: dict) -> list[str]:
    """Warnings for tokenizers whose [UNK] share makes fertility and compression gain misleading."""
    warnings = []
    gains = report.get("compression_gain", {})
    baseline = report.get("baseline")
    for name, m in report["tokenizers"].items():
        if m["unk_rate"] <= UNK_WARNING_RATE:
            continue
        if name in gains:
            about = f"its compression gain ({gains[name]:.1%}) is not a real gain"
        elif name == baseline and gains:
            about = "every compression gain measured against it is not a real gain"
        else:
            about = "its fertility understates how finely it cuts words"
        warnings.append(
            f"{name} emits [UNK] for {m['unk_rate']:.1%} of its tokens ({m['unk_tokens']:,} of {m['tokens']:,}; "
            f"{m['unk_per_eojeol']:.2f} per eojeol): an unknown word counts as one token, so {about}. The text is "
            "probably not what this vocab covers (another script or language, or text not normalised as the "
            "vocab expects); measure on text of the category, normalised."
        )
    return warnings


def compare(
    texts: Iterable[str], tokenizers: Mapping[str, str | os.PathLike | LoadedTokenizer], *, limit: int = 10
) -> list[dict]:
    """Tokenize up to `limit` sample texts with each tokenizer: tokens, ids, and which tokens come from filled slots."""
    loaded = _load_all(tokenizers)
    samples = [t for _, t in zip(range(limit), (t for t in texts if t and not t.isspace()))]
    if not samples:
        raise VocabError("No sample text to compare.", "Pass sentences, or a corpus with text in it.")
    rows: list[dict[str, Any]] = [{"text": s, "tokens": {}, "ids": {}, "from_slots": {}} for s in samples]
    for name, tok in loaded.items():
        filled = _filled_slots(tok)
        for row, enc in zip(rows, tok.tokenizer.encode_batch(samples, add_special_tokens=False)):
            row["tokens"][name] = list(enc.tokens)
            row["ids"][name] = list(enc.ids)
            row["from_slots"][name] = [k for k, i in enumerate(enc.ids) if i in filled]
    return rows


__all__ = ["measure", "compare"]
