"""Shared set-up of a fit: validated data -> chunk source, moments and solver problem.

Used by :class:`~logitkit.model.LogisticModel` and by cross-validation, which prepares
each fold once and then solves a whole path of penalties on it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight
from threadpoolctl import ThreadpoolController

from logitkit.data.checks import check_sample_weight, check_target
from logitkit.data.grouped import GroupedData, grouped_rows
from logitkit.data.memory import ArraySource
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
