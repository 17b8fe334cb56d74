"""Evaluation of probabilities: discrimination, accuracy at thresholds, calibration.

Everything works on true labels and probabilities (out-of-fold, or on a held-out set),
never on a model. :func:`evaluate` gathers every binary metric into one JSON-ready
record for the report and the artifact; :func:`evaluate_multiclass` does the same for
``(n, K)`` probability matrices. scikit-learn computes each metric it has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn import metrics as skm

from logitkit._memory import STEP_ROWS
from logitkit._ranks import score_groups
from logitkit._validation import (
    Label,
    check_binary,
    check_classes,
    check_proba_matrix,
    plain_label,
    real_param,
)
from logitkit.calibration import (
    HosmerLemeshowResult,
    expected_calibration_error,
    hosmer_lemeshow,
    reliability_curve,
)
from logitkit.decision import MulticlassPolicy, ThresholdPolicy, decide
from logitkit.exceptions import DataError

__all__ = [
    "CLASS_COLUMNS",
    "CONFUSION_COLUMNS",
    "CURVE_POINTS",
    "AUCInterval",
    "BinaryEvaluation",
    "MulticlassEvaluation",
    "RankCurves",
    "classification_table",
    "confusion_table",
    "evaluate",
    "evaluate_multiclass",
    "roc_auc_ci",
]

#: Columns of :func:`confusion_table`, in order.
CONFUSION_COLUMNS = ("name", "threshold", "tn", "fp", "fn", "tp", "accuracy")
#: Columns of :func:`classification_table`, in order.
CLASS_COLUMNS = ("name", "threshold", "label", "precision", "recall", "f1", "support")
#: Rows per call of a metric that is a mean over rows: scikit-learn's copies take about
#: 100 bytes a row, which on tens of millions of rows is gigabytes at once.
_MEAN_ROWS = STEP_ROWS


def _mean_over_rows(metric: Any, y: NDArray[Any], p: NDArray[Any], **kwargs: Any) -> float:
    """``metric(y, p)``, a mean over rows, computed on at most :data:`_MEAN_ROWS` rows at
    a time and weighted by their share (the same value up to rounding)."""
    n = int(y.shape[0])
    if n <= _MEAN_ROWS:
        return float(metric(y, p, **kwargs))
    total = math.fsum(
        float(metric(y[i : i + _MEAN_ROWS], p[i : i + _MEAN_ROWS], **kwargs))
        * (min(n, i + _MEAN_ROWS) - i)
        for i in range(0, n, _MEAN_ROWS)
    )
    return total / n


Thresholds = float | Sequence[float] | Mapping[str, float]


def _jsonable(value: Any) -> Any:
    """Plain Python for JSON: numpy scalars unwrapped, NaN/inf as None, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------------------- AUC
