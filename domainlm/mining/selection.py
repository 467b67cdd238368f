"""Fill the slot budget by really re-tokenizing: lazy greedy over a priority queue.

Scoring each candidate once against the base vocab over-counts: with 재밌 selected, 재밌게 only
saves what 재밌 did not already save (and vice versa), and a new word-initial entry can even make
the greedy match worse for the rest of a word. So the value of a candidate is its *marginal*
tokens saved: the drop in tokens of the category words that contain it, tokenized by greedy
longest-match with the current vocab + the candidate (`WordPiece` over a mutable set).

Lazy greedy (Minoux 1978): candidates sit in a max-heap under their last known score. Pop the
top; if it was scored in the current round, its score is exact and it is selected; otherwise
re-score it and push it back. After a selection, only the words containing the selected term are
re-tokenized and stamped with the round; a re-score keeps the per-word savings of the last one
and re-tokenizes only the words stamped since, so it costs little when little changed.

The priority blends the two criteria with `specificity_weight` w:
    score = (1 - w) * log1p(saved) / log1p(S) + w * max(z, 0) / Z
S, Z: the largest initial estimate and z in the pool (so both parts lie in [0, 1]); w = 0 ranks
by tokens saved alone, w = 1 by specificity alone (a term must still save tokens to be chosen).
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from domainlm.mining.wordpiece import WordPiece

PREFIX = "##"


@dataclass
class Candidate:
    term: str  # continuation terms carry their `##`
    count: int  # occurrences in the category corpus
    ref_count: int = 0
    z: float = 0.0
    base_pieces: int = 1  # pieces of the term alone under the base vocab
    estimate: float = 0.0  # count * (base_pieces - 1): the naive, per-term value
    saved: int = 0  # marginal tokens saved when selected
    score: float = 0.0
    words: list[int] = field(default_factory=list, repr=False)  # ids of the category words containing it
    deltas: array | None = field(default=None, repr=False)  # tokens saved in each of `words`, last evaluation

    @property
    def is_continuation(self) -> bool:
        return self.term.startswith(PREFIX)

    @property
    def body(self) -> str:
        return self.term[len(PREFIX) :] if self.is_continuation else self.term


_MISSING: list[int] = []  # a sentinel compared by identity (typed as the values it stands beside; never filled)


def _prefix_index(by_key: dict[str, list[int]]) -> dict[str, list[int] | None]:
    """Every prefix of the keys -> the word list of the candidate it is, or None (only a prefix of longer ones)."""
    index: dict[str, list[int] | None] = {}
    for key in by_key:
        for k in range(1, len(key)):
            index.setdefault(key[:k], None)
    index.update(by_key)
    return index


def index_words(candidates: Sequence[Candidate], words: Sequence[str], max_chars: int) -> None:
    """Fill `Candidate.words`: every word a candidate can be used in.

    Word-initial terms: words starting with the term. Continuation terms: words containing the body
    at any position after the first character (after other selections the piece boundaries move,
    so every position counts). Scans stop at the first substring that is no candidate's prefix;
    one dict lookup answers both "a prefix?" and "a candidate?". Candidates have 2+ characters, so
    a scan at a position starts with the 2 characters there.
    """
    initial = _prefix_index({c.term: c.words for c in candidates if not c.is_continuation}).get
    cont = _prefix_index({c.body: c.words for c in candidates if c.is_continuation}).get
    for i, w in enumerate(words):
        n = len(w)
        if n < 2:
            continue
        top = n if n < max_chars else max_chars
        for end in range(2, top + 1):
            found = initial(w[:end], _MISSING)
            if found is _MISSING:
                break
            if found is not None:
                found.append(i)
        for start in range(1, n - 1):
            found = cont(w[start : start + 2], _MISSING)
            if found is _MISSING:
                continue
            end, stop = start + 2, start + max_chars
            if stop > n:
                stop = n
            while True:
                # A body found again later in the same word is listed once.
                if found is not None and (not found or found[-1] != i):
                    found.append(i)
                end += 1
                if end > stop:
                    break
                found = cont(w[start:end], _MISSING)
                if found is _MISSING:
                    break


@dataclass
class Selection:
    selected: list[Candidate]
    tokens_before: int
    tokens_after: int
    evaluations: int


def _piece_counters(
    words: Sequence[str], ends: list, wp: WordPiece
) -> tuple[Callable[[str, bool, int], tuple[int, int] | None], Callable[[str, bool, Iterable[int]], array]]:
    """(first_change, pieces_with) over the words' current piece ends (closures: see `_retokenizers`)."""
    count_from, count_word = wp.count_from, wp.count_word

    # Greedy longest-match only changes from the first piece start where a new entry is a longer
    # match than the current piece: every piece before it stays, and a word without such a start
    # is unchanged. So only the tail from there is re-tokenized, and most words containing a
    # continuation (where it does not sit on a piece start) not at all. `first_change` finds that
    # start, `pieces_with` counts with the entry added, `retokenize` updates a word after a selection.
    def first_change(body: str, continuation: bool, i: int) -> tuple[int, int] | None:
        """(pieces settled, offset where re-tokenizing resumes) of word i with `body` in the vocab;
        None if unchanged. Word i starts with body (word-initial: body becomes its first piece)
        or contains it (continuation: the pieces before the changed one stay)."""
        e = ends[i]
        if e is None:  # an [UNK] word (longer than the base allows) stays [UNK] whatever is added
            return None
        n = len(body)
        if not continuation:
            return (1, n) if n > e[0] else None
        word, start = words[i], e[0]
        for k in range(1, len(e)):
            end = e[k]
            if end - start < n and word.startswith(body, start):
                return k, start
            start = end
        return None

    def pieces_with(body: str, continuation: bool, ids) -> array:
        """Pieces of each word in `ids` once `body` is in the vocab (it is, while this runs)."""
        out = array("i")
        for i in ids:
            e = ends[i]
            if e is None:  # [UNK] or too long: no pieces to keep
                out.append(count_word(words[i]))
                continue
            at = first_change(body, continuation, i)
            if at is None:
                out.append(len(e))
            else:
                rest = count_from(words[i], at[1])
                out.append(at[0] + rest if rest >= 0 else 1)
        return out

    return first_change, pieces_with


