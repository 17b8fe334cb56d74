"""Confidence intervals for predicted probabilities: the delta method on the log-odds.

For a row ``x`` (with a leading 1 for the intercept) the log-odds of the positive class
is ``eta = x' b`` with standard error ``se = sqrt(x' V x)``, ``V`` the covariance of the
coefficients that :meth:`~logitkit.LogisticModel.summary` uses. The interval is
computed on the log-odds scale and then mapped by the logistic function,
``[expit(eta - z se), expit(eta + z se)]`` with ``z`` the normal quantile of the level:
R's ``plogis(fit +- z * se.fit)`` after ``predict(glm, newdata, type="link",
se.fit=TRUE)``. Mapped so, the bounds stay in ``[0, 1]`` and are not symmetric about
the probability.

Binary models only: the interval is for the probability of ``model.positive_class_``
(``classes_[1]`` unless another positive class was named). Multinomial models and
penalised fits (L1, L2, elastic net) are refused with a message saying why and what to
do instead, as the summary gives penalised fits no Wald intervals by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm
from sklearn.utils.validation import check_is_fitted

from logitkit.inference._checks import check_level
from logitkit.inference._common import _PENALISED, BoolArray, FloatArray
from logitkit.inference.covariance import covariance
from logitkit.solver.loss import sigmoid

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

__all__ = [
    "PREDICTION_COLUMNS",
    "LinkCovariance",
    "link_covariance",
    "prediction_interval",
    "probability_bounds",
]

#: The columns of :func:`prediction_interval`, in order: this vocabulary is API.
PREDICTION_COLUMNS: tuple[str, ...] = ("log_odds", "std_err", "probability", "ci_low", "ci_high")


@dataclass(frozen=True)
class LinkCovariance:
    """What a binary model's prediction intervals need, computed once per model.

    Attributes
    ----------
    positive : label
        The class whose probability the intervals are for.
    sign : float
        ``1.0`` when ``positive`` is ``classes_[1]``, ``-1.0`` when it is ``classes_[0]``
        (the log-odds of the positive class is ``sign * decision_function(X)``).
    cov : ndarray of shape (p + 1, p + 1)
        Covariance of ``(intercept, coef...)`` in original units.
    mean : ndarray of shape (p,)
        Training mean of each feature.
    unidentified : ndarray of bool, shape (p,)
        Features whose coefficient has no standard error (held at zero, or collinear):
        a row that differs from the training mean on one gets no interval.
    intercept_unidentified : bool
        Whether the intercept itself has no standard error (then no row gets one).

    Examples
    --------
    >>> import numpy as np
    >>> link = LinkCovariance(
    ...     positive=1,
    ...     sign=1.0,
    ...     cov=np.eye(2),
    ...     mean=np.zeros(1),
    ...     unidentified=np.zeros(1, dtype=bool),
    ...     intercept_unidentified=False,
    ... )
    >>> link.std_err(np.array([[0.0], [1.0]])).round(4).tolist()
    [1.0, 1.4142]
    """

    positive: Any
    sign: float
    cov: FloatArray
    mean: FloatArray
    unidentified: BoolArray
    intercept_unidentified: bool

    def std_err(self, X: Any) -> FloatArray:
        """Standard error of each row's log-odds, ``sqrt(x' V x)`` with the intercept.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            The model's columns (already validated or encoded).

        Returns
        -------
        ndarray of shape (n_samples,)
            NaN for a row that needs a coefficient without a standard error.
        """
        V = self.cov
        C, c = V[1:, 1:], V[0, 1:]
        if sp.issparse(X):
            XC = np.asarray(X @ C)
            quad = np.asarray(X.multiply(XC).sum(axis=1), dtype=np.float64).ravel()
            cross = np.asarray(X @ c, dtype=np.float64).ravel()
        else:
            X = np.asarray(X, dtype=np.float64)
            quad = np.einsum("ij,ij->i", X @ C, X)
            cross = X @ c
        var = V[0, 0] + 2.0 * cross + quad
        se: FloatArray = np.sqrt(np.maximum(var, 0.0))
        if self.intercept_unidentified:
            se[:] = math.nan
        elif self.unidentified.any():
            cols = np.flatnonzero(self.unidentified)
            block = X[:, cols].toarray() if sp.issparse(X) else X[:, cols]
            se[(block != self.mean[cols]).any(axis=1)] = math.nan
        return se


def link_covariance(
    model: LogisticModel,
    cov_type: str = "nonrobust",
    *,
    X: Any = None,
    y: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
) -> LinkCovariance:
    """The covariance behind a binary model's prediction intervals, or a refusal.

    Parameters
    ----------
    model : LogisticModel
        A fitted binary model, unpenalised (``penalty=None``) or Firth.
    cov_type, X, y, sample_weight, groups
        As in :func:`~logitkit.inference.covariance`: ``X`` and ``y`` are the training
        rows (not the rows to predict).

    Returns
    -------
    LinkCovariance

    Raises
    ------
    ValueError
        For a multinomial model, a penalised fit, or a covariance that cannot be formed
        (the message says why and what to do).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import link_covariance
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> link = link_covariance(LogisticModel(penalty=None).fit(X[:, :3], y))
    >>> link.positive, link.sign
    (1, 1.0)
    """
    check_is_fitted(model)
    classes = model.classes_
    if len(classes) != 2:
        msg = (
            f"Prediction intervals are for binary models; this one has {len(classes)} "
            "classes. A class's probability in a multinomial model depends on every class's "
            "linear predictor, so it has no interval of this form: fit a binary model of "
            "that class against the rest for one."
        )
        raise ValueError(msg)
    if model.penalty in _PENALISED:
        msg = (
            f"Prediction intervals are refused for a penalised fit (penalty={model.penalty!r}, "
            f"C={model.C:g}): the coefficients are shrunk towards zero, so delta-method "
            "intervals around their predictions would be centred wrongly and too narrow. "
            "Refit with penalty=None (penalty='firth' if the classes are separated) for "
            "intervals."
        )
        raise ValueError(msg)
    cov, unidentified = covariance(
        model, cov_type, X=X, y=y, sample_weight=sample_weight, groups=groups
    )
    positive = getattr(model, "positive_class_", None)
    positive = classes[1] if positive is None else positive
    sign = -1.0 if positive == classes[0] else 1.0
    return LinkCovariance(
        positive=positive,
        sign=sign,
        cov=np.asarray(cov, dtype=np.float64),
        mean=np.asarray(model.feature_mean_, dtype=np.float64),
        unidentified=np.asarray(unidentified[1:], dtype=bool),
        intercept_unidentified=bool(model.fit_intercept) and bool(unidentified[0]),
    )


def probability_bounds(
    log_odds: FloatArray, std_err: FloatArray, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """The interval ``expit(log_odds -+ z std_err)`` of a probability.

    Parameters
    ----------
    log_odds, std_err : ndarray of shape (n,)
        Log-odds of the class and its standard error.
    level : float, default=0.95
        Confidence level, in (0, 1).

    Returns
    -------
    low, high : ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> low, high = probability_bounds(np.array([0.0]), np.array([1.0]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.1235, 0.8765)
    """
    level = check_level(level)
    # The upper tail's quantile from its own (small) probability: exact near level 1.
    z = float(norm.isf((1.0 - level) / 2.0))
    half = z * std_err
    return sigmoid(log_odds - half), sigmoid(log_odds + half)


def prediction_interval(
    model: LogisticModel,
    X: Any,
    *,
    level: float = 0.95,
    cov_type: str = "nonrobust",
    X_train: Any = None,
    y_train: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
) -> pd.DataFrame:
    """Each row's probability of the positive class with a delta-method interval.

    The interval is formed on the log-odds scale, ``eta +- z se`` with
    ``se = sqrt(x' V x)`` (``x`` with a leading 1 for the intercept, ``V`` the
    coefficient covariance of :meth:`~logitkit.LogisticModel.summary`), and mapped by
    the logistic function: R's ``plogis(fit +- z * se.fit)`` from ``predict(glm,
    newdata, type="link", se.fit=TRUE)``. It is for the probability of
    ``positive_class_`` (which may be ``classes_[0]``). Binary models only; penalised
    fits (L1, L2, elastic net) are refused, as their Wald intervals would be centred
    wrongly and too narrow: refit with ``penalty=None`` (or ``"firth"``).

    Parameters
    ----------
    model : LogisticModel
        A fitted binary model.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to predict, as for :meth:`~logitkit.LogisticModel.predict_proba`.
    level : float, default=0.95
        Confidence level, in (0, 1).
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Model-based (from the stored Hessian: works for a loaded model), or a
        robust type, which needs the training rows ``X_train`` and ``y_train``.
    X_train, y_train, sample_weight : array-like, optional
        The training rows, for the robust covariances.
    groups : array-like of shape (n_train,), optional
        Cluster of each training row, for ``cov_type="cluster"``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PREDICTION_COLUMNS`: ``log_odds``, ``std_err`` (of the
        log-odds), ``probability`` (equal to ``predict_proba``'s column), ``ci_low``
        and ``ci_high``; the index of ``X`` when it is a DataFrame. NaN bounds for a
        row that needs a coefficient without a standard error (see
        :func:`logitkit.diagnose`).

    Raises
    ------
    ValueError
        For a multinomial model, a penalised fit, or a level outside (0, 1).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import PREDICTION_COLUMNS, prediction_interval
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> table = prediction_interval(model, X[:2, :3])
    >>> tuple(table.columns) == PREDICTION_COLUMNS
    True
    """
    from logitkit.model import _rowwise_products  # noqa: PLC0415 - model imports us lazily

    level = check_level(level)
    link = link_covariance(
        model, cov_type, X=X_train, y=y_train, sample_weight=sample_weight, groups=groups
    )
    index = X.index if isinstance(X, pd.DataFrame) else None
    Xv = model._validate_X(X, reset=False)
    Z = _rowwise_products(Xv, model.coef_)
    Z += model.intercept_
    eta = link.sign * Z[:, 0]
    se = link.std_err(Xv)
    low, high = probability_bounds(eta, se, level)
    out = pd.DataFrame(
        {
            "log_odds": eta,
            "std_err": se,
            "probability": sigmoid(eta),
            "ci_low": low,
            "ci_high": high,
        },
        index=index,
        columns=list(PREDICTION_COLUMNS),
    )
    out.attrs["logitkit"] = {
        "positive": link.positive.item() if hasattr(link.positive, "item") else link.positive,
        "level": level,
        "cov_type": cov_type,
        "method": "delta method on the log-odds, mapped by the logistic function",
    }
    return out
