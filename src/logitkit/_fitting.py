"""Shared set-up of a fit: validated data -> chunk source, moments and solver problem.

Used by :class:`~logitkit.model.LogisticModel` and by cross-validation, which prepares
each fold once and then solves a whole path of penalties on it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln, xlogy
from sklearn.utils.class_weight import compute_class_weight
from threadpoolctl import ThreadpoolController

from logitkit.data.checks import check_sample_weight, check_target
from logitkit.data.memory import ArraySource
from logitkit.exceptions import DataError
from logitkit.solver import ChunkSource, Problem, initial_theta
from logitkit.solver.moments import Moments, feature_moments

FloatArray = NDArray[np.float64]

__all__ = [
    "GroupedData",
    "TrainingData",
    "blas_threads",
    "build_problem",
    "class_weight_vector",
    "grouped_rows",
    "prepare",
]

#: Below this many values per pass, BLAS threads cost more than they give.
_SINGLE_THREAD_VALUES = 2_000_000
_THREADPOOLS: list[ThreadpoolController] = []


def blas_threads(n_values: int) -> Any:
    """A context limiting BLAS threads: one for small problems, the idle cores for large.

    Small fits lose more to thread start-up than they gain. On a machine where other
    processes keep cores busy, a BLAS thread more than the idle cores waits on the busy
    ones, and threaded kernels were seen to run five times slower than on one thread.
    """
    threads = 1
    if n_values > _SINGLE_THREAD_VALUES:
        cores = os.cpu_count() or 1
        idle = cores - _others_load(cores)
        threads = max(1, min(cores, int(idle + 0.5)))
        if threads >= cores:
            return contextlib.nullcontext()
    if not _THREADPOOLS:  # inspecting the loaded libraries takes milliseconds: once only
        _THREADPOOLS.append(ThreadpoolController())
    return _blas_limited(_THREADPOOLS[0], threads)


def _system_busy_s() -> float | None:
    """CPU seconds all processes have used since boot (Linux ``/proc/stat``), or None."""
    try:
        with Path("/proc/stat").open(encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


#: (wall clock, system CPU seconds, this process's CPU seconds) at the last reading.
_MARK: list[tuple[float, float | None, float]] = [
    (time.monotonic(), _system_busy_s(), time.process_time())
]
_LAST_OTHERS: list[float] = []
#: Readings closer together than this reuse the last estimate (too short to measure).
_MIN_WINDOW_S = 0.5


def _others_load(cores: int) -> float:
    """Cores that other processes keep busy now.

    What the whole machine used since the last reading (or since import) less what this
    process used: the load average alone counts this process too, so a busy fit loop (a
    benchmark, a grid search) would see its own load and run every later fit on one
    thread. Without ``/proc/stat``: the 1-minute load average.
    """
    now, busy, own = time.monotonic(), _system_busy_s(), time.process_time()
    then, busy_then, own_then = _MARK[0]
    if busy is None or busy_then is None:
        return os.getloadavg()[0]
    if now - then < _MIN_WINDOW_S and _LAST_OTHERS:
        return _LAST_OTHERS[0]
    others = ((busy - busy_then) - (own - own_then)) / max(now - then, 1e-9)
    others = min(float(cores), max(0.0, others))
    _MARK[0] = (now, busy, own)
    _LAST_OTHERS[:] = [others]
    return others


@contextlib.contextmanager
def _blas_limited(controller: ThreadpoolController, threads: int) -> Iterator[None]:
    """Set every BLAS library to ``threads`` and restore each one's count afterwards.

    (threadpoolctl's own ``limit`` re-reads every library's description on each call,
    which costs a small fit a tenth of its time.)
    """
    libraries = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
    before = [lib.num_threads for lib in libraries]
    for lib, count in zip(libraries, before, strict=True):
        if count != threads:
            lib.set_num_threads(threads)
    try:
        yield
    finally:
        for lib, count in zip(libraries, before, strict=True):
            if count != threads:
                lib.set_num_threads(count)


def class_weight_vector(
    class_weight: Any, classes: NDArray[Any], codes: NDArray[np.intp], sw: FloatArray
) -> FloatArray:
    """Weight of each class; "balanced" counts rows by their sample weights.

    Counting by sample weight keeps a row of weight 2 equal to the row twice (with unit
    weights this is scikit-learn's ``n / (K n_k)``).
    """
    K = classes.shape[0]
    if class_weight is None:
        return np.ones(K)
    if class_weight == "balanced":
        totals = np.bincount(codes, weights=sw, minlength=K)
        return np.asarray(totals.sum() / (K * np.maximum(totals, np.finfo(float).tiny)))
    return np.asarray(
        compute_class_weight(class_weight, classes=classes, y=classes[codes]), dtype=np.float64
    )


def build_problem(
    source: ChunkSource,
    moments: Moments,
    *,
    n_outputs: int,
    n_features: int,
    total_weight: float,
    n_rows: int,
    C: float,
    l1_ratio: float,
    fit_intercept: bool,
    standardize: bool,
) -> Problem:
    """The solver problem for one penalty, from a source and its first-pass moments.

    Features are centred exactly when there is an intercept; zero-variance features are
    then held at zero.
    """
    scaling = moments.scaling(center=fit_intercept, scale=standardize)
    fixed = moments.zero_variance() if fit_intercept else np.zeros(n_features, dtype=bool)
    return Problem(
        source=source,
        scaling=scaling,
        n_outputs=n_outputs,
        C=C,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        fixed_features=fixed,
        total_weight=total_weight,
        n_rows=n_rows,
    )


@dataclass(frozen=True)
class TrainingData:
    """Validated training rows, ready for the solver.

    Attributes
    ----------
    X : ndarray or CSR matrix
        Features (validated, finite).
    classes : ndarray
        Sorted class labels.
    codes : ndarray of int
        Class code of each row.
    sample_weight : ndarray
        Sample weights alone.
    weights : ndarray
        Loss weights: sample weight times class weight.
    source : ArraySource
        The chunk source over the rows.
    moments : Moments
        Weighted feature moments and class totals from the first pass.
    """

    X: Any
    classes: NDArray[Any]
    codes: NDArray[np.intp]
    sample_weight: FloatArray
    weights: FloatArray
    source: ArraySource
    moments: Moments

    @property
    def n_outputs(self) -> int:
        """1 for a binary target, the number of classes otherwise."""
        K = int(self.classes.shape[0])
        return 1 if K == 2 else K

    def problem(
        self, *, C: float, l1_ratio: float, fit_intercept: bool, standardize: bool
    ) -> Problem:
        """The solver problem for one penalty (centred exactly when there is an intercept)."""
        return build_problem(
            self.source,
            self.moments,
            n_outputs=self.n_outputs,
            n_features=int(self.X.shape[1]),
            total_weight=float(self.weights.sum()),
            n_rows=int(self.X.shape[0]),
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            standardize=standardize,
        )

    def null_start(self, problem: Problem) -> FloatArray:
        """Starting parameters at the null model."""
        return initial_theta(problem, self.moments.class_weight_sums)


def prepare(X: Any, y: Any, sample_weight: Any, class_weight: Any) -> TrainingData:
    """Check the target and weights, and run the first pass (moments, class totals)."""
    n = int(X.shape[0])
    classes, codes = check_target(y, n)
    sw = check_sample_weight(sample_weight, n)
    K = int(classes.shape[0])
    cw = class_weight_vector(class_weight, classes, codes, sw)
    w = sw * cw[codes] if class_weight is not None else sw
    source = ArraySource(X, codes, w, sw, 1 if K == 2 else K)
    moments = feature_moments(source, K)
    return TrainingData(X, classes, codes, sw, w, source, moments)


# ------------------------------------------------------------------ grouped binomial data
#: A proportion times its trials must be this close to a whole number of successes.
_PROPORTION_TOL = 1e-8


@dataclass(frozen=True)
class GroupedData:
    """What a fit on grouped binomial data (successes out of trials) keeps of its groups.

    The solver sees each group as two weighted rows (its successes and its failures),
    which gives the grouped model's estimates and Hessian; the likelihood of the
    grouped model differs from that of the rows by constants of the data, kept here.

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
    """

    n_groups: int
    n_trials: float
    n_successes: float
    log_binomial: float
    saturated_log_likelihood: float
    pearson_chi2: float = math.nan
    successes: FloatArray | None = field(default=None, repr=False, compare=False)
    trials: FloatArray | None = field(default=None, repr=False, compare=False)

    def with_pearson(self, p: FloatArray) -> GroupedData:
        """A copy with the Pearson statistic at the fitted probabilities ``p`` of the groups.

        The copy keeps no counts per group (the statistic is what inference needs).
        """
        if self.successes is None or self.trials is None:
            msg = "The counts per group are no longer kept; the Pearson statistic is set."
            raise ValueError(msg)
        s, m = self.successes, self.trials
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = (s - m * p) ** 2 / (m * p * (1.0 - p))
        return replace(self, pearson_chi2=float(terms.sum()), successes=None, trials=None)

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


def _group_counts(values: Any, name: str, n: int) -> FloatArray:
    """Finite numbers, one per group, as floats (a clear error naming the first bad row)."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        msg = f"{name} must hold one number per row of X ({n}); got shape {arr.shape}."
        raise DataError(msg, column=name)
    if arr.dtype.kind not in "biuf":
        msg = f"{name} must be numeric (counts of trials or successes); got dtype {arr.dtype}."
        raise DataError(msg, column=name)
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = f"{name} has a missing or infinite value at row {first}; drop or fill that row."
        raise DataError(msg, column=name, row=first, count=int(bad.sum()))
    return out


def _first_bad(bad: NDArray[np.bool_], name: str, message: str, values: FloatArray) -> None:
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = message.format(row=first, value=float(values[first]), count=int(bad.sum()))
        raise DataError(msg, column=name, row=first, count=int(bad.sum()))


def grouped_rows(
    X: Any, y: Any, trials: Any, *, proportion: bool = False
) -> tuple[Any, NDArray[np.intp], FloatArray, GroupedData]:
    """Grouped binomial data as two weighted rows per group, for the solver.

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
    X_rows : ndarray or CSR matrix
        The group's features once for its successes and once for its failures (a
        part with no trials is left out).
    labels : ndarray of int
        1 for a row of successes, 0 for a row of failures.
    weights : ndarray
        The successes or failures of each row.
    groups : GroupedData
        Totals and the constants of the grouped likelihood.

    Raises
    ------
    DataError
        Non-integer, negative or missing counts, successes above trials, or a
        proportion outside ``[0, 1]``; the message names the first such row.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0]])
    >>> rows, labels, weights, _ = grouped_rows(X, np.array([0, 3]), np.array([4, 4]))
    >>> rows.ravel().tolist(), labels.tolist(), weights.tolist()
    ([0.0, 1.0, 1.0], [0, 1, 0], [4.0, 3.0, 1.0])
    """
    n = int(X.shape[0])
    m = _group_counts(trials, "trials", n)
    _first_bad(
        (m != np.round(m)) | (m < 1),
        "trials",
        "trials must be whole numbers >= 1; row {row} has {value:g} ({count} such row(s)).",
        m,
    )
    if y is None:
        msg = "trials=... needs y: the successes (or, with proportion=True, their share)."
        raise DataError(msg, column="y")
    v = _group_counts(y, "y", n)
    if proportion:
        _first_bad(
            (v < 0) | (v > 1),
            "y",
            "With proportion=True y must lie in [0, 1]; row {row} has {value:g}.",
            v,
        )
        s = np.round(v * m)
        _first_bad(
            np.abs(v * m - s) > _PROPORTION_TOL * m,
            "y",
            "y times trials must be a whole number of successes; row {row} has the "
            "proportion {value:g}, which is not k / trials for a whole k.",
            v,
        )
    else:
        s = v
        shares = (v >= 0).all() and (v <= 1).all() and (v != np.round(v)).any()
        hint = "; if y holds proportions of the trials, pass proportion=True" if shares else ""
        _first_bad(
            (s != np.round(s)) | (s < 0),
            "y",
            "y must count successes (whole numbers >= 0) when trials is given; row {row} "
            "has {value:g}" + hint + ".",
            s,
        )
        _first_bad(
            s > m,
            "y",
            "y counts more successes than trials: row {row} has {value:g} successes; "
            "successes must lie in [0, trials].",
            s,
        )
    if not (s > 0).any() or not (s < m).any():
        outcome = "successes" if (s > 0).any() else "failures"
        msg = f"Every trial is one of the {outcome}; a logistic model needs both outcomes."
        raise DataError(msg, column="y")
    f = m - s
    # Interleaved per group (successes, then failures), dropping empty parts.
    order = np.column_stack([np.arange(n), np.arange(n)]).ravel()
    labels = np.tile(np.array([1, 0], dtype=np.intp), n)
    weights = np.column_stack([s, f]).ravel()
    keep = weights > 0
    X_rows = X[order[keep]]
    saturated = float(np.sum(xlogy(s, s / m) + xlogy(f, f / m)))
    log_binomial = float(np.sum(gammaln(m + 1.0) - gammaln(s + 1.0) - gammaln(f + 1.0)))
    groups = GroupedData(
        n, float(m.sum()), float(s.sum()), log_binomial, saturated, successes=s, trials=m
    )
    return X_rows, labels[keep], weights[keep], groups
