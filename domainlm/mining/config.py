"""Settings of term mining (the `mine:` section of a recipe)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: int = Field(2000, ge=1, description="How many terms to select (the slot budget of this category)")
    min_count: int = Field(5, ge=1, description="Minimum occurrences in the category corpus for a candidate")
    specificity_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="0 = rank purely by tokens saved, 1 = purely by domain specificity (log-odds z); 0.2 keeps nearly "
        "all the held-out compression of 0 (NSMC: 14.1% vs 14.2%, 0.5: 13.4%)",
    )
    min_specificity_z: float | None = Field(
        None, description="Drop candidates whose log-odds z-score is below this (null: no floor)"
    )
    kinds: list[Literal["word", "continuation"]] = Field(
        ["word", "continuation"], description="Candidate kinds: word-initial strings and ## continuation pieces"
    )
    extractor: Literal["wordpiece", "kiwi"] = Field(
        "wordpiece", description="Candidate extractor: WordPiece-aware substrings, or kiwipiepy morphemes"
    )
    max_term_chars: int = Field(12, ge=2, description="Longest candidate, in characters")
    workers: int | None = Field(None, ge=1, description="Counting processes (null: all cores)")
    max_candidates: int = Field(
        2_000_000,
        ge=10_000,
        description="Distinct words a counting process keeps in memory; past that the rarest are pruned, so RAM stays "
        "~(workers + 1) x this x ~120 B whatever the corpus size",
    )
    min_word_count: int = Field(
        1,
        ge=1,
        description="Words (pre-tokenized eojeols) seen fewer times are left out of candidate counting and selection "
        "(1 keeps all; rare words are sampled instead, see rare_word_sample)",
    )
    rare_word_sample: int = Field(
        4,
        ge=1,
        description="Words seen fewer than N times are sampled: each kept with probability count/N (by a hash of the "
        "word, so runs repeat) and counted N times. Same expected text, a fraction of the distinct words (most words "
        "are rare), so candidate derivation and selection stay fast while rare words still count (NSMC held-out gain: "
        "dropping words seen once 14.1%, sampling 14.5%). Capped at min_count - 1, so one sampled word alone never "
        "makes a candidate; 1: no sampling",
    )
    prior_strength: float = Field(
        1000.0,
        gt=0.0,
        description="Pseudo-word count of the informative Dirichlet prior of the log-odds specificity (larger: rare "
        "words need more evidence)",
    )
    candidate_pool: int | None = Field(
        None,
        ge=1,
        description="Candidates scored exactly by re-tokenization during selection, best estimates first (null: 10 x "
        "slots, at least 5,000)",
    )
    cache_reference: bool = Field(
        True,
        description="Keep the reference corpus's word counts in $DOMAINLM_CACHE/word_counts (keyed by its files' size "
        "and mtime and the normalisation), so mining several categories against one reference counts it once",
    )
    max_documents: int | None = Field(None, ge=1, description="Read at most this many category documents")
    engine: Literal["local", "ray"] = Field(
        "local",
        description="Where the corpus pass (read, normalise, count words) runs: local processes, or Ray Data on a Ray "
        'cluster / local Ray instance (pip install "domainlm[ray]"); candidates and selection stay on this machine '
        "either way",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join with engine: ray: 'auto' (the cluster this machine is a node of), HOST:PORT "
        "or ray://HOST:PORT; null starts a local Ray instance",
    )
