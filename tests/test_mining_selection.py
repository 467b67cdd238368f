"""Candidates, specificity and the selection's re-tokenization."""

from __future__ import annotations

import math
from collections import Counter

from domainlm.mining.candidates import (
    continuation_candidates,
    continuation_suffixes,
    count_known,
    prefix_counts,
    word_candidates,
)
from domainlm.mining.counting import prune
from domainlm.mining.scoring import log_odds_z
from domainlm.mining.selection import Candidate, index_words, select
from domainlm.mining.wordpiece import WordPiece

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list("수분크림은이재밌게다좋아요가성비최고") + ["##" + c for c in "수분크림은이재밌게다좋아요가성비최고"]


def test_prefix_counts_is_apriori():
    items = [("수분크림은", 3), ("수분크림이", 4), ("수분팩", 1), ("가성비", 9)]
    out = prefix_counts(items, min_count=5, min_len=2, max_len=12)
    assert out == {"수분": 8, "수분크": 7, "수분크림": 7, "가성": 9, "가성비": 9}


def test_word_initial_candidates_find_stems_before_particles():
    words = {"수분크림은": 6, "수분크림이": 5, "수분크림": 2, "가성비": 7, "!": 50, "2020": 9, "10점": 8}
    found = word_candidates(words, min_count=5, max_chars=12)
    assert found["수분크림"] == 13 and found["가성비"] == 7 and found["10점"] == 8
    assert "수분크림은" in found and "!" not in found and "2020" not in found


def test_continuation_candidates_start_at_base_boundaries():
    wp = WordPiece(SPECIALS + CHARS + ["좋", "##아요"])
    words = ["좋아요", "좋아요", "최고다"]
    counts = [4, 3, 6]
    ends = [wp.piece_ends(w) for w in words]
    suffixes = continuation_suffixes(words, counts, ends)
    assert suffixes == Counter({"아요": 7, "고다": 6, "다": 6})
    cont = continuation_candidates(suffixes, min_count=5, max_chars=12)
    assert cont == {"##아요": 7, "##고다": 6}
    ref = count_known({"좋아요": 2, "최고다": 1, "수분크림": 3}, wp, set(), {"아요", "고다"}, 12)
    assert ref == {"##아요": 2, "##고다": 1}


def test_log_odds_z_orders_specific_above_general():
    n_c, n_r = 100_000, 1_000_000
    specific = log_odds_z(500, 10, n_c, n_r)
    general = log_odds_z(500, 5000, n_c, n_r)
    rare = log_odds_z(3, 0, n_c, n_r)
    assert specific > 10 and abs(general) < 2 and 0 < rare < specific


def test_specificity_is_log_odds_z_term_by_term():
    import random

    from domainlm.mining.scoring import specificity

    rng = random.Random(1)
    cat = {f"t{i}": rng.randint(1, 10**5) for i in range(3000)}
    ref = {f"t{i}": rng.randint(0, 10**5) for i in range(0, 3000, 3)}
    for n_c, n_r, prior in ((6_752_542, 2_090_565, 1000.0), (0, 0, 7.0), (50, 3, 0.5)):
        got = specificity(cat, ref, n_c, n_r, prior)
        assert got.keys() == cat.keys()
        # numpy's log may differ from math.log in the last bit
        assert all(
            math.isclose(got[t], log_odds_z(y, ref.get(t, 0), n_c, n_r, prior), rel_tol=1e-12, abs_tol=1e-12)
            for t, y in cat.items()
        )


def _pool(wp: WordPiece, words: list[str], counts: list[int], terms: list[str]) -> list[Candidate]:
    pool = []
    for t in terms:
        pieces = wp.count_continuation(t[2:]) if t.startswith("##") else wp.count_word(t)
        count = sum(c for w, c in zip(words, counts) if (w.startswith(t) if not t.startswith("##") else t[2:] in w[1:]))
        pool.append(Candidate(t, count, 0, 1.0, pieces, count * (pieces - 1)))
    index_words(pool, words, 12)
    return pool


def test_selection_retokenizes_where_a_naive_score_over_counts():
    """재밌 and 재밌게 overlap: the naive per-term values add up to more than the real saving."""
    wp = WordPiece(SPECIALS + CHARS)
    words, counts = ["재밌게", "재밌다", "재밌"], [100, 50, 20]
    tokens = [wp.count_word(w) for w in words]
    assert tokens == [3, 3, 2]
    pool = _pool(wp, words, counts, ["재밌게", "재밌"])
    naive = sum(c.estimate for c in pool)
    assert naive == 100 * 2 + 170 * 1
    sel = select(pool, words, counts, tokens, wp, slots=2, specificity_weight=0.0)
    assert [c.term for c in sel.selected] == ["재밌게", "재밌"]
    real = sel.tokens_before - sel.tokens_after
    # with both: 재밌게 -> 1 token (200 saved), 재밌다 -> 재밌 ##다 (50), 재밌 -> 1 (20)
    assert real == 270 < naive
    assert sum(c.saved for c in sel.selected) == real
    assert sel.selected[1].saved == 70 < sel.selected[1].estimate
    assert tokens == [1, 2, 1]


