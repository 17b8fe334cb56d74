"""C by cross-validation on hash folds, and out-of-fold probabilities, on any rows.

The folds are :class:`~logitkit.selection.HashKFold`'s: each row's fold is a hash of its
encoded values, so the same rows form the same folds in memory, in a streamed file and
on Dask partitions. For each fold, the grid of C (each L1 share's, ascending, warm
started along it) is fitted on the other folds' rows by passes: for L2 (and no penalty)
every fold's model at one C steps together, one pass per step for all of them
(:mod:`._lockstep`), each C started from the previous one's solutions moved by one
Newton step of the new objective; otherwise fold by fold. One scan then scores
every fold's rows under every candidate at once (weighted mean log-loss or Brier score,
sums over rows, hence exact in one pass). The ROC-AUC of a fold is no sum over its
rows: that scan writes every row's fold, class, weight and linear predictors under
every candidate to temporary files on disk (deleted after), and each fold's AUC is then
computed exactly, one fold's rows of one candidate in memory at a time, by the same
rule as :class:`~logitkit.selection.LogisticModelCV`'s. The candidate with the best mean score is
refitted on all the rows; the fold models at that candidate give each row its
out-of-fold probabilities (:func:`fold_proba`, applied by the evidence scan of
:mod:`._scaled`).

**The search's rows.** With many rows, C is searched on a hash sample of the fitting
rows (about :data:`CV_ROWS` by default, fewer for wide data: :func:`search_rows`; every
row with ``cv_rows=0``), by its own seed, so the same rows form the same sample in
memory, in a streamed file and on Dask partitions; the chosen C is then fitted on every
fitting row (the shipped model and the fold models of the out-of-fold probabilities).
The penalty ``||w||^2 / (2 C)`` sits beside a *sum* of losses, so C plays the part of a
prior variance of the coefficients, which does not change with the number of rows: a
large sample estimates the same best C as all the rows, at a fraction of the passes
(the ``Cs x folds`` fits of the grid are most of the pipeline's work). The record says
which rows the search used (:attr:`HashSearch.rows`).

The C grid is :class:`~logitkit.selection.LogisticModelCV`'s (``logspace(-4, 4, Cs)``
for L2; for an L1 share, from the smallest C that zeroes every coefficient on the
fitting rows), and :class:`HashSearch` carries the same ``cv_results_`` columns.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.data.row_filters import AllOf, RowFilter
from logitkit.model import LogisticModel
from logitkit.selection import HashKFold
from logitkit.selection._path import _L1_SPAN, _L2_RANGE, HIGHER_IS_BETTER, l1_C_min, score
from logitkit.solver.loss import sigmoid, softmax
from logitkit.workflow._lockstep import (
    FoldData,
    FoldFit,
    fit_in_lockstep,
    fold_data,
    lockstep_applies,
)
from logitkit.workflow._rows import PassRows
from logitkit.workflow._spec import TrainingSpec

__all__ = [
    "CV_ROWS",
    "CV_SEED",
    "FoldGrid",
    "FoldModels",
    "HashSearch",
    "fixed_fold_models",
    "fold_filter",
    "fold_models",
    "fold_proba",
    "probabilities",
    "refit",
    "search_C",
    "search_rows",
    "stacked",
]

FloatArray = NDArray[np.float64]

#: Fitting rows (about) of the hash sample on which ``cv`` searches C by default.
CV_ROWS = 250_000
#: ...and at most these bytes of them (``8 p`` a row), for wide data.
_CV_SAMPLE_BYTES = 2**28
#: Seed of the search sample's hash (independent of the folds' and the reference sample's).
CV_SEED = 0xC5A3


def search_rows(spec: TrainingSpec, n_features: int) -> int | None:
    """About how many fitting rows the search over C uses (None: every row).

    ``cv_rows`` when given (0: every row); else :data:`CV_ROWS`, or fewer when their
    features would take more than 256 MiB.

    Examples
    --------
    >>> search_rows(TrainingSpec(target="y", cv=True), 83)
    250000
    >>> search_rows(TrainingSpec(target="y", cv=True), 1000)
    33554
    >>> search_rows(TrainingSpec(target="y", cv=True, cv_rows=0), 83) is None
    True
    """
    if not spec.cv or spec.cv_rows == 0:
        return None
    if spec.cv_rows is not None:
        return spec.cv_rows
    return max(2 * spec.folds, min(CV_ROWS, _CV_SAMPLE_BYTES // (8 * max(n_features, 1))))


@dataclass
class HashSearch:
    """The record of a cross-validation over C on hash folds (as ``LogisticModelCV``'s).

    Attributes
    ----------
    C_, l1_ratio_ : float
        The chosen penalty.
    cv : HashKFold
        The folds.
    scoring : str
        ``"log_loss"``, ``"brier"`` or ``"roc_auc"``.
    cv_results_ : pandas.DataFrame
        One row per candidate: ``l1_ratio``, ``C``, ``mean_score``, ``std_score``,
        ``se_score``, ``mean_nonzero``, ``rank``, ``selected``, ``split{k}_score``.
    best_index_ : int
        The chosen row.
    rows : str
        The rows the search used (every fitting row, or a hash sample of them).
    """

    C_: float
    l1_ratio_: float
    cv: HashKFold
    scoring: str
    cv_results_: pd.DataFrame
    best_index_: int
    rows: str = ""


@dataclass
class FoldGrid:
    """Per fold, the models of every candidate (fitted without that fold's rows)."""

    coef: FloatArray  # (K, m, M, p)
    intercept: FloatArray  # (K, m, M)


@dataclass
class FoldModels:
    """One model per fold (fitted without that fold's rows), at one penalty."""

    folds: HashKFold
    coef: FloatArray  # (K, M, p)
    intercept: FloatArray  # (K, M)


def folds_of(spec: TrainingSpec) -> HashKFold:
    """The hash folds of the procedure (its seed picks the assignment)."""
    return HashKFold(spec.folds, seed=spec.seed)


def _model(spec: TrainingSpec, positive: Any, C: float, l1_ratio: float | None) -> LogisticModel:
    penalty = spec.penalty
    return LogisticModel(
        penalty=penalty,
        C=1.0 if penalty in (None, "firth") else C,
        l1_ratio=l1_ratio if penalty == "elasticnet" else None,
        positive_class=positive,
        **spec.fit_params,
    )


def fold_filter(folds: HashKFold, k: int, keep: RowFilter | None) -> RowFilter:
    """The training rows of fold ``k``: the other folds' rows among those ``keep`` keeps."""
    return folds.filter(k) if keep is None else AllOf((keep, folds.filter(k)))


def candidates(
    rows: PassRows, spec: TrainingSpec, keep: RowFilter | None = None
) -> list[tuple[float, float]]:
    """The ``(l1_ratio, C)`` grid, each L1 share's C ascending (``LogisticModelCV``'s)."""
    if spec.penalty == "l2":
        ratios = [0.0]
    elif spec.penalty == "l1":
        ratios = [1.0]
    else:
        ratios = [spec.l1_ratio] if spec.l1_ratio is not None else [0.1, 0.5, 0.9]
    data = rows.grid_data(spec.class_weight, keep) if any(r > 0 for r in ratios) else None
    n = rows.n_rows if data is None else int(data.moments.n_rows)
    p = len(rows.feature_names)
    out = []
    for ratio in ratios:
        c_min = l1_C_min(cast(Any, data), ratio, True, True) if ratio > 0 else math.nan
        if math.isnan(c_min):
            grid = np.logspace(*_L2_RANGE, spec.Cs)
        else:
            span = _L1_SPAN[0] if n > p else _L1_SPAN[1]
            grid = c_min * np.logspace(0.0, math.log10(span), spec.Cs)
        # 12 significant digits: the L1 grid's start is a sum over rows, whose last bits
        # depend on the order of the passes; the rounded grid is the same everywhere.
        out += [(float(ratio), float(f"{c:.12g}")) for c in grid]
    return out


def fold_models(
    rows: PassRows,
    spec: TrainingSpec,
    positive: Any,
    grid: list[tuple[float, float]],
    fitting: RowFilter | None = None,
    data: FoldData | None = None,
) -> FoldGrid:
    """For each fold, the grid's models fitted on the other folds (warm started along C).

    Smooth penalties step every fold's model at one C together, one pass per step
    (:mod:`._lockstep`; ``data``, the moments of each fold, when a scan gathered them);
    the others are fitted fold by fold.
    """
    folds = folds_of(spec)
    K = folds.n_splits
    if _in_lockstep(rows, spec, positive):
        data = fold_data(rows, folds, fitting) if data is None else data
        coef, intercept = [], []
        starts: list[FoldFit | None] = [None] * K
        for ratio, C in grid:
            at_C = [_model(spec, positive, C, ratio) for _ in range(K)]
            fits = fit_in_lockstep(rows, data, at_C, list(range(K)), starts)
            coef.append(np.stack([f.coef for f in fits]))
            intercept.append(np.stack([f.intercept for f in fits]))
            starts = list(fits)  # along the path: each from its fit at the previous C
        return FoldGrid(np.stack(coef, axis=1), np.stack(intercept, axis=1))
    out = []
    for k in range(K):
        keep = fold_filter(folds, k, fitting)
        models: list[LogisticModel] = []
        previous: LogisticModel | None = None
        for ratio, C in grid:
            model = _model(spec, positive, C, ratio)
            if previous is not None and previous.l1_ratio == model.l1_ratio:
                _warm(model, previous)
            models.append(rows.fit(model, keep))
            previous = model
        out.append(models)
    return FoldGrid(
        np.stack([np.stack([m.coef_ for m in fold]) for fold in out]),
        np.stack([np.stack([m.intercept_ for m in fold]) for fold in out]),
    )


def _in_lockstep(rows: PassRows, spec: TrainingSpec, positive: Any) -> bool:
    """Whether the procedure's fold models are fitted in lockstep (:mod:`._lockstep`)."""
    n_classes = int(rows.classes.size)
    return lockstep_applies(
        _model(spec, positive, spec.C, spec.l1_ratio),
        1 if n_classes == 2 else n_classes,
        len(rows.feature_names),
    )


def probabilities(Z: FloatArray) -> FloatArray:
    """Class probabilities from linear predictors ``(..., M)`` (M = 1: binary).

    Examples
    --------
    >>> import numpy as np
    >>> probabilities(np.array([[0.0], [np.log(3.0)]])).round(2).tolist()
    [[0.5, 0.5], [0.25, 0.75]]
    """
    if Z.shape[-1] == 1:
        z = Z[..., 0]
        return np.stack([sigmoid(-z), sigmoid(z)], axis=-1)
    return np.asarray(softmax(Z.reshape(-1, Z.shape[-1]))[0]).reshape(Z.shape)


def _fold_scores(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.int8],
    *,
    coef: FloatArray,
    intercept: FloatArray,
    n_splits: int,
    scoring: str,
) -> FloatArray:
    """Per fold: weighted score sums of every candidate and the fold's weight, (K, m + 1)
    (a fold scan's block: the fitting rows and their folds)."""
    m = coef.shape[1]
    out = np.zeros((n_splits, m + 1))
    for k in range(n_splits):
        rows = folds == k
        if not rows.any():
            continue
        Z = np.einsum("np,cmp->cnm", X[rows], coef[k]) + intercept[k][:, None, :]
        P = probabilities(Z)  # (m, n_k, K)
        y, w = codes[rows], sw[rows]
        if scoring == "log_loss":
            picked = P[:, np.arange(y.size), y]
            loss = -np.log(np.clip(picked, 1e-300, 1.0))
        else:
            onehot = np.eye(P.shape[-1])[y]
            loss = ((P - onehot) ** 2).sum(axis=-1)
        out[k, :m] = loss @ w
        out[k, m] = w.sum()
    return out


def _fold_predictors(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.int8],
    *,
    coef: FloatArray,
    intercept: FloatArray,
    n_splits: int,
) -> tuple[NDArray[np.int32], FloatArray, NDArray[np.intp], FloatArray]:
    """Each fitting row's fold, linear predictors under every candidate ``(n, m, M)``
    (from its fold's models), class code and weight (a fold scan's block)."""
    Z = np.empty((X.shape[0], coef.shape[1], coef.shape[2]))
    for k in range(n_splits):
        rows = folds == k
        if rows.any():
            Z[rows] = np.einsum("np,cmp->ncm", X[rows], coef[k]) + intercept[k][None]
    return folds.astype(np.int32), Z, np.asarray(codes, dtype=np.intp), sw


