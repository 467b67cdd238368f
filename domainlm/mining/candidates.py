"""Candidate terms derived from word counts, shaped by how WordPiece will use them.

WordPiece matches a word left to right, so a new entry is only ever used

- at the start of a word (kind "word"): a word-initial prefix — the whole eojeol (가성비), or the
  stem before its particles and endings (수분크림 in 수분크림은 / 수분크림이);
- after another piece (kind "continuation", written `##…`): here taken where the base tokenizer
  already puts a piece boundary (the ending ##했어요 after 좋), the places it can take over.

A candidate's count is the sum of the counts of the words it occurs in (positions as above), so
nothing is read from the corpus again. Counting is Apriori-style: a prefix of length L+1 cannot be
more frequent than its prefix of length L, so lengths stop at the first without a frequent prefix,
and rare strings are never materialised (`prefix_counts`, vectorised with numpy).

No dictionary filter: slang, abbreviations and typos (존맛탱, 가성비, 재구매각) are exactly
what category text needs, and frequency + specificity + tokens saved decide.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from domainlm.mining.wordpiece import WordPiece


def prefix_counts(items: Iterable[tuple[str, int]], min_count: int, min_len: int, max_len: int) -> dict[str, int]:
    """Every prefix (length min_len..max_len) of the strings whose summed count reaches min_count.

    Vectorised: the strings, cut to max_len characters, are sorted once as a numpy array of code
    points; the strings sharing a prefix of length L are then a run of rows equal in their first L
    columns, so each length is one pass of comparisons and one `reduceat` of the counts, and only
    the frequent prefixes are ever built as Python strings (4x faster than a dict per length on
    NSMC). Lengths stop at the first without a frequent prefix (none longer can be frequent).
    """
    strings: list[str] = []
    counts: list[int] = []
    for s, c in items:
        if len(s) >= min_len:
            strings.append(s)
            counts.append(c)
    if not strings:
        return {}
    arr = np.array(strings, dtype=f"<U{max_len}")  # longer strings are cut: no prefix beyond max_len is wanted
    order = np.argsort(arr, kind="stable")
    arr = arr[order]
    cnt = np.asarray(counts, dtype=np.int64)[order]
    codes = arr.view(np.uint32).reshape(len(arr), max_len)
    lengths = np.char.str_len(arr)
    out: dict[str, int] = {}
    differs = np.zeros(len(arr) - 1, dtype=bool)  # row i+1 differs from row i in the first L characters
    for length in range(1, max_len + 1):
        differs |= codes[1:, length - 1] != codes[:-1, length - 1]
        if length < min_len:
            continue
        starts = np.flatnonzero(np.concatenate(([True], differs)))
        # Strings shorter than L are padded with code 0, so they form runs of their own and add nothing.
        sums = np.add.reduceat(np.where(lengths >= length, cnt, 0), starts)
        hit = np.flatnonzero(sums >= min_count)
        if not len(hit):
            break
        for row, total in zip(starts[hit].tolist(), sums[hit].tolist()):
            out[str(arr[row])[:length]] = total
    return out


def _is_wordlike(word: str) -> bool:
    # Punctuation is split into one-character words by the pre-tokenizer; such words and bare
    # numbers are not candidates, but numbers with a unit (10점, 2시간) are.
    return not word.isdigit() and (word.isalnum() or any(ch.isalnum() for ch in word))


def word_candidates(words: dict[str, int], min_count: int, max_chars: int) -> dict[str, int]:
    """Word-initial candidates: prefixes (2..max_chars characters) of words, with their counts."""
    return prefix_counts(((w, c) for w, c in words.items() if _is_wordlike(w)), min_count, 2, max_chars)


def continuation_suffixes(words: Sequence[str], counts: Sequence[int], ends: Sequence[list[int] | None]) -> Counter:
    """Counts of the word suffixes that start at a base piece boundary (keys without `##`)."""
    suffixes: Counter = Counter()
    for word, count, e in zip(words, counts, ends):
        if e is None or len(e) < 2:
            continue
        for b in e[:-1]:
            suffixes[word[b:]] += count
    return suffixes


def continuation_candidates(suffixes: Counter, min_count: int, max_chars: int) -> dict[str, int]:
    """Continuation candidates (keys WITH `##`): prefixes (2..max_chars) of boundary suffixes."""
    found = prefix_counts(suffixes.items(), min_count, 2, max_chars)
    return {"##" + body: c for body, c in found.items()}


def count_known(
    words: dict[str, int], wp: WordPiece, word_terms: set[str], cont_terms: set[str], max_chars: int
) -> dict[str, int]:
    """Counts of given candidates in another corpus (the reference), positions as for the category.

    `word_terms` must be closed under prefixes of length >= 2 (as `word_candidates` returns), so the
    scan of a word stops at its first prefix that is not a candidate. `cont_terms` are bodies
    without `##`, likewise prefix-closed: a boundary whose first 2 characters are no body is
    skipped, and the rest are counted once per distinct suffix (endings recur across words).
    """
    out: dict[str, int] = defaultdict(int)
    suffixes: Counter = Counter()
    for word, count in words.items():
        n = len(word)
        if n < 2:
            continue
        for length in range(2, min(n, max_chars) + 1):
            p = word[:length]
            if p not in word_terms:
                break
            out[p] += count
        if not cont_terms:
            continue
        e = wp.piece_ends(word)
        if e is None:
            continue
        for b in e[:-1]:
            if word[b : b + 2] in cont_terms:
                suffixes[word[b : b + max_chars]] += count
    for suffix, count in suffixes.items():
        for length in range(2, len(suffix) + 1):
            body = suffix[:length]
            if body not in cont_terms:
                break
            out["##" + body] += count
    return out