@dataclass(frozen=True)
class AUCInterval:
    """ROC-AUC with its DeLong standard error and normal confidence interval.

    Attributes
    ----------
    auc, std_err, ci_low, ci_high : float
        The interval is ``auc -/+ z std_err`` clipped to [0, 1]; ``std_err`` and the
        interval are NaN when a class has a single row.
    confidence : float
        Level of the interval.

    Examples
    --------
    >>> AUCInterval(0.9, 0.02, 0.86, 0.94, 0.95).to_dict()["ci_high"]
    0.94
    """

    auc: float
    std_err: float
    ci_low: float
    ci_high: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (NaN as None) with ``method="delong"``.

        Examples
        --------
        >>> AUCInterval(0.5, math.nan, math.nan, math.nan, 0.95).to_dict()["std_err"] is None
        True
        """
        d = {k: _jsonable(getattr(self, k)) for k in ("auc", "std_err", "ci_low", "ci_high")}
        return {**d, "confidence": self.confidence, "method": "delong"}


def _dot(counts: NDArray[Any], values: NDArray[np.float64]) -> float:
    """``sum(counts * values)``, in parts (no float copy of every count at once)."""
    return float(
        sum(
            np.dot(counts[i : i + _MEAN_ROWS], values[i : i + _MEAN_ROWS])
            for i in range(0, counts.size, _MEAN_ROWS)
        )
    )


def _delong(groups: tuple[NDArray[Any], NDArray[Any]]) -> tuple[float, float]:
    """AUC and its DeLong variance from :func:`~logitkit._ranks.score_groups` (placement values, ties
    counted as one half: the midrank algorithm of Sun and Xu, 2014, by tied groups).

    Every positive of a group has the placement ``(negatives below + ties / 2) / n``,
    every negative ``(positives above + ties / 2) / m``; the AUC is the positives' mean
    placement and the variance ``var(v10) / m + var(v01) / n``. One vector of
    placements at a time, updated in place.
    """
    pos, neg = groups
    m, n = int(pos.sum()), int(neg.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.cumsum(neg, dtype=np.float64)  # negatives at or below each score
        v *= 2.0
        np.subtract(v, neg, out=v)  # twice (negatives below + ties / 2)
        v /= 2.0 * n  # v10
        auc = _dot(pos, v) / m
        if m < 2 or n < 2:
            return auc, math.nan
        v -= auc
        np.square(v, out=v)
        var10 = _dot(pos, v) / (m - 1)
        del v
        v = np.cumsum(pos, dtype=np.float64)  # positives at or below each score
        v *= -2.0
        v += 2.0 * m
        np.add(v, pos, out=v)  # twice (positives above + ties / 2)
        v /= 2.0 * m  # v01
        mean01 = _dot(neg, v) / n
        v -= mean01
        np.square(v, out=v)
        var01 = _dot(neg, v) / (n - 1)
    return auc, var10 / m + var01 / n


def _average_precision(groups: tuple[NDArray[Any], NDArray[Any]]) -> float:
    """Average precision from :func:`~logitkit._ranks.score_groups`: ``sum_k (R_k - R_{k-1}) P_k`` over
    the distinct scores from the highest down, as scikit-learn's
    ``average_precision_score`` (one operating point per distinct score); in parts,
    the counts flagged so far carried from one to the next."""
    pos, neg = groups[0][::-1], groups[1][::-1]
    m = int(pos.sum())
    if m == 0:
        return math.nan
    total, tp_before, fp_before = 0.0, 0.0, 0.0
    for i in range(0, pos.size, _MEAN_ROWS):
        hits = pos[i : i + _MEAN_ROWS].astype(np.float64)
        tp = np.cumsum(hits)
        tp += tp_before
        flagged = np.cumsum(neg[i : i + _MEAN_ROWS], dtype=np.float64)
        flagged += fp_before
        fp_before = float(flagged[-1])
        flagged += tp
        tp_before = float(tp[-1])
        total += float(hits @ (tp / flagged))  # recall step times precision
    return total / m


#: Points kept of each curve of :class:`RankCurves` (more distinct scores are thinned).
CURVE_POINTS = 4096


@dataclass(frozen=True, eq=False)
class RankCurves:
    """The ROC and precision-recall curves of :func:`evaluate`'s one sort.

    One point per distinct score, from the highest down (each score a threshold that
    flags the rows at or above it), as scikit-learn's ``roc_curve(...,
    drop_intermediate=False)`` and ``precision_recall_curve``; the ROC curve starts at
    (0, 0) and the precision-recall curve at recall 0, precision 1. With more than
    :data:`CURVE_POINTS` distinct scores (tens of millions of out-of-fold rows at
    scale), only the points where the true- or the false-positive count reaches a
    multiple of its total / ``CURVE_POINTS`` are kept, with both ends: every point kept
    is exact, and a straight line between two of them spans at most one such step of
    each count (a whole number of rows), about ``1 / CURVE_POINTS`` of each rate: a
    tenth of a pixel on the report's plots.

    Attributes
    ----------
    fpr, tpr : ndarray
        False- and true-positive rates (the ROC curve).
    recall, precision : ndarray
        The precision-recall curve.
    thinned : bool
        Whether points were left out.
    """

    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]
    recall: NDArray[np.float64]
    precision: NDArray[np.float64]
    thinned: bool


def _rank_curves(
    groups: tuple[NDArray[Any], NDArray[Any]], max_points: int = CURVE_POINTS
) -> RankCurves:
    """:class:`RankCurves` from :func:`~logitkit._ranks.score_groups`.

    Examples
    --------
    >>> import numpy as np
    >>> c = _rank_curves((np.array([0, 1, 1]), np.array([1, 0, 1])))  # scores ascending
    >>> c.tpr.tolist(), c.fpr.tolist()
    ([0.0, 0.5, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0])
    """
    pos, neg = groups
    # Flagged positives and negatives from the highest score down (in the counts' type:
    # the totals fit it).
    tp = np.cumsum(pos[::-1], dtype=pos.dtype)
    fp = np.cumsum(neg[::-1], dtype=neg.dtype)
    m, n = (int(tp[-1]), int(fp[-1])) if tp.size else (0, 0)
    at: NDArray[np.intp] = np.arange(tp.size)
    thinned = tp.size > max_points
    if thinned:  # the points where either count reaches its next step, and the ends
        # The first score where a count reaches each step k * total / max_points (the
        # counts are whole, so: reaches its ceiling), searched in the counts' own type.
        steps = [
            np.searchsorted(
                counts,
                np.ceil(np.arange(1, max_points + 1) * (total / max_points)).astype(counts.dtype),
            )
            for counts, total in ((tp, m), (fp, n))
        ]
        at = np.unique(np.concatenate([[0, tp.size - 1], *steps]).clip(0, tp.size - 1))
    tp_at, fp_at = tp[at].astype(np.float64), fp[at].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.concatenate([[0.0], tp_at / m])
        fpr = np.concatenate([[0.0], fp_at / n])
        precision = np.concatenate([[1.0], tp_at / (tp_at + fp_at)])
    return RankCurves(fpr, tpr, tpr.copy(), precision, thinned)


def roc_auc_ci(
    y_true: ArrayLike, proba: ArrayLike, *, positive: Label, confidence: float = 0.95
) -> AUCInterval:
    """ROC-AUC with a DeLong confidence interval.

    DeLong's variance is the sum of the variances of the placement values of positives
    and of negatives (ties counted as one half), computed in ``O(n log n)`` by midranks
    (Sun and Xu, 2014), the method of R's ``pROC::ci.auc``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: ``positive`` and one other.
    proba : array-like of shape (n_samples,)
        Probability (or any score increasing in it) of ``positive``.
    positive : str, int, float or bool
        The label ``proba`` refers to.
    confidence : float in (0, 1), default=0.95
        Level of the interval.

    Returns
    -------
    AUCInterval

    References
    ----------
    DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). Comparing the areas
    under two or more correlated receiver operating characteristic curves: a
    nonparametric approach. Biometrics, 44(3), 837-845.
    Sun, X. and Xu, W. (2014). Fast implementation of DeLong's algorithm for comparing
    the areas under correlated receiver operating characteristic curves. IEEE Signal
    Processing Letters, 21(11), 1389-1393.

    Examples
    --------
    >>> r = roc_auc_ci([0, 0, 1, 0, 1, 1], [0.1, 0.3, 0.35, 0.4, 0.8, 0.9], positive=1)
    >>> round(r.auc, 4), round(r.std_err, 4)
    (0.8889, 0.1571)
    """
    where = "roc_auc_ci"
    confidence = real_param(confidence, "confidence", where, 0.0, 1.0, "neither")
    data = check_binary(y_true, proba, positive, where)
    return _auc_interval(score_groups(data.y, data.p)[:2], confidence)


def _auc_interval(groups: tuple[NDArray[Any], NDArray[Any]], confidence: float) -> AUCInterval:
    """:func:`roc_auc_ci` from the tied groups of the scores."""
    auc, var = _delong(groups)
    se = math.sqrt(var) if math.isfinite(var) else math.nan
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    low, high = (max(0.0, auc - half), min(1.0, auc + half)) if math.isfinite(se) else (se, se)
    return AUCInterval(auc, se, low, high, confidence)


# ------------------------------------------------------------------------ thresholds
def _named(thresholds: Thresholds, where: str) -> dict[str, float]:
    if isinstance(thresholds, Mapping):
        items = list(thresholds.items())
    elif isinstance(thresholds, Sequence):
        items = [(f"{t:g}", t) for t in thresholds]
    else:
        items = [(f"{thresholds:g}", thresholds)]
    if not items:
        msg = f"The 'thresholds' parameter of {where} must name at least one threshold."
        raise ValueError(msg)
    return {str(k): real_param(t, "thresholds", where, 0.0, 1.0) for k, t in items}


def _at_thresholds(
    y_true: ArrayLike, proba: ArrayLike, positive: Label, thresholds: Thresholds, where: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = check_binary(y_true, proba, positive, where)
    conf, rows = [], []
    for name, t in _named(thresholds, where).items():
        tn, fp, fn, tp = _confusion_counts(data.y, data.p, t)
        conf.append((name, t, tn, fp, fn, tp, (tp + tn) / data.y.size))
        # Each class in turn as the one decided (scikit-learn's precision_recall_fscore_
        # support with zero_division=nan): its hits, false alarms and misses.
        for label, (hit, false, miss) in (
            (data.negative, (tn, fn, fp)),
            (data.positive, (tp, fp, fn)),
        ):
            rows.append((name, t, label, *_rates(hit, false, miss), hit + miss))
    return (
        pd.DataFrame(conf, columns=list(CONFUSION_COLUMNS)),
        pd.DataFrame(rows, columns=list(CLASS_COLUMNS)),
    )


def _confusion_counts(y: NDArray[np.bool_], p: NDArray[np.float64], t: float) -> tuple[int, ...]:
    """``tn, fp, fn, tp`` of deciding ``p >= t`` (:func:`~logitkit.decision.decide`), in parts."""
    tp = flagged = 0
    for i in range(0, y.size, _MEAN_ROWS):
        pred = decide(p[i : i + _MEAN_ROWS], t)
        flagged += int(np.count_nonzero(pred))
        tp += int(np.count_nonzero(pred & y[i : i + _MEAN_ROWS]))
    positives = int(np.count_nonzero(y))
    fp, fn = flagged - tp, positives - tp
    return y.size - flagged - fn, fp, fn, tp


def _rates(hit: int, false: int, miss: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of one class from its hits, false alarms and misses (NaN
    where undefined, as scikit-learn's ``zero_division=np.nan``)."""

    def ratio(a: int, b: int) -> float:
        return a / b if b else math.nan

    return ratio(hit, hit + false), ratio(hit, hit + miss), ratio(2 * hit, 2 * hit + false + miss)