def _auc_scores(
    rows: PassRows,
    fn: Any,
    folds: HashKFold,
    keep: RowFilter | None,
    shape: tuple[int, int],
) -> FloatArray:
    """Per fold and candidate ``(K, m)``: the weighted ROC-AUC (one-vs-rest mean for
    several classes; NaN where a fold lacks a class), exactly as in memory.

    One scan (``fn``: :func:`_fold_predictors`) writes the rows' predictors, folds,
    classes and weights to memory-mapped files in a temporary directory, deleted after;
    then each fold's rows of one candidate at a time are read back and scored.
    """
    m, M = shape
    n_splits = folds.n_splits
    n = max(rows.n_rows, 1)
    n_classes = int(rows.classes.size)
    scores = np.full((n_splits, m), np.nan)
    with tempfile.TemporaryDirectory(prefix="logitkit-auc-") as where:
        Z = np.memmap(f"{where}/predictors", dtype=np.float64, mode="w+", shape=(n, m, M))
        fold = np.memmap(f"{where}/folds", dtype=np.int32, mode="w+", shape=(n,))
        code = np.memmap(f"{where}/classes", dtype=np.intp, mode="w+", shape=(n,))
        weight = np.memmap(f"{where}/weights", dtype=np.float64, mode="w+", shape=(n,))
        end = 0
        for f, z, c, w in rows.scan_folds(fn, folds, keep):
            part = slice(end, end + f.size)
            fold[part], Z[part], code[part], weight[part] = f, z, c, w
            end += f.size
        for k in range(n_splits):
            at = np.flatnonzero(fold[:end] == k)
            if not at.size:
                continue
            y, sw = np.asarray(code[at]), np.asarray(weight[at])
            for j in range(m):
                scores[k, j] = score("roc_auc", np.asarray(Z[at, j, :]), y, sw, n_classes)
        del Z, fold, code, weight  # closes the maps before their directory goes
    return scores


