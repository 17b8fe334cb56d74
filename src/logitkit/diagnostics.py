"""Findings: what in a model and its data can make its numbers misleading, and what to do.

:func:`diagnose` runs every check on a fitted model and its training rows and returns
:class:`Findings`, which print as a readable list and convert to plain data
(``to_list()``, JSON-serialisable) for the report and the artifact. Each
:class:`Finding` has a severity ("error": the numbers are not meaningful; "warning":
they are fragile; "info": worth knowing), the check that raised it, the features
involved, a message saying what was found and advice saying what to do.

Checks, in order: convergence, separation (complete and quasi-complete, with the
separating features), duplicated columns, exact collinearity, variance inflation (VIF
5 and 10), constant and near-constant features, class imbalance, events per parameter,
features on very different scales when not standardising, and saturation of the
linear predictor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from logitkit.inference import TrainingRows, training_rows
from logitkit.solver.separation import find_separation, single_feature_separation

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

__all__ = ["CHECKS", "SEVERITIES", "Finding", "Findings", "diagnose"]

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
CHECKS: tuple[str, ...] = (
    "convergence",
    "separation",
    "duplicate",
    "collinearity",
    "vif",
    "constant",
    "near_constant",
    "imbalance",
    "events_per_parameter",
    "scale",
    "saturation",
)
#: Variance inflation factors from which a feature is reported (info, warning).
VIF_MODERATE, VIF_HIGH = 5.0, 10.0
#: A feature with one value in at least this share of the rows is near-constant.
NEAR_CONSTANT_SHARE = 0.99
#: Ratio of the largest to the smallest class (by weight) reported (info, warning).
IMBALANCE_INFO, IMBALANCE_WARNING = 4.0, 10.0
#: Fewer rows of the smallest class per estimated parameter than this is too few.
MIN_EVENTS_PER_PARAMETER = 10.0
#: Ratio of the largest to the smallest feature standard deviation reported.
SCALE_RATIO = 1e3
#: Linear predictors beyond this are saturated (probabilities beyond 0.7% / 99.3%) ...
SATURATION_Z = 5.0
#: ... and this share of saturated rows is reported (info, warning).
SATURATION_INFO, SATURATION_WARNING = 0.05, 0.25
#: Largest dense copy (in values) that the separation and collinearity checks make.
_MAX_DENSE_VALUES = 20_000_000
#: Eigenvalues of the correlation matrix below this mark exact collinearity.
_COLLINEAR = 1e-9


@dataclass(frozen=True)
class Finding:
    """One finding of :func:`diagnose`.

    Attributes
    ----------
    check : str
        Which check raised it (one of :data:`CHECKS`).
    severity : {"error", "warning", "info"}
        How much it matters.
    message : str
        What was found, with the numbers.
    advice : str
        What to do about it.
    features : tuple of str
        The features involved, most responsible first (empty for model-level findings).
    value : float or None
        The number behind the finding (a VIF, a share, a ratio), if any.

    Examples
    --------
    >>> from logitkit.diagnostics import Finding
    >>> f = Finding("constant", "warning", "'x' is constant.", "Drop it.", ("x",))
    >>> f.feature, f.to_dict()["severity"]
    ('x', 'warning')
    """

    check: str
    severity: str
    message: str
    advice: str
    features: tuple[str, ...] = ()
    value: float | None = None

    @property
    def feature(self) -> str | None:
        """The main feature involved, or None for a model-level finding."""
        return self.features[0] if self.features else None

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable data (``value`` None where not finite)."""
        out = asdict(self)
        out["features"] = list(self.features)
        out["feature"] = self.feature
        finite = self.value is not None and math.isfinite(self.value)
        out["value"] = float(self.value) if finite and self.value is not None else None
        return out

    def __str__(self) -> str:
        where = f" ({', '.join(repr(f) for f in self.features[:3])})" if self.features else ""
        more = f" +{len(self.features) - 3}" if len(self.features) > 3 else ""
        return f"[{self.severity.upper()}] {self.check}{where}{more}: {self.message}"


