"""The decision under the artifact's policy, for a matrix of class probabilities.

The policy is rebuilt with :mod:`logitkit.decision` (``ThresholdPolicy``, ``RiskBands``
or ``MulticlassPolicy`` from its ``to_dict()``); without one a binary model decides its
second class at probability 0.5 and a multiclass model its most probable class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit.decision import MulticlassPolicy, RiskBands, ThresholdPolicy, decide
from logitkit.exceptions import ArtifactError

__all__ = ["DecisionRule", "make_rule"]


@dataclass(frozen=True)
class DecisionRule:
    """A vectorised decision: probabilities in, one decided label (or band) per row out.

    Attributes
    ----------
    kind : str
        ``"threshold"``, ``"bands"``, ``"cost"`` or ``"argmax"``.
    threshold : float or None
        Decide ``positive`` when its probability is at least this (threshold rules).
    positive, positive_index : label and int, or None
        The positive class of a binary model and its probability column.
    policy : dict or None
        The policy as stored (``to_dict()``), for ``GET /v1/model``.
    """

    kind: str
    threshold: float | None
    positive: Any
    positive_index: int | None
    policy: dict[str, Any] | None
    _outcomes: NDArray[Any]
    _index: Callable[[NDArray[np.float64]], NDArray[np.intp]]

    def decide(self, proba: NDArray[np.float64]) -> list[Any]:
        """The decision for each row of an ``(n, K)`` probability matrix.

        Examples
        --------
        >>> rule = make_rule(None, ["no", "yes"])
        >>> rule.decide(np.array([[0.7, 0.3], [0.5, 0.5]]))
        ['no', 'yes']
        """
        out: list[Any] = self._outcomes[self._index(proba)].tolist()
        return out


def _argmax(proba: NDArray[np.float64]) -> NDArray[np.intp]:
    out: NDArray[np.intp] = proba.argmax(axis=1)
    return out


def _at_threshold(
    column: int, threshold: float
) -> Callable[[NDArray[np.float64]], NDArray[np.intp]]:
    def index(proba: NDArray[np.float64]) -> NDArray[np.intp]:
        # ThresholdPolicy.decide: the positive class when its probability >= threshold.
        return decide(proba[:, column], threshold).astype(np.intp)

    return index


def _column(classes: Sequence[Any], label: Any, what: str) -> int:
    for k, c in enumerate(classes):
        if c == label and type(c) is type(label):
            return k
    for k, c in enumerate(classes):
        if str(c) == str(label):
            return k
    msg = f"The policy's {what} label {label!r} is not a class of the model ({list(classes)!r})."
    raise ArtifactError(msg)


def make_rule(
    policy: dict[str, Any] | None, classes: Sequence[Any], positive: Any = None
) -> DecisionRule:
    """Build the decision rule for ``policy`` (a ``to_dict()``) on a model's classes.

    ``positive`` is the model's positive class when it was named at training (the
    artifact's ``positive_class``): a binary model without a policy decides it at 0.5,
    and a policy about the other class is refused (its decisions and the model's
    coefficients would speak of different classes).

    Raises
    ------
    ArtifactError
        The policy is malformed or names labels the model does not have.

    Examples
    --------
    >>> policy = ThresholdPolicy.fixed(0.2, positive="yes", negative="no").to_dict()
    >>> make_rule(policy, ["no", "yes"]).decide(np.array([[0.75, 0.25]]))
    ['yes']
    """
    labels = np.array(list(classes), dtype=object)
    binary = len(classes) == 2
    kind = None if policy is None else policy.get("type") if isinstance(policy, dict) else "?"
    if policy is not None and kind is None:
        msg = (
            "The policy has no 'type' (ThresholdPolicy, RiskBands or MulticlassPolicy), so "
            "it cannot be read; refusing it rather than deciding at a default threshold."
        )
        raise ArtifactError(msg)
    if kind is None:
        if binary:
            pos = 1 if positive is None else _column(classes, positive, "positive")
            outcomes = np.array([classes[1 - pos], classes[pos]], dtype=object)
            return DecisionRule(
                "threshold", 0.5, classes[pos], pos, None, outcomes, _at_threshold(pos, 0.5)
            )
        return DecisionRule("argmax", None, None, None, None, labels, _argmax)
    if kind == "ThresholdPolicy" and binary:
        tp = ThresholdPolicy.from_dict(policy)  # type: ignore[arg-type]
        pos = _column(classes, tp.positive, "positive")
        if positive is not None and pos != _column(classes, positive, "positive"):
            msg = (
                f"The policy decides {tp.positive!r}, but the model was trained with "
                f"{positive!r} as its positive class; choose the policy for {positive!r}."
            )
            raise ArtifactError(msg)
        outcomes = np.array([classes[1 - pos], classes[pos]], dtype=object)
        index = _at_threshold(pos, tp.threshold)
        return DecisionRule("threshold", tp.threshold, classes[pos], pos, policy, outcomes, index)
    if kind == "RiskBands" and binary:
        bands = RiskBands.from_dict(policy)  # type: ignore[arg-type]
        pos = _column(classes, bands.positive, "positive")
        names = np.array(list(bands.names), dtype=object)

        def band(proba: NDArray[np.float64]) -> NDArray[np.intp]:
            return bands.assign_index(proba[:, pos])

        return DecisionRule("bands", None, classes[pos], pos, policy, names, band)
    if kind == "MulticlassPolicy":
        mc = MulticlassPolicy.from_dict(policy)  # type: ignore[arg-type]
        if len(mc.classes) != len(classes):
            msg = (
                f"The policy decides among {len(mc.classes)} classes; the model has {len(classes)}."
            )
            raise ArtifactError(msg)
        order = np.array([_column(classes, c, "class") for c in mc.classes], dtype=np.intp)
        outcomes = np.array(list(mc.classes), dtype=object)

        def cheapest(proba: NDArray[np.float64]) -> NDArray[np.intp]:
            return mc.decide_index(proba[:, order])

        return DecisionRule("cost", None, None, None, policy, outcomes, cheapest)
    msg = (
        f"Cannot use a policy of type {kind!r} with a model of {len(classes)} classes; "
        "binary models take ThresholdPolicy or RiskBands, multiclass ones MulticlassPolicy."
    )
    raise ArtifactError(msg)
