"""Marginal effects on the class probabilities, with delta-method standard errors.

**Effects.** For a continuous feature ``x_j`` the effect on the probability of class
``k`` is the derivative ``dp_k / dx_j = p_k (g_kj - sum_l p_l g_lj)``, with ``g`` the
coefficients against the reference class (``g_0 = 0``; binary: ``p (1 - p) beta_j``).
For a dummy feature it is the discrete change ``p_k(x_j = 1) - p_k(x_j = 0)``, the
other features as they are. ``at="overall"`` averages the effect over the rows
(average marginal effects, AME); ``at="mean"`` evaluates it once at the mean row
(marginal effects at the means, MEM). These are statsmodels'
``get_margeff(at=..., method="dydx", dummy=...)``.

**Standard errors.** The delta method: ``J Cov J^T``, with ``Cov`` the covariance of
the reported coefficients (:func:`~logitkit.inference.covariance`, any of its types)
and ``J`` the analytic Jacobian of the effects with respect to them, the rows held
fixed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.stats import norm
from sklearn.utils.validation import check_is_fitted

from logitkit.data.checks import check_sample_weight
from logitkit.inference._checks import check_alpha, check_choice
from logitkit.inference._common import (
    _BLOCK_VALUES,
    _PENALISED,
    COV_TYPES,
    _state,
    class_weight_note,
    convergence_notes,
    training_rows,
)
from logitkit.inference._report import ReportFrame
from logitkit.inference.covariance import _covariance
from logitkit.inference.summary import _penalty_text, _positive_first, _reported_params
from logitkit.solver.loss import softmax

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

#: The columns of :func:`marginal_effects`, in order: this vocabulary is API.
MARGINS_COLUMNS: tuple[str, ...] = ("dy_dx", "std_err", "z", "p_value", "ci_low", "ci_high")
#: Where the effects are evaluated.
_AT: tuple[str, ...] = ("overall", "mean")
#: A treatment-coded level column of a formula (``C(g)[T.b]``), not an interaction.
_TREATMENT = re.compile(r"[^:\[]+\[T\.[^\]]*\]")


class MarginalEffects(ReportFrame):
    """The table of marginal effects (a DataFrame) that prints as a readable report.

    One row per feature (index ``term``); a multinomial model has a block of rows per
    class (index levels ``class`` and ``term``), the reference class included. Columns
    are :data:`MARGINS_COLUMNS`. :attr:`header` says where the effects are evaluated,
    over which rows, which features are dummies, and holds the notes.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> effects = model.marginal_effects(X[:, :3])
    >>> effects.header["at"], list(effects.index)
    ('overall', ['x0', 'x1', 'x2'])
    >>> print(effects.to_text(columns=["dy_dx"]))  # doctest: +ELLIPSIS
    Marginal effects
    ...
    """

    title = "Marginal effects"
    hide_empty_columns = False

    def _fields(self) -> list[tuple[str, Any]]:
        h = self.header
        dummies = h.get("dummies") or []
        return [
            ("Model", h.get("model")),
            ("Effect on", h.get("effect_on")),
            ("Evaluated", h.get("at_text")),
            ("Rows", h.get("rows_text")),
            ("Dummies", ", ".join(dummies) if dummies else "none (all derivatives)"),
            ("Penalty", h.get("penalty_text")),
            ("Standard errors", h.get("cov_text")),
        ]


# ----------------------------------------------------------------------- numerics
def _dense(X: Any) -> FloatArray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _augmented(X: Any) -> FloatArray:
    """Rows with a leading column of ones (for the intercept)."""
    D = _dense(X)
    return np.column_stack([np.ones(D.shape[0]), D])


def _probabilities(B: FloatArray, Xa: FloatArray) -> FloatArray:
    """Class probabilities of rows ``Xa`` (with the ones column) under ``B`` (K, q)."""
    return softmax(Xa @ B.T)[0]


def _derivatives(B: FloatArray, Xa: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted sum over rows of ``dp_k / dx_j`` (K, p) and its Jacobian (K, p, K, q).

    With ``D_kj = g_kj - sum_l p_l g_lj`` the effect is ``E_kj = p_k D_kj`` and
    ``dE_kj / dB_mc = x_c (delta_km E_kj - p_k p_m (D_kj + D_mj))
    + delta_(c, j+1) p_k (delta_km - p_m)``.
    """
    K, q = B.shape
    P = _probabilities(B, Xa)
    G = B[:, 1:]
    D = G[None, :, :] - (P @ G)[:, None, :]  # (n, K, p)
    E = P[:, :, None] * D
    effect = np.einsum("i,ikj->kj", v, E)
    PP = P[:, :, None] * P[:, None, :]  # (n, K, K)
    A = -PP[:, :, :, None] * (D[:, :, None, :] + D[:, None, :, :])  # (n, k, m, j)
    idx = np.arange(K)
    A[:, idx, idx, :] += E
    jac = np.einsum("ikmj,ic->kjmc", A, v[:, None] * Xa)
    S = np.einsum("i,ikm->km", v, P[:, :, None] * np.eye(K)[None] - PP)
    j = np.arange(q - 1)
    jac[:, j, :, j + 1] += S[None, :, :]
    return effect, jac


