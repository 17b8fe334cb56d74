"""The decision rule from command-line options, chosen on out-of-fold probabilities."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import typer
from numpy.typing import NDArray
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel

__all__ = ["PolicyRule", "choose_policy", "out_of_fold_proba"]

PolicyRule = dict[str, float]

# The decision-rule options, shared by the commands that choose a policy.
MinRecallOption = Annotated[
    float | None, typer.Option(help="Policy: the highest threshold with recall >= this.")
]
MinPrecisionOption = Annotated[
    float | None, typer.Option(help="Policy: the lowest threshold with precision >= this.")
]
MaxFprOption = Annotated[
    float | None,
    typer.Option(
        "--max-fpr", help="Policy: the lowest threshold with false-positive rate <= this."
    ),
]
CostFpOption = Annotated[
    float | None, typer.Option(help="Policy: cost of a false positive (with --cost-fn).")
]
CostFnOption = Annotated[
    float | None, typer.Option(help="Policy: cost of a false negative (a missed positive).")
]


def policy_rule(
    *,
    min_recall: float | None,
    min_precision: float | None,
    max_fpr: float | None,
    cost_fp: float | None,
    cost_fn: float | None,
    threshold: float | None,
    demo: bool,
) -> PolicyRule | None:
    """The one rule the options name (the demo defaults to recall >= 0.995)."""
    rules: list[PolicyRule] = []
    if min_recall is not None:
        rules.append({"min_recall": min_recall})
    if min_precision is not None:
        rules.append({"min_precision": min_precision})
    if max_fpr is not None:
        rules.append({"max_false_positive_rate": max_fpr})
    if cost_fp is not None or cost_fn is not None:
        if cost_fp is None or cost_fn is None:
            msg = "--cost-fp and --cost-fn go together: give the cost of each kind of error."
            raise DataError(msg)
        rules.append({"cost_fp": cost_fp, "cost_fn": cost_fn})
    if threshold is not None:
        rules.append({"threshold": threshold})
    if len(rules) > 1:
        msg = (
            "Give one decision rule: --min-recall, --min-precision, --max-fpr, "
            "--cost-fp/--cost-fn or --threshold."
        )
        raise DataError(msg)
    if rules:
        return rules[0]
    return {"min_recall": 0.995} if demo else None


def out_of_fold_proba(
    model: LogisticModel, X: Any, y: NDArray[Any], *, folds: int, seed: int
) -> NDArray[np.float64]:
    """Cross-validated class probabilities of the training rows (each from a fit without it)."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return np.asarray(cross_val_predict(model, X, y, cv=splitter, method="predict_proba"))


def choose_policy(
    rule: PolicyRule | None, y: NDArray[Any], proba: NDArray[np.float64], positive: Any
) -> ThresholdPolicy:
    """Fit the rule on out-of-fold probabilities of ``positive`` (0.5 when there is none)."""
    if rule is None:
        return ThresholdPolicy.fixed(0.5, positive=positive)
    if "threshold" in rule:
        return ThresholdPolicy.fixed(rule["threshold"], positive=positive)
    options: dict[str, Any] = dict(rule)
    return ThresholdPolicy.fit(y, proba, positive=positive, **options)
