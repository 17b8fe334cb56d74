"""The path of one fold: its training rows prepared once, the grid solved with warm starts.

:func:`fold_path` runs in a worker (it and its arguments pickle): it validates that the
training rows hold every class, runs the first pass (:func:`logitkit._fitting.prepare`:
moments of the training rows only, so no held-out row reaches the standardisation), then
for each ``(l1_ratio, C)`` from the strongest penalty to the weakest solves the problem
from the previous solution, maps it to original units and scores the held-out rows.
:func:`c_grid` makes the default grid; :func:`score` the held-out scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from logitkit._fitting import TrainingData, blas_threads, prepare
from logitkit.exceptions import DataError
from logitkit.solver import Curvature, Objective, solve
from logitkit.solver.loss import sigmoid, softmax

__all__ = [
    "HIGHER_IS_BETTER",
    "SCORINGS",
    "FoldPath",
    "PathSettings",
    "c_grid",
    "fold_path",
    "l1_C_min",
    "score",
]

FloatArray = NDArray[np.float64]

#: Scores that CV can select by; the first is the default.
SCORINGS = ("log_loss", "roc_auc", "brier")
#: Scores for which larger is better (the others are losses).
HIGHER_IS_BETTER = frozenset({"roc_auc"})
#: Span of the L1 grid, ``C_max / C_min`` (glmnet's ``lambda.min.ratio``: 1e-4 for
#: ``n > p``, 1e-2 otherwise).
_L1_SPAN = (1e4, 1e2)
#: The L2 grid (scikit-learn's ``LogisticRegressionCV``): ``logspace(-4, 4, Cs)``.
_L2_RANGE = (-4.0, 4.0)


# --------------------------------------------------------------------------- scoring
def score(
    scoring: str, Z: FloatArray, codes: NDArray[np.intp], sw: FloatArray, n_classes: int
) -> float:
    """Score held-out rows from their linear predictor ``Z`` (n, M), weighted by ``sw``."""
    if Z.shape[1] == 1:
        z = Z[:, 0]
        yes = codes == 1
        if scoring == "log_loss":
            loss = np.logaddexp(0.0, np.where(yes, -z, z))  # -log P(true class), stable
            return float(np.average(loss, weights=sw))
        p1 = sigmoid(z)
        if scoring == "brier":
            return float(np.average((p1 - yes) ** 2, weights=sw))
        if yes.all() or not yes.any():
            return math.nan
        return float(roc_auc_score(yes, p1, sample_weight=sw))
    P, lse = softmax(Z)
    rows = np.arange(Z.shape[0])
    if scoring == "log_loss":
        return float(np.average(lse - Z[rows, codes], weights=sw))
    Y = np.zeros_like(P)
    Y[rows, codes] = 1.0
    if scoring == "brier":
        return float(np.average(((P - Y) ** 2).sum(axis=1), weights=sw))
    if np.unique(codes).size != n_classes:  # one-vs-rest needs every class held out
        return math.nan
    aucs = [roc_auc_score(Y[:, k], P[:, k], sample_weight=sw) for k in range(n_classes)]
    return float(np.mean(aucs))


# ------------------------------------------------------------------------------ path
@dataclass(frozen=True)
class PathSettings:
    """What every fold needs to know (picklable, sent to the workers)."""

    grids: tuple[tuple[float, tuple[float, ...]], ...]  # (l1_ratio, Cs ascending)
    fit_intercept: bool
    class_weight: Any
    standardize: bool
    tol: float  # the path tolerance
    max_iter: int
    solver: str
    scoring: str
    n_classes: int
    single_thread: bool


@dataclass
class FoldPath:
    """One fold's path: scores, nonzero counts and coefficients per (l1_ratio, C)."""

    scores: FloatArray  # (n_ratios, n_Cs)
    nonzero: NDArray[np.int64]  # (n_ratios, n_Cs)
    coef: FloatArray  # (n_ratios, n_Cs, M, p) in original units
    intercept: FloatArray  # (n_ratios, n_Cs, M)
    not_converged: list[tuple[float, float]]


