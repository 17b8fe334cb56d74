"""LogisticModelCV: the estimator that cross-validates the path and refits the chosen penalty."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from joblib import (  # type: ignore[import-untyped]
    Parallel,
    delayed,
    effective_n_jobs,
)
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from logitkit._fitting import prepare
from logitkit._params import InstanceOf, Interval, OneOf, validate_params
from logitkit.exceptions import ConvergenceWarning
from logitkit.model import LogisticModel
from logitkit.selection._path import (
    HIGHER_IS_BETTER,
    SCORINGS,
    FoldPath,
    PathSettings,
    c_grid,
    fold_path,
)
from logitkit.solver.loss import sigmoid, softmax

FloatArray = NDArray[np.float64]

__all__ = ["CV_RESULTS_COLUMNS", "LogisticModelCV"]

#: Columns of ``cv_results_``, in order; ``split{k}_score`` columns follow, one per fold.
CV_RESULTS_COLUMNS = (
    "l1_ratio",
    "C",
    "mean_score",
    "std_score",
    "se_score",
    "mean_nonzero",
    "rank",
    "selected",
)
_SEQUENCES = (list, tuple, np.ndarray)
_SHARED = (
    "fit_intercept",
    "class_weight",
    "standardize",
    "tol",
    "max_iter",
    "solver",
    "positive_class",
)


# ---------------------------------------------------------------------- the estimator
class LogisticModelCV(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    r"""Logistic regression with C (and the l1_ratio) chosen by stratified K-fold CV.

    Every candidate minimises :class:`~logitkit.model.LogisticModel`'s objective

    .. math::

        \min_{b, \beta} \; C \sum_i w_i \, \ell(y_i, b + x_{s,i}^\top \beta)
        + \rho \lVert\beta\rVert_1 + \frac{1 - \rho}{2} \lVert\beta\rVert_2^2

    on the training rows of each fold (standardised with those rows only), for each C
    of the grid from the smallest (strongest penalty) up, each fit warm-started from the
    previous one. The held-out rows of the fold score it; the C (and ``l1_ratio``) with
    the best mean score over the folds is refitted on all rows (``best_estimator_``).

    Parameters
    ----------
    Cs : int or sequence of float, default=10
        The grid of C. An int gives that many log-spaced values: for an L1 share
        :math:`\rho > 0`, from the smallest C whose fit has every coefficient zero
        (:math:`C_{min} = \rho / \max_j |\nabla_j|` at the null model, glmnet's
        :math:`\lambda_{max}`) up to :math:`10^4 C_{min}` (:math:`10^2 C_{min}` when
        there are more features than rows), computed on all rows; for L2,
        ``logspace(-4, 4, Cs)`` as scikit-learn's ``LogisticRegressionCV``.
    cv : int, cross-validation splitter or iterable, default=5
        An int gives ``StratifiedKFold(cv)`` (unshuffled, as scikit-learn); or any
        splitter (``split(X, y)``), or an iterable of ``(train, test)`` index arrays.
    penalty : {"l2", "l1", "elasticnet"}, default="l2"
        Penalty on the coefficients.
    l1_ratios : sequence of float in [0, 1] or None, default=None
        Candidate L1 shares; required for (and only for) ``"elasticnet"``.
    scoring : {"log_loss", "roc_auc", "brier"}, default="log_loss"
        Held-out score: mean log-loss, ROC-AUC (macro one-vs-rest for several classes)
        or Brier score (summed over classes for several), weighted by the sample
        weights. Log-loss and Brier are minimised, ROC-AUC maximised.
    one_se_rule : bool, default=False
        Choose the simplest candidate whose mean score is within one standard error of
        the best (fewest nonzero coefficients, then the smallest C): the sparser, more
        stable model auditors prefer (glmnet's ``lambda.1se``).
    fit_intercept, class_weight, standardize, tol, max_iter, solver, positive_class
        As :class:`~logitkit.model.LogisticModel`, for every fit; ``tol`` is the
        tolerance of the refit on all rows, and ``class_weight="balanced"`` is computed
        on each fold's training rows.
    path_tol : float, default=1e-6
        Tolerance (largest KKT violation of the normalised objective) of the fits along
        each fold's path. Held-out scores move far less than their spread over the
        folds when it is tightened, and each fit costs fewer passes.
    n_jobs : int or None, default=None
        Folds fitted in parallel (joblib processes, one BLAS thread each); ``None`` is
        1 unless inside a ``joblib.parallel_config`` context, -1 is all cores.

    Attributes
    ----------
    C_ : float
        The chosen C.
    l1_ratio_ : float
        The chosen L1 share (0 for ``"l2"``, 1 for ``"l1"``).
    Cs_ : ndarray of shape (n_l1_ratios, n_Cs)
        The grid of C of each candidate L1 share, ascending.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The candidate L1 shares.
    cv_results_ : pandas.DataFrame
        One row per ``(l1_ratio, C)``: columns :data:`CV_RESULTS_COLUMNS`, then
        ``split{k}_score``. ``std_score`` is the standard deviation of the fold scores
        (``ddof=1``), ``se_score = std_score / sqrt(K)`` (glmnet's ``cvsd``),
        ``mean_nonzero`` the mean count of features with a nonzero coefficient, ``rank``
        1 for the best mean score, ``selected`` True on the chosen row.
    best_index_ : int
        Row of ``cv_results_`` chosen.
    oof_proba_ : ndarray of shape (n_samples, K)
        Out-of-fold probabilities at the chosen penalty, rows in the input order,
        columns in the order of ``classes_`` (NaN for rows in no test fold). Choose
        decision thresholds on these, never on a test set.
    best_estimator_ : LogisticModel
        The model refitted on all rows at the chosen penalty; ``predict``,
        ``predict_proba``, ``decision_function`` and the attributes below delegate to it.
    classes_, coef_, intercept_, coef_standardized_, n_iter_, feature_mean_, \
feature_scale_, class_counts_, solver_result_, positive_class_
        Those of ``best_estimator_``.
    n_features_in_ : int
        Number of features.
    feature_names_in_ : ndarray of shape (p,)
        Feature names, when ``X`` had column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModelCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModelCV(Cs=5, penalty="l1").fit(X, y)
    >>> model.cv_results_[["C", "mean_score", "mean_nonzero"]].shape
    (5, 3)
    >>> model.oof_proba_.shape
    (569, 2)
    >>> bool(model.cv_results_["selected"].sum() == 1)
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012 - scikit-learn convention
        "Cs": [Interval(Integral, 1, math.inf, "left"), InstanceOf(_SEQUENCES, "a sequence")],
        "penalty": [OneOf(("l2", "l1", "elasticnet"))],
        "l1_ratios": [OneOf((None,)), InstanceOf(_SEQUENCES, "a sequence")],
        "scoring": [OneOf(SCORINGS)],
        "one_se_rule": [OneOf((True, False))],
        **{k: LogisticModel._parameter_constraints[k] for k in _SHARED},
        "path_tol": [Interval(Real, 0.0, math.inf, "neither")],
        "n_jobs": [OneOf((None,)), Interval(Integral, -math.inf, math.inf, "neither")],
    }

    def __init__(
        self,
        Cs: int | Sequence[float] = 10,
        *,
        cv: int | Any = 5,
        penalty: str = "l2",
        l1_ratios: Sequence[float] | None = None,
        scoring: str = "log_loss",
        one_se_rule: bool = False,
        fit_intercept: bool = True,
        class_weight: str | dict[Any, float] | None = None,
        standardize: bool = True,
        tol: float = 1e-10,
        max_iter: int = 100,
        solver: str = "auto",
        path_tol: float = 1e-6,
        n_jobs: int | None = None,
        positive_class: Any = None,
    ) -> None:
        self.Cs = Cs
        self.cv = cv
        self.penalty = penalty
        self.l1_ratios = l1_ratios
        self.scoring = scoring
        self.one_se_rule = one_se_rule
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.path_tol = path_tol
        self.n_jobs = n_jobs
        self.positive_class = positive_class

    # ------------------------------------------------------------------ checks
    def _checked(self) -> tuple[int | tuple[float, ...], tuple[float, ...]]:
        """Validate the parameters; return the C grid spec and the L1 shares."""
        owner = type(self).__name__
        validate_params(owner, self.get_params(), self._parameter_constraints)
        given: Any = self.Cs
        Cs: int | tuple[float, ...]
        if isinstance(given, Integral):
            Cs = int(given)
        else:
            Cs = tuple(given)
            if not Cs or not all(_positive(c) for c in Cs):
                msg = (
                    f"The 'Cs' parameter of {owner} must be an int in [1, inf) or a non-empty "
                    f"sequence of floats in (0, inf). Got {self.Cs!r} instead."
                )
                raise ValueError(msg)
        if isinstance(self.cv, Integral) and not isinstance(self.cv, bool) and self.cv < 2:
            msg = (
                f"The 'cv' parameter of {owner} must be an int in [2, inf) or a CV splitter. "
                f"Got {self.cv!r} instead."
            )
            raise ValueError(msg)
        if self.penalty == "elasticnet":
            ratios = () if self.l1_ratios is None else tuple(self.l1_ratios)
            if not ratios or not all(_share(r) for r in ratios):
                msg = (
                    f"The 'l1_ratios' parameter of {owner} must be a non-empty sequence of "
                    f"floats in [0, 1] when penalty='elasticnet'. Got {self.l1_ratios!r} instead."
                )
                raise ValueError(msg)
            return Cs, tuple(float(r) for r in ratios)
        if self.l1_ratios is not None:
            msg = (
                f"The 'l1_ratios' parameter of {owner} must be None when "
                f"penalty={self.penalty!r} (it applies to 'elasticnet'). Got "
                f"{self.l1_ratios!r} instead."
            )
            raise ValueError(msg)
        return Cs, (1.0 if self.penalty == "l1" else 0.0,)

    def _model(self, C: float, l1_ratio: float, **extra: Any) -> LogisticModel:
        penalty = self.penalty
        return LogisticModel(
            penalty=penalty,
            C=C,
            l1_ratio=l1_ratio if penalty == "elasticnet" else None,
            **{k: getattr(self, k) for k in _SHARED},
            **extra,
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticModelCV:
        """Cross-validate the grid, choose the penalty and refit on all rows.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Numeric features: numpy, pandas, polars or scipy.sparse.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights; they weight the fits and the held-out scores.

        Returns
        -------
        LogisticModelCV
            The fitted estimator.

        Raises
        ------
        DataError
            As :meth:`LogisticModel.fit`, or when a training fold misses a class.
        """
        Cs, ratios = self._checked()
        probe = self._model(1.0, ratios[0])
        X_in, X = X, probe._validate_X(X, reset=True)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(probe, name):
                setattr(self, name, getattr(probe, name))
            elif hasattr(self, name):
                delattr(self, name)
        data = prepare(X, y, sample_weight, self.class_weight)
        fit_intercept, standardize = bool(self.fit_intercept), bool(self.standardize)
        grids = tuple((r, c_grid(Cs, r, data, fit_intercept, standardize)) for r in ratios)
        labels = data.classes[data.codes]
        splitter = check_cv(self.cv, labels, classifier=True)
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, labels)]
        parallel = effective_n_jobs(self.n_jobs) > 1 and len(splits) > 1
        settings = PathSettings(
            grids=grids,
            fit_intercept=fit_intercept,
            class_weight=self.class_weight,
            standardize=standardize,
            tol=float(self.path_tol),
            max_iter=int(self.max_iter),
            solver=str(self.solver),
            scoring=str(self.scoring),
            n_classes=int(data.classes.shape[0]),
            single_thread=parallel,
        )
        job = delayed(fold_path)
        # Worker threads share this process's BLAS: one thread each, set once around them.
        with threadpool_limits(limits=1, user_api="blas") if parallel else nullcontext():
            paths: list[FoldPath] = Parallel(n_jobs=self.n_jobs if parallel else 1)(
                job(X, labels, data.codes, data.sample_weight, tr, te, settings)
                for tr, te in splits
            )
        self._select(grids, paths)
        self._out_of_fold(X, splits, paths)
        self._refit(X_in, y, sample_weight, data.classes, paths)
        self._warn_not_converged(paths, len(splits))
        return self

    def _select(
        self, grids: Sequence[tuple[float, Sequence[float]]], paths: list[FoldPath]
    ) -> None:
        """Build ``cv_results_`` and choose the row (best, or by the one-SE rule)."""
        K = len(paths)
        scores = np.stack([fp.scores for fp in paths]).reshape(K, -1)  # (K, candidates)
        nonzero = np.stack([fp.nonzero for fp in paths]).reshape(K, -1)
        mean = scores.mean(axis=0)
        std = scores.std(axis=0, ddof=1) if K > 1 else np.full(mean.shape, math.nan)
        se = std / math.sqrt(K)
        sign = -1.0 if self.scoring in HIGHER_IS_BETTER else 1.0
        loss = np.where(np.isnan(mean), np.inf, sign * mean)  # lower is better
        best = int(np.argmin(loss))
        chosen = best
        if self.one_se_rule and np.isfinite(se[best]):
            within = np.flatnonzero(loss <= loss[best] + se[best])
            C_flat = np.array([c for _, cs in grids for c in cs])
            mean_nz = nonzero.mean(axis=0)
            chosen = int(min(within, key=lambda i: (mean_nz[i], C_flat[i])))
        columns: dict[str, Any] = {
            "l1_ratio": [r for r, cs in grids for _ in cs],
            "C": [c for _, cs in grids for c in cs],
            "mean_score": mean,
            "std_score": std,
            "se_score": se,
            "mean_nonzero": nonzero.mean(axis=0),
            "rank": pd.Series(loss).rank(method="min").astype(int).to_numpy(),
            "selected": np.arange(mean.size) == chosen,
        }
        for k in range(K):
            columns[f"split{k}_score"] = scores[k]
        self.cv_results_ = pd.DataFrame(columns)
        self.best_index_ = chosen
        self.C_ = float(self.cv_results_["C"].iloc[chosen])
        self.l1_ratio_ = float(self.cv_results_["l1_ratio"].iloc[chosen])
        self.Cs_ = np.array([cs for _, cs in grids], dtype=np.float64)
        self.l1_ratios_ = np.array([r for r, _ in grids], dtype=np.float64)

    def _chosen(self, path: FoldPath) -> tuple[FloatArray, FloatArray]:
        n_Cs = self.Cs_.shape[1]
        i, j = divmod(self.best_index_, n_Cs)
        return path.coef[i, j], path.intercept[i, j]

    def _out_of_fold(
        self, X: Any, splits: list[tuple[NDArray[np.intp], NDArray[np.intp]]], paths: list[FoldPath]
    ) -> None:
        M = paths[0].coef.shape[2]
        oof = np.full((X.shape[0], 2 if M == 1 else M), math.nan)
        for (_, test), path in zip(splits, paths, strict=True):
            coef, intercept = self._chosen(path)
            Z = np.asarray(X[test] @ coef.T, dtype=np.float64) + intercept
            if M == 1:
                oof[test] = np.column_stack([sigmoid(-Z[:, 0]), sigmoid(Z[:, 0])])
            else:
                oof[test] = softmax(Z)[0]
        self.oof_proba_ = oof

    def _refit(
        self, X: Any, y: Any, sample_weight: Any, classes: NDArray[Any], paths: list[FoldPath]
    ) -> None:
        """Refit on all rows, starting from the mean of the folds' solutions."""
        model = self._model(self.C_, self.l1_ratio_, warm_start=True)
        chosen = [self._chosen(path) for path in paths]
        model.coef_ = np.mean([c for c, _ in chosen], axis=0)
        model.intercept_ = np.mean([b for _, b in chosen], axis=0)
        model.classes_ = classes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y, sample_weight=sample_weight)
        model.set_params(warm_start=False)
        self.best_estimator_ = model
        for name in _DELEGATED:
            setattr(self, name, getattr(model, name))

    def _warn_not_converged(self, paths: list[FoldPath], n_folds: int) -> None:
        missed = [(r, C) for fp in paths for r, C in fp.not_converged]
        result = self.best_estimator_.solver_result_
        if missed:
            worst = ", ".join(f"C={C:.3g}" for _, C in sorted(set(missed))[:5])
            warnings.warn(
                f"LogisticModelCV: {len(missed)} of {n_folds * self.Cs_.size} path fits did "
                f"not converge within max_iter={self.max_iter} ({worst}). Their held-out "
                "scores may be off; try a larger max_iter or a looser path_tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if not result.converged:
            warnings.warn(
                f"LogisticModelCV: the refit at C={self.C_:.6g} did not converge: "
                f"{result.message} after {result.n_iter} iterations (largest optimality "
                f"violation {result.kkt:.2e}, tol={self.tol:g}). Try a larger max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # --------------------------------------------------------------- prediction
    def decision_function(self, X: Any) -> FloatArray:
        """Linear predictor of the refitted model (see :meth:`LogisticModel.decision_function`)."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities of the refitted model, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> FloatArray:
        """Logarithm of :meth:`predict_proba`, computed without underflow."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class of each row (for a business threshold use ThresholdPolicy)."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_DELEGATED = (
    "classes_",
    "coef_",
    "intercept_",
    "coef_standardized_",
    "n_iter_",
    "feature_mean_",
    "feature_scale_",
    "class_counts_",
    "solver_result_",
    "positive_class_",
)


def _positive(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0 < float(value) < math.inf


def _share(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and 0 <= float(value) <= 1
