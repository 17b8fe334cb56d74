"""Folds by a hash of each row, and out-of-fold probabilities at any scale.

:class:`HashKFold` assigns every row to a fold by :func:`~logitkit.data.sources.
hash_folds` of its feature values, so the assignment needs no row numbers, no shuffle
and no pass over the whole data: the same rows form the same folds in memory
(``LogisticModelCV(cv=HashKFold(5))``), in a streamed file and on a Dask cluster.
:func:`cross_val_proba` fits one model per fold on the other folds' rows and predicts
each row with the model that did not see it; on a row source each fit streams (or
maps over the partitions) and the predictions are computed per batch or partition;
smooth models (L2 or no penalty) fit every fold together, one pass per solver step.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone

from logitkit._fitting_sources import as_row_source, is_row_source
from logitkit.data.sources import FoldFilter, hash_folds
from logitkit.solver.loss import sigmoid, softmax

FloatArray = NDArray[np.float64]

__all__ = ["HashKFold", "cross_val_proba"]


class HashKFold:
    """K-fold cross-validation with each row's fold fixed by a hash of its feature values.

    Unlike ``KFold`` the folds do not depend on the row order or on how the rows are
    split into files or partitions, and equal rows always share a fold; fold sizes are
    binomial around ``n / n_splits`` rather than equal, and classes are not stratified
    (with many rows both even out). The target is not hashed.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    seed : int, default=0
        Another seed gives another, independent assignment.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModelCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> cv = HashKFold(5)
    >>> [len(test) for _, test in cv.split(X)]
    [119, 125, 103, 115, 107]
    >>> search = LogisticModelCV(Cs=3, cv=cv).fit(X, y)
    >>> search.oof_proba_.shape
    (569, 2)
    """

    def __init__(self, n_splits: int = 5, *, seed: int = 0) -> None:
        if isinstance(n_splits, bool) or not isinstance(n_splits, int | np.integer) or n_splits < 2:
            msg = f"The 'n_splits' parameter of HashKFold must be an int in [2, inf). Got {n_splits!r} instead."
            raise ValueError(msg)
        self.n_splits = int(n_splits)
        self.seed = int(seed)

    def __repr__(self) -> str:
        return f"HashKFold(n_splits={self.n_splits}, seed={self.seed})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:  # noqa: ARG002 - scikit-learn's signature
        """Number of folds."""
        return self.n_splits

    def folds(self, X: Any) -> NDArray[np.intp]:
        """The fold of each row of ``X`` (numeric, in memory)."""
        return hash_folds(_dense(X), self.n_splits, self.seed)

    def split(
        self,
        X: Any,
        y: Any = None,  # noqa: ARG002 - scikit-learn's splitter signature
        groups: Any = None,  # noqa: ARG002
    ) -> Iterator[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """Yield ``(train, test)`` row indices, fold by fold."""
        folds = self.folds(X)
        for k in range(self.n_splits):
            yield np.flatnonzero(folds != k), np.flatnonzero(folds == k)

    def filter(self, fold: int, *, train: bool = True) -> FoldFilter:
        """The rows of one fold (``train=False``) or all the others, for a row source."""
        return FoldFilter(self.n_splits, fold, train, self.seed)


def _dense(X: Any) -> FloatArray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(X, dtype=np.float64)


def _fold_proba(
    X: FloatArray, coef: FloatArray, intercept: FloatArray, n_splits: int, seed: int
) -> FloatArray:
    """Probabilities of each row from the model of its own fold (module level: it pickles)."""
    folds = hash_folds(X, n_splits, seed)
    Z = np.empty((X.shape[0], coef.shape[1]))
    for k in range(n_splits):
        rows = folds == k
        Z[rows] = X[rows] @ coef[k].T + intercept[k]
    if Z.shape[1] == 1:
        return np.column_stack([sigmoid(-Z[:, 0]), sigmoid(Z[:, 0])])
    return softmax(Z)[0]


def cross_val_proba(
    estimator: Any,
    X: Any,
    y: Any = None,
    sample_weight: Any = None,
    *,
    cv: HashKFold | int = 5,
) -> Any:
    """Out-of-fold class probabilities by hash folds, in memory or at scale.

    For each fold, a clone of ``estimator`` is fitted on the rows of all other folds;
    every row is then predicted by the model whose training rows did not include it.

    Parameters
    ----------
    estimator : LogisticModel
        The (unfitted) model to clone.
    X : array-like, FileSource, DaskSource or dask collection
        The rows; on a row source the folds' models are fitted by passes over its
        batches or partitions (a smooth ``LogisticModel``'s all together, one pass per
        solver step; other estimators fold by fold, the other folds' rows skipped as
        they are read).
    y, sample_weight : array-like, optional
        Target and weights (in memory, or dask collections beside a dask ``X``).
    cv : HashKFold or int, default=5
        The folds (an int is ``HashKFold(cv)``).

    Returns
    -------
    ndarray or dask.array.Array of shape (n_samples, K)
        Columns in the order of the classes; for a Dask source a lazy Dask array with
        one block per partition (compute or store it), else a numpy array in row order.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> proba = cross_val_proba(LogisticModel(), X, y, cv=HashKFold(5))
    >>> round(float(((proba[:, 1] > 0.5) == y).mean()), 3)
    0.974
    """
    splitter = cv if isinstance(cv, HashKFold) else HashKFold(cv)
    K = splitter.n_splits
    if not is_row_source(X):
        Xd = _dense(X)
        labels = np.asarray(y)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        out: FloatArray | None = None
        for train, test in splitter.split(Xd):
            model = clone(estimator).fit(
                Xd[train], labels[train], None if sw is None else sw[train]
            )
            proba = model.predict_proba(Xd[test])
            if out is None:
                out = np.full((Xd.shape[0], proba.shape[1]), np.nan)
            out[test] = proba
        return out
    rows = as_row_source(X, y, sample_weight)
    if getattr(rows, "offset", None) is not None:
        msg = (
            "cross_val_proba takes no offsets; for the out-of-fold probabilities of rows "
            "with an offset column, train with it (logitkit train FILE --offset COLUMN "
            "--stream, or logitkit.train(..., offset=COLUMN, fold_scheme='hash'))."
        )
        raise ValueError(msg)
    coef, intercept, n_classes = _fold_models(estimator, rows, splitter)
    fn = partial(_fold_proba, coef=coef, intercept=intercept, n_splits=K, seed=splitter.seed)
    return rows.chunk_source(0).map_rows(fn, n_classes)


def _fold_models(
    estimator: Any, rows: Any, splitter: HashKFold
) -> tuple[FloatArray, FloatArray, int]:
    """Each fold's model on a row source: ``(coef, intercept)`` stacked, and the classes.

    A smooth :class:`~logitkit.model.LogisticModel` fits every fold together, one pass
    per solver step (:mod:`logitkit.workflow._lockstep`); others fold by fold, each by
    its own passes.
    """
    # Imported here: the workflow package imports this module.
    from logitkit.model import LogisticModel  # noqa: PLC0415
    from logitkit.workflow._lockstep import (  # noqa: PLC0415
        fit_in_lockstep,
        fold_data,
        lockstep_applies,
    )
    from logitkit.workflow._rows import SourceRows  # noqa: PLC0415

    K = splitter.n_splits
    if isinstance(estimator, LogisticModel) and not estimator.warm_start:
        passes = SourceRows(rows)
        n_classes = int(passes.classes.size)
        M = 1 if n_classes == 2 else n_classes
        if lockstep_applies(estimator, M, len(passes.feature_names)):
            data = fold_data(passes, splitter, None)
            models = [clone(estimator) for _ in range(K)]
            fits = fit_in_lockstep(passes, data, models, list(range(K)), [None] * K)
            coef = np.stack([f.coef for f in fits])
            return coef, np.stack([f.intercept for f in fits]), n_classes
    fitted = [clone(estimator).fit(rows.subset(splitter.filter(k))) for k in range(K)]
    coef = np.stack([m.coef_ for m in fitted])
    intercept = np.stack([m.intercept_ for m in fitted])
    return coef, intercept, int(fitted[0].classes_.shape[0])