def test_selection_skips_terms_that_save_nothing_after_others():
    wp = WordPiece(SPECIALS + CHARS)
    words, counts = ["수분크림은", "수분크림이"], [10, 10]
    tokens = [wp.count_word(w) for w in words]
    pool = _pool(wp, words, counts, ["수분크림", "수분크", "##림은"])
    sel = select(pool, words, counts, tokens, wp, slots=3, specificity_weight=0.0)
    chosen = [c.term for c in sel.selected]
    # After 수분크림, 수분크 is never used by greedy longest-match: it saves 0 and is not chosen.
    assert chosen[0] == "수분크림" and "수분크" not in chosen
    assert sel.tokens_before - sel.tokens_after == sum(c.saved for c in sel.selected)


def test_specificity_weight_trades_against_tokens_saved():
    wp = WordPiece(SPECIALS + CHARS)
    words, counts = ["가성비", "최고다"], [100, 10]
    pool = _pool(wp, words, counts, ["가성비", "최고다"])
    pool[0].z, pool[1].z = 1.0, 30.0
    by_saving = select(
        [Candidate(**{**c.__dict__}) for c in pool], words, counts, [3, 3], WordPiece(SPECIALS + CHARS), 1, 0.0
    )
    by_z = select(pool, words, counts, [3, 3], wp, 1, 1.0)
    assert by_saving.selected[0].term == "가성비" and by_z.selected[0].term == "최고다"


def test_prune_bounds_the_counter():
    c = Counter({f"w{i}": (i % 7) + 1 for i in range(1000)})
    threshold = prune(c, max_words=400)
    assert len(c) <= 200 and threshold >= 2 and min(c.values()) >= threshold


def _lazy_greedy_by_full_retokenization(pool, words, counts, wp, slots):
    """The lazy greedy of `select` as it was first written: every word a candidate touches is
    re-tokenized whole for every score (the reference of the tail-only re-tokenization)."""
    import heapq

    tokens = [wp.count_word(w) for w in words]
    state = {}  # candidate index -> (round of its exact score, saved)
    heap = [(-c.estimate, k) for k, c in enumerate(pool) if c.words and c.estimate > 0]
    heapq.heapify(heap)
    chosen = []
    while heap and len(chosen) < slots:
        _, k = heapq.heappop(heap)
        c = pool[k]
        if state.get(k, (-1, 0))[0] < len(chosen):
            wp.add(c.term)
            saved = sum(counts[i] * (tokens[i] - wp.count_word(words[i])) for i in c.words)
            wp.discard(c.term)
            state[k] = (len(chosen), saved)
            if saved > 0:
                heapq.heappush(heap, (-saved, k))
            continue
        wp.add(c.term)
        for i in c.words:
            tokens[i] = wp.count_word(words[i])
        chosen.append((c.term, state[k][1]))
    return chosen, tokens


def test_selection_retokenizing_only_the_changed_tail_equals_full_retokenization():
    """`select` re-tokenizes a word only from its first piece a new entry changes; on random
    vocabularies, words and candidates ([UNK] words included) it must choose exactly what whole-word
    re-tokenization chooses, with the same savings and the same final piece counts."""
    import random

    rng = random.Random(7)
    letters = "가나다라마바사아자"
    for trial in range(40):
        singles = [ch for ch in letters if rng.random() < 0.9]  # some letters missing: [UNK] words
        vocab = SPECIALS + singles + ["##" + ch for ch in letters]
        vocab += ["".join(rng.choices(letters, k=rng.randint(2, 3))) for _ in range(4)]
        vocab += ["##" + "".join(rng.choices(letters, k=rng.randint(2, 3))) for _ in range(4)]
        words = sorted({"".join(rng.choices(letters[:5], k=rng.randint(2, 7))) for _ in range(60)})
        counts = [rng.randint(1, 30) for _ in words]
        base = WordPiece(vocab)
        terms = sorted(
            {"".join(rng.choices(letters[:5], k=rng.randint(2, 4))) for _ in range(12)}
            | {"##" + "".join(rng.choices(letters[:5], k=rng.randint(2, 3))) for _ in range(12)}
        )
        pool = _pool(base, words, counts, [t for t in terms if t not in base])
        expected, expected_tokens = _lazy_greedy_by_full_retokenization(pool, words, counts, WordPiece(vocab), 6)
        tokens = [base.count_word(w) for w in words]
        sel = select(pool, words, counts, tokens, WordPiece(vocab), 6, specificity_weight=0.0)
        assert [(c.term, c.saved) for c in sel.selected] == expected, trial
        assert tokens == expected_tokens, trial
        assert sel.tokens_before - sel.tokens_after == sum(s for _, s in expected)
