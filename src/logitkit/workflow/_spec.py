"""What a training run was asked to do, checked as a whole before any row is read.

Every option takes effect or fails: an option that cannot apply to the data or to the
other options raises :class:`~logitkit.exceptions.DataError` naming what cannot be
combined and why (the command line exits 2 with it), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logitkit.decision._rules import rule_params
from logitkit.exceptions import DataError

__all__ = ["PENALTIES", "SCORINGS", "PolicyRule", "TrainingSpec", "policy_rule"]

PolicyRule = dict[str, float]
PENALTIES = ("l2", "l1", "elasticnet", "firth", None)
SCORINGS = ("log_loss", "roc_auc", "brier")
_IMPUTE = (None, "median", "most_frequent")


def policy_rule(
    *,
    min_recall: float | None = None,
    min_precision: float | None = None,
    max_fpr: float | None = None,
    cost_fp: float | None = None,
    cost_fn: float | None = None,
    threshold: float | None = None,
) -> PolicyRule | None:
    """The one decision rule the arguments name (None when none is named).

    Examples
    --------
    >>> policy_rule(min_recall=0.99)
    {'min_recall': 0.99}
    >>> policy_rule(cost_fp=1, cost_fn=20)
    {'cost_fp': 1.0, 'cost_fn': 20.0}
    """
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
    if not rules:
        return None
    try:
        return rule_params("the decision rule", rules[0])
    except ValueError as exc:
        raise DataError(str(exc)) from None


@dataclass(frozen=True)
class TrainingSpec:
    """The options of one training run (see :func:`logitkit.train` for each)."""

    target: str
    positive: Any = None
    formula: str | None = None
    drop: tuple[str, ...] = ()
    weight: str | None = None
    impute: str | None = None
    normalize_labels: bool = False
    reference: Mapping[str, Any] = field(default_factory=dict)
    penalty: str | None = "l2"
    C: float = 1.0
    l1_ratio: float | None = None
    class_weight: str | None = None
    max_iter: int = 100
    tol: float = 1e-10
    cv: bool = False
    Cs: int = 10
    scoring: str = "log_loss"
    folds: int = 5
    rule: PolicyRule | None = None
    confidence: float | None = None
    test_size: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice("--penalty", self.penalty, PENALTIES, lambda v: v or "none")
        _check_choice("--impute", self.impute, _IMPUTE, str)
        _check_choice("--scoring", self.scoring, SCORINGS, str)
        _check_choice("--class-weight", self.class_weight, (None, "balanced"), str)
        if not 0.0 <= self.test_size < 1.0:
            msg = (
                f"--test-size must be in [0, 1): the share of rows held out to report on "
                f"(0, the default, fits on every row); got {self.test_size}."
            )
            raise DataError(msg)
        if self.folds < 2:
            msg = f"--folds must be at least 2; got {self.folds}."
            raise DataError(msg)
        if self.cv and self.penalty not in ("l2", "l1", "elasticnet"):
            msg = (
                "--cv chooses C for a penalty (l2, l1 or elasticnet); got --penalty "
                f"{self.penalty or 'none'}, which has no C to choose."
            )
            raise DataError(msg)
        if self.cv and self.Cs < 1:
            msg = f"--cs must be at least 1; got {self.Cs}."
            raise DataError(msg)
        if not self.cv and self.penalty in (None, "firth") and self.C != 1.0:
            msg = (
                f"--C sets the strength of a penalty; --penalty {self.penalty or 'none'} has none."
            )
            raise DataError(msg)
        if self.l1_ratio is not None and self.penalty != "elasticnet":
            msg = "--l1-ratio applies to --penalty elasticnet only."
            raise DataError(msg)
        if self.penalty == "elasticnet" and self.l1_ratio is None and not self.cv:
            msg = "--penalty elasticnet needs --l1-ratio (or --cv to choose it)."
            raise DataError(msg)
        if self.confidence is not None:
            if not 0.0 < self.confidence < 1.0:
                msg = f"--confidence must be in (0, 1), e.g. 0.95; got {self.confidence}."
                raise DataError(msg)
            constraint = self.rule is not None and any(
                k in self.rule for k in ("min_recall", "min_precision", "max_false_positive_rate")
            )
            if not constraint:
                msg = (
                    "--confidence applies to a constraint (--min-recall, --min-precision or "
                    "--max-fpr): the threshold is then chosen so that the constraint holds at "
                    "that confidence. Add one, or leave --confidence out."
                )
                raise DataError(msg)
        if self.weight is not None and self.weight == self.target:
            msg = f"--weight names the target column '{self.target}'; name a weight column."
            raise DataError(msg)

    @property
    def fit_params(self) -> dict[str, Any]:
        """The estimator parameters shared by every fit of the procedure."""
        return {
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }


def _check_choice(option: str, value: Any, choices: tuple[Any, ...], show: Any) -> None:
    if value not in choices:
        listed = ", ".join(str(show(c)) for c in choices)
        msg = f"{option} must be one of {listed}; got {value!r}."
        raise DataError(msg)
