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

import numpy as np

DEFAULT_PRIOR_STRENGTH = 1000.0


def log_odds_z(y_c: int, y_r: int, n_c: int, n_r: int, prior_strength: float = DEFAULT_PRIOR_STRENGTH) -> float:
    """The z-score of one term (see module doc). n_c, n_r: corpus sizes in words."""
    a0 = prior_strength
    alpha = a0 * (y_c + y_r) / max(1, n_c + n_r)
    alpha = max(alpha, 1e-3)
    delta = math.log((y_c + alpha) / max(1e-9, n_c + a0 - y_c - alpha)) - math.log(
        (y_r + alpha) / max(1e-9, n_r + a0 - y_r - alpha)
    )
    return delta / math.sqrt(1.0 / (y_c + alpha) + 1.0 / (y_r + alpha))


def specificity_array(
    y_c: np.ndarray, y_r: np.ndarray, n_c: int, n_r: int, prior_strength: float = DEFAULT_PRIOR_STRENGTH
) -> np.ndarray:
    """z-scores of terms with category counts `y_c` and reference counts `y_r` (arrays), as `log_odds_z`.

    The same operations in the same order as `log_odds_z`, vectorised: over the ~250k candidates
    of NSMC a Python loop took 0.5 s, this 0.03 s. numpy's `log` may differ from `math.log` in
    the last bit, so a z can differ from `log_odds_z`'s by an ulp; equal counts still give equal z.
    """
    a0 = prior_strength
    y_c = np.asarray(y_c, dtype=np.float64)
    y_r = np.asarray(y_r, dtype=np.float64)
    alpha = np.maximum(a0 * (y_c + y_r) / max(1, n_c + n_r), 1e-3)
    delta = np.log((y_c + alpha) / np.maximum(1e-9, n_c + a0 - y_c - alpha)) - np.log(
        (y_r + alpha) / np.maximum(1e-9, n_r + a0 - y_r - alpha)
    )
    return delta / np.sqrt(1.0 / (y_c + alpha) + 1.0 / (y_r + alpha))


def specificity(
    cat: dict[str, int], ref: dict[str, int], n_c: int, n_r: int, prior_strength: float = DEFAULT_PRIOR_STRENGTH
) -> dict[str, float]:
    """z-scores of every term of `cat` against the reference counts `ref` (missing: 0)."""
    terms = list(cat)
    z = specificity_array(
        np.fromiter((cat[t] for t in terms), np.float64, len(terms)),
        np.fromiter((ref.get(t, 0) for t in terms), np.float64, len(terms)),
        n_c,
        n_r,
        prior_strength,
    )
    return dict(zip(terms, z.tolist()))
