"""From word counts to the scored candidate pool that selection draws from.

Runs in the main process while the reference corpus is still being counted in a child
(`BackgroundCount`): the category side first, then the reference counts are collected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from zlib import crc32

import numpy as np

from domainlm.errors import CorpusError, MiningError
from domainlm.mining.candidates import continuation_candidates, continuation_suffixes, count_known, word_candidates
from domainlm.mining.config import MineConfig
from domainlm.mining.counting import BackgroundWork, WordCounts
from domainlm.mining.extractors import count_terms, kiwi_candidates
from domainlm.mining.scoring import specificity_array
from domainlm.mining.selection import Candidate, index_words
from domainlm.mining.wordpiece import WordPiece


def _reference(job: BackgroundWork, waited: list[float]) -> tuple[WordCounts, dict[str, int]]:
    t0 = time.perf_counter()
    try:
        ref = job.result()
        waited.append(time.perf_counter() - t0)
    except CorpusError as e:
        raise type(e)(f"Reference corpus: {e.message}", e.hint) from None
    if ref.eojeols == 0:
        raise MiningError(
            "The reference corpus is empty: no document with text was read.",
            "Pass general text with --reference (e.g. general/kowiki_sample.txt.gz) and check --field.",
        )
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
    ends: list  # current piece end offsets of each word, None for [UNK] (selection updates them)
    reference: WordCounts
    found: int  # candidates found before filtering
    reference_wait: float = 0.0  # seconds spent waiting for the reference count (not candidate work)


def candidate_pool(cat: WordCounts, ref_job: BackgroundWork, wp: WordPiece, config: MineConfig) -> Pool:
    """Derive, count and score candidates; keep the pool selection evaluates exactly."""
    # Rare words are most of the distinct words but a small share of the text (~10% of review
    # words occur once): sampling them (`sample_rare`) makes every later pass several times faster
    # while they still count, as the unseen words of new text do. The sampling rate is capped below
    # min_count so that one sampled word alone never passes it (no candidates from single words).
    cat_words = sample_rare(
        cat.counts, min(config.rare_word_sample, max(1, config.min_count - 1)), config.min_word_count
    )
    words = list(cat_words)
    counts = [cat_words[w] for w in words]
    ends = [wp.piece_ends(w) for w in words]
    tokens = [len(e) if e else 1 for e in ends]
    waited: list[float] = []
    cat_freq, ref, ref_counts = _counted_candidates(cat_words, words, counts, ends, ref_job, wp, config, waited)
    terms, term_counts, term_pieces = _multi_piece(cat_freq, words, tokens, wp)
    y_c = np.asarray(term_counts, dtype=np.int64)
    n_pieces = np.asarray(term_pieces, dtype=np.int64)
    y_r = np.fromiter((ref_counts.get(t, 0) for t in terms), np.int64, len(terms))
    z = specificity_array(y_c, y_r, cat.words, ref.words, config.prior_strength)
    if config.min_specificity_z is not None:
        keep = np.flatnonzero(z >= config.min_specificity_z)
        terms = [terms[k] for k in keep.tolist()]
        y_c, n_pieces, y_r, z = y_c[keep], n_pieces[keep], y_r[keep], z[keep]
    pool = _best_scored(terms, y_c, y_r, z, n_pieces, config)
    index_words(pool, words, config.max_term_chars)
    return Pool(pool, words, counts, tokens, ends, ref, len(cat_freq), sum(waited))


def _counted_candidates(
    cat_words: dict[str, int],
    words: list[str],
    counts: list[int],
    ends: list,
    ref_job: BackgroundWork,
    wp: WordPiece,
    config: MineConfig,
    waited: list[float],
) -> tuple[dict[str, int], WordCounts, dict[str, int]]:
    """(category candidates with their counts, the reference, the candidates' reference counts).

    The reference is collected only once the category candidates are derived (it was counted meanwhile).
    """
    kinds = set(config.kinds)
    if config.extractor == "kiwi":
        cat_freq = kiwi_candidates(cat_words, config.min_count, config.max_term_chars, kinds, config.workers)
        ref, ref_words = _reference(ref_job, waited)
        ref_counts = count_terms(
            ref_words,
            {t for t in cat_freq if not t.startswith("##")},
            {t[2:] for t in cat_freq if t.startswith("##")},
            config.max_term_chars,
        )
        return cat_freq, ref, ref_counts
    word_freq = word_candidates(cat_words, config.min_count, config.max_term_chars) if "word" in kinds else {}
    cont_freq = (
        continuation_candidates(continuation_suffixes(words, counts, ends), config.min_count, config.max_term_chars)
        if "continuation" in kinds
        else {}
    )
    ref, ref_words = _reference(ref_job, waited)
    # The frequent sets are prefix-closed (Apriori), which lets the reference scan stop early.
    ref_counts = count_known(ref_words, wp, set(word_freq), {t[2:] for t in cont_freq}, config.max_term_chars)
    return {**word_freq, **cont_freq}, ref, ref_counts


def _multi_piece(
    cat_freq: dict[str, int], words: list[str], tokens: list[int], wp: WordPiece
) -> tuple[list[str], list[int], list[int]]:
    """(terms, counts, base pieces) of the candidates the base splits into 2+ pieces (and does not
    hold already): the ones worth a slot, before scoring."""
    terms, term_counts, term_pieces = [], [], []
    # Many word-initial candidates are whole words, already tokenized above.
    word_index = {word: i for i, word in enumerate(words)}
    initial, cont = wp.initial, wp.cont
    for term, count in cat_freq.items():
        if term.startswith("##"):
            if term[2:] in cont:
                continue  # already a piece of the base vocab: never proposed
            pieces = wp.count_continuation(term[2:])
        else:
            if term in initial:
                continue
            i = word_index.get(term)
            pieces = tokens[i] if i is not None else wp.count_word(term)
        if pieces >= 2:
            terms.append(term)
            term_counts.append(count)
            term_pieces.append(pieces)
    return terms, term_counts, term_pieces


def _best_scored(terms: list[str], y_c, y_r, z, n_pieces, config: MineConfig) -> list[Candidate]:
    """The candidates worth an exact evaluation, best estimated score first."""
    # Exact re-tokenization is spent on the most promising candidates only (by the naive estimate,
    # an over-estimate: a larger pool changed nothing on NSMC, 20k vs 60k).
    pool_size = config.candidate_pool or max(10 * config.slots, 5_000)
    w = config.specificity_weight
    estimate = y_c * (n_pieces - 1)
    z_max = (float(z.max()) if len(z) else 1.0) or 1.0
    e_max = (int(estimate.max()) if len(z) else 1) or 1
    # The operations of the scalar formula in its order ((1 - w) * count * (pieces - 1) / e_max + ...),
    # so a score is the float Python would compute.
    score = (1 - w) * y_c * (n_pieces - 1) / e_max + w * np.maximum(z, 0) / z_max
    # The pool is the best `pool_size` by score, ties broken by the term (not by the order the
    # words were counted in, which differs between engines and worker counts), so every engine
    # selects the same terms. A partition finds the score of the last place; only the candidates
    # at or above it (ties included) are sorted.
    if len(score) > pool_size:
        cut = np.partition(score, len(score) - pool_size)[len(score) - pool_size]
        top = np.flatnonzero(score >= cut).tolist()
    else:
        top = list(range(len(score)))
    score_list = score.tolist()
    top.sort(key=lambda k: (score_list[k], terms[k]), reverse=True)
    del top[pool_size:]
    z_list, y_c_list, y_r_list, p_list, e_list = (
        z.tolist(),
        y_c.tolist(),
        y_r.tolist(),
        n_pieces.tolist(),
        estimate.tolist(),
    )
    return [Candidate(terms[k], y_c_list[k], y_r_list[k], z_list[k], p_list[k], e_list[k]) for k in top]
