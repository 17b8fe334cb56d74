"""Shared pieces of inference: result vocabularies and the training state of a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from logitkit._fitting import class_weight_vector
from logitkit.data.checks import check_sample_weight
from logitkit.data.memory import ArraySource
from logitkit.exceptions import DataError
from logitkit.solver import MAX_HESSIAN_PARAMETERS
from logitkit.solver.statistics import (
    Scaling,
    Stats,
    chunk_statistics,
)

if TYPE_CHECKING:
    from logitkit.model import LogisticModel


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


#: The summary's columns, in order: this vocabulary is API.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "coef",
    "std_err",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "odds_ratio",
    "odds_ratio_ci_low",
    "odds_ratio_ci_high",
    "coef_std",
    "odds_ratio_per_sd",
    "odds_ratio_per_sd_ci_low",
    "odds_ratio_per_sd_ci_high",
)
#: Keys of :func:`fit_statistics`, in order.
FIT_STATISTICS: tuple[str, ...] = (
    "n_obs",
    "n_params",
    "df_model",
    "log_likelihood",
    "null_log_likelihood",
    "deviance",
    "null_deviance",
    "aic",
    "bic",
    "pseudo_r2",
    "lr_stat",
    "lr_pvalue",
)
#: Further keys of :func:`fit_statistics` for a model fitted on grouped binomial data
#: (``fit(X, successes, trials=...)``), in order.
GROUPED_FIT_STATISTICS: tuple[str, ...] = (
    "n_groups",
    "n_trials",
    "df_resid",
    "null_df_resid",
    "pearson_chi2",
    "dispersion",
    "gof_pvalue",
    "pearson_pvalue",
)
COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "cluster")
METHODS: tuple[str, ...] = ("auto", "wald", "profile", "bootstrap")
_PENALISED = ("l2", "l1", "elasticnet")
#: An eigenvalue of the equilibrated Hessian this small marks an unidentified direction.
_SINGULAR = 1e-11
#: Rows per block when forming per-row scores.
_BLOCK_VALUES = 2**21


# ----------------------------------------------------------------------------- state
@dataclass(frozen=True)
class TrainingRows:
    """A fitted model's training rows, validated against it (see :func:`training_rows`).

    Attributes
    ----------
    X : ndarray or CSR matrix
        Features, validated as the model validates them.
    labels : ndarray
        The labels as given.
    codes : ndarray of int
        Position of each label in ``model.classes_``.
    sw : ndarray
        Sample weights (frequencies).
    w : ndarray
        Loss weights: sample weight times class weight.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import training_rows
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array(["a", "b", "a", "b"])
    >>> rows = training_rows(LogisticModel().fit(X, y), X, y, None)
    >>> rows.codes.tolist()
    [0, 1, 0, 1]
    """

    X: Any
    labels: NDArray[Any]
    codes: NDArray[np.intp]
    sw: FloatArray
    w: FloatArray


def training_rows(model: LogisticModel, X: Any, y: Any, sample_weight: Any) -> TrainingRows | None:
    """Validate training rows against a fitted model; None when neither X nor y is given.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    X, y, sample_weight : array-like or None
        The rows the model was fitted on.

    Returns
    -------
    TrainingRows or None

    Raises
    ------
    ValueError
        When only one of X and y is given.
    DataError
        When a label is not among the model's classes, or the shapes disagree.

    Examples
    --------
    >>> from logitkit.inference import training_rows
    >>> training_rows(None, None, None, None) is None
    True
    """
    if X is None and y is None:
        return None
    if getattr(model, "_grouped", None) is not None:
        msg = (
            "This model was fitted on grouped data (trials=...): its statistics and "
            "covariance come from the fit, so call without X and y. Robust covariances, "
            "profile and bootstrap intervals need one row per trial: refit on those rows."
        )
        raise ValueError(msg)
    if X is None or y is None:
        msg = "Pass both X and y (the training rows), or neither."
        raise ValueError(msg)
    Xv = model._validate_X(X, reset=False)
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != Xv.shape[0]:
        msg = f"y must hold one label per row of X ({Xv.shape[0]}); got shape {labels.shape}."
        raise DataError(msg, column="y")
    classes = model.classes_
    codes = np.searchsorted(classes, labels)
    unknown = (codes >= classes.shape[0]) | (classes[np.minimum(codes, len(classes) - 1)] != labels)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        msg = f"y has label {labels[first]!r} (row {first}), not among the model's classes."
        raise DataError(msg, column="y", row=first)
    codes = codes.astype(np.intp)
    sw = check_sample_weight(sample_weight, Xv.shape[0])
    cw = class_weight_vector(model.class_weight, classes, codes, sw)
    w = sw * cw[codes] if model.class_weight is not None else sw
    return TrainingRows(Xv, labels, codes, sw, w)


@dataclass(frozen=True)
class _State:
    """A fitted model in the reported parametrisation, with its statistics."""

    theta: FloatArray  # (M, q) standardised, as fitted
    scaling: Scaling
    stats: Stats  # loss (and Hessian, when available) at theta
    free: BoolArray  # (q,) parameters that are estimated (not held at zero)
    n_out: int  # reported blocks R: 1 (binary) or K - 1

    @property
    def q(self) -> int:
        return int(self.theta.shape[1])

    def hessian(self) -> FloatArray | None:
        """Hessian of the loss in the reported parametrisation (R q square), if formed."""
        H = self.stats.hess
        M, q = self.theta.shape
        if H is None or H.shape != (M * q, M * q):
            return None
        return H if M == 1 else H[q:, q:]

    def reported(self) -> FloatArray:
        """Standardised reported parameters, shape (R, q)."""
        return self.theta if self.theta.shape[0] == 1 else self.theta[1:] - self.theta[0]


def _state(model: LogisticModel, rows: TrainingRows | None) -> _State:
    check_is_fitted(model)
    scale = np.asarray(model.feature_scale_, dtype=np.float64)
    mean = np.asarray(model.feature_mean_, dtype=np.float64) if model.fit_intercept else 0 * scale
    scaling = Scaling(mean, scale)
    M, p = model.coef_.shape
    theta = np.empty((M, p + 1))
    theta[:, 1:] = model.coef_ * scale
    theta[:, 0] = model.intercept_ + model.coef_ @ mean
    fixed = getattr(model, "_fixed_features", None)
    if fixed is None:  # e.g. loaded from an artifact: zero-variance features have scale 1
        fixed = (model.coef_ == 0).all(axis=0) & (scale == 1.0) & bool(model.fit_intercept)
        fixed &= bool(model.standardize)
    free = np.concatenate([[bool(model.fit_intercept)], ~np.asarray(fixed, dtype=bool)])
    # A fit with an offset keeps its own statistics (the rows carry no offsets).
    stored = getattr(model, "fitted_with_offset_", False) and hasattr(model, "solver_result_")
    if rows is not None and not stored:
        source = ArraySource(rows.X, rows.codes, rows.w, rows.sw, M)
        form = M * (p + 1) <= MAX_HESSIAN_PARAMETERS
        stats = source.map_reduce(lambda c: chunk_statistics(c, theta, scaling, hessian=form))
    else:
        result = getattr(model, "solver_result_", None)
        if result is None:
            msg = (
                "This model carries no fit statistics (it was loaded from an artifact); "
                "pass the training rows X and y to compute them."
            )
            raise ValueError(msg)
        stats = result.stats
    return _State(theta, scaling, stats, free, 1 if M == 1 else M - 1)


def class_weight_note(invalid: str, rows: str = "X=..., y=...") -> str:
    """Why a class-weighted fit's model-based covariance is not valid, and what to use.

    ``invalid`` names what is not valid ("model-based standard errors are"), ``rows``
    the training rows a robust covariance needs.
    """
    return (
        "class_weight is set: the fit maximised a weighted pseudo-likelihood, so "
        f"{invalid} not valid; use cov_type='HC0' or 'HC1' with {rows}."
    )


def convergence_notes(model: LogisticModel) -> list[str]:
    """A note that the model's solver did not converge, or none."""
    result = getattr(model, "solver_result_", None)
    if result is not None and not result.converged:
        return [f"The solver did not converge ({result.message}): numbers are unreliable."]
    return []
