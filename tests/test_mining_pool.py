"""Rare-word sampling: expected totals kept, the same sample every run, frequent words untouched."""

from __future__ import annotations

from domainlm.mining.pool import sample_rare


def test_frequent_words_are_kept_as_counted():
    counts = {"재밌": 40, "영화": 4, "드문말": 1}
    out = sample_rare(counts, 4)
    assert out["재밌"] == 40 and out["영화"] == 4
    assert out.get("드문말", 4) == 4  # kept or not, a sampled word counts n


def test_sampling_keeps_the_expected_total_and_repeats():
    counts = {f"단어{i}": 1 + i % 3 for i in range(30_000)}  # counts 1, 2, 3: all below n
    out = sample_rare(counts, 4)
    assert set(out.values()) == {4}
    total, sampled = sum(counts.values()), sum(out.values())
    assert abs(sampled - total) / total < 0.03
    assert len(out) < 0.6 * len(counts)
    # Kept with probability count / n: words seen 3 times survive about 3x as often as those seen once.
    kept = {c: sum(1 for w in out if counts[w] == c) for c in (1, 2, 3)}
    assert 2.5 < kept[3] / kept[1] < 3.5
    assert sample_rare(counts, 4) == out


def test_no_sampling_and_min_word_count():
    counts = {"가": 1, "나": 2, "다": 5}
    assert sample_rare(counts, 1) == counts
    assert sample_rare(counts, 1, min_count=2) == {"나": 2, "다": 5}
    assert all(w != "가" for w in sample_rare(counts, 4, min_count=2))