def search_C(
    rows: PassRows,
    spec: TrainingSpec,
    positive: Any,
    fitting: RowFilter | None = None,
    data: FoldData | None = None,
) -> tuple[HashSearch, FoldModels]:
    """Cross-validate the grid on hash folds of the ``fitting`` rows (all rows when None).

    Returns the search and the chosen candidate's fold models.
    """
    grid = candidates(rows, spec, fitting)
    models = fold_models(rows, spec, positive, grid, fitting, data)
    folds = folds_of(spec)
    coef, intercept = models.coef, models.intercept
    where: dict[str, Any] = {"coef": coef, "intercept": intercept, "n_splits": folds.n_splits}
    if spec.scoring == "roc_auc":
        fn: Any = partial(_fold_predictors, **where)
        scores = _auc_scores(rows, fn, folds, fitting, (len(grid), coef.shape[2]))
    else:
        fn = partial(_fold_scores, scoring=spec.scoring, **where)
        blocks = rows.scan_folds(fn, folds, fitting)
        totals = sum(blocks, np.zeros((folds.n_splits, len(grid) + 1)))
        scores = totals[:, :-1] / np.maximum(totals[:, -1:], 1e-300)  # (K, m): weighted means
    nonzero = np.count_nonzero(np.any(coef != 0, axis=2), axis=2).astype(np.float64)
    K = folds.n_splits
    mean = scores.mean(axis=0)
    std = scores.std(axis=0, ddof=1)
    sign = -1.0 if spec.scoring in HIGHER_IS_BETTER else 1.0
    loss = np.where(np.isnan(mean), np.inf, sign * mean)  # lower is better
    best = int(np.argmin(loss))
    columns: dict[str, Any] = {
        "l1_ratio": [r for r, _ in grid],
        "C": [c for _, c in grid],
        "mean_score": mean,
        "std_score": std,
        "se_score": std / math.sqrt(K),
        "mean_nonzero": nonzero.mean(axis=0),
        "rank": pd.Series(loss).rank(method="min").astype(int).to_numpy(),
        "selected": np.arange(mean.size) == best,
    }
    for k in range(K):
        columns[f"split{k}_score"] = scores[k]
    ratio, C = grid[best]
    search = HashSearch(C, ratio, folds, spec.scoring, pd.DataFrame(columns), best)
    return search, FoldModels(folds, coef[:, best], intercept[:, best])


