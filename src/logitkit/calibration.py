"""Calibration: reliability curves, calibration error, Hosmer-Lemeshow, recalibration.

All functions take true labels, the probability of an explicitly named ``positive``
label, and work on labels and probabilities only. Recalibrators should be fitted on
out-of-fold predictions, never on the rows they will be judged on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats
from sklearn.isotonic import IsotonicRegression

from logitkit._memory import STEP_ROWS
from logitkit._params import OneOf, validate_params
from logitkit._validation import Label, check_binary, check_proba, int_param
from logitkit.exceptions import ArtifactError, DataError

__all__ = [
    "RELIABILITY_COLUMNS",
    "HosmerLemeshowResult",
    "Recalibrator",
    "expected_calibration_error",
    "hosmer_lemeshow",
    "reliability_curve",
]

FloatArray = NDArray[np.float64]
Strategy = Literal["uniform", "quantile"]

#: Columns of :func:`reliability_curve`, in order.
RELIABILITY_COLUMNS = (
    "bin",
    "bin_low",
    "bin_high",
    "mean_predicted",
    "observed_frequency",
    "count",
)

_LOGIT_CLIP = 1e-12  # probabilities are clipped to [eps, 1 - eps] before taking logits


def _bins(p: FloatArray, n_bins: int, strategy: str, where: str) -> FloatArray:
    """Bin edges, exactly as ``sklearn.calibration.calibration_curve``'s."""
    validate_params(where, {"strategy": strategy}, {"strategy": [OneOf(("uniform", "quantile"))]})
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    return np.asarray(np.percentile(p, np.linspace(0.0, 1.0, n_bins + 1) * 100))  # as sklearn


