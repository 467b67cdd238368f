"""Is a filled term ever emitted? WordPiece is greedy longest-match from the left, so a term in the
vocab can still never come out: "분크림" loses to "수분" + "##크림" inside "수분크림", a continuation
"##크림" never starts a word. The only honest test is to tokenize text where the term occurs.

Contexts, best first: texts given by the caller that contain the term; the term's own example
sentence; the term alone (a continuation behind a few common one-syllable word starts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from vocab_tools.manifest import SlotEntry

MAX_CONTEXT_TEXTS = 50_000
MAX_CONTEXTS_PER_TERM = 20
_WORD_STARTS = ("가", "이", "하", "나", "고", "사", "수", "마", "a", "1")


@dataclass
class Reach:
    term: str
    emitted: int  # how often the slot id came out of the contexts
    contexts: int  # texts the term occurs in (contexts) or was tested in (example, alone)
    method: str  # "contexts", "example" or "alone"

    @property
    def reachable(self) -> bool:
        return self.emitted > 0

    def to_dict(self) -> dict:
        return {"term": self.term, "emitted": self.emitted, "contexts": self.contexts, "method": self.method}


def _count_ids(tokenizer: Tokenizer, texts: Sequence[str], wanted: set[int], batch: int = 1024) -> dict[int, int]:
    counts = {i: 0 for i in wanted}
    for start in range(0, len(texts), batch):
        for enc in tokenizer.encode_batch(list(texts[start : start + batch]), add_special_tokens=False):
            for i in enc.ids:
                if i in counts:
                    counts[i] += 1
    return counts


def _alone_texts(entry: SlotEntry, vocab: Mapping[str, int]) -> list[str]:
    surface = entry.term[2:] if entry.kind == "continuation" else entry.term
    if entry.kind != "continuation":
        return [surface]
    return [start + surface for start in _WORD_STARTS if start in vocab][:5] or [f"가{surface}"]


def check_reachability(
    tokenizer: Tokenizer,
    entries: Sequence[SlotEntry],
    *,
    contexts: Iterable[str] | Mapping[str, Sequence[str]] | None = None,
    examples: Mapping[str, str] | None = None,
) -> list[Reach]:
    """One `Reach` per entry, in order; `tokenizer` must already hold the filled vocab."""
    vocab = tokenizer.get_vocab(with_added_tokens=False)
    examples = examples or {}
    result: dict[int, Reach] = {}
    pending = list(entries)

    if contexts is not None and pending:
        if isinstance(contexts, Mapping):
            for e in pending:
                found = [t for t in contexts.get(e.term, ()) if t][:MAX_CONTEXTS_PER_TERM]
                if found:
                    result[e.slot_id] = Reach(
                        e.term, _count_ids(tokenizer, found, {e.slot_id})[e.slot_id], len(found), "contexts"
                    )
        else:
            texts = []
            for t in contexts:
                if t:
                    texts.append(t)
                if len(texts) >= MAX_CONTEXT_TEXTS:
                    break
            # Every context text is tokenized once with all terms at stake: a term counts as
            # unreachable only if it occurs somewhere and is emitted nowhere.
            emitted = _count_ids(tokenizer, texts, {e.slot_id for e in pending})
            occurs = _occurrences(pending, texts, tokenizer)
            for e in pending:
                if occurs[e.slot_id] or emitted[e.slot_id]:
                    result[e.slot_id] = Reach(e.term, emitted[e.slot_id], occurs[e.slot_id], "contexts")
        pending = [e for e in pending if e.slot_id not in result]

    for e in pending:
        texts = [examples[e.term]] if examples.get(e.term) else []
        method = "example" if texts else "alone"
        n = _count_ids(tokenizer, texts, {e.slot_id})[e.slot_id] if texts else 0
        if n == 0:  # an example that does not contain the term (or none) says nothing: test it alone
            texts = _alone_texts(e, vocab)
            n = _count_ids(tokenizer, texts, {e.slot_id})[e.slot_id]
            method = "alone"
        result[e.slot_id] = Reach(e.term, n, len(texts), method)
    return [result[e.slot_id] for e in entries]


def _words(tokenizer: Tokenizer, text: str) -> list[str]:
    """The words WordPiece sees: normalised, then split by the pre-tokenizer (punctuation apart)."""
    if tokenizer.normalizer is not None:
        text = tokenizer.normalizer.normalize_str(text)
    if tokenizer.pre_tokenizer is None:
        return text.split()
    return [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def _occurrences(entries: Sequence[SlotEntry], texts: Sequence[str], tokenizer: Tokenizer) -> dict[int, int]:
    """How many texts hold each term where it could be emitted: a word term at the start of a word,
    a continuation term inside one."""
    found: dict[int, int] = {e.slot_id: 0 for e in entries}
    # Index eojeols once, so 2,000 terms × 50,000 texts is one pass over the text, not 2,000.
    word_terms: dict[str, int] = {}
    cont_terms: dict[str, int] = {}
    for e in entries:
        (cont_terms if e.kind == "continuation" else word_terms)[e.term[2:] if e.kind == "continuation" else e.term] = (
            e.slot_id
        )
    max_len = max((len(s) for s in (*word_terms, *cont_terms)), default=0)
    for text in texts:
        hits: set[int] = set()
        for eojeol in _words(tokenizer, text):
            for length in range(1, min(max_len, len(eojeol)) + 1):
                sid = word_terms.get(eojeol[:length])
                if sid is not None:
                    hits.add(sid)
            if cont_terms:
                for start in range(1, len(eojeol)):
                    for length in range(1, min(max_len, len(eojeol) - start) + 1):
                        sid = cont_terms.get(eojeol[start : start + length])
                        if sid is not None:
                            hits.add(sid)
        for sid in hits:
            found[sid] += 1
    return found


__all__ = ["check_reachability", "Reach"]
