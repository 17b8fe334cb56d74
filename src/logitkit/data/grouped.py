"""Grouped binomial data: successes out of trials per row, as two weighted rows each.

A row of grouped data (R's ``glm(cbind(s, n - s) ~ x, family=binomial)``) counts ``s``
successes out of ``n`` independent trials at the same features. The solver sees it as
two weighted rows, the successes (label 1, weight ``s``) and the failures (label 0,
weight ``n - s``), which gives the grouped model's estimates and Hessian; the grouped
likelihood differs from the rows' by constants of the data, kept in
:class:`GroupedData` with the totals that inference needs.

The rules live here once, for rows in memory (:func:`grouped_rows`), a streamed file
and Dask partitions (:func:`group_counts`, :func:`doubled_rows` block by block, the
totals added up with ``+``), so that every kind of source reads the same counts, names
the same bad row and fits the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln, xlogy

from logitkit.exceptions import DataError

FloatArray = NDArray[np.float64]

__all__ = [
    "GroupedData",
    "check_both_outcomes",
    "doubled_rows",
    "group_counts",
    "grouped_rows",
    "pearson_chi2",
]

#: A proportion times its trials must be this close to a whole number of successes.
_PROPORTION_TOL = 1e-8


@dataclass(frozen=True)
class GroupedData:
    """What a fit on grouped binomial data (successes out of trials) keeps of its groups.

    Attributes
    ----------
    n_groups : int
        Number of groups (the observations of the grouped model).
    n_trials : float
        Total trials over the groups.
    n_successes : float
        Total successes over the groups.
    log_binomial : float
        ``sum_i log C(n_i, s_i)``, the binomial coefficients' part of the grouped
        log-likelihood (included by R's ``glm`` and statsmodels' ``GLM``).
    saturated_log_likelihood : float
        ``sum_i s_i log(s_i / n_i) + (n_i - s_i) log(1 - s_i / n_i)``: the rows'
        log-likelihood of the saturated model (one probability per group).
    pearson_chi2 : float
        ``sum_i (s_i - n_i p_i)^2 / (n_i p_i (1 - p_i))`` at the fitted ``p_i`` (NaN
        until the fit sets it).
    successes, trials : ndarray or None
        The counts per group, until :meth:`with_pearson` has used them (not stored).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0]])
    >>> _, _, _, groups = grouped_rows(X, np.array([1, 3]), np.array([4, 4]))
    >>> groups.n_groups, groups.n_trials, groups.n_successes
    (2, 8.0, 4.0)
    >>> total = GroupedData.of_counts(np.array([1.0]), np.array([4.0]))
    >>> (total + GroupedData.of_counts(np.array([3.0]), np.array([4.0]))).n_successes
    4.0
    """

    n_groups: int
    n_trials: float
    n_successes: float
    log_binomial: float
    saturated_log_likelihood: float
    pearson_chi2: float = math.nan
    successes: FloatArray | None = field(default=None, repr=False, compare=False)
    trials: FloatArray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of_counts(cls, s: FloatArray, m: FloatArray) -> GroupedData:
        """The totals of groups with ``s`` successes out of ``m`` trials (checked counts;
        the counts themselves are not kept)."""
        f = m - s
        return cls(
            int(s.shape[0]),
            float(m.sum()),
            float(s.sum()),
            float(np.sum(gammaln(m + 1.0) - gammaln(s + 1.0) - gammaln(f + 1.0))),
            float(np.sum(xlogy(s, s / m) + xlogy(f, f / m))),
        )

    def __add__(self, other: GroupedData) -> GroupedData:
        """The totals of both sets of groups (the Pearson statistics added as well)."""
        return GroupedData(
            self.n_groups + other.n_groups,
            self.n_trials + other.n_trials,
            self.n_successes + other.n_successes,
            self.log_binomial + other.log_binomial,
            self.saturated_log_likelihood + other.saturated_log_likelihood,
            self.pearson_chi2 + other.pearson_chi2,
        )

    @property
    def n_rows(self) -> int:
        """The solver's rows: one per group's successes and one per its failures, the
        empty ones left out (known once the counts have been read)."""
        if self.successes is None or self.trials is None:
            msg = "The counts per group are not kept; the rows are counted where they are read."
            raise ValueError(msg)
        return int(
            np.count_nonzero(self.successes) + np.count_nonzero(self.trials - self.successes)
        )

    def with_pearson(self, p: FloatArray) -> GroupedData:
        """A copy with the Pearson statistic at the fitted probabilities ``p`` of the groups.

        The copy keeps no counts per group (the statistic is what inference needs).
        """
        if self.successes is None or self.trials is None:
            msg = "The counts per group are no longer kept; the Pearson statistic is set."
            raise ValueError(msg)
        return self.with_pearson_value(pearson_chi2(self.successes, self.trials, p))

    def with_pearson_value(self, chi2: float) -> GroupedData:
        """A copy with the Pearson statistic ``chi2`` (summed over the groups elsewhere,
        e.g. block by block) and no counts per group."""
        return replace(self, pearson_chi2=float(chi2), successes=None, trials=None)

    def to_dict(self) -> dict[str, float]:
        """The fields as plain numbers (for the artifact)."""
        return {
            "n_groups": float(self.n_groups),
            "n_trials": self.n_trials,
            "n_successes": self.n_successes,
            "log_binomial": self.log_binomial,
            "saturated_log_likelihood": self.saturated_log_likelihood,
            "pearson_chi2": self.pearson_chi2,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> GroupedData:
        """The inverse of :meth:`to_dict` (a missing or null Pearson statistic is NaN)."""
        pearson = spec.get("pearson_chi2")
        return cls(
            n_groups=int(spec["n_groups"]),
            n_trials=float(spec["n_trials"]),
            n_successes=float(spec["n_successes"]),
            log_binomial=float(spec["log_binomial"]),
            saturated_log_likelihood=float(spec["saturated_log_likelihood"]),
            pearson_chi2=math.nan if pearson is None else float(pearson),
        )


def pearson_chi2(s: FloatArray, m: FloatArray, p: FloatArray) -> float:
    """``sum_i (s_i - m_i p_i)^2 / (m_i p_i (1 - p_i))`` of groups at probabilities ``p``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (s - m * p) ** 2 / (m * p * (1.0 - p))
    return float(terms.sum())