def confusion_table(
    y_true: ArrayLike, proba: ArrayLike, *, positive: Label, thresholds: Thresholds = 0.5
) -> pd.DataFrame:
    """Confusion matrix at each threshold, one row per threshold.

    Parameters
    ----------
    y_true, proba, positive
        As in :func:`roc_auc_ci`.
    thresholds : float, sequence of float, or mapping of name to float, default=0.5
        Decide ``positive`` when ``proba >= threshold``. Names default to the value.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CONFUSION_COLUMNS` (``tp`` etc. with respect to ``positive``).

    Examples
    --------
    >>> t = confusion_table([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6], positive=1,
    ...                     thresholds={"policy": 0.3, "default": 0.5})
    >>> t[["name", "tn", "fp", "fn", "tp"]].to_numpy().tolist()
    [['policy', 1, 1, 0, 2], ['default', 1, 1, 1, 1]]
    """
    return _at_thresholds(y_true, proba, positive, thresholds, "confusion_table")[0]


def classification_table(
    y_true: ArrayLike, proba: ArrayLike, *, positive: Label, thresholds: Thresholds = 0.5
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support at each threshold (tidy rows).

    Undefined values (a class never decided) are NaN, not 0.

    Parameters
    ----------
    y_true, proba, positive, thresholds
        As in :func:`confusion_table`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CLASS_COLUMNS`; for each threshold the negative label's row, then
        the positive label's.

    Examples
    --------
    >>> t = classification_table(["B", "M", "M", "B"], [0.2, 0.7, 0.4, 0.6], positive="M")
    >>> t[["label", "precision", "recall"]].to_numpy().tolist()
    [['B', 0.5, 0.5], ['M', 0.5, 0.5]]
    """
    return _at_thresholds(y_true, proba, positive, thresholds, "classification_table")[1]


# -------------------------------------------------------------------------- evaluate
@dataclass(frozen=True, eq=False)
class BinaryEvaluation:
    """Everything :func:`evaluate` measures; :meth:`to_dict` gives the JSON record.

    Attributes
    ----------
    positive, negative : label
        The two labels.
    n_samples, n_positive : int
        Rows evaluated and positive rows among them.
    roc_auc : AUCInterval
        ROC-AUC with its DeLong interval.
    average_precision : float
        Area under the precision-recall curve (scikit-learn's step-wise average precision).
    log_loss, brier_score : float
        Mean negative log-likelihood (probabilities clipped to machine epsilon) and mean
        squared error of the probability of ``positive``.
    ece : dict
        Expected calibration error with ``"uniform"`` (equal-width) and ``"quantile"``
        (equal-mass) bins.
    n_bins : int
        Bins used for ``ece`` and ``reliability``.
    reliability : pandas.DataFrame
        :func:`~logitkit.calibration.reliability_curve` with equal-width bins.
    hosmer_lemeshow : HosmerLemeshowResult or None
        Hosmer-Lemeshow test over 10 risk groups with ``df = g`` (the groups used), the
        reference for probabilities of rows the model never saw; ``None`` when the
        probabilities take fewer than 3 distinct values.
    confusion, classes : pandas.DataFrame
        :func:`confusion_table` and :func:`classification_table` at the thresholds.
    curves : RankCurves or None
        The ROC and precision-recall curves (from the same sort as the AUC; not part of
        :meth:`to_dict`).

    Examples
    --------
    >>> e = evaluate([0, 1, 1, 0, 1, 0], [0.2, 0.7, 0.4, 0.6, 0.9, 0.1], positive=1)
    >>> sorted(e.to_dict())[:3]
    ['average_precision', 'brier_score', 'classes']
    """

    positive: Label
    negative: Label
    n_samples: int
    n_positive: int
    roc_auc: AUCInterval
    average_precision: float
    log_loss: float
    brier_score: float
    ece: dict[str, float]
    n_bins: int
    reliability: pd.DataFrame
    hosmer_lemeshow: HosmerLemeshowResult | None
    confusion: pd.DataFrame
    classes: pd.DataFrame
    curves: RankCurves | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tables as lists of records, NaN as None).

        Examples
        --------
        >>> import json
        >>> e = evaluate([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6], positive=1)
        >>> json.loads(json.dumps(e.to_dict()))["n_samples"]
        4
        """
        hl = self.hosmer_lemeshow
        out: dict[str, Any] = _jsonable(
            {
                "positive": self.positive,
                "negative": self.negative,
                "n_samples": self.n_samples,
                "n_positive": self.n_positive,
                "roc_auc": self.roc_auc.to_dict(),
                "average_precision": self.average_precision,
                "log_loss": self.log_loss,
                "brier_score": self.brier_score,
                "ece": self.ece,
                "n_bins": self.n_bins,
                "reliability": self.reliability,
                "hosmer_lemeshow": None if hl is None else hl.to_dict(),
                "confusion": self.confusion,
                "classes": self.classes,
            }
        )
        return out


def evaluate(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    positive: Label,
    threshold: float | ThresholdPolicy | None = None,
    n_bins: int = 10,
    confidence: float = 0.95,
) -> BinaryEvaluation:
    """Evaluate probabilities of ``positive``: discrimination, thresholds, calibration.

    The probabilities must come from a model that never saw these rows: out-of-fold
    predictions (``LogisticModelCV.oof_proba_``) or predictions on held-out rows. The
    Hosmer-Lemeshow test therefore uses ``df = g``, the number of risk groups (``g - 2``
    is the reference only for a model fitted on the same rows; call
    :func:`~logitkit.calibration.hosmer_lemeshow` directly for that).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: ``positive`` and one other.
    proba : array-like of shape (n_samples,)
        Probability of ``positive`` (out-of-fold, or on held-out rows).
    positive : str, int, float or bool
        The label ``proba`` refers to.
    threshold : float, ThresholdPolicy or None
        The chosen decision threshold; tables then show it (named ``"policy"``) beside
        the default 0.5 (named ``"default"``). ``None``: 0.5 only.
    n_bins : int, default=10
        Bins for the calibration error and the reliability curve.
    confidence : float, default=0.95
        Level of the ROC-AUC interval.

    Returns
    -------
    BinaryEvaluation

    Examples
    --------
    >>> e = evaluate(["B", "M", "M", "B", "M", "B"], [0.2, 0.7, 0.4, 0.6, 0.9, 0.1],
    ...              positive="M", threshold=0.35)
    >>> round(e.roc_auc.auc, 3), e.confusion["name"].tolist()
    (0.889, ['policy', 'default'])
    """
    where = "evaluate"
    data = check_binary(y_true, proba, positive, where)
    if isinstance(threshold, ThresholdPolicy):
        if threshold.positive != data.positive:
            msg = f"The policy passed to {where} decides {threshold.positive!r}, not {data.positive!r}."
            raise ValueError(msg)
        threshold = threshold.threshold
    named = {"default": 0.5} if threshold is None else {"policy": threshold, "default": 0.5}
    confusion, classes = _at_thresholds(data.y, data.p, True, named, where)
    classes["label"] = classes["label"].map({True: data.positive, False: data.negative})
    kw: dict[str, Any] = {"positive": True, "n_bins": n_bins}
    confidence = real_param(confidence, "confidence", where, 0.0, 1.0, "neither")
    groups = score_groups(data.y, data.p)[:2]  # one sort: the AUC, its interval, AP, curves
    try:
        hl: HosmerLemeshowResult | None = hosmer_lemeshow(
            data.y, data.p, positive=True, held_out=True
        )
    except DataError:
        hl = None
    return BinaryEvaluation(
        positive=data.positive,
        negative=data.negative,
        n_samples=int(data.y.size),
        n_positive=int(data.y.sum()),
        roc_auc=_auc_interval(groups, confidence),
        average_precision=_average_precision(groups),
        log_loss=_mean_over_rows(skm.log_loss, data.y, data.p, labels=[False, True]),
        brier_score=_mean_over_rows(skm.brier_score_loss, data.y, data.p, pos_label=True),
        ece={
            s: expected_calibration_error(data.y, data.p, strategy=s, **kw)
            for s in ("uniform", "quantile")
        },
        n_bins=n_bins,
        reliability=reliability_curve(data.y, data.p, **kw),
        hosmer_lemeshow=hl,
        confusion=confusion,
        classes=classes,
        curves=_rank_curves(groups),
    )


# ---------------------------------------------------------------------- multiclass
@dataclass(frozen=True, eq=False)
class MulticlassEvaluation:
    """Everything :func:`evaluate_multiclass` measures.

    Attributes
    ----------
    classes : tuple
        Class labels in the column order of the probabilities.
    n_samples : int
        Rows evaluated.
    decision : str
        ``"argmax"`` or ``"cost"``: how labels were decided for the accuracy metrics.
    log_loss : float
        Mean negative log-likelihood (probabilities clipped to machine epsilon).
    brier_score : float
        Mean over rows of ``sum_k (proba_k - [y = k])^2`` (Brier's original score, in
        [0, 2]; for two classes it is twice the binary Brier score).
    accuracy, f1_macro, f1_weighted : float
        Of the decided labels (an undefined per-class F1 counts as 0 in the averages).
    roc_auc_ovr_macro : float or None
        Mean one-vs-rest ROC-AUC over the classes where it is defined.
    per_class : pandas.DataFrame
        ``label``, ``precision``, ``recall``, ``f1``, ``support``, ``roc_auc_ovr``
        (NaN where undefined).

    Examples
    --------
    >>> e = evaluate_multiclass(["a", "b", "c"], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7]],
    ...                         classes=["a", "b", "c"])
    >>> e.accuracy
    1.0
    """

    classes: tuple[Label, ...]
    n_samples: int
    decision: str
    log_loss: float
    brier_score: float
    accuracy: float
    f1_macro: float
    f1_weighted: float
    roc_auc_ovr_macro: float | None
    per_class: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (NaN as None).

        Examples
        --------
        >>> e = evaluate_multiclass([0, 1, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7]],
        ...                         classes=[0, 1, 2])
        >>> e.to_dict()["classes"]
        [0, 1, 2]
        """
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return _jsonable(out)  # type: ignore[no-any-return]


def evaluate_multiclass(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    classes: Sequence[Label],
    policy: MulticlassPolicy | None = None,
) -> MulticlassEvaluation:
    """Evaluate an ``(n, K)`` matrix of class probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, each one of ``classes``.
    proba : array-like of shape (n_samples, K)
        Class probabilities, columns in the order of ``classes``; rows sum to 1.
    classes : sequence of label
        The K class labels.
    policy : MulticlassPolicy or None
        How labels are decided for accuracy and F1; ``None``: the most probable class.

    Returns
    -------
    MulticlassEvaluation

    Examples
    --------
    >>> e = evaluate_multiclass([0, 1, 2, 1], [[.6, .3, .1], [.2, .5, .3], [.1, .6, .3],
    ...                         [.3, .4, .3]], classes=[0, 1, 2])
    >>> e.accuracy, round(e.brier_score, 3)
    (0.75, 0.51)
    """
    where = "evaluate_multiclass"
    labels = check_classes(classes, where)
    P = check_proba_matrix(proba, len(labels), where)
    index = {c: i for i, c in enumerate(labels)}
    try:
        y = np.array(
            [index[plain_label(v, "y_true", where)] for v in np.asarray(y_true)], dtype=np.intp
        )
    except KeyError as exc:
        msg = f"y_true passed to {where} has label {exc} not in classes {list(labels)!r}."
        raise DataError(msg, column="y_true") from exc
    if y.shape[0] != P.shape[0]:
        msg = f"y_true and proba passed to {where} differ in length: {y.shape[0]} and {P.shape[0]}."
        raise DataError(msg, column="proba")
    policy = policy or MulticlassPolicy.argmax(labels)
    if policy.classes != labels:
        msg = f"The policy passed to {where} is for classes {list(policy.classes)!r}, not {list(labels)!r}."
        raise ValueError(msg)
    pred = policy.decide_index(P)
    K = len(labels)
    Y = np.eye(K)[y]
    eps = np.finfo(np.float64).eps
    log_loss = float(-np.mean(np.sum(Y * np.log(np.clip(P, eps, 1 - eps)), axis=1)))
    prf = skm.precision_recall_fscore_support(y, pred, labels=range(K), zero_division=np.nan)
    auc = [
        float(skm.roc_auc_score(Y[:, k], P[:, k])) if 0 < Y[:, k].sum() < y.size else math.nan
        for k in range(K)
    ]
    defined = [a for a in auc if math.isfinite(a)]
    f1 = {
        avg: float(skm.f1_score(y, pred, labels=range(K), average=avg, zero_division=0.0))
        for avg in ("macro", "weighted")
    }
    per_class = pd.DataFrame(
        {
            "label": list(labels),
            "precision": prf[0],
            "recall": prf[1],
            "f1": prf[2],
            "support": prf[3],
            "roc_auc_ovr": auc,
        }
    )
    return MulticlassEvaluation(
        classes=labels,
        n_samples=int(y.size),
        decision=policy.method,
        log_loss=log_loss,
        brier_score=float(np.mean(np.sum((P - Y) ** 2, axis=1))),
        accuracy=float(np.mean(pred == y)),
        f1_macro=f1["macro"],
        f1_weighted=f1["weighted"],
        roc_auc_ovr_macro=float(np.mean(defined)) if defined else None,
        per_class=per_class,
    )
