"""One run of the training procedure on some rows: encode, fit (C by CV), choose the policy.

The same function makes the shipped model (on the fitting rows) and each model of the
procedure's cross-validation (on part of them), so the performance estimate is the
performance of exactly this procedure, the choice of C and of the threshold included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from logitkit.data.encoding import TableEncoder
from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel, read_offset_column
from logitkit.selection import LogisticModelCV
from logitkit.workflow._spec import PolicyRule, TrainingSpec

__all__ = [
    "Fitted",
    "choose_policy",
    "fit_procedure",
    "out_of_fold_proba",
    "split_offset",
    "splitter",
]

FloatArray = NDArray[np.float64]


@dataclass
class Fitted:
    """The outcome of one run of the procedure.

    Attributes
    ----------
    model : LogisticModel
        Fitted on the rows given, with its ``encoder_``.
    encoded : pandas.DataFrame
        The model matrix of those rows.
    search : LogisticModelCV or None
        The cross-validation that chose C (with ``--cv``).
    oof_proba : ndarray of shape (n, K)
        Out-of-fold class probabilities of the rows (each from a fit without its fold).
    policy : ThresholdPolicy or None
        The decision rule chosen on them (binary targets).
    offsets : ndarray of shape (n,) or None
        The rows' offsets (``spec.offset``), or None.
    """

    model: LogisticModel
    encoded: pd.DataFrame
    search: LogisticModelCV | None
    oof_proba: FloatArray
    policy: ThresholdPolicy | None
    offsets: FloatArray | None = None


def split_offset(X: pd.DataFrame, spec: TrainingSpec) -> tuple[pd.DataFrame, FloatArray | None]:
    """The raw features without the offset column (``spec.offset``), and its values.

    Raises
    ------
    DataError
        The column is absent, or a value is missing or not a finite number (naming it).
    """
    if spec.offset is None:
        return X, None
    if spec.offset not in X.columns:
        msg = f"Offset column '{spec.offset}' (--offset) is not in the data."
        raise DataError(msg, column=spec.offset)
    return X.drop(columns=[spec.offset]), read_offset_column(X, spec.offset)


def splitter(spec: TrainingSpec, salt: int = 0) -> StratifiedKFold:
    """The stratified, shuffled folds of the procedure (``salt`` varies the seed)."""
    return StratifiedKFold(n_splits=spec.folds, shuffle=True, random_state=spec.seed + salt)


def out_of_fold_proba(
    model: LogisticModel,
    X: Any,
    y: NDArray[Any],
    w: FloatArray | None,
    folds: StratifiedKFold,
    offset: FloatArray | None = None,
) -> FloatArray:
    """Class probabilities of each row from a fit on the other folds (at the model's C)."""
    proba = np.full((len(y), len(model.classes_)), np.nan)
    for train, test in folds.split(np.zeros(len(y)), y):
        part = clone(model).fit(
            X.iloc[train],
            y[train],
            sample_weight=None if w is None else w[train],
            offset=None if offset is None else offset[train],
        )
        columns = [int(np.flatnonzero(part.classes_ == c)[0]) for c in model.classes_]
        rows_offset = None if offset is None else offset[test]
        proba[test] = part.predict_proba(X.iloc[test], offset=rows_offset)[:, columns]
    return proba


def choose_policy(
    rule: PolicyRule | None,
    y: NDArray[Any],
    proba: FloatArray,
    positive: Any,
    confidence: float | None = None,
) -> ThresholdPolicy:
    """The rule fitted on out-of-fold probabilities of ``positive`` (0.5 when none is named)."""
    if rule is None:
        return ThresholdPolicy.fixed(0.5, positive=positive).refit(y, proba)
    if "threshold" in rule:
        return ThresholdPolicy.fixed(rule["threshold"], positive=positive).refit(y, proba)
    options: dict[str, Any] = dict(rule)
    if confidence is not None:
        options["at_confidence"] = confidence
    return ThresholdPolicy.fit(y, proba, positive=positive, **options)


def _estimator(spec: TrainingSpec, positive: Any) -> LogisticModel | LogisticModelCV:
    if not spec.cv:
        C = 1.0 if spec.penalty in (None, "firth") else spec.C
        return LogisticModel(
            penalty=spec.penalty,
            C=C,
            l1_ratio=spec.l1_ratio,
            positive_class=positive,
            **spec.fit_params,
        )
    ratios = None
    if spec.penalty == "elasticnet":
        ratios = [spec.l1_ratio] if spec.l1_ratio is not None else [0.1, 0.5, 0.9]
    return LogisticModelCV(
        Cs=spec.Cs,
        cv=splitter(spec),
        penalty=str(spec.penalty),
        l1_ratios=ratios,
        scoring=spec.scoring,
        positive_class=positive,
        **spec.fit_params,
    )


def encoder_for(spec: TrainingSpec) -> TableEncoder:
    """The encoder the procedure learns on its rows (levels, imputation, formula)."""
    return TableEncoder(
        impute=spec.impute,
        formula=spec.rhs,
        normalize_levels=spec.normalize_labels,
        reference=dict(spec.reference) or None,
    )


def fit_procedure(
    X: pd.DataFrame,
    y: NDArray[Any],
    w: FloatArray | None,
    spec: TrainingSpec,
    *,
    positive: Any,
) -> Fitted:
    """Run the whole procedure on the rows ``X``, ``y`` (weights ``w``).

    With ``spec.offset`` the column of that name is taken out of ``X`` and used as the
    offset of every fit and prediction; the model keeps its name (``offset_column_``)
    and reads it from the raw rows it predicts.
    """
    X, offset = split_offset(X, spec)
    encoder = encoder_for(spec).fit(X)
    E = encoder.transform(X)
    estimator = _estimator(spec, positive)
    if isinstance(estimator, LogisticModelCV):
        search = estimator.fit(E, y, sample_weight=w)
        model, oof = search.best_estimator_, np.asarray(search.oof_proba_, dtype=np.float64)
    else:
        search, model = None, estimator.fit(E, y, sample_weight=w, offset=offset)
        oof = out_of_fold_proba(model, E, y, w, splitter(spec), offset)
    model.encoder_ = encoder
    model.offset_column_ = spec.offset
    policy = None
    if len(model.classes_) == 2:
        column = int(np.flatnonzero(model.classes_ == model.positive_class_)[0])
        policy = choose_policy(spec.rule, y, oof[:, column], model.positive_class_, spec.confidence)
    return Fitted(model, E, search, oof, policy, offset)
