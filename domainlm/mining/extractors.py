"""Pluggable candidate extractors: which strings are worth scoring at all.

- "wordpiece" (default, `candidates.py`): every frequent word-initial prefix and every frequent
  continuation at a base piece boundary. Knows nothing about Korean, so it finds slang and typos.
- "kiwi": morpheme-aware. kiwipiepy analyses each frequent distinct word once; the candidates are
  its leading content morphemes (noun compounds, roots, verb and adjective stems: 수분크림 of
  수분크림은, 촉촉하 of 촉촉하고) and, as continuations, the endings after them (##하고). Fewer,
  cleaner candidates; slower, and blind to what the analyser does not segment well.

Either way the counts come from the word counts (no second pass over the corpus), positions as
WordPiece will use them, and selection decides by real re-tokenization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Content morphemes a word-initial term may span: nouns, roots, stems, foreign words, numbers.
_CONTENT = ("NNG", "NNP", "NNB", "NR", "XR", "SL", "SN", "SH", "XPN", "XSN", "VV", "VA", "VX", "MAG", "MM", "IC")
_STEM_SUFFIX = ("XSV", "XSA")  # 하/되 that make a verb or adjective stem of a noun or root


def _leading_content_end(tokens, word: str) -> int:
    """End offset of the leading run of content morphemes (plus a derivational 하/되), or 0."""
    end = 0
    for tok in tokens:
        tag = tok.tag.split("-")[0]
        if tok.start != end:
            break  # the analyser restored a form that is not a prefix of the surface
        if tag.startswith(_CONTENT) or (end and tag in _STEM_SUFFIX):
            end = tok.start + tok.len
        else:
            break
    return end if end <= len(word) else 0


def kiwi_candidates(
    words: dict[str, int],
    min_count: int,
    max_chars: int,
    kinds: Iterable[str] = ("word", "continuation"),
    workers: int | None = None,
) -> dict[str, int]:
    """Word-initial stems and `##` endings from a kiwipiepy analysis of the frequent distinct words."""
    try:
        from kiwipiepy import Kiwi
    except ImportError as e:  # pragma: no cover - a declared dependency
        from domainlm.errors import MiningError

        raise MiningError(
            "The kiwi extractor needs kiwipiepy.", "pip install kiwipiepy, or use extractor: wordpiece."
        ) from e
    kinds = set(kinds)
    frequent = [w for w, c in words.items() if c >= min_count and len(w) >= 2 and any(ch.isalpha() for ch in w)]
    kiwi = Kiwi(num_workers=workers or -1)
    stems: set[str] = set()
    endings: set[str] = set()
    for word, tokens in zip(frequent, kiwi.tokenize(frequent)):
        end = _leading_content_end(tokens, word)
        if end >= 2 and end <= max_chars:
            stems.add(word[:end])
        if 0 < end < len(word) and len(word) - end >= 2:
            endings.add(word[end : end + max_chars])
    counts = count_terms(
        words, stems if "word" in kinds else set(), endings if "continuation" in kinds else set(), max_chars
    )
    return {t: c for t, c in counts.items() if c >= min_count}


def count_terms(words: dict[str, int], word_terms: set[str], cont_bodies: set[str], max_chars: int) -> dict[str, int]:
    """Occurrences of word-initial terms (as prefixes) and continuations (`##` keys; any position
    after the first character) in counted words. No prefix-closure assumed, so every length is tried."""
    out: dict[str, int] = defaultdict(int)
    for word, count in words.items():
        n = len(word)
        if word_terms:
            for length in range(2, min(n, max_chars) + 1):
                if word[:length] in word_terms:
                    out[word[:length]] += count
        if cont_bodies:
            for start in range(1, n - 1):
                for end in range(start + 2, min(n, start + max_chars) + 1):
                    if word[start:end] in cont_bodies:
                        out["##" + word[start:end]] += count
    return out
