"""MulticlassPolicy: decide one of K classes by argmax or by least expected cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit._validation import Label, check_classes, check_proba_matrix, plain_label
from logitkit.decision._rules import FORMAT_VERSION, check_header
from logitkit.exceptions import ArtifactError, DataError

__all__ = ["MulticlassPolicy"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, repr=False)
class MulticlassPolicy:
    """Decide one of K classes from an ``(n, K)`` probability matrix.

    With no cost matrix the decision is the most probable class; with ``cost[i][j]``, the
    cost of deciding class ``j`` when the truth is class ``i``, it is the class of least
    expected cost ``argmin_j sum_i proba[i] cost[i][j]`` (``proba @ cost``). Ties go to the
    class listed first in ``classes``.

    Attributes
    ----------
    classes : tuple
        Class labels, in the column order of the probability matrix.
    cost : tuple of tuple of float or None
        The ``K x K`` matrix ``cost[true][decided]``; ``None`` for argmax.

    Examples
    --------
    >>> policy = MulticlassPolicy.from_costs(
    ...     ["a", "b", "c"], [[0, 1, 1], [10, 0, 1], [1, 1, 0]]
    ... )
    >>> policy.decide([[0.6, 0.3, 0.1]]).tolist()  # missing "b" costs 10: decide "b"
    ['b']
    >>> MulticlassPolicy.argmax(["a", "b", "c"]).decide([[0.6, 0.3, 0.1]]).tolist()
    ['a']
    """

    classes: tuple[Label, ...]
    cost: tuple[tuple[float, ...], ...] | None = None

    @classmethod
    def argmax(cls, classes: Sequence[Label]) -> MulticlassPolicy:
        """Decide the most probable class.

        Examples
        --------
        >>> MulticlassPolicy.argmax([0, 1, 2]).decide([[0.2, 0.5, 0.3]]).tolist()
        [1]
        """
        return cls(check_classes(classes, "MulticlassPolicy.argmax"))

    @classmethod
    def from_costs(cls, classes: Sequence[Label], cost: ArrayLike) -> MulticlassPolicy:
        """Decide the class of least expected cost under ``cost[true][decided]``.

        Examples
        --------
        >>> MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]]).decide([[0.7, 0.3]]).tolist()
        [1]
        """
        where = "MulticlassPolicy.from_costs"
        labels = check_classes(classes, where)
        C = np.asarray(cost, dtype=np.float64)
        k = len(labels)
        if C.shape != (k, k) or not np.isfinite(C).all():
            msg = f"The 'cost' parameter of {where} must be a finite {k} x {k} matrix cost[true][decided]. Got shape {C.shape} instead."
            raise ValueError(msg)
        return cls(labels, tuple(tuple(float(v) for v in row) for row in C))

    @property
    def method(self) -> str:
        """``"argmax"`` or ``"cost"``."""
        return "argmax" if self.cost is None else "cost"

    def expected_costs(self, proba: ArrayLike) -> FloatArray:
        """Return the ``(n, K)`` expected cost of deciding each class (``proba @ cost``).

        For argmax this is the 0-1 loss ``1 - proba``.

        Examples
        --------
        >>> MulticlassPolicy.argmax([0, 1]).expected_costs([[0.25, 0.75]]).tolist()
        [[0.75, 0.25]]
        """
        P = check_proba_matrix(proba, len(self.classes), "MulticlassPolicy")
        C = 1.0 - np.eye(len(self.classes)) if self.cost is None else np.asarray(self.cost)
        out: FloatArray = P @ C
        return out

    def decide_index(self, proba: ArrayLike) -> NDArray[np.intp]:
        """Return the column index of the decided class for each row.

        Examples
        --------
        >>> MulticlassPolicy.argmax(["x", "y"]).decide_index([[0.1, 0.9]]).tolist()
        [1]
        """
        if self.cost is None:
            # The most probable class directly: 1 - proba rounds near-equal
            # probabilities together and would hand the tie to the wrong class.
            P = check_proba_matrix(proba, len(self.classes), "MulticlassPolicy")
            best: NDArray[np.intp] = np.argmax(P, axis=1)
            return best
        out: NDArray[np.intp] = np.argmin(self.expected_costs(proba), axis=1)
        return out

    def decide(self, proba: ArrayLike) -> NDArray[Any]:
        """Return the decided class label for each row.

        Examples
        --------
        >>> MulticlassPolicy.argmax(["x", "y"]).decide([[0.1, 0.9], [0.5, 0.5]]).tolist()
        ['y', 'x']
        """
        return np.asarray(self.classes)[self.decide_index(proba)]

    def mean_cost(self, y_true: ArrayLike, proba: ArrayLike) -> float:
        """Return the realised mean cost of the decisions against true labels.

        For argmax it is the error rate.

        Examples
        --------
        >>> policy = MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]])
        >>> policy.mean_cost([1, 0], [[0.9, 0.1], [0.4, 0.6]])
        2.5
        """
        y = np.asarray(y_true)
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            true = np.array([index[plain_label(v, "y_true", "MulticlassPolicy")] for v in y])
        except KeyError as exc:
            msg = f"y_true passed to MulticlassPolicy.mean_cost has label {exc} not in classes {list(self.classes)!r}."
            raise DataError(msg, column="y_true") from exc
        decided = self.decide_index(proba)
        if true.shape != decided.shape:
            msg = f"y_true and proba passed to MulticlassPolicy.mean_cost differ in length: {true.size} and {decided.size}."
            raise DataError(msg, column="proba")
        C = 1.0 - np.eye(len(self.classes)) if self.cost is None else np.asarray(self.cost)
        return float(C[true, decided].mean())

    def __repr__(self) -> str:
        return f"MulticlassPolicy(classes={self.classes!r}, method={self.method!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds the identical policy.

        Examples
        --------
        >>> policy = MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]])
        >>> MulticlassPolicy.from_dict(policy.to_dict()) == policy
        True
        """
        return {
            "type": "MulticlassPolicy",
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "cost": None if self.cost is None else [list(r) for r in self.cost],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassPolicy:
        """Rebuild a policy from :meth:`to_dict` output.

        Examples
        --------
        >>> MulticlassPolicy.from_dict(MulticlassPolicy.argmax([0, 1, 2]).to_dict()).method
        'argmax'
        """
        check_header(data, "MulticlassPolicy")
        try:
            if data["cost"] is None:
                return cls.argmax(data["classes"])
            return cls.from_costs(data["classes"], data["cost"])
        except (KeyError, TypeError) as exc:
            msg = f"Not a valid MulticlassPolicy dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc
