"""Linear hypotheses on the coefficients (Wald tests) and deviance tables of nested models.

**Constraints** name terms as the summary's index does: ``"intercept"`` and the feature
names of a binary model; ``"<class>[<term>]"`` for a multinomial model, whose
coefficients are per class against the reference ``classes_[0]`` (``"2[age] = 0"``
is the coefficient of ``age`` in the block of class ``2``). A constraint is a linear
equation: sums and differences of terms, each optionally multiplied by a number
(``2*age``, ``age*2``, ``0.5 * lwt``), with numbers on either side; several are
separated by commas (or given as a list).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import chi2, f
from sklearn.utils.validation import check_is_fitted

from logitkit.exceptions import InferenceWarning
from logitkit.inference._common import _PENALISED, _state, class_weight_note, training_rows
from logitkit.inference.covariance import _covariance
from logitkit.inference.statistics import _fit_statistics, fit_statistics, lr_test
from logitkit.inference.summary import _positive_first, _reported_params

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

#: Columns of :func:`anova`, in order: this vocabulary is API.
ANOVA_COLUMNS: tuple[str, ...] = ("df_resid", "deviance", "df", "deviance_diff", "p_value")

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"\w")
_COV_TEXT = {
    "nonrobust": "model-based (inverse Hessian)",
    "HC0": "heteroscedasticity-robust sandwich (HC0)",
    "HC1": "heteroscedasticity-robust sandwich (HC1, n/(n-k))",
    "cluster": "cluster-robust (CRV1)",
}


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class WaldTest:
    """The result of :func:`wald_test`: the Wald chi-squared test of ``R b = q``.

    Attributes
    ----------
    statistic : float
        ``(R b - q)' (R V R')^{-1} (R b - q)``, chi-squared with ``df`` degrees of freedom.
    df : int
        Number of constraints (rows of ``R``).
    p_value : float
        ``P(chi2(df) > statistic)``.
    f_statistic : float
        ``statistic / df``, statsmodels' ``wald_test(use_f=True)``.
    df_denom : float
        Denominator degrees of freedom of the F form: ``n - k`` (rows less estimated
        parameters), or clusters less one with ``cov_type="cluster"``; NaN if unknown.
    f_p_value : float
        ``P(F(df, df_denom) > f_statistic)``.
    R : ndarray of shape (df, n_terms)
        Constraint matrix over :attr:`terms`.
    q : ndarray of shape (df,)
        Right-hand sides.
    estimate : ndarray of shape (df,)
        ``R b`` at the estimate.
    terms : tuple of str
        The terms (columns of ``R``) in the order of the summary's rows.
    constraints : tuple of str
        Each constraint in words.
    cov_type : str
        The covariance used.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> test = LogisticModel(penalty=None).fit(X[:, :3], y).wald_test("x1 = 0, x2 = 0")
    >>> test.df, test.p_value < 0.05
    (2, True)
    """

    statistic: float
    df: int
    p_value: float
    f_statistic: float
    df_denom: float
    f_p_value: float
    R: FloatArray
    q: FloatArray
    estimate: FloatArray
    terms: tuple[str, ...]
    constraints: tuple[str, ...]
    cov_type: str

    def to_dict(self) -> dict[str, Any]:
        """The result as plain, JSON-serialisable values.

        Returns
        -------
        dict
            The attributes, arrays as (nested) lists.
        """
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "f_statistic": self.f_statistic,
            "df_denom": self.df_denom,
            "f_p_value": self.f_p_value,
            "R": self.R.tolist(),
            "q": self.q.tolist(),
            "estimate": self.estimate.tolist(),
            "terms": list(self.terms),
            "constraints": list(self.constraints),
            "cov_type": self.cov_type,
        }

    def __str__(self) -> str:
        lines = [f"Wald test of {self.df} linear constraint(s); {_COV_TEXT[self.cov_type]}"]
        lines += [
            f"  {text}   (estimate {est:.6g})"
            for text, est in zip(self.constraints, self.estimate, strict=True)
        ]
        lines.append(f"chi2({self.df}) = {self.statistic:.4f}, p = {self.p_value:.4g}")
        if not math.isnan(self.df_denom):
            lines.append(
                f"F({self.df}, {self.df_denom:g}) = {self.f_statistic:.4f}, "
                f"p = {self.f_p_value:.4g}"
            )
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- parser
def _terms(model: LogisticModel, n_out: int) -> tuple[list[str], NDArray[np.intp]]:
    """Names of the reported parameters and their positions in the (R q) vector."""
    names = ["intercept", *model._feature_names()]
    keep = [j for j in range(len(names)) if j > 0 or model.fit_intercept]
    if n_out == 1:
        return [names[j] for j in keep], np.asarray(keep, dtype=np.intp)
    q = len(names)
    labels = [str(c) for c in model.classes_[1:]]
    terms = [f"{c}[{names[j]}]" for c in labels for j in keep]
    pos = [k * q + j for k in range(len(labels)) for j in keep]
    return terms, np.asarray(pos, dtype=np.intp)


def _tokens(text: str, terms: list[str]) -> list[tuple[str, Any, int]]:
    """Split a constraint string into (kind, value, position) tokens; longest term first."""
    by_length = sorted(range(len(terms)), key=lambda j: -len(terms[j]))
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        for j in by_length:
            name = terms[j]
            end = pos + len(name)
            whole = not (
                _WORD.match(name[-1]) and end < len(text) and _WORD.match(text[end])
            ) and not (_WORD.match(name[0]) and pos > 0 and _WORD.match(text[pos - 1]))
            if text.startswith(name, pos) and whole:
                out.append(("term", j, pos))
                pos = end
                break
        else:
            number = _NUMBER.match(text, pos)
            if number is not None:
                out.append(("number", float(number.group()), pos))
                pos = number.end()
            elif text[pos] in "+-*=,":
                out.append((text[pos], None, pos))
                pos += 1
            else:
                raise _parse_error(text, pos, terms)
    return out


def _parse_error(text: str, pos: int, terms: list[str], what: str = "") -> ValueError:
    shown = ", ".join(terms[:12]) + (", ..." if len(terms) > 12 else "")
    if not what:
        word = re.match(r"[^\s+\-*=,]+", text[pos:])
        close = get_close_matches(word.group(), terms, n=1) if word else []
        what = "not a term, a number, or one of '+', '-', '*', '=' and ','"
        what += f" (did you mean {close[0]!r}?)" if close else ""
    msg = (
        f"Cannot read the constraint {text!r} at position {pos} ({text[pos : pos + 20]!r}): "
        f"{what}. Terms: {shown}."
    )
    return ValueError(msg)


def _parse(text: str, terms: list[str]) -> tuple[FloatArray, FloatArray, list[str]]:
    """Constraint strings to ``(R, q, texts)`` over ``terms``."""
    tokens = _tokens(text, terms)
    rows: list[FloatArray] = []
    rhs: list[float] = []
    texts: list[str] = []
    start = 0
    for i in range(len(tokens) + 1):
        if i < len(tokens) and tokens[i][0] != ",":
            continue
        part = tokens[start:i]
        first = tokens[start][2] if part else (tokens[i][2] if i < len(tokens) else len(text))
        end = tokens[i][2] if i < len(tokens) else len(text)
        row, value = _equation(part, text, first, terms)
        rows.append(row)
        rhs.append(value)
        texts.append(text[first:end].strip())
        start = i + 1
    return np.asarray(rows), np.asarray(rhs), texts


def _equation(
    tokens: list[tuple[str, Any, int]], text: str, pos: int, terms: list[str]
) -> tuple[FloatArray, float]:
    """One ``lhs = rhs`` as ``(r, c)`` with ``r . b = c``."""
    sides = [k for k, tok in enumerate(tokens) if tok[0] == "="]
    if len(sides) != 1:
        raise _parse_error(text, pos, terms, "a constraint needs exactly one '='")
    row = np.zeros(len(terms))
    const = 0.0
    for side, part in ((1.0, tokens[: sides[0]]), (-1.0, tokens[sides[0] + 1 :])):
        if not part:
            raise _parse_error(text, pos, terms, "each side of '=' needs a term or a number")
        sign, factor, term, expect_operand = 1.0, 1.0, None, True
        for kind, value, at in [*part, ("end", None, -1)]:
            if kind == "end" and expect_operand:
                raise _parse_error(text, pos, terms, "an expression ends in an operator")
            if kind in ("+", "-") and expect_operand and term is None and factor == 1.0:
                sign *= -1.0 if kind == "-" else 1.0  # a leading or repeated sign
            elif kind in ("+", "-", "end") and not expect_operand:
                if term is None:
                    const += side * sign * factor
                else:
                    row[term] += side * sign * factor
                sign, factor, term, expect_operand = (-1.0 if kind == "-" else 1.0), 1.0, None, True
            elif kind == "*" and not expect_operand:
                expect_operand = True
            elif kind == "number" and expect_operand:
                factor *= value
                expect_operand = False
            elif kind == "term" and expect_operand and term is None:
                term, expect_operand = value, False
            else:
                where = at if at >= 0 else len(text)
                raise _parse_error(text, min(where, len(text) - 1), terms, "unexpected here")
    if not row.any():
        raise _parse_error(text, pos, terms, "the constraint involves no term")
    return row, 0.0 - const


# ------------------------------------------------------------------------- Wald test
def wald_test(
    model: LogisticModel,
    constraints: str | Sequence[str] | Any,
    q: Any = None,
    *,
    cov_type: str = "nonrobust",
    X: Any = None,
    y: Any = None,
    sample_weight: Any = None,
    groups: Any = None,
) -> WaldTest:
    """Wald test of linear constraints ``R b = q`` on the coefficients.

    The statistic is statsmodels' ``wald_test(..., use_f=False, scalar=True)`` (and R's
    ``car::linearHypothesis``) with the covariance of :func:`covariance`. The
    coefficients are those of the summary (a binary model whose positive class sorts
    first reports the log-odds of that class).

    Parameters
    ----------
    model : LogisticModel
        A fitted unpenalised (``penalty=None``) or Firth model.
    constraints : str, list of str, or array-like of shape (J, n_terms)
        Equations in term names, separated by commas: ``"age = 0, lwt = 0"``,
        ``"smoke - ht = 0"``, ``"2*age + lwt = 1"``. Terms are the summary's rows:
        ``intercept`` and the features; for a multinomial model ``"<class>[<term>]"``
        (``"2[age] = 0"``). Or a matrix ``R`` whose columns are those terms in the
        summary's order.
    q : array-like of shape (J,), optional
        Right-hand sides with a matrix ``R`` (zeros by default).
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Covariance of the estimates, as in :func:`summary`; the robust types need the
        training rows ``X`` and ``y``, "cluster" also ``groups``.
    X, y, sample_weight : array-like, optional
        The training rows.
    groups : array-like of shape (n_samples,), optional
        Cluster of each row, for ``cov_type="cluster"``.

    Returns
    -------
    WaldTest

    Raises
    ------
    ValueError
        For an L1, L2 or elastic-net fit: its estimates are shrunk towards zero, so the
        statistic is centred wrongly and its p-value not valid (refused rather than
        warned, because the number would be used as a test); for unreadable
        constraints, dependent constraints, or ones on an unidentified coefficient.

    Warns
    -----
    InferenceWarning
        With class weights and ``cov_type="nonrobust"`` (a pseudo-likelihood fit).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import wald_test
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> test = wald_test(model, "x1 = 0, x0 - 2*x2 = 0")
    >>> test.df, test.statistic > 0
    (2, True)
    """
    check_is_fitted(model)
    if model.penalty in _PENALISED:
        msg = (
            f"wald_test needs an unpenalised (or Firth) fit; this model has "
            f"penalty={model.penalty!r}, C={model.C:g}, whose estimates are shrunk towards "
            "zero, so a Wald statistic would be centred wrongly and its p-value not valid. "
            "Refit with penalty=None (penalty='firth' if the classes are separated), or "
            "use summary(method='bootstrap', X=X, y=y) for intervals."
        )
        raise ValueError(msg)
    if model.class_weight is not None and cov_type == "nonrobust":
        warnings.warn(
            class_weight_note("the model-based covariance is"),
            InferenceWarning,
            stacklevel=2,
        )
    rows = training_rows(model, X, y, sample_weight)
    state = _state(model, rows)
    terms, pos = _terms(model, state.n_out)
    R, qv, texts = _constraints(constraints, q, terms)
    cov, unidentified = _covariance(state, rows, cov_type, groups)
    used = np.flatnonzero((R != 0).any(axis=0))
    bad = [terms[j] for j in used if unidentified[pos[j]]]
    if bad:
        msg = f"The constraints involve coefficient(s) without a standard error: {bad}."
        raise ValueError(msg)
    b = _reported_params(model).ravel()
    if _positive_first(model):
        b = -b
    b = b[pos]
    V = cov[np.ix_(pos, pos)]
    estimate = R @ b
    diff = estimate - qv
    stat = float(diff @ np.linalg.solve(R @ V @ R.T, diff))
    J = R.shape[0]
    st = _fit_statistics(model, state, rows)
    if cov_type == "cluster":
        df_denom = float(len(np.unique(np.asarray(groups))) - 1)
    else:
        df_denom = st.get("df_resid", st["n_obs"] - st["n_params"]) if st else math.nan
    f_stat = stat / J
    f_p = float(f.sf(f_stat, J, df_denom)) if df_denom > 0 else math.nan
    for a in (R, qv, estimate):
        a.setflags(write=False)
    return WaldTest(
        statistic=stat,
        df=J,
        p_value=float(chi2.sf(stat, J)),
        f_statistic=f_stat,
        df_denom=df_denom,
        f_p_value=f_p,
        R=R,
        q=qv,
        estimate=estimate,
        terms=tuple(terms),
        constraints=tuple(texts),
        cov_type=cov_type,
    )


def _constraints(
    constraints: Any, q: Any, terms: list[str]
) -> tuple[FloatArray, FloatArray, list[str]]:
    """``(R, q, texts)`` from constraint strings or a matrix; dependent rows refused."""
    if isinstance(constraints, str) or (
        isinstance(constraints, Sequence)
        and len(constraints) > 0
        and all(isinstance(c, str) for c in constraints)
    ):
        if q is not None:
            msg = "q is only used with a matrix R; write the right-hand sides in the strings."
            raise ValueError(msg)
        text = constraints if isinstance(constraints, str) else ", ".join(constraints)
        R, qv, texts = _parse(text, terms)
    else:
        R = np.atleast_2d(np.asarray(constraints, dtype=np.float64))
        if R.ndim != 2 or R.shape[1] != len(terms) or R.shape[0] == 0:
            msg = (
                f"R must have one column per term ({len(terms)}: {', '.join(terms[:6])}"
                f"{', ...' if len(terms) > 6 else ''}); got shape {np.shape(constraints)}."
            )
            raise ValueError(msg)
        qv = np.zeros(R.shape[0]) if q is None else np.asarray(q, dtype=np.float64).ravel()
        if qv.shape != (R.shape[0],):
            msg = f"q must hold one value per row of R ({R.shape[0]}); got shape {qv.shape}."
            raise ValueError(msg)
        if not (np.isfinite(R).all() and np.isfinite(qv).all()):
            msg = "R and q must be finite."
            raise ValueError(msg)
        texts = [_describe(r, c, terms) for r, c in zip(R, qv, strict=True)]
    if np.linalg.matrix_rank(R) < R.shape[0]:
        msg = (
            f"The {R.shape[0]} constraints are linearly dependent (rank "
            f"{np.linalg.matrix_rank(R)}): drop the redundant ones."
        )
        raise ValueError(msg)
    return R, qv, texts


def _describe(r: FloatArray, c: float, terms: list[str]) -> str:
    parts = []
    for j in np.flatnonzero(r):
        w = float(r[j])
        sign = "-" if w < 0 else "+"
        mag = "" if abs(w) == 1.0 else f"{abs(w):g}*"
        parts.append(f"{sign} {mag}{terms[j]}")
    lhs = " ".join(parts).removeprefix("+ ") if parts else "0"
    return f"{lhs} = {c:g}"


# ----------------------------------------------------------------------------- anova
def anova(*models: LogisticModel) -> pd.DataFrame:
    """Deviance table of nested models, each tested against the one before it.

    R's ``anova(m1, m2, ..., test="Chisq")`` for binomial ``glm`` fits: the
    likelihood-ratio statistic of model ``i`` against model ``i - 1`` is the drop in
    deviance, chi-squared with the difference in the number of parameters.

    Parameters
    ----------
    *models : LogisticModel
        At least two unpenalised fits (``penalty=None``, no class weights) on the same
        rows and classes, from the smallest to the largest. Checked: the same number of
        rows (sum of sample weights), the same classes, strictly increasing numbers of
        parameters, and, where both models have feature names, that each model's
        features are among the next one's. That the rows are the same rows cannot be
        checked.

    Returns
    -------
    pandas.DataFrame
        One row per model (index ``model``, from 1), columns :data:`ANOVA_COLUMNS`:
        ``df_resid`` (rows less parameters; R's "Resid. Df"), ``deviance`` ("Resid.
        Dev"), ``df`` ("Df"), ``deviance_diff`` ("Deviance") and ``p_value``
        ("Pr(>Chi)"); the last three are NaN in the first row.

    Raises
    ------
    ValueError
        When fewer than two models are given or they are not nested as checked.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.inference import anova
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> small = LogisticModel(penalty=None).fit(X[:, :1], y)
    >>> large = LogisticModel(penalty=None).fit(X[:, :3], y)
    >>> table = anova(small, large)
    >>> table["df"].tolist()[1], bool(table["p_value"].iloc[1] < 0.05)
    (2.0, True)
    """
    if len(models) < 2:
        msg = f"anova compares at least two nested models; got {len(models)}."
        raise ValueError(msg)
    for i, m in enumerate(models, 1):
        check_is_fitted(m)
        if m.penalty is not None or m.class_weight is not None:
            what = f"penalty={m.penalty!r}" if m.penalty is not None else "class weights"
            msg = (
                f"anova needs unpenalised fits without class weights; model {i} has {what}, "
                "so its likelihood is not the one a chi-squared deviance test needs."
            )
            raise ValueError(msg)
    stats = [fit_statistics(m) for m in models]
    for i in range(1, len(models)):
        a, b = stats[i - 1], stats[i]
        if not b["n_params"] > a["n_params"]:
            msg = (
                f"Model {i + 1} has {b['n_params']:g} parameters, not more than model {i}'s "
                f"{a['n_params']:g}: pass the models from the smallest to the largest."
            )
            raise ValueError(msg)
        if bool(models[i - 1].fit_intercept) and not bool(models[i].fit_intercept):
            msg = f"Model {i} has an intercept and model {i + 1} none: it is not nested."
            raise ValueError(msg)
        try:  # the same classes, rows and feature names
            lr_test(models[i], models[i - 1])
        except ValueError as err:
            msg = f"Models {i} and {i + 1} (the reduced and the full model): {err}"
            raise ValueError(msg) from err
    dev = np.array([s["deviance"] for s in stats])
    k = np.array([s["n_params"] for s in stats])
    df = np.r_[math.nan, np.diff(k)]
    diff = np.r_[math.nan, -np.diff(dev)]
    p = np.r_[math.nan, chi2.sf(np.maximum(diff[1:], 0.0), df[1:])]
    data = {
        "df_resid": [s.get("df_resid", s["n_obs"] - s["n_params"]) for s in stats],
        "deviance": dev,
        "df": df,
        "deviance_diff": diff,
        "p_value": p,
    }
    index = pd.RangeIndex(1, len(models) + 1, name="model")
    return pd.DataFrame(data, index=index, columns=list(ANOVA_COLUMNS))
