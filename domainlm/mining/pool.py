"""From word counts to the scored candidate pool that selection draws from.

Runs in the main process while the reference corpus is still being counted in a child
(`BackgroundCount`): the category side first, then the reference counts are collected.
"""

from __future__ import annotations

import time
from zlib import crc32
from dataclasses import dataclass

from domainlm.errors import CorpusError, MiningError
from domainlm.mining.candidates import continuation_candidates, continuation_suffixes, count_known, word_candidates
from domainlm.mining.config import MineConfig
from domainlm.mining.counting import BackgroundCount, WordCounts
from domainlm.mining.extractors import count_terms, kiwi_candidates
from domainlm.mining.scoring import specificity
from domainlm.mining.selection import Candidate, index_words
from domainlm.mining.wordpiece import WordPiece


def _reference(job: BackgroundCount, waited: list[float]) -> tuple[WordCounts, dict[str, int]]:
    t0 = time.perf_counter()
    try:
        ref = job.result()
        waited.append(time.perf_counter() - t0)
    except CorpusError as e:
        raise type(e)(f"Reference corpus: {e.message}", e.hint) from None
    if ref.eojeols == 0:
        raise MiningError("The reference corpus is empty: no document with text was read.",
                          "Pass general text with --reference (e.g. general/kowiki_sample.txt.gz) and check --field.")
    return ref, ref.counts  # already without its rarest words (dropped in the child)



def sample_rare(counts: dict[str, int], n: int, min_count: int = 1) -> dict[str, int]:
    """Words seen at least `n` times as they are; rarer ones (>= min_count) kept with probability
    count/n and counted n times, chosen by a CRC of the word (the same sample on every run).

    Every total over words (tokens, a candidate's count, tokens saved) keeps its expected value, but
    most distinct words are rare, so far fewer remain to derive candidates from and re-tokenize.
    """
    if n <= 1:
        return {w: c for w, c in counts.items() if c >= min_count} if min_count > 1 else counts
    out = {}
    for word, count in counts.items():
        if count >= n:
            out[word] = count
        elif count >= min_count and crc32(word.encode("utf-8")) % n < count:
            out[word] = n
    return out


@dataclass
class Pool:
    candidates: list[Candidate]  # worth an exact evaluation, best estimate first, `words` indexed
    words: list[str]  # the category words they index into
    counts: list[int]
    tokens: list[int]  # current piece count of each word (selection updates it)
    reference: WordCounts
    found: int  # candidates found before filtering
    reference_wait: float = 0.0  # seconds spent waiting for the reference count (not candidate work)


def candidate_pool(cat: WordCounts, ref_job: BackgroundCount, wp: WordPiece, config: MineConfig) -> Pool:
    """Derive, count and score candidates; keep the pool selection evaluates exactly."""
    # Rare words are most of the distinct words but a small share of the text (~10% of review
    # words occur once): sampling them (`sample_rare`) makes every later pass several times faster
    # while they still count, as the unseen words of new text do. The sampling rate is capped below
    # min_count so that one sampled word alone never passes it (no candidates from single words).
    cat_words = sample_rare(cat.counts, min(config.rare_word_sample, max(1, config.min_count - 1)),
                            config.min_word_count)
    words = list(cat_words)
    counts = [cat_words[w] for w in words]
    ends = [wp.piece_ends(w) for w in words]
    tokens = [len(e) if e else 1 for e in ends]
    kinds = set(config.kinds)
    waited: list[float] = []
    if config.extractor == "kiwi":
        cat_freq = kiwi_candidates(cat_words, config.min_count, config.max_term_chars, kinds, config.workers)
        ref, ref_words = _reference(ref_job, waited)
        ref_counts = count_terms(ref_words, {t for t in cat_freq if not t.startswith("##")},
                                 {t[2:] for t in cat_freq if t.startswith("##")}, config.max_term_chars)
    else:
        word_freq = word_candidates(cat_words, config.min_count, config.max_term_chars) if "word" in kinds else {}
        cont_freq = (continuation_candidates(continuation_suffixes(words, counts, ends), config.min_count, config.max_term_chars)
                     if "continuation" in kinds else {})
        ref, ref_words = _reference(ref_job, waited)
        # The frequent sets are prefix-closed (Apriori), which lets the reference scan stop early.
        ref_counts = count_known(ref_words, wp, set(word_freq), {t[2:] for t in cont_freq}, config.max_term_chars)
        cat_freq = {**word_freq, **cont_freq}
    del ends
    # Filter first (already in the vocab, a single piece), score what is left.
    kept = []
    # Many word-initial candidates are whole words, already tokenized above.
    word_index = {word: i for i, word in enumerate(words)}
    for term, count in cat_freq.items():
        if term in wp:
            continue  # already a piece of the base vocab: never proposed
        if term.startswith("##"):
            pieces = wp.count_continuation(term[2:])
        else:
            i = word_index.get(term)
            pieces = tokens[i] if i is not None else wp.count_word(term)
        if pieces >= 2:
            kept.append((term, count, pieces))
    z = specificity({t: c for t, c, _ in kept}, ref_counts, cat.words, ref.words, config.prior_strength)
    if config.min_specificity_z is not None:
        kept = [k for k in kept if z[k[0]] >= config.min_specificity_z]
    # Exact re-tokenization is spent on the most promising candidates only (by the naive estimate,
    # an over-estimate: a larger pool changed nothing on NSMC, 20k vs 60k).
    pool_size = config.candidate_pool or max(10 * config.slots, 5_000)
    w = config.specificity_weight
    z_max = max((z[t] for t, _, _ in kept), default=1.0) or 1.0
    e_max = max((c * (p - 1) for _, c, p in kept), default=1.0) or 1.0
    # Ties are broken by the term, not by the order the words were counted in (which differs
    # between engines and worker counts), so every engine selects the same terms.
    # One sort gives heapq.nlargest's list, faster: with a pool of 10-50% of the candidates, the
    # heap's Python-level replacements cost more than sorting all of them in C.
    best = sorted(kept, key=lambda k: ((1 - w) * k[1] * (k[2] - 1) / e_max + w * max(z[k[0]], 0) / z_max, k[0]),
                  reverse=True)[:pool_size]
    pool = [Candidate(t, c, ref_counts.get(t, 0), z[t], p, c * (p - 1)) for t, c, p in best]
    index_words(pool, words, config.max_term_chars)
    return Pool(pool, words, counts, tokens, ref, len(cat_freq), sum(waited))