class Findings(Sequence[Finding]):
    """The findings of :func:`diagnose`, most severe first.

    Print it for a readable list; ``to_list()`` gives plain data.

    Examples
    --------
    >>> from logitkit.diagnostics import Finding, Findings
    >>> found = Findings([Finding("imbalance", "info", "Class 'a' is 20%.", "Use PR-AUC.")])
    >>> len(found), found.to_list()[0]["check"]
    (1, 'imbalance')
    >>> print(found)  # doctest: +NORMALIZE_WHITESPACE
    Diagnostics: 1 finding (0 errors, 0 warnings, 1 info)
      1. [INFO] imbalance: Class 'a' is 20%.
         -> Use PR-AUC.
    """

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        def rank(f: Finding) -> tuple[int, int]:
            check = CHECKS.index(f.check) if f.check in CHECKS else len(CHECKS)
            return SEVERITIES.index(f.severity), check

        self._items = tuple(sorted(findings, key=rank))

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Findings: ...
    def __getitem__(self, index: int | slice) -> Finding | Findings:
        if isinstance(index, slice):
            return Findings(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._items)

    def select(self, *, check: str | None = None, severity: str | None = None) -> Findings:
        """The findings of one check and/or severity."""
        return Findings(
            f
            for f in self._items
            if (check is None or f.check == check) and (severity is None or f.severity == severity)
        )

    def to_list(self) -> list[dict[str, Any]]:
        """Each finding as a plain dict (see :meth:`Finding.to_dict`)."""
        return [f.to_dict() for f in self._items]

    @classmethod
    def from_list(cls, data: Iterable[dict[str, Any]]) -> Findings:
        """Rebuild findings from :meth:`to_list` output."""
        return cls(
            Finding(
                d["check"],
                d["severity"],
                d["message"],
                d["advice"],
                tuple(d.get("features", ())),
                d.get("value"),
            )
            for d in data
        )

    def to_text(self, max_per_check: int | None = None) -> str:
        """The readable list; ``max_per_check`` shortens long runs (e.g. many VIFs).

        Parameters
        ----------
        max_per_check : int, optional
            Show at most this many findings of each check and severity, then a count
            of the rest.

        Returns
        -------
        str
        """
        counts = [sum(f.severity == s for f in self._items) for s in SEVERITIES]
        noun = "finding" if len(self) == 1 else "findings"
        head = (
            f"Diagnostics: {len(self)} {noun} ({counts[0]} errors, {counts[1]} warnings, "
            f"{counts[2]} info)"
        )
        lines = [head]
        items, shown = self._items, 0
        for i, f in enumerate(items):
            run_start = i == 0 or (items[i - 1].check, items[i - 1].advice) != (f.check, f.advice)
            shown = 1 if run_start else shown + 1
            if max_per_check is None or shown <= max_per_check:
                lines.append(f"  {i + 1}. {f}")
            last = i + 1 == len(items) or (items[i + 1].check, items[i + 1].advice) != (
                f.check,
                f.advice,
            )
            if last:  # one piece of advice for a run of the same check
                if max_per_check is not None and shown > max_per_check:
                    lines.append(f"     ... and {shown - max_per_check} more {f.check} findings")
                lines.append(f"     -> {f.advice}")
        if not self._items:
            lines.append("  No problems found.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Findings({list(self._items)!r})"


# ------------------------------------------------------------------------- the checks
@dataclass(frozen=True)
class _Data:
    rows: TrainingRows
    names: list[str]
    dense: FloatArray | None  # None when too large to copy
    mean: FloatArray
    sd: FloatArray
    constant: NDArray[np.bool_]


def _data(model: LogisticModel, X: Any, y: Any, sample_weight: Any) -> _Data:
    rows = training_rows(model, X, y, sample_weight)
    assert rows is not None
    n, p = rows.X.shape
    dense = None
    if n * p <= _MAX_DENSE_VALUES:
        dense = rows.X.toarray() if sp.issparse(rows.X) else np.asarray(rows.X, np.float64)
    sw = rows.sw
    total = float(sw.sum())
    mean = np.asarray(rows.X.T @ sw).ravel() / total
    if dense is not None:
        var = sw @ (dense - mean) ** 2 / total
        constant = (dense.max(axis=0) == dense.min(axis=0)) | (var == 0.0)
    else:
        sq = np.asarray(
            rows.X.multiply(rows.X).T @ sw if sp.issparse(rows.X) else (rows.X**2).T @ sw
        )
        var = np.maximum(sq.ravel() / total - mean**2, 0.0)
        constant = var <= 1e-24 * np.maximum(mean**2, 1.0)
    return _Data(rows, model._feature_names(), dense, mean, np.sqrt(var), constant)


def _convergence(model: LogisticModel) -> list[Finding]:
    result = getattr(model, "solver_result_", None)
    if result is None or result.converged:
        return []
    return [
        Finding(
            "convergence",
            "error",
            f"The solver stopped before converging ({result.message}; {result.n_iter} "
            f"iterations, optimality violation {result.kkt:.2e} > tol={model.tol:g}).",
            "Do not use these coefficients: raise max_iter, use standardize=True, strengthen "
            "the penalty (smaller C), or remove the separation reported below.",
            value=float(result.kkt),
        )
    ]


def _separation(model: LogisticModel, d: _Data) -> list[Finding]:
    if d.dense is None:
        return []
    keep = d.rows.sw > 0
    Xs = (d.dense[keep] - d.mean) / np.where(d.sd > 0, d.sd, 1.0)
    codes = d.rows.codes[keep]
    K = len(model.classes_)
    severity = {None: "error", "firth": "info"}.get(model.penalty, "warning")
    consequence = {
        "error": "the unpenalised estimate does not exist (coefficients diverge)",
        "warning": "the penalty alone sets the size of those coefficients",
        "info": "Firth's estimates stay finite; prefer its profile intervals",
    }[severity]
    out = []
    for k in [1] if K == 2 else range(K):
        positive = codes == k
        single = single_feature_separation(Xs, positive)
        found = find_separation(Xs, positive, fit_intercept=bool(model.fit_intercept))
        if found is None and not single:
            continue
        label = model.classes_[k]
        if single:
            feats = tuple(d.names[j] for j in single)
            what = f"on its own, {'each of ' if len(feats) > 1 else ''}the feature(s) listed"
            kind = "completely" if found is not None and found.complete else "(quasi-)completely"
        else:
            assert found is not None
            feats = tuple(d.names[j] for j in found.features)
            what = "together, the feature(s) listed"
            kind = "completely" if found.complete else "quasi-completely"
        n_sep = f" ({found.n_separated} rows perfectly predicted)" if found is not None else ""
        out.append(
            Finding(
                "separation",
                severity,
                f"The classes are {kind} separated: {what} put the rows of class "
                f"{label!s} apart from the others{n_sep}, so {consequence}.",
                "Use penalty='firth' (finite bias-reduced estimates; profile intervals with "
                "summary(method='profile', X=X, y=y)) or a penalty with C chosen by "
                "cross-validation; check the named features for leakage of the target.",
                feats,
                float(found.n_separated) if found is not None else None,
            )
        )
    return out


def _duplicates(d: _Data) -> tuple[list[Finding], set[int]]:
    """Identical columns; returns the findings and the columns to leave out (all but one)."""
    if d.dense is None:
        return [], set()
    groups: dict[bytes, list[int]] = {}
    for j in np.flatnonzero(~d.constant):
        groups.setdefault(np.ascontiguousarray(d.dense[:, j]).tobytes(), []).append(int(j))
    out, dropped = [], set()
    for cols in groups.values():
        if len(cols) < 2:
            continue
        dropped.update(cols[1:])
        names = tuple(d.names[j] for j in cols)
        out.append(
            Finding(
                "duplicate",
                "warning",
                f"{len(cols)} columns are identical: {', '.join(map(repr, names))}.",
                "Keep one of them: the fit cannot tell them apart, so their coefficients are "
                "split arbitrarily (penalised) or not identified (penalty=None).",
                names,
            )
        )
    return out, dropped


def _correlation(d: _Data, cols: list[int]) -> FloatArray:
    assert d.dense is not None
    sw = d.rows.sw
    Z = (d.dense[:, cols] - d.mean[cols]) / d.sd[cols]
    return np.asarray((Z * sw[:, None]).T @ Z / sw.sum())


#: Above this many exact dependencies they are reported together, not one by one.
_MAX_NAMED_DEPENDENCIES = 5


def _collinearity(d: _Data, dropped: set[int]) -> list[Finding]:
    """Exact linear dependencies, then the VIF of every remaining feature."""
    if d.dense is None:
        return []
    cols = [int(j) for j in np.flatnonzero(~d.constant) if int(j) not in dropped]
    out = []
    if len(cols) > 1:
        vals, vecs = np.linalg.eigh(_correlation(d, cols))
        null = vecs[:, vals <= _COLLINEAR * len(cols)]
        if null.shape[1] > _MAX_NAMED_DEPENDENCIES:
            # Many dependencies (more features than rows, say): one finding, no VIF;
            # naming them one at a time would take an eigen-decomposition each.
            load = np.sqrt((null**2).sum(axis=1))
            top = tuple(d.names[cols[i]] for i in np.argsort(-load)[:5])
            rank = len(cols) - null.shape[1]
            return [
                Finding(
                    "collinearity",
                    "warning",
                    f"The {len(cols)} varying features span only {rank} dimensions: "
                    f"{null.shape[1]} exact linear dependencies (more features than rows, or "
                    f"derived columns), involving e.g. {', '.join(map(repr, top))}.",
                    "Remove redundant or derived features, or keep an L2 penalty: without "
                    "one the coefficients are not identified. VIFs are not defined here.",
                    top,
                    float("inf"),
                )
            ]
    while len(cols) > 1:
        vals, vecs = np.linalg.eigh(_correlation(d, cols))
        if vals[0] > _COLLINEAR * len(cols):
            break
        load = np.abs(vecs[:, 0])
        members = [cols[i] for i in np.argsort(-load) if load[i] > 1e-3 * load.max()]
        names = tuple(d.names[j] for j in members)
        out.append(
            Finding(
                "collinearity",
                "warning",
                f"Features {', '.join(map(repr, names))} are exactly collinear: one is a "
                "linear combination of the others.",
                f"Drop one of them (e.g. {names[0]!r}): their coefficients are not identified "
                "without a penalty, and the penalty alone decides how they share the effect.",
                names,
                float("inf"),
            )
        )
        cols.remove(members[0])
    if len(cols) < 2:
        return out
    vif = np.diag(np.linalg.inv(_correlation(d, cols)))
    for j, v in zip(cols, vif, strict=True):
        if v < VIF_MODERATE:
            continue
        out.append(
            Finding(
                "vif",
                "warning" if v >= VIF_HIGH else "info",
                f"VIF {v:.1f} (the other features explain {100.0 * (1.0 - 1.0 / v):.1f}% "
                "of its variance).",
                f"A VIF above {VIF_MODERATE:g} (moderate) or {VIF_HIGH:g} (high) makes a "
                "coefficient, its sign and its standard error unstable and hard to interpret "
                "on its own: drop or combine correlated features, or keep an L2 penalty.",
                (d.names[j],),
                float(v),
            )
        )
    return out


def _constant(d: _Data) -> list[Finding]:
    out = []
    keep = d.rows.sw > 0
    for j in range(len(d.names)):
        if d.constant[j]:
            out.append(
                Finding(
                    "constant",
                    "warning",
                    f"The feature takes one value ({d.mean[j]:g}) in every row: it carries no "
                    "information, and its coefficient is held at 0 (or, without an intercept, "
                    "acts as one).",
                    "Drop it.",
                    (d.names[j],),
                    0.0,
                )
            )
            continue
        if d.dense is None:
            continue
        _, counts = np.unique(d.dense[keep, j], return_counts=True)
        share = float(counts.max()) / float(keep.sum())
        if share >= NEAR_CONSTANT_SHARE:
            out.append(
                Finding(
                    "near_constant",
                    "warning",
                    f"One value covers {100.0 * share:.1f}% of the rows: its coefficient rests "
                    f"on {int(keep.sum() - counts.max())} rows.",
                    "Expect a wide interval and possible quasi-separation; merge rare values, "
                    "drop it, or keep a penalty.",
                    (d.names[j],),
                    share,
                )
            )
    return out


def _imbalance(model: LogisticModel, d: _Data) -> list[Finding]:
    K = len(model.classes_)
    totals = np.bincount(d.rows.codes, weights=d.rows.sw, minlength=K)
    small, large = int(np.argmin(totals)), int(np.argmax(totals))
    ratio = float(totals[large] / max(totals[small], 1e-300))
    out = []
    if ratio >= IMBALANCE_INFO:
        share = float(totals[small] / totals.sum())
        majority = float(totals[large] / totals.sum())
        weighted = (
            f" (class_weight={model.class_weight!r} is set: its probabilities are not "
            "calibrated to the real class shares)"
            if model.class_weight is not None
            else "; class_weight='balanced' raises minority recall at the cost of "
            "calibrated probabilities"
        )
        out.append(
            Finding(
                "imbalance",
                "warning" if ratio >= IMBALANCE_WARNING else "info",
                f"Class {model.classes_[small]!s} is {100.0 * share:.1f}% of the rows "
                f"({ratio:.1f} times fewer than class {model.classes_[large]!s}): always "
                f"predicting {model.classes_[large]!s} would be {100.0 * majority:.1f}% "
                "accurate.",
                "Judge the model by recall and precision of the rare class, PR-AUC, balanced "
                "accuracy, log-loss or Brier score, not accuracy; set the decision threshold "
                f"from costs or a minimum recall (logitkit.ThresholdPolicy){weighted}.",
                value=ratio,
            )
        )
    n_params = (~d.constant).sum() + int(model.fit_intercept)
    n_params *= 1 if K == 2 else K - 1
    events = float(np.bincount(d.rows.codes[d.rows.sw > 0], minlength=K).min())
    epp = events / max(n_params, 1)
    if epp < MIN_EVENTS_PER_PARAMETER:
        out.append(
            Finding(
                "events_per_parameter",
                "warning",
                f"Only {epp:.1f} rows of the smallest class per estimated parameter "
                f"({int(events)} rows, {int(n_params)} parameters; "
                f"{MIN_EVENTS_PER_PARAMETER:g} is the usual minimum).",
                "Unpenalised estimates are biased away from zero and unstable: use fewer "
                "features, a penalty chosen by cross-validation, or penalty='firth'.",
                value=epp,
            )
        )
    return out


def _scale(model: LogisticModel, d: _Data) -> list[Finding]:
    if model.standardize:
        return []
    live = np.flatnonzero(~d.constant & (d.sd > 0))
    if live.size < 2:
        return []
    hi, lo = live[np.argmax(d.sd[live])], live[np.argmin(d.sd[live])]
    ratio = float(d.sd[hi] / d.sd[lo])
    if ratio < SCALE_RATIO:
        return []
    return [
        Finding(
            "scale",
            "warning",
            f"With standardize=False, feature standard deviations range from "
            f"{d.sd[lo]:.3g} ({d.names[lo]!r}) to {d.sd[hi]:.3g} ({d.names[hi]!r}), a ratio "
            f"of {ratio:.3g}: a penalty then shrinks small-scale features far more (its "
            "effect depends on the units) and the Hessian is badly conditioned.",
            "Use standardize=True (the default); coefficients are still reported in "
            "original units and per standard deviation.",
            (d.names[hi], d.names[lo]),
            ratio,
        )
    ]


def _saturation(model: LogisticModel, d: _Data) -> list[Finding]:
    Z = np.asarray(d.rows.X @ model.coef_.T, dtype=np.float64) + model.intercept_
    if Z.shape[1] == 1:
        z = Z[:, 0]
    else:  # log-odds of the most probable class against all others
        best = Z.argmax(axis=1)
        rows = np.arange(Z.shape[0])
        rest = Z.copy()
        rest[rows, best] = -np.inf
        z = Z[rows, best] - np.logaddexp.reduce(rest, axis=1)
    sw = d.rows.sw
    share = float(sw @ (np.abs(z) > SATURATION_Z) / sw.sum())
    if share < SATURATION_INFO:
        return []
    p = 1.0 / (1.0 + math.exp(SATURATION_Z))
    return [
        Finding(
            "saturation",
            "warning" if share >= SATURATION_WARNING else "info",
            f"{100.0 * share:.1f}% of the rows have a linear predictor beyond "
            f"+/-{SATURATION_Z:g} (fitted probabilities below {100 * p:.1f}% or above "
            f"{100 * (1 - p):.1f}%).",
            "Such certainty is rarely calibrated on new data, and near-separation makes the "
            "coefficients and Wald standard errors unstable: check calibration on held-out "
            "rows, look for features that leak the target, consider a stronger penalty.",
            value=share,
        )
    ]


def diagnose(model: LogisticModel, X: Any, y: Any, sample_weight: Any = None) -> Findings:
    """Check a fitted model and its training rows for what can make its numbers misleading.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The training features.
    y : array-like of shape (n_samples,)
        The training labels.
    sample_weight : array-like of shape (n_samples,), optional
        The training sample weights.

    Returns
    -------
    Findings
        Most severe first; empty when nothing was found. Separation and collinearity
        checks are skipped on data of more than 20 million values.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit import LogisticModel, diagnose
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 2))
    >>> X = np.column_stack([X, X[:, 0]])  # a duplicated column
    >>> y = (X[:, 0] + rng.standard_normal(200) > 0).astype(int)
    >>> findings = diagnose(LogisticModel().fit(X, y), X, y)
    >>> [f.check for f in findings]
    ['duplicate']
    >>> findings[0].features
    ('x0', 'x2')
    """
    check_is_fitted(model)
    d = _data(model, X, y, sample_weight)
    duplicates, dropped = _duplicates(d)
    found = [
        *_convergence(model),
        *_separation(model, d),
        *duplicates,
        *_collinearity(d, dropped),
        *_constant(d),
        *_imbalance(model, d),
        *_scale(model, d),
        *_saturation(model, d),
    ]
    return Findings(found)
