"""What a fitted threshold rests on, and whether the data can show its constraint.

Two questions the point estimates do not answer:

* **How many rows set the threshold** (``rests_on``). A constraint threshold is an
  order statistic of one class, so it is only as stable as the rows in that tail:

  - ``min_recall``: the positives scored at or below the lowest flagged positive (the
    misses plus the lowest flagged one). With 159 positives and recall >= 0.995 no
    miss is allowed, so the threshold sits at the lowest-scored positive: it rests on
    1 row, and one row scored differently moves it.
  - ``max_false_positive_rate`` and ``min_precision``: the negatives scored at or above
    the highest unflagged negative (the false alarms plus the first one the constraint
    keeps out); all negatives when every row is flagged.
  - the cost rule and a fixed threshold: ``None``. A cost minimum sums over every row,
    it is not an order statistic of a few, and a fixed threshold rests on no row.

  A threshold that rests on at most :data:`UNSTABLE_AT_MOST` rows is *unstable*.

* **Can the rows show the target** (:class:`Verification`): the one-sided exact bound of
  the constrained rate at the policy's threshold, at a verification level, checked
  against the target; with the least number of rows of the class that would show it
  without a single error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from logitkit._validation import BinaryTarget
from logitkit.decision._rules import (
    CONSTRAINED,
    constraint_bounds,
    decide,
    meets,
    or_none,
    perfect_bound,
)
from logitkit.decision.exact import rows_needed

__all__ = ["UNSTABLE_AT_MOST", "Verification", "rests_on", "verify"]

#: A threshold resting on this many rows or fewer is reported as unstable.
UNSTABLE_AT_MOST = 2


@dataclass(frozen=True)
class Verification:
    """Whether the rows a constraint policy was fitted on can show its target.

    Attributes
    ----------
    metric : str
        The constrained metric: ``"recall"``, ``"precision"`` or ``"false_positive_rate"``.
    side : str
        ``"lower"`` (the rate must be at least the target) or ``"upper"`` (at most).
    level : float
        Confidence level of the one-sided bound.
    target : float
        The constraint's target.
    bound : float or None
        One-sided exact (Clopper-Pearson) bound of the metric at the policy's threshold.
    verified : bool
        ``bound`` meets ``target``.
    n : int
        Rows behind ``bound``: the positives (recall), the flagged rows (precision) or
        the negatives (false-positive rate).
    best_bound : float
        The bound a result without one error would give on these rows: every positive
        flagged and nothing else (recall, precision), or no negative flagged.
    rows_needed : int or None
        The least number of rows of that class (positives, flagged rows, negatives)
        that would show ``target`` at ``level`` without one error; ``None`` when no
        number would (a target of exactly 1, or 0 for the false-positive rate).

    Examples
    --------
    >>> v = Verification("recall", "lower", 0.95, 0.995, 0.9813, False, 159, 0.9813, 598)
    >>> Verification.from_dict(v.to_dict()) == v
    True
    """

    metric: str
    side: str
    level: float
    target: float
    bound: float | None
    verified: bool
    n: int
    best_bound: float
    rows_needed: int | None

    @property
    def showable(self) -> bool:
        """Whether these rows could show the target at all (without one error)."""
        return self.rows_needed is not None and bool(
            meets_side(self.side, self.best_bound, self.target)
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Examples
        --------
        >>> Verification("recall", "lower", 0.95, 0.9, 0.93, True, 100, 0.97, 29).to_dict()["n"]
        100
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        """Rebuild from :meth:`to_dict` output.

        Examples
        --------
        >>> d = Verification("recall", "lower", 0.95, 0.9, 0.93, True, 100, 0.97, 29).to_dict()
        >>> Verification.from_dict(d).verified
        True
        """
        need = data["rows_needed"]
        bound = data["bound"]
        return cls(
            metric=str(data["metric"]),
            side=str(data["side"]),
            level=float(data["level"]),
            target=float(data["target"]),
            bound=None if bound is None else float(bound),
            verified=bool(data["verified"]),
            n=int(data["n"]),
            best_bound=float(data["best_bound"]),
            rows_needed=None if need is None else int(need),
        )


def meets_side(side: str, value: float, target: float) -> bool:
    """``value >= target`` for a lower bound, ``value <= target`` for an upper one."""
    return value >= target if side == "lower" else value <= target


def rests_on(method: str, data: BinaryTarget, threshold: float) -> int | None:
    """How many rows of the constrained class set ``threshold`` (see the module docstring)."""
    if method == "min_recall":
        pos = data.p[data.y]
        flagged = pos[decide(pos, threshold)]
        if flagged.size == 0:
            return int(pos.size)
        return int(np.count_nonzero(pos <= flagged.min()))
    if method in ("min_precision", "max_false_positive_rate"):
        neg = data.p[~data.y]
        flag = decide(neg, threshold)
        if flag.all():
            return int(neg.size)
        return int(np.count_nonzero(neg >= neg[~flag].max()))
    return None


def verify(
    method: str,
    target: float,
    confusion: Mapping[str, int],
    level: float,
) -> Verification:
    """Check a constraint's target against the one-sided exact bound at ``level``."""
    metric, side = CONSTRAINED[method]
    tp, fp = confusion["tp"], confusion["fp"]
    n_pos, n_neg = tp + confusion["fn"], fp + confusion["tn"]
    bound = or_none(
        float(constraint_bounds(method, np.array(tp), np.array(fp), n_pos, n_neg, level))
    )
    n = {"recall": n_pos, "precision": tp + fp, "false_positive_rate": n_neg}[metric]
    best = perfect_bound(method, n_pos, n_neg, level)
    return Verification(
        metric=metric,
        side=side,
        level=level,
        target=target,
        bound=bound,
        verified=bound is not None and bool(meets(method, bound, target)),
        n=n,
        best_bound=best,
        rows_needed=rows_needed(target, level, side=side),
    )
