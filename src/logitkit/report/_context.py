"""What the report knows: the model, its policy, and labelled probabilities to show.

:func:`gather` turns :func:`~logitkit.report.build_report`'s arguments into one
:class:`Context`; sections read it and say what is missing rather than fail.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.artifact import stored_diagnostics, stored_summary
from logitkit.decision import ThresholdPolicy
from logitkit.diagnostics import Findings
from logitkit.evaluation import BinaryEvaluation, evaluate
from logitkit.exceptions import DataError, InferenceWarning, LogitkitError
from logitkit.inference import Summary
from logitkit.model import LogisticModel

__all__ = ["Context", "Labelled", "gather"]

FloatArray = NDArray[np.float64]


@dataclass
class Labelled:
    """Labelled probabilities of one set of rows.

    Attributes
    ----------
    name : str
        What the rows are, for readers ("held-out rows").
    y : ndarray
        True labels.
    proba : ndarray of shape (n, K)
        Class probabilities, columns in the order of the model's classes.
    positive : label or None
        The positive class (binary models).
    positive_index : int or None
        Column of the positive class in ``proba``.
    evaluation : BinaryEvaluation or None
        :func:`logitkit.evaluate` of these rows (binary, both classes present).
    problem : str or None
        Why ``evaluation`` is missing.
    """

    name: str
    y: NDArray[Any]
    proba: FloatArray
    positive: Any = None
    positive_index: int | None = None
    evaluation: BinaryEvaluation | None = None
    problem: str | None = None

    @property
    def is_positive(self) -> NDArray[np.bool_]:
        """Whether each row's label is the positive class."""
        return np.asarray(self.y == self.positive, dtype=bool)

    @property
    def p(self) -> FloatArray:
        """Probability of the positive class (binary models)."""
        if self.positive_index is None:
            msg = f"The {self.name} have no positive class: the model is not binary."
            raise ValueError(msg)
        return np.asarray(self.proba[:, self.positive_index], dtype=np.float64)


@dataclass
class Context:
    """Everything a section may show; ``None`` where it was not given or not available."""

    model: LogisticModel
    title: str
    classes: list[Any]
    binary: bool
    positive: Any
    negative: Any
    policy: ThresholdPolicy | None
    held_out: Labelled | None
    oof: Labelled | None
    summary: Summary | None
    summary_problem: str | None
    findings: Findings | None
    cv_results: pd.DataFrame | None
    artifact: dict[str, Any] | None
    training_record: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        """The model's feature names."""
        return self.model._feature_names()

    @property
    def explorer_rows(self) -> Labelled | None:
        """Rows for the threshold explorer: held-out rows, else out-of-fold ones."""
        return self.held_out or self.oof

    @property
    def training(self) -> dict[str, Any]:
        """Training metadata: given, else recorded in the artifact (empty when there is none)."""
        if self.training_record is not None:
            return self.training_record
        if self.artifact is None:
            return {}
        info: dict[str, Any] = self.artifact.get("training") or {}
        return info

    @property
    def costs(self) -> dict[str, float] | None:
        """The policy's costs and benefits, when its rule has them."""
        if self.policy is None or self.policy.method != "cost":
            return None
        params = self.policy.params
        return {
            k: float(params.get(k, 0.0)) for k in ("cost_fp", "cost_fn", "benefit_tp", "benefit_tn")
        }


def _match_label(value: Any, classes: list[Any]) -> Any:
    """The class equal to ``value`` (or whose text equals it), else ``None``."""
    for c in classes:
        if c == value:
            return c
    for c in classes:
        if str(c) == str(value):
            return c
    return None


def _labels(y: Any, classes: list[Any], what: str) -> NDArray[Any]:
    labels = np.asarray(y)
    if labels.ndim != 1:
        msg = f"The labels of the {what} must be one column; got shape {labels.shape}."
        raise DataError(msg, column="y")
    known = pd.Index(classes)
    unknown = [v for v in pd.unique(labels) if v not in known]
    if unknown and all(str(v) in {str(c) for c in classes} for v in unknown):
        by_text = {str(c): c for c in classes}
        labels = np.array([by_text.get(str(v), v) for v in labels], dtype=object)
        unknown = []
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5])
        msg = (
            f"The {what} have label(s) {shown} that the model does not know "
            f"(its classes are {', '.join(map(repr, classes))})."
        )
        raise DataError(msg, column="y")
    return labels


