"""Model-level statistics: log-likelihoods, deviance, information criteria, LR tests."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2
from sklearn.utils.validation import check_is_fitted

from logitkit._fitting import GroupedData, class_weight_vector
from logitkit.inference._common import (
    TrainingRows,
    _State,
    _state,
    training_rows,
)
from logitkit.inference.covariance import (
    _inverse,
)

if TYPE_CHECKING:
    from logitkit.model import LogisticModel


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _n_obs(model: LogisticModel, class_sums: FloatArray) -> float:
    """Sum of sample weights (the number of rows with unit weights) from the class totals."""
    cw = model.class_weight
    if isinstance(cw, dict):  # totals are sample weight times the class's weight
        K = model.classes_.shape[0]
        vec = class_weight_vector(cw, model.classes_, np.arange(K, dtype=np.intp), np.ones(K))
        return float((class_sums / vec).sum())
    return float(class_sums.sum())  # "balanced" gives every class the same total share


def _effective_df(model: LogisticModel, state: _State) -> float:
    """Degrees of freedom: the rank for unpenalised fits, ``tr(H (H + P)^-1)`` otherwise.

    With an L1 part only the non-zero coefficients count (Zou, Hastie and Tibshirani,
    2007). NaN when the fit kept no full Hessian.
    """
    C, l1_ratio = model._effective_penalty()
    H_rep = state.hessian()
    if H_rep is None:
        return math.nan
    if math.isinf(C):
        idx = np.flatnonzero(np.tile(state.free, state.n_out))
        return float(_inverse(H_rep[np.ix_(idx, idx)])[2])
    H = state.stats.hess
    assert H is not None
    M, q = state.theta.shape
    penalised = np.tile(np.arange(q) > 0, M)  # coefficients, not intercepts
    active = np.tile(state.free, M)
    if l1_ratio > 0.0:  # coefficients at zero were dropped, not estimated
        active &= ~(penalised & (state.theta.ravel() == 0.0))
    idx = np.flatnonzero(active)
    Ha = H[np.ix_(idx, idx)]
    P = np.where(penalised[idx], (1.0 - l1_ratio) / C, 0.0)
    # The multinomial Hessian is singular along theta_k += c: the pseudo-inverse skips it.
    inv = np.linalg.pinv(Ha + np.diag(P), rtol=1e-10, hermitian=True)
    return float(np.trace(Ha @ inv))


def _grouped_statistics(
    model: LogisticModel, state: _State, grouped: GroupedData
) -> dict[str, float]:
    """Statistics of the grouped binomial model (R's ``glm`` on ``cbind(s, n - s)``).

    The rows the solver saw (successes and failures of each group) have the grouped
    model's log-likelihood less ``sum log C(n_i, s_i)``; deviances are against the
    saturated model, one probability per group.
    """
    sums = np.asarray(model._class_weight_sums, dtype=np.float64)
    rows_llf = -float(state.stats.loss)
    positive = sums[sums > 0]
    rows_llnull = float(positive @ np.log(positive / sums.sum()))
    llf = rows_llf + grouped.log_binomial
    llnull = rows_llnull + grouped.log_binomial
    G = float(grouped.n_groups)
    k = _effective_df(model, state)
    df_model = k - state.n_out
    df_resid = G - k
    deviance = 2.0 * (grouped.saturated_log_likelihood - rows_llf)
    null_deviance = 2.0 * (grouped.saturated_log_likelihood - rows_llnull)
    lr = 2.0 * (llf - llnull)
    pearson = grouped.pearson_chi2
    fitted = df_resid > 0
    return {
        "n_obs": G,
        "n_params": k,
        "df_model": df_model,
        "log_likelihood": llf,
        "null_log_likelihood": llnull,
        "deviance": deviance,
        "null_deviance": null_deviance,
        "aic": -2.0 * llf + 2.0 * k,
        "bic": -2.0 * llf + math.log(G) * k,
        "pseudo_r2": 1.0 - llf / llnull if llnull != 0 else math.nan,
        "lr_stat": lr,
        "lr_pvalue": float(chi2.sf(lr, df_model)) if df_model > 0 else math.nan,
        "n_groups": G,
        "n_trials": grouped.n_trials,
        "df_resid": df_resid,
        "null_df_resid": G - 1.0,
        "pearson_chi2": pearson,
        "dispersion": pearson / df_resid if fitted else math.nan,
        "gof_pvalue": float(chi2.sf(deviance, df_resid)) if fitted else math.nan,
        "pearson_pvalue": float(chi2.sf(pearson, df_resid)) if fitted else math.nan,
    }


def _dispersion(model: LogisticModel, state: _State, scale: float | str | None) -> float:
    """The factor on the covariance: 1, Pearson chi2 / df_resid, or a given scale."""
    if scale is None:
        return 1.0
    if isinstance(scale, str):
        if scale not in ("pearson", "X2"):
            msg = f"scale must be None, 'pearson' (or 'X2') or a float > 0; got {scale!r}."
            raise ValueError(msg)
        grouped = getattr(model, "_grouped", None)
        if grouped is None:
            msg = (
                "scale='pearson' estimates over-dispersion of grouped binomial data: fit "
                "with trials=... (with one 0/1 outcome per row the Pearson statistic says "
                "nothing about dispersion)."
            )
            raise ValueError(msg)
        dispersion = _grouped_statistics(model, state, grouped)["dispersion"]
        if not math.isfinite(dispersion):
            msg = "The Pearson dispersion needs more groups than parameters (df_resid > 0)."
            raise ValueError(msg)
        return dispersion
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        msg = f"scale must be None, 'pearson' (or 'X2') or a float > 0; got {scale!r}."
        raise ValueError(msg)
    return float(scale)


def _fit_statistics(
    model: LogisticModel, state: _State, rows: TrainingRows | None
) -> dict[str, float] | None:
    grouped = getattr(model, "_grouped", None)
    if grouped is not None:
        return _grouped_statistics(model, state, grouped)
    K = int(model.classes_.shape[0])
    if rows is not None:
        sums = np.bincount(rows.codes, weights=rows.w, minlength=K).astype(np.float64)
        n_obs = float(rows.sw.sum())
    else:
        stored = getattr(model, "_class_weight_sums", None)
        if stored is None:
            return None
        sums = np.asarray(stored, dtype=np.float64)
        n_obs = _n_obs(model, sums)
    llf = -float(state.stats.loss)
    total = float(sums.sum())
    positive = sums[sums > 0]
    llnull = float(positive @ np.log(positive / total))
    offset_null = getattr(model, "_null_log_likelihood", None)
    if offset_null is not None:  # with an offset the null model is fitted (as statsmodels)
        llnull = float(offset_null)
    k = _effective_df(model, state)
    df_model = k - state.n_out
    lr = 2.0 * (llf - llnull)
    return {
        "n_obs": n_obs,
        "n_params": k,
        "df_model": df_model,
        "log_likelihood": llf,
        "null_log_likelihood": llnull,
        "deviance": -2.0 * llf,
        "null_deviance": -2.0 * llnull,
        "aic": -2.0 * llf + 2.0 * k,
        "bic": -2.0 * llf + math.log(n_obs) * k,
        "pseudo_r2": 1.0 - llf / llnull if llnull != 0 else math.nan,
        "lr_stat": lr,
        "lr_pvalue": float(chi2.sf(lr, df_model)) if df_model > 0 else math.nan,
    }


def fit_statistics(
    model: LogisticModel, *, X: Any = None, y: Any = None, sample_weight: Any = None
) -> dict[str, float]:
    """Model-level statistics: likelihoods, information criteria, LR test against the null.

    The null model has intercepts only (as in statsmodels, even when the model has
    none). ``n_params`` counts the estimated parameters (for a penalised fit the
    effective degrees of freedom ``tr(H (H + P)^-1)``, over the non-zero coefficients
    with L1); ``df_model`` excludes the intercepts. With class weights the
    likelihoods are the weighted pseudo-likelihoods that the fit maximised.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    X, y, sample_weight : array-like, optional
        The training rows; needed for models loaded from an artifact, and for the
        effective degrees of freedom of penalised fits.

    **Grouped binomial data** (``fit(X, successes, trials=...)``): the numbers are
    those of the grouped model, as statsmodels' ``GLM(Binomial)`` on
    ``column_stack([s, n - s])`` and R's ``glm(cbind(s, n - s) ~ ...)`` give them:
    ``n_obs`` counts groups, the log-likelihoods include ``sum log C(n_i, s_i)`` (so
    do AIC and BIC, with ``log(n_groups)``), and the deviances are against the
    saturated model. The keys :data:`GROUPED_FIT_STATISTICS` follow: ``n_groups``,
    ``n_trials``, ``df_resid`` (groups minus parameters), ``null_df_resid``,
    ``pearson_chi2``, ``dispersion`` (``pearson_chi2 / df_resid``; above 1 is
    over-dispersion, see ``summary(scale="pearson")``), ``gof_pvalue`` (the deviance
    against chi-squared on ``df_resid``) and ``pearson_pvalue`` (the same for
    Pearson's statistic). Both tests need trials large enough per group.

    Returns
    -------
    dict
        Keys :data:`FIT_STATISTICS`: ``n_obs``, ``n_params``, ``df_model``,
        ``log_likelihood``, ``null_log_likelihood``, ``deviance``, ``null_deviance``,
        ``aic``, ``bic``, ``pseudo_r2`` (McFadden), ``lr_stat`` and ``lr_pvalue``;
        for grouped data then :data:`GROUPED_FIT_STATISTICS`.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> stats = LogisticModel(penalty=None).fit(X[:, :3], y).fit_statistics()
    >>> round(stats["pseudo_r2"], 3), stats["n_params"]
    (0.709, 4.0)

    Grouped data: 3 groups of 10 trials.

    >>> import numpy as np
    >>> Xg = np.array([[0.0], [1.0], [2.0]])
    >>> model = LogisticModel(penalty=None).fit(Xg, [2, 5, 9], trials=[10, 10, 10])
    >>> grouped = fit_statistics(model)
    >>> grouped["n_obs"], grouped["df_resid"]
    (3.0, 1.0)
    """
    rows = training_rows(model, X, y, sample_weight)
    out = _fit_statistics(model, _state(model, rows), rows)
    if out is None:
        msg = "This model was loaded without its class totals: pass the training rows X and y."
        raise ValueError(msg)
    return out


def lr_test(full: LogisticModel, reduced: LogisticModel) -> dict[str, float]:
    """Likelihood-ratio test of a reduced model nested in a full one (same rows, same y).

    Parameters
    ----------
    full, reduced : LogisticModel
        Unpenalised fits on the same rows; the reduced model's features must be a
        subset of the full model's (checked by name when both have names).

    Returns
    -------
    dict
        ``lr_stat`` (``2 (llf_full - llf_reduced)``), ``df`` (difference in the number
        of parameters) and ``lr_pvalue`` (chi-squared).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> full = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> reduced = LogisticModel(penalty=None).fit(X[:, :1], y)
    >>> test = full.lr_test(reduced)
    >>> test["df"], test["lr_pvalue"] < 0.05
    (2.0, True)
    """
    for role, m in (("full", full), ("reduced", reduced)):
        check_is_fitted(m)
        if m.penalty is not None:
            msg = (
                f"lr_test needs unpenalised fits (penalty=None); the {role} model has "
                f"penalty={m.penalty!r}, whose likelihood is not maximised."
            )
            raise ValueError(msg)
    if not np.array_equal(full.classes_, reduced.classes_):
        msg = "The two models were fitted on different classes; fit them on the same y."
        raise ValueError(msg)
    names_full = getattr(full, "feature_names_in_", None)
    names_red = getattr(reduced, "feature_names_in_", None)
    if names_full is not None and names_red is not None:
        extra = sorted(set(map(str, names_red)) - set(map(str, names_full)))
        if extra:
            msg = f"The reduced model is not nested: feature(s) {extra} are not in the full model."
            raise ValueError(msg)
    a, b = fit_statistics(full), fit_statistics(reduced)
    if not math.isclose(a["n_obs"], b["n_obs"], rel_tol=1e-9):
        msg = f"The models were fitted on different rows (n = {a['n_obs']:g} and {b['n_obs']:g})."
        raise ValueError(msg)
    df = a["n_params"] - b["n_params"]
    if df <= 0:
        msg = (
            f"The reduced model has {b['n_params']:g} parameters and the full one "
            f"{a['n_params']:g}: pass the larger model as full."
        )
        raise ValueError(msg)
    stat = max(2.0 * (a["log_likelihood"] - b["log_likelihood"]), 0.0)
    return {"lr_stat": stat, "df": df, "lr_pvalue": float(chi2.sf(stat, df))}