def _retokenizers(
    words: Sequence[str], counts: Sequence[int], tokens: list[int], ends: list, wp: WordPiece
) -> tuple[Callable[[Candidate, int | None], int], Callable[[str, bool, int], None], list[int]]:
    """(marginal, retokenize, word_round): a candidate's exact saving, a word updated after a
    selection, and the round each word last changed in (`select` stamps it).

    Closures over the word lists, as in the greedy loop's hot path: a cell read costs less than an
    attribute's.
    """
    word_round = [0] * len(words)
    ends_from = wp.ends_from
    first_change, pieces_with = _piece_counters(words, ends, wp)

    def retokenize(body: str, continuation: bool, i: int) -> None:
        """Word i after `body` was selected (it is in the vocab now)."""
        e = ends[i]
        if e is None:
            e = ends[i] = wp.piece_ends(words[i])
        else:
            at = first_change(body, continuation, i)
            if at is None:
                return
            k, resume = at
            rest = ends_from(words[i], resume)
            e = ends[i] = None if rest is None else (e[:k] if continuation else [resume]) + rest
        tokens[i] = len(e) if e else 1

    def marginal(c: Candidate, last: int | None) -> int:
        # Per-word savings are kept; a re-evaluation re-tokenizes only the words stamped with a
        # later round, i.e. the words that contain a term selected since `last`.
        wp.add(c.term)
        body, continuation = c.body, c.is_continuation
        if c.deltas is None or last is None:
            c.deltas = array("i", [tokens[i] - p for i, p in zip(c.words, pieces_with(body, continuation, c.words))])
            saved = sum(counts[i] * d for i, d in zip(c.words, c.deltas))
        else:
            saved, deltas = c.saved, c.deltas
            stale = [j for j, i in enumerate(c.words) if word_round[i] > last]
            for j, p in zip(stale, pieces_with(body, continuation, [c.words[j] for j in stale])):
                i = c.words[j]
                d = tokens[i] - p
                if d != deltas[j]:
                    saved += counts[i] * (d - deltas[j])
                    deltas[j] = d
        wp.discard(c.term)
        return saved

    return marginal, retokenize, word_round


def select(
    candidates: list[Candidate],
    words: Sequence[str],
    counts: Sequence[int],
    tokens: list[int],
    wp: WordPiece,
    slots: int,
    specificity_weight: float = 0.5,
    on_select: Callable[[int], None] | None = None,
    ends: list[list[int] | None] | None = None,
) -> Selection:
    """Choose up to `slots` candidates by lazy greedy (see module doc).

    `tokens[i]` is the current piece count of `words[i]` and `ends[i]` its piece end offsets
    (`WordPiece.piece_ends`; computed here when not given), both updated in place; `wp` the base
    vocab (terms are added to it as they are selected). Candidates need `words` filled (`index_words`).
    """
    w = specificity_weight
    tokens_before = sum(c * t for c, t in zip(counts, tokens))
    pool = [c for c in candidates if c.words and c.estimate > 0]
    if not pool:
        return Selection([], tokens_before, tokens_before, 0)
    if ends is None:
        ends = [wp.piece_ends(word) for word in words]
    log_s = math.log1p(max(c.estimate for c in pool))
    z_max = max(max(c.z for c in pool), 1e-9)

    def priority(saved: float, z: float) -> float:
        return (1.0 - w) * math.log1p(max(saved, 0.0)) / log_s + w * max(z, 0.0) / z_max

    marginal, retokenize, word_round = _retokenizers(words, counts, tokens, ends, wp)
    scored_round: dict[int, int] = {}  # candidate id -> round of its exact score; absent: estimate only
    heap = [(-priority(c.estimate, c.z), k) for k, c in enumerate(pool)]
    heapq.heapify(heap)
    selected: list[Candidate] = []
    evaluations = 0
    while heap and len(selected) < slots:
        _, k = heapq.heappop(heap)
        c = pool[k]
        rnd = len(selected)
        last = scored_round.get(k)
        if last is None or last < rnd:
            c.saved = marginal(c, last)
            evaluations += 1
            scored_round[k] = rnd
            if c.saved > 0:
                heapq.heappush(heap, (-priority(c.saved, c.z), k))
            continue
        # Exact and still on top: select it and re-tokenize the words it touches.
        c.score = priority(c.saved, c.z)
        wp.add(c.term)
        body, continuation = c.body, c.is_continuation
        for i in c.words:
            # Every word containing the term is stamped, changed or not: a later candidate may
            # combine with this term inside it even where this term alone changed nothing.
            retokenize(body, continuation, i)
            word_round[i] = rnd + 1
        selected.append(c)
        if on_select:
            on_select(len(selected))
    tokens_after = sum(c * t for c, t in zip(counts, tokens))
    return Selection(selected, tokens_before, tokens_after, evaluations)