def fixed_fold_models(
    rows: PassRows,
    spec: TrainingSpec,
    positive: Any,
    fitting: RowFilter | None = None,
    start: LogisticModel | None = None,
    data: FoldData | None = None,
    penalty: tuple[float, float | None] | None = None,
) -> FoldModels:
    """One model per fold at one C (for out-of-fold probabilities): the given one, or
    ``penalty`` (C and the L1 share chosen on a sample of the rows).

    Each fold's fit starts from ``start`` (the model on all fitting rows, whose solution
    is near each fold's), which saves solver passes; it converges to the same tolerance.
    Smooth penalties fit every fold together, one pass per step (:mod:`._lockstep`;
    ``data``, the moments of each fold, when a scan gathered them).
    """
    folds = folds_of(spec)
    K = folds.n_splits
    C, l1_ratio = (spec.C, spec.l1_ratio) if penalty is None else penalty
    if _in_lockstep(rows, spec, positive):
        data = fold_data(rows, folds, fitting) if data is None else data
        models = [_model(spec, positive, C, l1_ratio) for _ in range(K)]
        warm = None if start is None else (np.asarray(start.coef_), np.asarray(start.intercept_))
        fits = fit_in_lockstep(rows, data, models, list(range(K)), [warm] * K)
        return FoldModels(
            folds, np.stack([f.coef for f in fits]), np.stack([f.intercept for f in fits])
        )
    fitted = []
    for k in range(K):
        model = _model(spec, positive, C, l1_ratio)
        if start is not None:
            _warm(model, start)
        fitted.append(rows.fit(model, fold_filter(folds, k, fitting)))
    return stacked(fitted, spec)


