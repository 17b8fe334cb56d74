"""The coefficient table: Wald, profile or bootstrap intervals, and its readable text form."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.stats import chi2, norm
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from logitkit.exceptions import ConvergenceWarning, DataError, InferenceWarning
from logitkit.inference._checks import check_alpha, check_choice
from logitkit.inference._common import (
    _PENALISED,
    METHODS,
    SUMMARY_COLUMNS,
    TrainingRows,
    _State,
    _state,
    class_weight_note,
    convergence_notes,
    training_rows,
)
from logitkit.inference._report import ReportFrame
from logitkit.inference.covariance import (
    _covariance,
    _group_codes,
)
from logitkit.inference.statistics import (
    _dispersion,
    _fit_statistics,
)
from logitkit.solver.firth import profile_interval

if TYPE_CHECKING:
    from logitkit.model import LogisticModel


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


# --------------------------------------------------------------------------- summary
class Summary(ReportFrame):
    """The coefficient table (a DataFrame) that prints as a readable report.

    One row per term (``intercept`` first, then the features); a multinomial model has
    a block of rows per non-reference class (index levels ``class`` and ``term``).
    Columns are :data:`SUMMARY_COLUMNS`. ``print(summary)`` gives the model, the
    number of rows, the classes, the penalty, the likelihoods and notes on validity,
    then the table; the same facts are in :attr:`header` as data.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> table = LogisticModel(penalty=None).fit(X[:, :3], y).summary()
    >>> list(table.index[:2])
    ['intercept', 'x0']
    >>> print(table.to_text(columns=["coef", "p_value"]))  # doctest: +ELLIPSIS
    Logistic regression summary
    ...
    """

    title = "Logistic regression summary"

    def _fields(self) -> list[tuple[str, Any]]:
        return _summary_fields(self.header)


def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def _rows_text(h: dict[str, Any]) -> str:
    if h.get("n_groups") is not None:
        return f"{h['n_groups']:g} groups of {h['n_trials']:g} trials in all (grouped binomial)"
    n_rows, n_obs = h.get("n_rows"), h.get("n_obs")
    if n_obs is None or n_rows is None or math.isclose(n_obs, n_rows):
        return str(n_rows)
    return f"{n_rows} (sum of sample weights {n_obs:g})"


def _summary_fields(h: dict[str, Any]) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = [
        ("Model", h.get("model")),
        ("Kind", h.get("kind")),
        ("Rows", _rows_text(h)),
        ("Classes", h.get("classes_text")),
        ("Penalty", h.get("penalty_text")),
    ]
    st = h.get("fit_statistics")
    if st:
        fields += [
            (
                "Log-likelihood",
                (
                    f"{_fmt(st['log_likelihood'])} (null {_fmt(st['null_log_likelihood'])}); "
                    f"McFadden pseudo-R2 {_fmt(st['pseudo_r2'])}"
                ),
            ),
            (
                "LR test vs null",
                (
                    f"chi2({_fmt(st['df_model'], 'g')}) = {_fmt(st['lr_stat'], '.3f')}, "
                    f"p = {_fmt(st['lr_pvalue'], '.3g')}"
                )
                if h.get("penalty") not in _PENALISED
                else "n/a (a penalised fit does not maximise the likelihood)",
            ),
            ("AIC / BIC", f"{_fmt(st['aic'], '.3f')} / {_fmt(st['bic'], '.3f')}"),
        ]
        if st.get("df_resid") is not None:
            fields += _grouped_fields(st)
    fields += [
        ("Standard errors", h.get("cov_text")),
        ("Intervals", h.get("interval_text")),
        ("Converged", h.get("converged_text")),
    ]
    return fields


def _grouped_fields(st: dict[str, Any]) -> list[tuple[str, str]]:
    """Header lines of a grouped binomial fit: deviances, goodness of fit, dispersion."""
    deviance = (
        f"{_fmt(st['deviance'])} on {_fmt(st['df_resid'], 'g')} df "
        f"(null {_fmt(st['null_deviance'])} on {_fmt(st['null_df_resid'], 'g')} df)"
    )
    fit = (
        f"deviance p = {_fmt(st['gof_pvalue'], '.3g')}, Pearson chi2 "
        f"{_fmt(st['pearson_chi2'])} p = {_fmt(st['pearson_pvalue'], '.3g')}"
    )
    dispersion = f"{_fmt(st['dispersion'])} (Pearson chi2 / df_resid; binomial: 1)"
    return [("Deviance", deviance), ("Goodness of fit", fit), ("Dispersion", dispersion)]


def _reported_params(model: LogisticModel) -> FloatArray:
    """(intercept, coef) in original units per reported block, shape (R, q)."""
    P = np.column_stack([model.intercept_, model.coef_])
    return P if P.shape[0] == 1 else P[1:] - P[0]


def _bootstrap(
    model: LogisticModel, rows: TrainingRows, groups: Any, n_boot: int, random_state: Any
) -> tuple[FloatArray, int]:
    """Reported parameters refitted on ``n_boot`` resamples of rows (or clusters)."""
    rng = np.random.default_rng(random_state)
    n = rows.X.shape[0]
    codes = np.arange(n) if groups is None else _group_codes(groups, n)
    G = int(codes.max()) + 1
    refit = clone(model).set_params(warm_start=True)
    draws, failed = [], 0
    for _ in range(n_boot):
        counts = rng.multinomial(G, np.full(G, 1.0 / G))[codes]
        # Warm start from the full-data estimate, which is near every resample's.
        refit.coef_, refit.intercept_ = model.coef_.copy(), model.intercept_.copy()
        refit.classes_ = model.classes_
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                refit.fit(rows.X, rows.labels, sample_weight=rows.sw * counts)
        except DataError:  # a resample without overlap (separation) or without a class
            failed += 1
            continue
        if not refit.solver_result_.converged:
            failed += 1
            continue
        draws.append(_reported_params(refit).ravel())
    return np.asarray(draws, dtype=np.float64).reshape(-1, _reported_params(model).size), failed


def _profile(
    model: LogisticModel, state: _State, rows: TrainingRows, P: FloatArray, level: float
) -> tuple[FloatArray, ...]:
    """Profile-likelihood bounds, signed-root LR statistics and LR p-values (binary)."""
    X = rows.X.toarray() if sp.issparse(rows.X) else np.asarray(rows.X, dtype=np.float64)
    sw = rows.sw
    mean = sw @ X / sw.sum()
    sd = np.sqrt(sw @ (X - mean) ** 2 / sw.sum())
    sd[~(sd > 0)] = 1.0
    cols = np.flatnonzero(state.free)  # 0 is the intercept, j >= 1 feature j - 1
    feats = cols[cols > 0] - 1
    parts = ([np.ones((X.shape[0], 1))] if state.free[0] else []) + [X[:, feats] / sd[feats]]
    A = np.column_stack(parts)
    unit = np.concatenate([[1.0] if state.free[0] else [], sd[feats]])
    theta = P[0, cols] * unit
    lo, hi, z, pv = (np.full(P.shape, math.nan) for _ in range(4))
    for j, col in enumerate(cols):
        prof = profile_interval(
            A, rows.codes, rows.w, theta, j, level=level, firth=model.penalty == "firth"
        )
        lo[0, col], hi[0, col] = prof.lower / unit[j], prof.upper / unit[j]
        z[0, col] = math.copysign(math.sqrt(prof.lr_zero), P[0, col])
        pv[0, col] = float(chi2.sf(prof.lr_zero, 1))
    return lo, hi, z, pv


def _penalty_text(model: LogisticModel) -> str:
    if model.penalty is None:
        return "none (maximum likelihood)"
    if model.penalty == "firth":
        return "Firth (bias-reduced likelihood, Jeffreys prior)"
    ratio = f", l1_ratio={model.l1_ratio:g}" if model.penalty == "elasticnet" else ""
    scale = "standardised" if model.standardize else "original"
    return f"{model.penalty}, C={model.C:g}{ratio} (on the {scale} scale)"


def _penalised_notes(model: LogisticModel, method: str) -> list[str]:
    name = f"penalty={model.penalty!r}, C={model.C:g}"
    notes = []
    if method == "none":
        notes.append(
            f"Penalised fit ({name}): no standard errors, p-values or intervals are shown. "
            "The estimates are shrunk towards zero, so Wald intervals around them would be "
            "centred wrongly and too narrow. For intervals call summary(method='bootstrap', "
            "X=X, y=y), or refit with penalty=None (penalty='firth' if the classes are "
            "separated)."
        )
    elif method == "wald":
        notes.append(
            f"NAIVE WALD INTERVALS FOR A PENALISED FIT ({name}): they ignore the shrinkage "
            "bias and the penalty's choice, so they are centred wrongly and too narrow; "
            "p-values are not valid. Use method='bootstrap' or an unpenalised fit."
        )
    if model.penalty in ("l1", "elasticnet"):
        notes.append(
            "The L1 penalty selected the features on the same data: intervals (bootstrap "
            "included) do not account for that selection and are optimistic, and a "
            "coefficient at zero was dropped, not estimated. Valid post-selection "
            "inference needs e.g. a refit on held-out rows."
        )
    return notes


def summary(
    model: LogisticModel,
    *,
    alpha: float = 0.05,
    cov_type: str = "nonrobust",
    X: Any = None,
    y: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
    method: str = "auto",
    n_boot: int = 200,
    random_state: Any = None,
    scale: float | str | None = None,
) -> Summary:
    """Coefficient table with standard errors, tests, intervals and odds ratios.

    See :meth:`logitkit.LogisticModel.summary` for the parameters. ``scale`` multiplies
    the model-based covariance: None (the binomial 1), ``"pearson"`` (or ``"X2"``) for
    the Pearson dispersion of grouped data (quasi-binomial, statsmodels'
    ``GLM(...).fit(scale="X2")``), or a float.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import SUMMARY_COLUMNS, summary
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> table = summary(LogisticModel(penalty=None).fit(X[:, :3], y))
    >>> tuple(table.columns) == SUMMARY_COLUMNS
    True
    """
    check_alpha(alpha)
    check_choice("method", method, METHODS)
    check_is_fitted(model)
    penalised = model.penalty in _PENALISED
    if method == "auto":
        method = "none" if penalised else "wald"
    if scale is not None and (method != "wald" or cov_type != "nonrobust"):
        msg = (
            f"scale={scale!r} scales the model-based Wald covariance; it does not apply "
            f"to method={method!r} with cov_type={cov_type!r}."
        )
        raise ValueError(msg)
    if method in ("profile", "bootstrap") and (X is None or y is None):
        msg = f"method={method!r} refits the model: pass the training rows X=..., y=...."
        raise ValueError(msg)
    if (
        method in ("profile", "bootstrap")
        and cov_type != "nonrobust"
        and (method == "profile" or cov_type != "cluster")
    ):
        msg = f"cov_type={cov_type!r} applies to Wald intervals, not to method={method!r}."
        raise ValueError(msg)
    if getattr(model, "fitted_with_offset_", False) and (
        cov_type != "nonrobust" or method in ("profile", "bootstrap")
    ):
        msg = (
            f"This model was fitted with an offset, which cov_type={cov_type!r} and "
            f"method={method!r} (computed from training rows) do not take yet; use the "
            "model-based Wald summary (cov_type='nonrobust')."
        )
        raise ValueError(msg)
    rows = training_rows(model, X, y, sample_weight)
    state = _state(model, rows)
    dispersion = _dispersion(model, state, scale)
    P = _reported_params(model)
    shape = P.shape
    se, lo, hi, z, pv = (np.full(shape, math.nan) for _ in range(5))
    notes: list[str] = _penalised_notes(model, method) if penalised else []
    crit = float(norm.ppf(1.0 - alpha / 2.0))
    if method in ("wald", "profile"):
        if method == "profile" and (state.n_out != 1 or model.penalty not in (None, "firth")):
            msg = "method='profile' needs a binary model with penalty=None or penalty='firth'."
            raise ValueError(msg)
        cov, unidentified = _covariance(state, rows, cov_type, groups)
        cov = cov * dispersion
        if penalised:
            warnings.warn(notes[0], InferenceWarning, stacklevel=3)
        se = np.where(unidentified, math.nan, np.sqrt(np.maximum(np.diag(cov), 0.0)))
        se = se.reshape(shape)
        z = P / se
        pv = 2.0 * norm.sf(np.abs(z))
        lo, hi = P - crit * se, P + crit * se
        if method == "profile":
            assert rows is not None
            lo, hi, z, pv = _profile(model, state, rows, P, 1.0 - alpha)
            notes.append(
                "Profile intervals: z is the signed square root of the likelihood-ratio "
                "statistic for coef = 0 (sign of the estimate), not coef / std_err; p_value is "
                "that LR test's, and std_err is the Wald one, shown for reference."
            )
        if unidentified[np.tile(state.free, state.n_out)].any():
            notes.append(
                "Some coefficients are not identified (collinear features): they have no "
                "standard error; see logitkit.diagnose."
            )
    elif method == "bootstrap":
        assert rows is not None
        draws, failed = _bootstrap(model, rows, groups, n_boot, random_state)
        if draws.shape[0] < 2:
            msg = f"Only {draws.shape[0]} of {n_boot} bootstrap refits succeeded."
            raise ValueError(msg)
        se = draws.std(axis=0, ddof=1).reshape(shape)
        q_lo, q_hi = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        lo, hi = q_lo.reshape(shape), q_hi.reshape(shape)
        unit = "clusters" if groups is not None else "rows"
        notes.append(
            f"Bootstrap: {draws.shape[0]} refits on resampled {unit} (warm-started); "
            "std_err is the bootstrap standard deviation and the interval the percentile "
            "interval; z and p_value are not computed."
            + (f" {failed} refit(s) failed to converge and were left out." if failed else "")
        )
    if model.class_weight is not None and method == "wald" and cov_type == "nonrobust":
        notes.append(class_weight_note("model-based standard errors are"))
    if method == "wald" and model.penalty is None:
        notes.extend(_wald_caveats(model, state, P))
    if model.penalty == "firth" and method == "wald":
        notes.append(
            "Firth's bias-reduced estimates with Wald intervals from X'WX at the estimate "
            "(logistf with pl=FALSE); profile penalised-likelihood intervals, preferred "
            "when the classes are (nearly) separated: summary(method='profile', X=X, y=y)."
        )
    notes += convergence_notes(model)
    if _positive_first(model):
        # The positive class sorts first: report the log-odds of it, not of classes_[1].
        P, z, lo, hi = -P, -z, -hi, -lo
    frame = _frame(model, P, se, z, pv, lo, hi, rows)
    header = _header(model, state, rows, cov_type, groups, method, alpha, n_boot)
    _grouped_header(header, scale, dispersion, notes)
    header["notes"] = notes
    out = Summary(frame)
    out.attrs["logitkit"] = header
    return out


def _grouped_header(
    header: dict[str, Any], scale: float | str | None, dispersion: float, notes: list[str]
) -> None:
    """Groups, trials and the scale in the header; a note on over-dispersion."""
    st = header.get("fit_statistics") or {}
    header["scale"] = dispersion
    if scale is not None and header.get("cov_text") is not None:
        kind = "Pearson dispersion, quasi-binomial" if isinstance(scale, str) else "given"
        header["cov_text"] += f", scaled by {dispersion:.4g} ({kind})"
    if st.get("n_groups") is None:
        return
    header["n_groups"], header["n_trials"] = st["n_groups"], st["n_trials"]
    if scale is None and st["pearson_pvalue"] < 0.05 and st["dispersion"] > 1.0:
        notes.append(
            f"Over-dispersion: Pearson chi2 / df_resid = {st['dispersion']:.3g} (p = "
            f"{st['pearson_pvalue']:.3g} against 1), so the binomial standard errors are "
            "too small; summary(scale='pearson') gives quasi-binomial ones."
        )


#: Fewer events (rows of the smaller class) per estimated parameter than this make Wald
#: intervals of an unpenalised fit unreliable (Peduzzi et al., 1996).
_MIN_EVENTS_PER_PARAMETER = 10.0
#: A standardised coefficient this large marks (near) separation: the likelihood is flat
#: along it, and a Wald interval around it means little.
_LARGE_STANDARDISED = 10.0


def _wald_caveats(model: LogisticModel, state: _State, P: FloatArray) -> list[str]:
    """Why Wald intervals of an unpenalised fit may mislead, with the remedy (R's confint)."""
    counts = getattr(model, "class_counts_", None)
    n_params = int(np.tile(state.free, state.n_out).sum())
    reasons = []
    if (
        counts is not None
        and n_params
        and float(np.min(counts)) / n_params < _MIN_EVENTS_PER_PARAMETER
    ):
        reasons.append(
            f"only {float(np.min(counts)) / n_params:.1f} rows of the smaller class per "
            "estimated parameter (10 is the usual minimum)"
        )
    std = np.abs(P[:, 1:] * np.asarray(model.feature_scale_))
    if model.standardize and std.size and float(np.nanmax(std)) > _LARGE_STANDARDISED:
        reasons.append("a standardised coefficient above 10, a mark of (near) separation")
    if not reasons:
        return []
    profile = (
        "summary(method='profile', X=X, y=y) gives profile-likelihood intervals (R's "
        "confint default), which do not assume a symmetric likelihood"
        if state.n_out == 1
        else "a penalised fit (penalty='l2') or fewer features is safer"
    )
    return [f"Wald intervals may be unreliable here: {'; '.join(reasons)}. {profile}."]


def _positive_first(model: LogisticModel) -> bool:
    """Whether a binary model's positive class is ``classes_[0]`` (its table is negated)."""
    positive = getattr(model, "positive_class_", None)
    classes = model.classes_.tolist()
    return len(classes) == 2 and positive is not None and positive == classes[0]


def _feature_sd(model: LogisticModel, rows: TrainingRows | None) -> FloatArray:
    """Standard deviation of each feature on the training rows (NaN where unknown)."""
    if model.standardize:
        return np.asarray(model.feature_scale_, dtype=np.float64)
    if rows is None:
        return np.full(model.n_features_in_, math.nan)
    X = rows.X.toarray() if sp.issparse(rows.X) else np.asarray(rows.X, dtype=np.float64)
    mean = rows.sw @ X / rows.sw.sum()
    return np.asarray(np.sqrt(rows.sw @ (X - mean) ** 2 / rows.sw.sum()), dtype=np.float64)


def _frame(
    model: LogisticModel,
    P: FloatArray,
    se: FloatArray,
    z: FloatArray,
    pv: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    rows: TrainingRows | None,
) -> pd.DataFrame:
    # Per standard deviation as well as per unit: an odds ratio per dollar of income
    # prints as 1 (1 to 1), per standard deviation it says something.
    sd = np.r_[math.nan, _feature_sd(model, rows)]
    coef_std, lo_std, hi_std = P * sd, lo * sd, hi * sd
    with np.errstate(over="ignore"):
        values = [P, se, z, pv, lo, hi, np.exp(P), np.exp(lo), np.exp(hi), coef_std]
        values += [np.exp(coef_std), np.exp(lo_std), np.exp(hi_std)]
    data = np.column_stack([v.ravel() for v in values])
    terms = ["intercept", *model._feature_names()]
    keep = np.ones(len(terms), dtype=bool)
    keep[0] = bool(model.fit_intercept)
    n_out = P.shape[0]
    if n_out == 1:
        index: pd.Index[Any] = pd.Index(np.asarray(terms, dtype=object)[keep], name="term")
        return pd.DataFrame(data[keep], index=index, columns=list(SUMMARY_COLUMNS))
    labels = model.classes_[1:].tolist()
    pairs = [(c, t) for c in labels for t, k in zip(terms, keep, strict=True) if k]
    mask = np.tile(keep, n_out)
    index = pd.MultiIndex.from_tuples(pairs, names=["class", "term"])
    return pd.DataFrame(data[mask], index=index, columns=list(SUMMARY_COLUMNS))


def _header(
    model: LogisticModel,
    state: _State,
    rows: TrainingRows | None,
    cov_type: str,
    groups: Any,
    method: str,
    alpha: float,
    n_boot: int,
) -> dict[str, Any]:
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    counts = getattr(model, "class_counts_", None)
    listed = (
        ", ".join(f"{c!s} ({int(n)})" for c, n in zip(classes, counts, strict=True))
        if counts is not None
        else ", ".join(map(str, classes))
    )
    positive = None
    if state.n_out == 1:
        kind = "binary"
        positive = classes[0] if _positive_first(model) else classes[1]
        role = f"modelled: log-odds of {positive!s}"
    else:
        kind = "multinomial"
        role = f"reference: {classes[0]!s} (each block: class vs reference)"
    st = _fit_statistics(model, state, rows)
    level = f"{100.0 * (1.0 - alpha):g}%"
    interval = {
        "wald": f"{level} Wald",
        "profile": f"{level} profile "
        + ("penalised likelihood" if model.penalty == "firth" else "likelihood"),
        "bootstrap": f"{level} bootstrap percentile ({n_boot} resamples)",
        "none": "none (penalised fit)",
    }[method]
    cov_text = {
        "nonrobust": "model-based (inverse Hessian)",
        "HC0": "heteroscedasticity-robust sandwich (HC0)",
        "HC1": "heteroscedasticity-robust sandwich (HC1, n/(n-k))",
        "cluster": "cluster-robust (CRV1)",
    }[cov_type]
    if groups is not None:
        cov_text += f", {len(np.unique(np.asarray(groups)))} clusters"
    result = getattr(model, "solver_result_", None)
    converged = (
        None
        if result is None
        else f"{'yes' if result.converged else 'NO'} ({result.method}, {result.n_iter} iterations)"
    )
    n_rows = (
        int(rows.X.shape[0])
        if rows is not None
        else (int(np.sum(counts)) if counts is not None else None)
    )
    return {
        "model": repr(model),
        "kind": kind,
        "n_rows": n_rows,
        "n_obs": st["n_obs"] if st else None,
        "classes": [str(c) for c in classes],
        "positive": None if positive is None else str(positive),
        "classes_text": f"{listed}; {role}",
        "penalty": model.penalty,
        "penalty_text": _penalty_text(model),
        "cov_type": cov_type if method in ("wald", "profile") else None,
        "cov_text": cov_text if method in ("wald", "profile") else None,
        "method": method,
        "alpha": alpha,
        "interval_text": interval,
        "converged_text": converged,
        "fit_statistics": st,
    }
