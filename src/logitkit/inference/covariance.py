"""Covariance matrices of the estimates: model-based, sandwich (HC0, HC1) and cluster-robust."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from logitkit.inference._checks import check_choice
from logitkit.inference._common import (
    _BLOCK_VALUES,
    _SINGULAR,
    COV_TYPES,
    TrainingRows,
    _State,
    _state,
    training_rows,
)
from logitkit.solver import MAX_HESSIAN_PARAMETERS
from logitkit.solver.loss import sigmoid, softmax
from logitkit.solver.statistics import (
    Scaling,
    linear_predictor,
    standardised_block,
)

if TYPE_CHECKING:
    from logitkit.model import LogisticModel


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _jacobian(scaling: Scaling) -> FloatArray:
    """Jacobian of (intercept, coef) in original units with respect to standardised theta."""
    q = scaling.mean.shape[0] + 1
    J = np.zeros((q, q))
    J[0, 0] = 1.0
    J[0, 1:] = -scaling.mean / scaling.scale
    J[np.arange(1, q), np.arange(1, q)] = 1.0 / scaling.scale
    return J


# ------------------------------------------------------------------------ covariance
def _inverse(H: FloatArray) -> tuple[FloatArray, BoolArray, int]:
    """Pseudo-inverse of a Hessian, which parameters it leaves unidentified, and its rank.

    The Hessian is equilibrated (unit diagonal) first, so badly scaled but identified
    parameters are not mistaken for collinear ones.
    """
    d = np.diag(H).copy()
    ok = d > 0
    s = np.zeros_like(d)
    s[ok] = 1.0 / np.sqrt(d[ok])
    E = H * np.outer(s, s)
    vals, vecs = np.linalg.eigh(E)
    null = vals <= _SINGULAR * max(float(vals.max(initial=0.0)), 0.0)
    inv_vals = np.where(null, 0.0, 1.0 / np.where(null, 1.0, vals))
    inv = (vecs * inv_vals) @ vecs.T * np.outer(s, s)
    unidentified = ~ok | (np.abs(vecs[:, null]) > 1e-6).any(axis=1)
    return inv, unidentified, int((~null).sum())


def _scores_meat(
    state: _State, rows: TrainingRows, idx: NDArray[np.intp], groups: NDArray[np.intp] | None
) -> tuple[FloatArray, int]:
    """Outer product of per-row (or per-cluster) scores on the parameters ``idx``."""
    n = rows.X.shape[0]
    R, q = state.n_out, state.q
    cols = idx % q
    blocks = idx // q
    G = int(groups.max()) + 1 if groups is not None else n
    sums = np.zeros((G, idx.size)) if groups is not None else None
    meat = np.zeros((idx.size, idx.size))
    step = max(1, _BLOCK_VALUES // max(q * R, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        row_factor = np.where(rows.sw > 0, rows.w / np.sqrt(rows.sw), 0.0)
    for start in range(0, n, step):
        sl = slice(start, min(start + step, n))
        Xb = rows.X[sl]
        Z = linear_predictor(Xb, state.theta, state.scaling)
        if R == 1 and state.theta.shape[0] == 1:
            resid = (sigmoid(Z[:, 0]) - (rows.codes[sl] == 1))[:, None]
        else:
            P = softmax(Z)[0]
            P[np.arange(P.shape[0]), rows.codes[sl]] -= 1.0
            resid = P[:, 1:]
        Xa = standardised_block(Xb, state.scaling)
        if groups is None:
            U = resid[:, blocks] * row_factor[sl, None] * Xa[:, cols]
            meat += U.T @ U
        else:
            assert sums is not None
            U = resid[:, blocks] * rows.w[sl, None] * Xa[:, cols]
            ind = sp.csr_matrix(
                (np.ones(U.shape[0]), (groups[sl], np.arange(U.shape[0]))),
                shape=(G, U.shape[0]),
            )
            sums += ind @ U
    if sums is not None:
        meat = sums.T @ sums
    return meat, G


def _covariance(
    state: _State, rows: TrainingRows | None, cov_type: str, groups: Any
) -> tuple[FloatArray, BoolArray]:
    """Covariance of the reported parameters in original units; see :func:`covariance`."""
    check_choice("cov_type", cov_type, COV_TYPES)
    robust = cov_type != "nonrobust"
    if robust and rows is None:
        msg = (
            f"cov_type={cov_type!r} needs the per-row scores: pass the training rows as "
            "X=..., y=... (and sample_weight=... if the fit used weights)."
        )
        raise ValueError(msg)
    if (cov_type == "cluster") != (groups is not None):
        msg = (
            "cov_type='cluster' needs groups=... (the cluster of each row)."
            if groups is None
            else f"groups=... is only used with cov_type='cluster'; got cov_type={cov_type!r}."
        )
        raise ValueError(msg)
    H = state.hessian()
    if H is None:
        msg = (
            f"Standard errors need the Hessian of at most {MAX_HESSIAN_PARAMETERS} parameters."
            if rows is not None
            else "The fit kept no full Hessian (a penalised fit, or more than "
            f"{MAX_HESSIAN_PARAMETERS} parameters): pass the training rows X and y."
        )
        raise ValueError(msg)
    R, q = state.n_out, state.q
    free = np.tile(state.free, R)
    idx = np.flatnonzero(free)
    inv, unidentified_free, rank = _inverse(H[np.ix_(idx, idx)])
    cov_free = inv
    if robust:
        assert rows is not None
        codes = None if groups is None else _group_codes(groups, rows.X.shape[0])
        meat, G = _scores_meat(state, rows, idx, codes)
        n = float(rows.sw.sum())
        factor = 1.0
        if cov_type == "HC1":
            factor = n / (n - rank)
        elif cov_type == "cluster":
            factor = G / (G - 1.0) * (n - 1.0) / (n - rank)
        cov_free = factor * (inv @ meat @ inv)
    cov_std = np.zeros((R * q, R * q))
    cov_std[np.ix_(idx, idx)] = cov_free
    unidentified = np.zeros(R * q, dtype=bool)
    unidentified[idx[unidentified_free]] = True
    Jb = np.kron(np.eye(R), _jacobian(state.scaling))
    cov = Jb @ cov_std @ Jb.T
    unidentified = (np.abs(Jb) @ unidentified.astype(float)) > 0
    return cov, unidentified | ~free


def _group_codes(groups: Any, n: int) -> NDArray[np.intp]:
    g = np.asarray(groups)
    if g.shape != (n,):
        msg = f"groups must hold one value per row of X ({n}); got shape {g.shape}."
        raise ValueError(msg)
    codes = np.unique(g, return_inverse=True)[1].astype(np.intp).ravel()
    if codes.max(initial=0) < 1:
        msg = "groups must name at least two clusters for cluster-robust standard errors."
        raise ValueError(msg)
    return codes


def covariance(
    model: LogisticModel,
    cov_type: str = "nonrobust",
    *,
    X: Any = None,
    y: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
) -> tuple[FloatArray, BoolArray]:
    """Covariance of the reported parameters in original units.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}
        Model-based, heteroscedasticity-robust, or cluster-robust (needs ``groups``).
    X, y, sample_weight : array-like, optional
        The training rows; required by the robust types and by loaded models.
    groups : array-like of shape (n_samples,), optional
        Cluster of each row, for ``cov_type="cluster"``.

    Returns
    -------
    cov : ndarray of shape (R q, R q)
        Covariance of ``(intercept, coef...)`` per reported block, ``R = 1`` (binary) or
        ``K - 1`` (contrasts against ``classes_[0]``).
    unidentified : ndarray of bool, shape (R q,)
        Parameters without a standard error (held at zero, or collinear).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import covariance
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> cov, unidentified = covariance(model)
    >>> cov.shape, bool(unidentified.any())
    ((4, 4), False)
    """
    rows = training_rows(model, X, y, sample_weight)
    return _covariance(_state(model, rows), rows, cov_type, groups)


# -------------------------------------------------------------------- fit statistics