def fold_path(
    X: Any,
    labels: NDArray[Any],
    codes: NDArray[np.intp],
    sw: FloatArray,
    train: NDArray[np.intp],
    test: NDArray[np.intp],
    settings: PathSettings,
) -> FoldPath:
    """Prepare the training rows once, solve the grid with warm starts, score the test rows."""
    held = np.unique(codes[train]).shape[0]
    if held != settings.n_classes:
        msg = (
            f"A cross-validation training fold holds {held} of the {settings.n_classes} "
            "classes; use fewer folds or a stratified splitter."
        )
        raise DataError(msg, column="y")
    X_train = X[train]
    data = prepare(X_train, labels[train], sw[train], settings.class_weight)
    n, p = X_train.shape
    M = data.n_outputs
    # In a worker process (or thread) one BLAS thread; alone, as LogisticModel does.
    limit: Any = (
        threadpool_limits(limits=1, user_api="blas")
        if settings.single_thread
        else blas_threads(n * p * M)
    )
    X_test, codes_test, sw_test = X[test], codes[test], sw[test]
    shape = (len(settings.grids), len(settings.grids[0][1]))
    out = FoldPath(
        scores=np.empty(shape),
        nonzero=np.empty(shape, dtype=np.int64),
        coef=np.empty((*shape, M, p)),
        intercept=np.empty((*shape, M)),
        not_converged=[],
    )
    with limit:
        for i, (l1_ratio, Cs) in enumerate(settings.grids):
            theta: FloatArray | None = None
            curvature: Curvature | None = None
            for j, C in enumerate(Cs):
                problem = data.problem(
                    C=C,
                    l1_ratio=l1_ratio,
                    fit_intercept=settings.fit_intercept,
                    standardize=settings.standardize,
                )
                start = data.null_start(problem) if theta is None else theta
                result = solve(
                    problem,
                    start,
                    method=settings.solver,
                    tol=settings.tol,
                    max_iter=settings.max_iter,
                    # The previous penalty's Hessian: neighbouring C values barely move it.
                    curvature=curvature,
                )
                curvature = result.curvature
                if not result.converged:
                    out.not_converged.append((l1_ratio, C))
                theta = result.theta.ravel()
                scale, mean = problem.scaling.scale, problem.scaling.mean
                coef = result.theta[:, 1:] / scale
                intercept = result.theta[:, 0] - coef @ mean
                Z = np.asarray(X_test @ coef.T, dtype=np.float64) + intercept
                out.scores[i, j] = score(
                    settings.scoring, Z, codes_test, sw_test, settings.n_classes
                )
                out.nonzero[i, j] = int(np.count_nonzero(np.any(coef != 0.0, axis=0)))
                out.coef[i, j], out.intercept[i, j] = coef, intercept
    return out


def l1_C_min(data: TrainingData, l1_ratio: float, fit_intercept: bool, standardize: bool) -> float:
    """Smallest C whose solution has every coefficient zero (the KKT condition at the null).

    At the null model (coefficients zero, intercepts at the weighted log-odds) the
    coefficients stay zero while ``C |g_j| <= l1_ratio`` for every loss gradient ``g_j``
    on the penalised scale, so ``C_min = l1_ratio / max_j |g_j|`` (glmnet's
    ``lambda_max``).
    """
    problem = data.problem(
        C=1.0, l1_ratio=l1_ratio, fit_intercept=fit_intercept, standardize=standardize
    )
    point = Objective(problem).at(data.null_start(problem))
    grad = point.stats.grad[:, 1:]
    largest = float(np.abs(grad).max(initial=0.0))
    return l1_ratio / largest if largest > 0.0 else math.nan


def c_grid(
    Cs: int | Sequence[float],
    l1_ratio: float,
    data: TrainingData,
    fit_intercept: bool,
    standardize: bool,
) -> tuple[float, ...]:
    """The C values for one l1_ratio, ascending (strongest penalty first)."""
    if not isinstance(Cs, int):
        return tuple(sorted(float(c) for c in Cs))
    n_Cs = Cs
    c_min = l1_C_min(data, l1_ratio, fit_intercept, standardize) if l1_ratio > 0 else math.nan
    if math.isnan(c_min):
        return tuple(float(c) for c in np.logspace(*_L2_RANGE, n_Cs))
    n, p = data.X.shape
    span = _L1_SPAN[0] if n > p else _L1_SPAN[1]
    return tuple(float(c) for c in c_min * np.logspace(0.0, math.log10(span), n_Cs))