def _labelled(
    name: str,
    y: Any,
    proba: Any,
    ctx_classes: list[Any],
    positive: Any,
    binary: bool,
    evaluation: BinaryEvaluation | None = None,
) -> Labelled:
    """The rows with their :func:`evaluate` (``evaluation`` when given for the same rows
    and positive class)."""
    labels = _labels(y, ctx_classes, name)
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim == 1:
        if not binary:
            msg = f"The {name} need a probability matrix (one column per class) for this model."
            raise DataError(msg, column="proba")
        col = ctx_classes.index(positive)
        P = np.column_stack([1.0 - P, P]) if col == 1 else np.column_stack([P, 1.0 - P])
    if P.shape != (labels.shape[0], len(ctx_classes)):
        msg = (
            f"The {name} have {labels.shape[0]} labels but probabilities of shape {P.shape}; "
            f"expected ({labels.shape[0]}, {len(ctx_classes)})."
        )
        raise DataError(msg, column="proba")
    rows = Labelled(name, labels, P, positive=positive)
    if not binary:
        return rows
    rows.positive_index = ctx_classes.index(positive)
    yb = rows.is_positive
    if yb.all() or not yb.any():
        rows.problem = (
            f"The {name} hold only one class, so curves and calibration need both "
            f"'{positive}' and the other class."
        )
        return rows
    same = (
        evaluation is not None
        and evaluation.n_samples == labels.shape[0]
        and evaluation.positive == positive
    )
    rows.evaluation = evaluation if same else evaluate(yb, rows.p, positive=True)
    return rows


def _oriented(model: LogisticModel, policy: ThresholdPolicy | None) -> LogisticModel:
    """The model speaking of the policy's positive class (a copy when it must turn).

    A model fitted without ``positive_class`` models ``classes_[1]``; a policy about
    ``classes_[0]`` would then face coefficients of the other class, stating every
    effect backwards. A model whose ``positive_class`` was set must agree with its policy.
    """
    if policy is None or getattr(model, "positive_class_", None) is None:
        return model
    wanted = _match_label(policy.positive, model.classes_.tolist())
    if wanted is None:
        msg = f"The policy decides {policy.positive!r}, which is not a class of the model ({model.classes_.tolist()})."
        raise ValueError(msg)
    if wanted == model.positive_class_:
        return model
    if model.positive_class is not None:
        msg = (
            f"The policy decides {policy.positive!r} but the model's positive class is "
            f"{model.positive_class_!r}; choose the policy for {model.positive_class_!r}."
        )
        raise ValueError(msg)
    turned = copy.copy(model)
    turned.positive_class = wanted
    turned.positive_class_ = wanted
    return turned


def _default_policy(artifact: dict[str, Any] | None) -> ThresholdPolicy | None:
    stored = (artifact or {}).get("policy")
    if isinstance(stored, dict) and stored.get("type") == "ThresholdPolicy":
        return ThresholdPolicy.from_dict(stored)
    return None


def _summary(model: LogisticModel) -> tuple[Summary | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InferenceWarning)  # the notes say it in words
            return model.summary(), None
    except (LogitkitError, ValueError) as exc:
        return None, " ".join(str(exc).split())


def gather(
    model: LogisticModel,
    *,
    X: Any,
    y: Any,
    policy: ThresholdPolicy | None,
    oof: tuple[Any, Any] | None,
    cv_results: pd.DataFrame | None,
    findings: Findings | None,
    summary: Summary | None,
    title: str | None,
    training: dict[str, Any] | None = None,
    rows_label: str = "held-out rows",
    oof_evaluation: BinaryEvaluation | None = None,
) -> Context:
    """Check the inputs and compute what every section shares."""
    if not hasattr(model, "coef_"):
        msg = "build_report needs a fitted model: call fit() or logitkit.load() first."
        raise ValueError(msg)
    artifact = getattr(model, "artifact_", None)
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    binary = len(classes) == 2
    if policy is None and binary:
        policy = _default_policy(artifact)
    positive: Any = None
    negative: Any = None
    if binary:
        model = _oriented(model, policy)
        wanted = model.positive_class_
        positive = _match_label(wanted, classes) if wanted is not None else classes[1]
        negative = classes[0] if positive == classes[1] else classes[1]
    summary_problem = None
    if summary is None:
        summary, summary_problem = _summary(model)
    if summary is None and artifact is not None:
        summary = stored_summary(artifact)
    if findings is None and artifact is not None:
        findings = stored_diagnostics(artifact)
    held_out = None
    if X is not None or y is not None:
        if X is None or y is None:
            msg = "Pass both X and y (the labelled evaluation rows), or neither."
            raise ValueError(msg)
        proba = model.predict_proba(X)
        held_out = _labelled(rows_label, y, proba, classes, positive, binary)
    oof_rows = None
    if oof is not None:
        y_oof, p_oof = oof
        oof_rows = _labelled(
            "out-of-fold training rows", y_oof, p_oof, classes, positive, binary, oof_evaluation
        )
    if cv_results is None:
        record = (training or (artifact or {}).get("training") or {}).get("cross_validation")
        if isinstance(record, dict) and record.get("results"):
            cv_results = pd.DataFrame(record["results"])
    if policy is not None and not math.isfinite(policy.threshold):
        msg = f"The policy's threshold {policy.threshold!r} is not a number."
        raise ValueError(msg)
    return Context(
        model=model,
        title=title or "Logistic regression report",
        classes=classes,
        binary=binary,
        positive=positive,
        negative=negative,
        policy=policy if binary else None,
        held_out=held_out,
        oof=oof_rows,
        summary=summary,
        summary_problem=summary_problem,
        findings=findings,
        cv_results=cv_results,
        artifact=artifact,
        training_record=training,
    )