def _as_counts(values: Any, name: str, n: int, first_row: int, where: str) -> FloatArray:
    """Finite numbers, one per group, as floats (a clear error naming the first bad row)."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        msg = f"{name} must hold one number per row of X ({n}); got shape {arr.shape}."
        raise DataError(msg, column=name)
    if arr.dtype.kind not in "biuf":
        msg = (
            f"{name} must be numeric (counts of trials or successes){where}; got dtype {arr.dtype}."
        )
        raise DataError(msg, column=name)
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        row = first_row + int(np.flatnonzero(bad)[0])
        msg = f"{name} has a missing or infinite value at row {row}{where}; drop or fill that row."
        raise DataError(msg, column=name, row=row, count=int(bad.sum()))
    return out


def group_counts(
    successes: Any,
    trials: Any,
    *,
    proportion: bool = False,
    names: tuple[str, str] = ("y", "trials"),
    first_row: int = 0,
    where: str = "",
) -> tuple[FloatArray, FloatArray]:
    """Checked successes and trials of a block of groups, as float64 counts.

    Parameters
    ----------
    successes : array-like of shape (n,)
        Successes per group (whole numbers in ``[0, trials]``), or with
        ``proportion=True`` their share of the trials.
    trials : array-like of shape (n,)
        Trials per group, whole numbers ``>= 1``.
    proportion : bool, default=False
        Whether ``successes`` are proportions (then times the trials they must be whole).
    names : (str, str)
        The names of the two columns in messages (``y`` and ``trials`` in Python; the
        file's column names when streamed).
    first_row : int
        The row number of the block's first group, for messages.
    where : str
        Where the rows come from, for messages (e.g. ``" of big.parquet (0-based data
        row)"``).

    Returns
    -------
    s, m : ndarray of shape (n,)
        Successes and trials.

    Raises
    ------
    DataError
        Missing, non-integer or negative counts, successes above trials, or a proportion
        outside ``[0, 1]``; the message names the column and the first such row.

    Examples
    --------
    >>> s, m = group_counts([0, 3], [4, 4])
    >>> s.tolist(), m.tolist()
    ([0.0, 3.0], [4.0, 4.0])
    >>> group_counts([0, 5], [4, 4], names=("dead", "n"), first_row=10)
    Traceback (most recent call last):
    ...
    logitkit.exceptions.DataError: dead counts more successes than trials: row 11 has 5 successes; successes must lie in [0, trials].
    """
    y_name, trials_name = names
    n = int(np.asarray(trials).shape[0]) if np.ndim(trials) else 0
    m = _as_counts(trials, trials_name, n, first_row, where)

    def first_bad(bad: NDArray[np.bool_], name: str, message: str, values: FloatArray) -> None:
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            text = message.format(
                row=first_row + at, value=float(values[at]), count=int(bad.sum()), where=where
            )
            raise DataError(text, column=name, row=first_row + at, count=int(bad.sum()))

    first_bad(
        (m != np.round(m)) | (m < 1),
        trials_name,
        trials_name + " must be whole numbers >= 1 (trials per group); row {row}{where} has "
        "{value:g} ({count} such row(s)).",
        m,
    )
    v = _as_counts(successes, y_name, n, first_row, where)
    if proportion:
        first_bad(
            (v < 0) | (v > 1),
            y_name,
            "With proportion=True "
            + y_name
            + " must lie in [0, 1]; row {row}{where} has {value:g}.",
            v,
        )
        s = np.round(v * m)
        first_bad(
            np.abs(v * m - s) > _PROPORTION_TOL * m,
            y_name,
            y_name + " times trials must be a whole number of successes; row {row}{where} has "
            "the proportion {value:g}, which is not k / trials for a whole k.",
            v,
        )
        return s, m
    shares = bool((v >= 0).all() and (v <= 1).all() and (v != np.round(v)).any())
    hint = "; if it holds proportions of the trials, pass proportion=True" if shares else ""
    first_bad(
        (v != np.round(v)) | (v < 0),
        y_name,
        y_name + " must count successes (whole numbers >= 0) when trials is given; row {row}"
        "{where} has {value:g}" + hint + ".",
        v,
    )
    first_bad(
        v > m,
        y_name,
        y_name + " counts more successes than trials: row {row}{where} has {value:g} "
        "successes; successes must lie in [0, trials].",
        v,
    )
    return v, m


def check_both_outcomes(totals: GroupedData, column: str = "y") -> None:
    """Refuse groups whose trials are all successes or all failures (no model to fit)."""
    if totals.n_successes <= 0 or totals.n_successes >= totals.n_trials:
        outcome = "successes" if totals.n_successes > 0 else "failures"
        msg = f"Every trial is one of the {outcome}; a logistic model needs both outcomes."
        raise DataError(msg, column=column)


def doubled_rows(X: Any, s: FloatArray, m: FloatArray) -> tuple[Any, NDArray[np.intp], FloatArray]:
    """The solver's rows of groups: each group's features once for its successes (label
    1, weight ``s``) and once for its failures (label 0, weight ``m - s``), interleaved
    group by group, an empty part left out.

    Examples
    --------
    >>> import numpy as np
    >>> rows, labels, weights = doubled_rows(np.array([[0.0], [1.0]]), np.array([0.0, 3.0]),
    ...                                      np.array([4.0, 4.0]))
    >>> rows.ravel().tolist(), labels.tolist(), weights.tolist()
    ([0.0, 1.0, 1.0], [0, 1, 0], [4.0, 3.0, 1.0])
    """
    n = int(s.shape[0])
    order = np.repeat(np.arange(n), 2)
    labels = np.tile(np.array([1, 0], dtype=np.intp), n)
    weights = np.column_stack([s, m - s]).ravel()
    keep = weights > 0
    return X[order[keep]], labels[keep], weights[keep]


def grouped_rows(
    X: Any, y: Any, trials: Any, *, proportion: bool = False
) -> tuple[Any, NDArray[np.intp], FloatArray, GroupedData]:
    """Grouped binomial data in memory as two weighted rows per group, for the solver.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_groups, p)
        Validated features, one row per group.
    y : array-like of shape (n_groups,)
        Successes per group (whole numbers in ``[0, trials]``), or with
        ``proportion=True`` the share of successes in ``[0, 1]``.
    trials : array-like of shape (n_groups,)
        Trials per group, whole numbers ``>= 1``.
    proportion : bool, default=False
        Whether ``y`` is a proportion (then ``y * trials`` must be whole).

    Returns
    -------
    X_rows, labels, weights
        :func:`doubled_rows` of the groups.
    groups : GroupedData
        Totals and the constants of the grouped likelihood, with the counts per group
        (for the Pearson statistic once fitted).

    Raises
    ------
    DataError
        Non-integer, negative or missing counts, successes above trials, or a
        proportion outside ``[0, 1]`` (:func:`group_counts`); every trial one outcome.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0]])
    >>> rows, labels, weights, _ = grouped_rows(X, np.array([0, 3]), np.array([4, 4]))
    >>> rows.ravel().tolist(), labels.tolist(), weights.tolist()
    ([0.0, 1.0, 1.0], [0, 1, 0], [4.0, 3.0, 1.0])
    """
    if y is None:
        msg = "trials=... needs y: the successes (or, with proportion=True, their share)."
        raise DataError(msg, column="y")
    n = int(X.shape[0])
    if np.ndim(trials) != 1 or np.shape(trials)[0] != n:
        msg = f"trials must hold one number per row of X ({n}); got shape {np.shape(trials)}."
        raise DataError(msg, column="trials")
    s, m = group_counts(y, trials, proportion=proportion)
    totals = GroupedData.of_counts(s, m)
    check_both_outcomes(totals)
    X_rows, labels, weights = doubled_rows(X, s, m)
    return X_rows, labels, weights, replace(totals, successes=s, trials=m)