def _discrete_changes(
    B: FloatArray, Xa: FloatArray, v: FloatArray, dummies: NDArray[np.intp]
) -> tuple[FloatArray, FloatArray]:
    """Weighted sum of ``p_k(x_j = 1) - p_k(x_j = 0)`` per dummy j and its Jacobian."""
    K, q = B.shape
    effect = np.zeros((K, dummies.size))
    jac = np.zeros((K, dummies.size, K, q))
    eye = np.eye(K)[None]
    for t, j in enumerate(dummies):
        for value, sign in ((1.0, 1.0), (0.0, -1.0)):
            X1 = Xa.copy()
            X1[:, j + 1] = value
            P = _probabilities(B, X1)
            S = P[:, :, None] * eye - P[:, :, None] * P[:, None, :]  # dp_k / deta_m
            effect[:, t] += sign * (v @ P)
            jac[:, t] += sign * np.einsum("ikm,ic->kmc", S, v[:, None] * X1)
    return effect, jac


def _effects(
    B: FloatArray, X: Any, v: FloatArray, is_dummy: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Effects (K, p) summed over rows with weights ``v``, and their Jacobian (K p, K q).

    ``B`` holds the coefficients in original units, ``B[0] = 0`` (the reference).
    """
    K, q = B.shape
    p = q - 1
    effect = np.zeros((K, p))
    jac = np.zeros((K, p, K, q))
    cont = np.flatnonzero(~is_dummy)
    dums = np.flatnonzero(is_dummy)
    n = X.shape[0]
    step = max(1, _BLOCK_VALUES // max(K * K * q, 1))
    for start in range(0, n, step):
        sl = slice(start, min(start + step, n))
        Xa, vb = _augmented(X[sl]), v[sl]
        e, J = _derivatives(B, Xa, vb)
        effect[:, cont] += e[:, cont]
        jac[:, cont] += J[:, cont]
        if dums.size:
            e, J = _discrete_changes(B, Xa, vb, dums)
            effect[:, dums] += e
            jac[:, dums] += J
    return effect, jac.reshape(K * p, K * q)


# ------------------------------------------------------------------------ dummies
def _encoded_dummies(model: LogisticModel) -> set[str]:
    """Level columns the model's encoder made from categorical or boolean columns."""
    encoder = getattr(model, "encoder_", None)
    if encoder is None:
        return set()
    if encoder.formula_ is None:
        return {
            name
            for spec in encoder.columns_
            if spec.type in ("category", "bool")
            for name in spec.encoded_names()
        }
    return {n for n in encoder.encoded_features_ if _TREATMENT.fullmatch(n)}


def _zero_one(X: Any) -> NDArray[np.bool_]:
    """Columns whose values are all 0 or 1, both present (statsmodels' ``_isdummy``)."""
    n, p = X.shape
    if sp.issparse(X):
        C = sp.csc_matrix(X)
        col = np.repeat(np.arange(p), np.diff(C.indptr))
        n_one = np.bincount(col, weights=C.data == 1, minlength=p)
        n_nonzero = np.bincount(col, weights=C.data != 0, minlength=p)
    else:
        n_one = (X == 1).sum(axis=0)
        n_nonzero = (X != 0).sum(axis=0)
    return np.asarray((n_one == n_nonzero) & (n_one > 0) & (n_nonzero < n))


def _dummy_mask(model: LogisticModel, X: Any, dummy: bool | Sequence[str]) -> NDArray[np.bool_]:
    names = model._feature_names()
    if isinstance(dummy, bool):
        if not dummy:
            return np.zeros(len(names), dtype=bool)
        levels = _encoded_dummies(model)
        encoded = np.array([n in levels for n in names], dtype=bool)
        return np.asarray(_zero_one(X) | encoded, dtype=bool)
    if isinstance(dummy, str) or not isinstance(dummy, Sequence):
        msg = f"dummy must be True, False or a list of feature names; got {dummy!r}."
        raise TypeError(msg)
    unknown = [d for d in dummy if d not in names]
    if unknown:
        msg = (
            f"dummy names {', '.join(map(repr, unknown))}, not feature(s) of the model; "
            f"the features are: {', '.join(names)}."
        )
        raise ValueError(msg)
    return np.array([n in set(dummy) for n in names], dtype=bool)


# ----------------------------------------------------------------------- public
def marginal_effects(
    model: LogisticModel,
    X: Any = None,
    *,
    at: str = "overall",
    dummy: bool | Sequence[str] = True,
    alpha: float = 0.05,
    cov_type: str = "nonrobust",
    y: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
) -> MarginalEffects:
    """Marginal effects of the features on the class probabilities, with delta-method SEs.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    X : array-like, sparse matrix or raw frame of shape (n_samples, n_features)
        The rows the effects average over (``at="overall"``) or whose mean they are
        evaluated at (``at="mean"``): statsmodels uses the training rows. Required: a
        model keeps no rows (and one loaded from an artifact has none).
    at : {"overall", "mean"}, default="overall"
        Average of the effects over the rows (AME), or the effects at the mean row
        (MEM; dummies then take their mean, a share, in the other features' row).
    dummy : bool or list of str, default=True
        Which features get the discrete change from 0 to 1 instead of the derivative.
        True: a feature is a dummy when its values in ``X`` are all 0 or 1 with both
        present (statsmodels' rule for ``dummy=True``), or when ``model.encoder_`` made
        it as a level of a categorical or boolean column (``race[T.2]``, ``flag[T.True]``,
        a formula's ``C(g)[T.b]``; interactions are not). False: derivatives only
        (statsmodels' ``dummy=False``). A list names the dummies exactly.
    alpha : float, default=0.05
        Intervals have level ``1 - alpha``.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        The covariance of the coefficients (see
        :func:`~logitkit.inference.covariance`); the robust types need ``y``.
    y : array-like of shape (n_samples,), optional
        Labels of ``X``, making ``X`` the training rows: the covariance is then computed
        from them (needed by a loaded model and by the robust types).
    sample_weight : array-like of shape (n_samples,), optional
        Frequency weights of the rows: in the average (or mean) and, with ``y``, in the
        covariance.
    groups : array-like of shape (n_samples,), optional
        Cluster of each row, for ``cov_type="cluster"``.

    Returns
    -------
    MarginalEffects
        Columns :data:`MARGINS_COLUMNS`. A binary model gives the effects on the
        probability of its ``positive_class_`` (so their signs follow the summary); a
        multinomial model on the probability of every class, reference included.
        Penalised fits (L1, L2, elastic net) get the effects with NaN standard errors,
        tests and intervals and a note why (as :func:`summary` does by default).

    Raises
    ------
    ValueError
        When ``X`` is missing, ``at`` is not understood, ``dummy`` names an unknown
        feature, or the covariance cannot be formed (see
        :func:`~logitkit.inference.covariance`).
    TypeError
        When ``dummy`` is neither a bool nor a list of names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import marginal_effects
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> table = marginal_effects(model, X[:, :3])  # average marginal effects
    >>> table.loc["x0", ["dy_dx", "std_err"]].round(3).tolist()
    [0.347, 0.048]
    """
    check_is_fitted(model)
    check_choice("at", at, _AT)
    check_alpha(alpha)
    check_choice("cov_type", cov_type, COV_TYPES)
    if X is None:
        msg = (
            "marginal_effects needs the rows X=... that the effects average over (or are "
            "evaluated at the mean of), usually the training rows: a model keeps no rows, "
            "and one loaded from an artifact has none."
        )
        raise ValueError(msg)
    rows = training_rows(model, X, y, sample_weight) if y is not None else None
    Xv = rows.X if rows is not None else model._validate_X(X, reset=False)
    sw = rows.sw if rows is not None else check_sample_weight(sample_weight, Xv.shape[0])
    if not sw.sum() > 0:
        msg = "sample_weight must have a positive sum."
        raise ValueError(msg)
    is_dummy = _dummy_mask(model, Xv, dummy)
    v = sw / sw.sum()
    n_rows = int(Xv.shape[0])
    if at == "mean":
        Xv, v = np.asarray(Xv.T @ v, dtype=np.float64).reshape(1, -1), np.ones(1)
    P = _reported_params(model)
    B = np.vstack([np.zeros((1, P.shape[1])), P])
    effect, jac = _effects(B, Xv, v, is_dummy)
    K, p = effect.shape
    jac = jac[:, P.shape[1] :]  # the reference block is fixed at zero
    se = np.full(K * p, math.nan)
    notes: list[str] = []
    penalised = model.penalty in _PENALISED
    if penalised:
        notes.append(
            f"Penalised fit (penalty={model.penalty!r}, C={model.C:g}): the effects are "
            "shown without standard errors, p-values or intervals. They are built on "
            "shrunk coefficients, so delta-method intervals around them would be centred "
            "wrongly and too narrow. Refit with penalty=None (penalty='firth' if the "
            "classes are separated) for inference."
        )
    else:
        state = _state(model, rows)
        cov, unidentified = _covariance(state, rows, cov_type, groups)
        bad = unidentified & np.tile(state.free, state.n_out)
        var = np.einsum("ij,jk,ik->i", jac, cov, jac)
        se = np.sqrt(np.maximum(var, 0.0))
        se[(np.abs(jac) @ bad.astype(float)) > 0] = math.nan
        if bad.any():
            notes.append(
                "Some coefficients are not identified (collinear features): effects that "
                "depend on them have no standard error; see logitkit.diagnose."
            )
        if model.penalty == "firth":
            notes.append(
                "Firth's bias-reduced estimates, with the delta method on the covariance "
                "from X'WX at the estimate (as the summary's Wald intervals)."
            )
        if model.class_weight is not None and cov_type == "nonrobust":
            notes.append(class_weight_note("model-based standard errors are", "y=..."))
    notes += convergence_notes(model)
    dydx = effect.ravel()
    crit = float(norm.ppf(1.0 - alpha / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = dydx / se
    data = np.column_stack(
        [dydx, se, z, 2.0 * norm.sf(np.abs(z)), dydx - crit * se, dydx + crit * se]
    )
    names = model._feature_names()
    if K == 2:
        k = 0 if _positive_first(model) else 1
        index: pd.Index[Any] = pd.Index(np.asarray(names, dtype=object), name="term")
        frame = pd.DataFrame(data[k * p : (k + 1) * p], index=index, columns=list(MARGINS_COLUMNS))
    else:
        labels = model.classes_.tolist()
        index = pd.MultiIndex.from_tuples(
            [(c, t) for c in labels for t in names], names=["class", "term"]
        )
        frame = pd.DataFrame(data, index=index, columns=list(MARGINS_COLUMNS))
    out = MarginalEffects(frame)
    out.attrs["logitkit"] = _header(
        model, at, n_rows, sw, names, is_dummy, cov_type, groups, alpha, penalised, notes
    )
    return out


def _header(
    model: LogisticModel,
    at: str,
    n_rows: int,
    sw: FloatArray,
    names: list[str],
    is_dummy: NDArray[np.bool_],
    cov_type: str,
    groups: Any,
    alpha: float,
    penalised: bool,
    notes: list[str],
) -> dict[str, Any]:
    classes = [str(c.item() if hasattr(c, "item") else c) for c in model.classes_]
    if len(classes) == 2:
        positive = classes[0] if _positive_first(model) else classes[1]
        effect_on = f"probability of {positive}"
    else:
        positive = None
        effect_on = f"probability of each class ({', '.join(classes)})"
    n_obs = float(sw.sum())
    rows_text = str(n_rows) if math.isclose(n_obs, n_rows) else f"{n_rows} (weights sum {n_obs:g})"
    at_text = (
        "overall: the average of the effects over the rows (AME)"
        if at == "overall"
        else "mean: the effects at the mean row (MEM)"
    )
    cov_text = None
    if not penalised:
        level = f"{100.0 * (1.0 - alpha):g}%"
        cov_text = f"delta method, {cov_type} covariance of the coefficients; {level} Wald"
        if groups is not None:
            cov_text += f"; {len(np.unique(np.asarray(groups)))} clusters"
    return {
        "model": repr(model),
        "kind": "binary" if len(classes) == 2 else "multinomial",
        "at": at,
        "at_text": at_text,
        "n_rows": n_rows,
        "n_obs": n_obs,
        "rows_text": rows_text,
        "classes": classes,
        "positive": positive,
        "effect_on": effect_on,
        "dummies": [n for n, d in zip(names, is_dummy, strict=True) if d],
        "penalty": model.penalty,
        "penalty_text": _penalty_text(model),
        "cov_type": None if penalised else cov_type,
        "cov_text": cov_text,
        "alpha": alpha,
        "notes": notes,
    }