def _bin_sums(
    edges: FloatArray, p: FloatArray, y: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Rows, summed probabilities and positives in each bin of ``edges`` (a row's bin:
    ``searchsorted(edges[1:-1], p)``, right-closed), in steps of rows."""
    inner, k = edges[1:-1], max(edges.size - 1, 1)
    count, sum_p, sum_y = np.zeros(k, dtype=np.int64), np.zeros(k), np.zeros(k)
    for start in range(0, p.size, STEP_ROWS):
        part = slice(start, start + STEP_ROWS)
        ids = np.searchsorted(inner, p[part])
        count += np.bincount(ids, minlength=k)
        sum_p += np.bincount(ids, weights=p[part], minlength=k)
        sum_y += np.bincount(ids, weights=y[part], minlength=k)
    return count, sum_p, sum_y


def reliability_curve(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    positive: Label,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> pd.DataFrame:
    """Reliability-diagram data: mean predicted probability against observed frequency.

    Bins are right-closed, ``(low, high]`` (the first also holds ``low``), as in
    :func:`sklearn.calibration.calibration_curve`, whose two arrays are the
    ``observed_frequency`` and ``mean_predicted`` columns; empty bins are left out.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: ``positive`` and one other.
    proba : array-like of shape (n_samples,)
        Probability of ``positive``.
    positive : str, int, float or bool
        The label ``proba`` refers to.
    n_bins : int, default=10
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1]; ``"quantile"``: equal-mass bins
        (edges at quantiles of ``proba``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RELIABILITY_COLUMNS`, one row per non-empty bin.

    Examples
    --------
    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], positive=1, n_bins=2)
    >>> curve[["mean_predicted", "observed_frequency", "count"]].to_numpy().tolist()
    [[0.2, 0.0, 2.0], [0.75, 1.0, 2.0]]
    """
    where = "reliability_curve"
    data = check_binary(y_true, proba, positive, where)
    n_bins = int_param(n_bins, "n_bins", where, 1)
    edges = _bins(data.p, n_bins, strategy, where)
    count, sum_p, sum_y = _bin_sums(edges, data.p, data.y)
    keep = np.flatnonzero(count)
    return pd.DataFrame(
        {
            "bin": keep,
            "bin_low": edges[keep],
            "bin_high": edges[keep + 1],
            "mean_predicted": sum_p[keep] / count[keep],
            "observed_frequency": sum_y[keep] / count[keep],
            "count": count[keep],
        },
        columns=list(RELIABILITY_COLUMNS),
    )


def expected_calibration_error(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    positive: Label,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> float:
    """Expected calibration error of the probability of ``positive``.

    ``ECE = sum_b (n_b / n) |mean_predicted_b - observed_frequency_b|`` over the bins of
    :func:`reliability_curve`. This is the binary ECE of ``P(positive)``, not the
    "top-label confidence" ECE used for multiclass networks.

    Parameters
    ----------
    y_true, proba, positive, n_bins, strategy
        As in :func:`reliability_curve`.

    Returns
    -------
    float
        In [0, 1]; 0 for perfect calibration within every bin.

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], positive=1, n_bins=2)
    0.225
    """
    curve = reliability_curve(y_true, proba, positive=positive, n_bins=n_bins, strategy=strategy)
    gap = (curve["mean_predicted"] - curve["observed_frequency"]).abs()
    return float((gap * curve["count"]).sum() / curve["count"].sum())


@dataclass(frozen=True)
class HosmerLemeshowResult:
    """Result of :func:`hosmer_lemeshow`.

    Attributes
    ----------
    statistic : float
        ``sum_g (O_g - E_g)^2 / E_g + (n_g - O_g - (n_g - E_g))^2 / (n_g - E_g)``.
    df : int
        Degrees of freedom of the chi-square reference.
    p_value : float
        ``P(chi2(df) >= statistic)``; small values signal miscalibration.
    table : list of dict
        Per group: ``low``, ``high`` (probability range), ``n``, ``observed``
        (positives) and ``expected`` (sum of probabilities).

    Examples
    --------
    >>> r = HosmerLemeshowResult(statistic=3.2, df=8, p_value=0.92, table=[])
    >>> r.to_dict()["df"]
    8
    """

    statistic: float
    df: int
    p_value: float
    table: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict.

        Examples
        --------
        >>> HosmerLemeshowResult(1.0, 8, 0.99, []).to_dict()["p_value"]
        0.99
        """
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "table": [dict(r) for r in self.table],
        }


def hosmer_lemeshow(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    positive: Label,
    groups: int = 10,
    held_out: bool = False,
    df: int | None = None,
) -> HosmerLemeshowResult:
    """Hosmer-Lemeshow goodness-of-fit test, grouping rows by deciles of risk.

    Groups follow R's ``ResourceSelection::hoslem.test``: cut points at the quantiles
    ``0, 1/g, ..., 1`` of ``proba`` (numpy's default, R's type 7), groups right-closed
    with the lowest value included. Tied probabilities therefore stay in one group;
    repeated cut points are merged, and empty groups dropped, so fewer than ``g`` groups
    may remain (``df`` then follows the number actually used).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: ``positive`` and one other.
    proba : array-like of shape (n_samples,)
        Probability of ``positive``.
    positive : str, int, float or bool
        The label ``proba`` refers to.
    groups : int, default=10
        Number of risk groups ``g`` (at least 3).
    held_out : bool, default=False
        Whether ``proba`` comes from a model that never saw these rows (out-of-fold or
        external validation): then the reference distribution has ``g`` degrees of
        freedom, as no parameter was estimated on them. ``False`` gives ``g - 2``, the
        reference for a model fitted on the same rows (Hosmer & Lemeshow, 1980).
    df : int or None, default=None
        Degrees of freedom, overriding ``held_out``.

    Returns
    -------
    HosmerLemeshowResult

    References
    ----------
    Hosmer, D. W. and Lemeshow, S. (1980). Goodness of fit tests for the multiple
    logistic regression model. Communications in Statistics A, 9(10), 1043-1069.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000)
    >>> y = rng.uniform(size=2000) < p
    >>> result = hosmer_lemeshow(y, p, positive=True, held_out=True)
    >>> result.df, bool(result.p_value > 0.01)
    (10, True)
    """
    where = "hosmer_lemeshow"
    data = check_binary(y_true, proba, positive, where)
    groups = int_param(groups, "groups", where, 3)
    edges = np.unique(np.quantile(data.p, np.linspace(0.0, 1.0, groups + 1)))
    counts, exp, obs = _bin_sums(edges, data.p, data.y)
    n: FloatArray = counts.astype(np.float64)
    keep = n > 0
    n, obs, exp = n[keep], obs[keep], exp[keep]
    if n.size < 3:
        msg = (
            f"proba passed to {where} takes too few distinct values to form 3 risk groups "
            f"(got {n.size}); the Hosmer-Lemeshow test needs at least 3."
        )
        raise DataError(msg, column="proba")
    validate_params(where, {"held_out": held_out}, {"held_out": [OneOf((True, False))]})
    dof = n.size if held_out else n.size - 2
    if df is not None:
        dof = int_param(df, "df", where, 1)
    terms = [_chi_term(obs, exp), _chi_term(n - obs, n - exp)]
    statistic = float(np.sum(terms))
    lows, highs = edges[:-1][keep], edges[1:][keep]
    table = [
        {
            "low": float(lo),
            "high": float(hi),
            "n": int(k),
            "observed": float(o),
            "expected": float(e),
        }
        for lo, hi, k, o, e in zip(lows, highs, n, obs, exp, strict=True)
    ]
    return HosmerLemeshowResult(statistic, dof, float(stats.chi2.sf(statistic, dof)), table)


def _chi_term(obs: FloatArray, exp: FloatArray) -> FloatArray:
    """``(O - E)^2 / E`` with ``0/0 = 0`` and ``x/0 = inf``."""
    diff2 = (obs - exp) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(diff2 == 0, 0.0, diff2 / exp)
    return out


# ------------------------------------------------------------------------- Recalibrator
@dataclass(frozen=True, repr=False)
class Recalibrator:
    """Map probabilities to better-calibrated ones: Platt scaling or isotonic regression.

    Build with :meth:`fit` on out-of-fold probabilities; apply with :meth:`transform`.

    * ``"platt"``: ``sigmoid(slope * logit(p) + intercept)``, fitted by maximum likelihood
      with Platt's (1999) smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``
      (as scikit-learn's ``CalibratedClassifierCV(method="sigmoid")``), which keep the
      fit finite even when the classes separate. ``p`` is clipped to ``[1e-12, 1 - 1e-12]``
      before the logit.
    * ``"isotonic"``: the non-decreasing step fit of scikit-learn's ``IsotonicRegression``
      (clipped to [0, 1] outside the fitted range), stored as its breakpoints and applied
      by linear interpolation between them.

    Attributes
    ----------
    method : {"platt", "isotonic"}
    params : dict
        ``{"slope", "intercept"}`` (Platt) or ``{"x", "y"}`` lists of breakpoints
        (isotonic).
    positive : str, int, float or bool
        The label the probabilities refer to.

    Examples
    --------
    >>> cal = Recalibrator.fit([0, 0, 1, 0, 1, 1], [0.1, 0.3, 0.35, 0.4, 0.8, 0.9],
    ...                        positive=1, method="isotonic")
    >>> cal.transform([0.2, 0.85]).tolist()
    [0.0, 1.0]
    """

    method: str
    params: dict[str, Any]
    positive: Label

    @classmethod
    def fit(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        positive: Label,
        method: Literal["platt", "isotonic"] = "platt",
    ) -> Recalibrator:
        """Fit the recalibration map on labelled (out-of-fold) probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels: ``positive`` and one other.
        proba : array-like of shape (n_samples,)
            Out-of-fold probability of ``positive``.
        positive : str, int, float or bool
            The label ``proba`` refers to.
        method : {"platt", "isotonic"}, default="platt"
            The map to fit.

        Returns
        -------
        Recalibrator

        Examples
        --------
        >>> cal = Recalibrator.fit([0, 1, 0, 1], [0.2, 0.4, 0.6, 0.8], positive=1)
        >>> sorted(cal.params)
        ['intercept', 'slope']
        """
        where = "Recalibrator.fit"
        validate_params(where, {"method": method}, {"method": [OneOf(("platt", "isotonic"))]})
        data = check_binary(y_true, proba, positive, where)
        if method == "platt":
            slope, intercept = _platt(data.y, _logit(data.p))
            return cls(method, {"slope": slope, "intercept": intercept}, data.positive)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(data.p, data.y.astype(np.float64))
        x = [float(v) for v in iso.X_thresholds_]
        y = [float(v) for v in iso.y_thresholds_]
        return cls(method, {"x": x, "y": y}, data.positive)

    def transform(self, proba: ArrayLike) -> FloatArray:
        """Return recalibrated probabilities.

        Examples
        --------
        >>> cal = Recalibrator("platt", {"slope": 1.0, "intercept": 0.0}, positive=1)
        >>> cal.transform([0.25]).round(12).tolist()
        [0.25]
        """
        p = check_proba(proba, "Recalibrator.transform")
        if self.method == "platt":
            z = self.params["slope"] * _logit(p) + self.params["intercept"]
            out: FloatArray = special.expit(z)
            return out
        return np.asarray(np.interp(p, self.params["x"], self.params["y"]), dtype=np.float64)

    def __repr__(self) -> str:
        return f"Recalibrator(method={self.method!r}, positive={self.positive!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds the identical map.

        Examples
        --------
        >>> cal = Recalibrator("platt", {"slope": 0.9, "intercept": -0.1}, positive="M")
        >>> Recalibrator.from_dict(cal.to_dict()) == cal
        True
        """
        params = {k: list(v) if isinstance(v, list) else v for k, v in self.params.items()}
        return {
            "type": "Recalibrator",
            "format_version": 1,
            "method": self.method,
            "positive": self.positive,
            "params": params,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recalibrator:
        """Rebuild a recalibrator from :meth:`to_dict` output.

        Examples
        --------
        >>> d = {"type": "Recalibrator", "format_version": 1, "method": "isotonic",
        ...      "positive": 1, "params": {"x": [0.0, 1.0], "y": [0.1, 0.9]}}
        >>> Recalibrator.from_dict(d).transform([0.5]).tolist()
        [0.5]
        """
        if not isinstance(data, Mapping) or data.get("type") != "Recalibrator":
            msg = "Not a Recalibrator dict (its 'type' is not 'Recalibrator')."
            raise ArtifactError(msg)
        if data.get("format_version") != 1:
            msg = f"Unsupported Recalibrator format_version {data.get('format_version')!r}."
            raise ArtifactError(msg)
        method, params = data.get("method"), data.get("params")
        keys = {"platt": {"slope", "intercept"}, "isotonic": {"x", "y"}}.get(str(method))
        if keys is None or not isinstance(params, Mapping) or set(params) != keys:
            msg = f"Not a valid Recalibrator dict: method {method!r} with params {params!r}."
            raise ArtifactError(msg)
        return cls(str(method), dict(params), data["positive"])


def _logit(p: FloatArray) -> FloatArray:
    out: FloatArray = special.logit(np.clip(p, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP))
    return out


def _platt(y: NDArray[np.bool_], f: FloatArray) -> tuple[float, float]:
    """Platt's maximum-likelihood fit of ``sigmoid(a f + b)`` to smoothed targets."""
    if np.ptp(f) == 0:
        msg = "proba passed to Recalibrator.fit is constant; Platt scaling needs varying probabilities."
        raise DataError(msg, column="proba")
    n_pos = float(y.sum())
    n_neg = y.size - n_pos
    t = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    scale = max(1.0, float(np.max(np.abs(f))))
    g = f / scale  # scaled so the two parameters are of similar size

    def loss_grad(w: FloatArray) -> tuple[float, FloatArray]:
        z = w[0] * g + w[1]
        loss = np.sum(np.logaddexp(0.0, z) - t * z)
        r = special.expit(z) - t
        return float(loss), np.array([r @ g, r.sum()])

    def hess(w: FloatArray) -> FloatArray:
        s = special.expit(w[0] * g + w[1])
        v = s * (1.0 - s)
        return np.array([[v @ (g * g), v @ g], [v @ g, v.sum()]])

    w0 = np.array([scale, 0.0])  # start from the identity map
    res = optimize.minimize(
        loss_grad, w0, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-10}
    )
    return float(res.x[0] / scale), float(res.x[1])
