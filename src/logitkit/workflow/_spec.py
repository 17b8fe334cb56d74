"""What a training run was asked to do, checked as a whole before any row is read.

Every option takes effect or fails: an option that cannot apply to the data or to the
other options raises :class:`~logitkit.exceptions.DataError` naming what cannot be
combined and why (the command line exits 2 with it), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logitkit.data.formula import split_formula
from logitkit.decision._rules import rule_params
from logitkit.exceptions import DataError

__all__ = [
    "FOLD_SCHEMES",
    "PENALTIES",
    "RULE_OPTIONS",
    "SCORINGS",
    "PolicyRule",
    "TrainingSpec",
    "policy_rule",
]

PolicyRule = dict[str, float]
PENALTIES = ("l2", "l1", "elasticnet", "firth", None)
SCORINGS = ("log_loss", "roc_auc", "brier")
_IMPUTE = (None, "median", "most_frequent")
#: How rows are split into folds (and held out): see :mod:`logitkit.workflow._scaled`.
FOLD_SCHEMES = (None, "stratified", "hash")


#: The options that name a decision rule (at most one may be given).
RULE_OPTIONS = ("min_recall", "min_precision", "max_fpr", "cost_fp", "cost_fn", "threshold")
#: Their names in :meth:`ThresholdPolicy.fit`, where they differ.
_RULE_NAMES = {"max_fpr": "max_false_positive_rate"}


def policy_rule(options: Mapping[str, float | None]) -> PolicyRule | None:
    """The one decision rule the options name (None when none is named).

    Examples
    --------
    >>> policy_rule({"min_recall": 0.99, "threshold": None})
    {'min_recall': 0.99}
    >>> policy_rule({"cost_fp": 1, "cost_fn": 20})
    {'cost_fp': 1.0, 'cost_fn': 20.0}
    """
    given = {k: v for k, v in options.items() if k in RULE_OPTIONS and v is not None}
    costs: dict[str, float | None] = {k: given.pop(k) for k in ("cost_fp", "cost_fn") if k in given}
    if len(costs) == 1:
        msg = "--cost-fp and --cost-fn go together: give the cost of each kind of error."
        raise DataError(msg)
    if len(given) + bool(costs) > 1:
        msg = (
            "Give one decision rule: --min-recall, --min-precision, --max-fpr, "
            "--cost-fp/--cost-fn or --threshold."
        )
        raise DataError(msg)
    rule = costs or {_RULE_NAMES.get(k, k): v for k, v in given.items()}
    if not rule:
        return None
    try:
        return rule_params("the decision rule", rule)
    except ValueError as exc:
        raise DataError(str(exc)) from None


@dataclass(frozen=True)
class TrainingSpec:
    """The options of one training run (see :func:`logitkit.train` for each).

    ``formula`` is the whole formula (``"y ~ a + b"``); ``target`` may come from its left
    side. The decision rule is one of :data:`RULE_OPTIONS`; ``rule`` holds it as
    :meth:`ThresholdPolicy.fit` takes it, and ``rhs`` the formula's right side.
    ``lower_bounds``, ``upper_bounds`` and ``penalty_factor`` map model columns to values
    (:class:`~logitkit.LogisticModel`'s parameters of those names); ``offset`` names a
    column taken out of the features and used as the fit's offset.
    """

    target: str | None = None
    positive: Any = None
    formula: str | None = None
    drop: tuple[str, ...] = ()
    weight: str | None = None
    trials: str | None = None
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
    cv_rows: int | None = None
    scoring: str = "log_loss"
    folds: int = 5
    min_recall: float | None = None
    min_precision: float | None = None
    max_fpr: float | None = None
    cost_fp: float | None = None
    cost_fn: float | None = None
    threshold: float | None = None
    confidence: float | None = None
    test_size: float = 0.0
    seed: int = 0
    fold_scheme: str | None = None
    lower_bounds: Mapping[str, float] = field(default_factory=dict)
    upper_bounds: Mapping[str, float] = field(default_factory=dict)
    penalty_factor: Mapping[str, float] = field(default_factory=dict)
    offset: str | None = None
    rule: PolicyRule | None = field(init=False, default=None)
    rhs: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        target, rhs = self.target, None
        if self.formula is not None:
            lhs, rhs = split_formula(self.formula)
            if lhs is not None and target is not None and lhs != target:
                msg = f"The formula names the target '{lhs}' but target names '{target}'; give one."
                raise DataError(msg)
            target = lhs or target
        if target is None:
            msg = "Name the target column (--target, or the left side of --formula)."
            raise DataError(msg)
        # Derived once here, so that every stage reads the same resolved values.
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "rhs", rhs)
        object.__setattr__(self, "drop", tuple(self.drop))
        object.__setattr__(self, "reference", dict(self.reference or {}))
        object.__setattr__(self, "rule", policy_rule(vars(self)))
        _check_choice("--penalty", self.penalty, PENALTIES, lambda v: v or "none")
        _check_choice("--impute", self.impute, _IMPUTE, str)
        _check_choice("--scoring", self.scoring, SCORINGS, str)
        _check_choice("--class-weight", self.class_weight, (None, "balanced"), str)
        _check_choice("--folds-by", self.fold_scheme, FOLD_SCHEMES, lambda v: v or "(default)")
        if self.fold_scheme == "hash":
            self._check_hash_scheme()
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
        if self.cv_rows is not None:
            self._check_cv_rows(self.cv_rows)
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
        if self.trials is not None:
            self._check_grouped()
        if self.weight is not None and self.weight == self.target:
            msg = f"--weight names the target column '{self.target}'; name a weight column."
            raise DataError(msg)
        self._check_controls()

    def _check_controls(self) -> None:
        """Bounds, penalty factors and the offset take effect, or are refused here, by name."""
        for name in ("lower_bounds", "upper_bounds", "penalty_factor"):
            object.__setattr__(self, name, dict(getattr(self, name) or {}))
        given = [
            flag
            for flag, on in (
                ("--lower-bound", self.lower_bounds),
                ("--upper-bound", self.upper_bounds),
                ("--penalty-factor", self.penalty_factor),
                ("--offset", self.offset is not None),
            )
            if on
        ]
        if given and self.cv:
            msg = (
                f"{', '.join(given)} cannot be combined with --cv yet: the cross-validated "
                "search over C takes no bounds, penalty factors or offsets. Give --C instead."
            )
            raise DataError(msg)
        if self.penalty_factor and self.penalty in (None, "firth"):
            msg = (
                f"--penalty-factor multiplies the penalty; --penalty {self.penalty or 'none'} "
                "has none. Use --penalty l2, l1 or elasticnet."
            )
            raise DataError(msg)
        if self.penalty == "firth" and (self.lower_bounds or self.upper_bounds):
            msg = "--penalty firth takes no --lower-bound/--upper-bound; use --penalty none or l2."
            raise DataError(msg)
        if self.offset is not None:
            clash = {self.target: "the target", self.weight: "--weight", self.trials: "--trials"}
            if self.offset in clash:
                msg = f"--offset names {clash[self.offset]} column '{self.offset}'; name another."
                raise DataError(msg, column=self.offset)
            if self.trials is not None or self.penalty == "firth":
                msg = (
                    "--offset cannot be combined with --trials or --penalty firth: those "
                    "fits take no offset. Leave one of them out."
                )
                raise DataError(msg, column=self.offset)

    def _check_grouped(self) -> None:
        """Grouped data (successes of trials) have no rows to decide: say what cannot apply."""
        given = {
            "--positive": self.positive is not None,
            "a decision rule (--min-recall, ...)": self.rule is not None,
            "--confidence": self.confidence is not None,
            "--cv": self.cv,
            "--test-size": self.test_size > 0,
            "--weight": self.weight is not None,
            "--class-weight": self.class_weight is not None,
        }
        refused = [name for name, on in given.items() if on]
        if refused:
            msg = (
                f"{', '.join(refused)} cannot be combined with --trials: the target then counts "
                f"successes out of '{self.trials}' trials per group (R's glm(cbind(s, n - s) ~ "
                "...)), so there are no single rows to decide, weight or hold out; the model "
                "is the probability of a success."
            )
            raise DataError(msg)

    def _check_cv_rows(self, rows: int) -> None:
        """``cv_rows`` sizes the hash sample of the search over C: with ``cv`` only."""
        if not self.cv:
            msg = (
                "--cv-rows sizes the sample on which --cv chooses C; without --cv there is "
                "no search. Add --cv, or leave --cv-rows out."
            )
            raise DataError(msg)
        if rows != 0 and rows < 2 * self.folds:
            msg = (
                f"--cv-rows must be 0 (search C on every fitting row) or at least twice "
                f"--folds ({2 * self.folds}); got {rows}."
            )
            raise DataError(msg)

    def _check_hash_scheme(self) -> None:
        """What the pipeline on hash folds cannot do, said before any row is read."""
        if self.trials is not None:
            msg = (
                "--trials (grouped data) cannot be combined with --folds-by hash: grouped "
                "rows have no row-level folds, policy or evaluation (--stream and --dask "
                "fit them without folds). Leave --folds-by out."
            )
            raise DataError(msg)

    @property
    def learned_encoding(self) -> list[str]:
        """The options whose encoding is learned from the rows beyond their levels
        (formula, imputation, merged spellings, reference levels)."""
        return [
            flag
            for flag, on in (
                ("--formula", self.formula),
                ("--impute", self.impute),
                ("--normalize-labels", self.normalize_labels),
                ("--reference", self.reference),
            )
            if on
        ]

    @property
    def splits_raw_rows(self) -> bool:
        """Whether held-out rows are split off by a hash of their raw values, before the
        encoding is learned (on hash folds, ``test_size`` with a learned encoding)."""
        return self.test_size > 0 and bool(self.learned_encoding)

    @property
    def fit_params(self) -> dict[str, Any]:
        """The estimator parameters shared by every fit of the procedure."""
        params: dict[str, Any] = {
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }
        # Only when given: LogisticModelCV (refused with them above) has no such parameters.
        for name in ("lower_bounds", "upper_bounds", "penalty_factor"):
            if getattr(self, name):
                params[name] = dict(getattr(self, name))
        return params


def _check_choice(option: str, value: Any, choices: tuple[Any, ...], show: Any) -> None:
    if value not in choices:
        listed = ", ".join(str(show(c)) for c in choices)
        msg = f"{option} must be one of {listed}; got {value!r}."
        raise DataError(msg)
