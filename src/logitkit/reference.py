"""Reference distributions of the training data, stored in the artifact for drift checks.

For each feature: quantile bin edges from the training rows and the share of rows in
each bin (the expected shares against which a window of served inputs is compared by
PSI), a sorted sample of values (for the two-sample Kolmogorov-Smirnov test), and
summary statistics. The same for the model's predicted probability of the positive
class, with its mean (the expected predicted-positive rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["feature_profile", "reference_profile"]

#: Values kept per feature for the KS test: enough for a KS distance accurate to about
#: 0.01, small enough to keep the artifact readable.
_KS_SAMPLE = 1000


def feature_profile(values: NDArray[Any], *, bins: int = 10, seed: int = 0) -> dict[str, Any]:
    """Profile of one numeric column: quantile edges, bin shares, a KS sample, moments.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Finite training values.
    bins : int
        Number of quantile bins (fewer when values repeat).
    seed : int
        Seed of the sub-sample kept for the KS test.

    Returns
    -------
    dict
        JSON-ready: ``edges`` (interior cut points), ``shares`` (one per bin, summing to
        1), ``sample`` (sorted), ``mean``, ``std``, ``min``, ``max``, ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> profile = feature_profile(np.arange(100.0), bins=4)
    >>> profile["edges"]
    [24.75, 49.5, 74.25]
    >>> profile["shares"]
    [0.25, 0.25, 0.25, 0.25]
    """
    x = np.asarray(values, dtype=np.float64)
    cuts = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(cuts, x, side="right"), minlength=cuts.size + 1)
    rng = np.random.default_rng(seed)
    sample = x if x.size <= _KS_SAMPLE else rng.choice(x, _KS_SAMPLE, replace=False)
    return {
        "edges": cuts.tolist(),
        "shares": (counts / max(x.size, 1)).tolist(),
        "sample": np.sort(sample).tolist(),
        "mean": float(x.mean()) if x.size else 0.0,
        "std": float(x.std()) if x.size else 0.0,
        "min": float(x.min()) if x.size else 0.0,
        "max": float(x.max()) if x.size else 0.0,
        "n": int(x.size),
    }


def reference_profile(
    X: Any, names: list[str], score: NDArray[np.float64] | None = None, *, bins: int = 10
) -> dict[str, Any]:
    """Profiles of every feature (and of the predicted score) of the training rows.

    Parameters
    ----------
    X : array-like of shape (n, p)
        Training features (numpy, pandas, polars or sparse).
    names : list of str
        Feature names, in column order.
    score : ndarray of shape (n,), optional
        Predicted probability of the positive class (binary models).
    bins : int
        Quantile bins per feature.

    Returns
    -------
    dict
        ``{"n_rows": n, "features": {name: profile}, "score": profile or None}``.
    """
    arr = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
    features = {name: feature_profile(arr[:, j], bins=bins) for j, name in enumerate(names)}
    return {
        "n_rows": int(arr.shape[0]),
        "features": features,
        "score": None if score is None else feature_profile(score, bins=bins),
    }
