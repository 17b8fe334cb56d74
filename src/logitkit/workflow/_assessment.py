"""How well the procedure does, measured on rows it did not fit.

Two sources, each named where its numbers are shown:

* **cross-validation of the whole procedure** on the fitting rows: for each fold, the
  encoding, the choice of C, the fit and the choice of the threshold are redone on the
  other folds, and the fold's rows are scored and decided by that fold's model and
  threshold. Every row is then predicted by a procedure that never saw it, so the
  metrics are honest for the procedure that made the shipped model (fitted on all rows).
* **held-out rows** (``test_size > 0``): split off before anything was fitted and used
  only to report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.decision import ThresholdPolicy, decide
from logitkit.decision.exact import clopper_pearson
from logitkit.evaluation import BinaryEvaluation, evaluate, evaluate_multiclass
from logitkit.model import LogisticModel
from logitkit.workflow._procedure import fit_procedure, splitter
from logitkit.workflow._spec import TrainingSpec

__all__ = ["cross_validate_procedure", "evaluate_rows"]

FloatArray = NDArray[np.float64]


def evaluate_rows(
    model: LogisticModel,
    y: NDArray[Any],
    proba: FloatArray,
    *,
    rows: str,
    procedure: str,
    policy: ThresholdPolicy | None = None,
    thresholds: FloatArray | None = None,
) -> tuple[dict[str, Any], BinaryEvaluation | None]:
    """Metrics of labelled rows, with where they came from, and the evaluation behind
    them (binary, both classes present; else None: a report of the same rows shows it
    without computing it again).

    ``thresholds`` gives each row the threshold it was decided at (cross-validation of
    the procedure: its fold's own policy); else the policy's threshold applies.
    """
    record: dict[str, Any] = {"rows": rows, "procedure": procedure, "n_rows": len(y)}
    classes = model.classes_
    if len(classes) != 2:
        record["metrics"] = evaluate_multiclass(y, proba, classes=list(classes.tolist())).to_dict()
        return record, None
    positive = model.positive_class_
    column = int(np.flatnonzero(classes == positive)[0])
    p = proba[:, column]
    truth = np.asarray(y == positive, dtype=bool)
    if truth.all() or not truth.any():
        record["problem"] = (
            f"these rows hold only one class; metrics need both '{positive}' and the other"
        )
        return record, None
    evaluation = evaluate(y, p, positive=positive)
    record["metrics"] = evaluation.to_dict()
    if policy is not None:
        if thresholds is None:  # one threshold for every row
            flagged = decide(p, policy.threshold)
            cut = np.asarray([policy.threshold])
        else:
            cut = thresholds
            flagged = np.zeros(len(p), dtype=bool)
            for t in np.unique(cut):  # each fold decides its rows at its own threshold
                fold = cut == t
                flagged[fold] = decide(p[fold], float(t))
        record["decisions"] = _decision_record(truth, flagged, policy, cut)
    return record, evaluation


def _decision_record(
    truth: NDArray[np.bool_], flagged: NDArray[np.bool_], policy: ThresholdPolicy, cut: FloatArray
) -> dict[str, Any]:
    """Counts and exact (Clopper-Pearson) intervals of the decisions made."""
    tp = int((flagged & truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())
    tn = int((~flagged & ~truth).sum())
    level = 0.95
    rates = {
        "recall": (tp, tp + fn),
        "precision": (tp, tp + fp),
        "false_positive_rate": (fp, fp + tn),
        "accuracy": (tp + tn, tp + fp + fn + tn),
    }
    out: dict[str, Any] = {
        "rule": policy.to_dict()["rule"],
        "threshold": float(policy.threshold),
        "thresholds_used": {"min": float(cut.min()), "max": float(cut.max())},
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "interval": f"{100 * level:g}% Clopper-Pearson",
    }
    for name, (k, n) in rates.items():
        low, high = clopper_pearson(k, n, level) if n else (None, None)
        out[name] = {"value": k / n if n else None, "ci_low": low, "ci_high": high, "count": [k, n]}
    return out


def cross_validate_procedure(
    X: pd.DataFrame,
    y: NDArray[Any],
    w: FloatArray | None,
    spec: TrainingSpec,
    *,
    model: LogisticModel,
    policy: ThresholdPolicy | None,
) -> tuple[dict[str, Any], FloatArray]:
    """Cross-validate the whole procedure on the fitting rows (see the module notes).

    Returns the evaluation record and the rows' out-of-fold probabilities.
    """
    classes = model.classes_
    proba = np.full((len(y), len(classes)), np.nan)
    thresholds = np.full(len(y), np.nan)
    fold_thresholds = []
    for train, test in splitter(spec, salt=1).split(np.zeros(len(y)), y):
        part = fit_procedure(
            X.iloc[train],
            y[train],
            None if w is None else w[train],
            spec,
            positive=model.positive_class_,
        )
        columns = [int(np.flatnonzero(part.model.classes_ == c)[0]) for c in classes]
        proba[test] = part.model.predict_proba(X.iloc[test])[:, columns]
        if part.policy is not None:
            thresholds[test] = part.policy.threshold
            fold_thresholds.append(float(part.policy.threshold))
    what = "encoding, " + ("choice of C by inner cross-validation, " if spec.cv else "")
    procedure = (
        f"{spec.folds}-fold cross-validation of the whole procedure ({what}fit"
        + (", choice of the threshold" if policy is not None else "")
        + f") on the {len(y)} fitting rows; each row predicted"
        + (" and decided" if policy is not None else "")
        + " by a procedure that never saw it"
    )
    record, _ = evaluate_rows(
        model,
        y,
        proba,
        rows="out-of-fold: fitting rows, each scored by a model fitted without its fold",
        procedure=procedure,
        policy=policy,
        thresholds=thresholds if policy is not None else None,
    )
    if fold_thresholds:
        record["fold_thresholds"] = fold_thresholds
    return record, proba