def _warm(model: LogisticModel, start: LogisticModel) -> None:
    """Start ``model``'s fit from ``start``'s coefficients."""
    model.set_params(warm_start=True)
    model.coef_ = np.array(start.coef_)
    model.intercept_ = np.array(start.intercept_)
    model.classes_ = start.classes_


def refit(
    rows: PassRows,
    spec: TrainingSpec,
    positive: Any,
    penalty: tuple[float, float | None],
    fitting: RowFilter | None = None,
    start: FoldModels | None = None,
) -> LogisticModel:
    """The shipped model: fitted on the ``fitting`` rows at the chosen (or given) C, L1 share.

    ``start``, the fold models at that penalty: the fit starts from their mean (each
    saw all but one fold of the same rows, so the mean sits close to the solution and
    the solver needs fewer passes; it stops by the same rule wherever it starts).
    """
    C, l1_ratio = penalty
    model = _model(spec, positive, C, l1_ratio)
    if start is not None:
        mean = LogisticModel()
        mean.coef_ = start.coef.mean(axis=0)
        mean.intercept_ = start.intercept.mean(axis=0)
        mean.classes_ = rows.classes
        _warm(model, mean)
    fitted = rows.fit(model, fitting)
    fitted.set_params(warm_start=False)  # how the fit started is no setting of the model
    return fitted


def stacked(models: list[LogisticModel], spec: TrainingSpec) -> FoldModels:
    """The fold models' coefficients, stacked for a scan."""
    return FoldModels(
        folds_of(spec),
        np.stack([m.coef_ for m in models]),
        np.stack([m.intercept_ for m in models]),
    )


def fold_proba(X: FloatArray, folds: FoldModels, offsets: FloatArray | None = None) -> FloatArray:
    """Out-of-fold class probabilities of the rows ``X``: each from its fold's model (at
    the rows' ``offsets``, when given)."""
    fold = np.asarray(folds.folds.folds(X))
    Z = np.empty((X.shape[0], folds.coef.shape[1]))
    for k in range(folds.folds.n_splits):
        rows = fold == k
        Z[rows] = X[rows] @ folds.coef[k].T + folds.intercept[k]
    if offsets is not None:
        Z += offsets[:, None]
    return probabilities(Z)
