"""Domain specificity: weighted log-odds with an informative Dirichlet prior (Monroe et al. 2008).

For a term w with count y_c in the category corpus (n_c words) and y_r in the reference (n_r
words), the prior is the pooled frequency scaled to `prior_strength` pseudo-words:
alpha_w = a0 * (y_c + y_r) / (n_c + n_r). Then

    delta_w = log((y_c + alpha_w) / (n_c + a0 - y_c - alpha_w)) - log((y_r + alpha_w) / (n_r + a0 - y_r - alpha_w))
    var_w  ~= 1 / (y_c + alpha_w) + 1 / (y_r + alpha_w)
    z_w     = delta_w / sqrt(var_w)

z is large for words much more frequent in the category than in the reference AND seen often
enough to be sure of it; a word frequent in both has z near 0, a general word below 0. The prior
keeps rare words (a single occurrence, absent from the reference) from getting huge log-odds.
"""

from __future__ import annotations

import math

DEFAULT_PRIOR_STRENGTH = 1000.0


def log_odds_z(y_c: int, y_r: int, n_c: int, n_r: int, prior_strength: float = DEFAULT_PRIOR_STRENGTH) -> float:
    """The z-score of one term (see module doc). n_c, n_r: corpus sizes in words."""
    a0 = prior_strength
    alpha = a0 * (y_c + y_r) / max(1, n_c + n_r)
    alpha = max(alpha, 1e-3)
    delta = (math.log((y_c + alpha) / max(1e-9, n_c + a0 - y_c - alpha))
             - math.log((y_r + alpha) / max(1e-9, n_r + a0 - y_r - alpha)))
    return delta / math.sqrt(1.0 / (y_c + alpha) + 1.0 / (y_r + alpha))


def specificity(cat: dict[str, int], ref: dict[str, int], n_c: int, n_r: int,
                prior_strength: float = DEFAULT_PRIOR_STRENGTH) -> dict[str, float]:
    """z-scores of every term of `cat` against the reference counts `ref` (missing: 0).

    `log_odds_z` written out in one loop (the same operations in the same order, so the same
    floats): a call per term was most of the time over the ~300k candidates of a large corpus.
    """
    a0 = prior_strength
    total = max(1, n_c + n_r)
    log, sqrt = math.log, math.sqrt
    out = {}
    for t, y_c in cat.items():
        y_r = ref.get(t, 0)
        alpha = max(a0 * (y_c + y_r) / total, 1e-3)
        delta = (log((y_c + alpha) / max(1e-9, n_c + a0 - y_c - alpha))
                 - log((y_r + alpha) / max(1e-9, n_r + a0 - y_r - alpha)))
        out[t] = delta / sqrt(1.0 / (y_c + alpha) + 1.0 / (y_r + alpha))
    return out
