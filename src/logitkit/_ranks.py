"""One sort of scored rows: the positives and negatives at each distinct score.

The decision curve (every operating point of a threshold policy) and the evaluation
(ROC-AUC with its DeLong interval, average precision, the ROC and precision-recall
curves) all rest on the same grouping of the rows by distinct probability, in order.
:func:`score_groups` makes it once for each, with one in-place integer sort, so that it
stays cheap on the tens of millions of out-of-fold rows of a run at scale.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from logitkit._memory import STEP_ROWS, release_pages

__all__ = ["ScoreGroups", "score_groups"]


class ScoreGroups(NamedTuple):
    """The rows grouped by distinct score, in ascending score order.

    Attributes
    ----------
    pos, neg : ndarray of int
        Positive and negative rows at each score (4-byte counts below ``2**31`` rows).
    scores : ndarray of float or None
        The distinct scores, when asked for.
    """

    pos: NDArray[Any]
    neg: NDArray[Any]
    scores: NDArray[np.float64] | None


def score_groups(
    y: NDArray[np.bool_], p: NDArray[np.float64], *, scores: bool = False
) -> ScoreGroups:
    """Group the rows by distinct score ``p`` (probabilities in [0, 1]): the positives
    (``y`` true) and negatives at each, in ascending score order.

    It sorts one integer key a row in place: a probability's bits read as an integer
    order as the probability does (the non-negative floats; ``-0.0`` is made ``0.0``),
    and the lowest bit, free below ``2**62``, carries the row's class. The peak is about
    17 bytes a row (25 with ``scores``). The pages of ``p``, when it is mapped from a
    file (a run's row vectors at scale), are handed back once the keys hold it.

    Examples
    --------
    >>> import numpy as np
    >>> g = score_groups(np.array([True, False, True, True]), np.array([0.7, 0.2, 0.7, 0.2]),
    ...                  scores=True)
    >>> g.pos.tolist(), g.neg.tolist(), g.scores.tolist()
    ([1, 2], [1, 0], [0.2, 0.7])
    """
    keys = np.add(p, 0.0, dtype=np.float64).view(np.int64)  # a copy; -0.0 + 0.0 is 0.0
    release_pages(p)
    np.left_shift(keys, 1, out=keys)
    np.bitwise_or(keys, y, out=keys, casting="unsafe")
    keys.sort()  # equal keys are equal rows: no stable order needed
    n = keys.size
    count = np.int32 if n < 2**31 else np.int64
    if not n:
        empty = np.zeros(0, dtype=count)
        return ScoreGroups(empty, empty.copy(), np.zeros(0) if scores else None)
    starts, classes = [], np.empty(n, dtype=np.uint8)
    # In steps, through buffers made once: the shifts and comparisons are row-sized.
    score = np.empty(min(n, STEP_ROWS) + 1, dtype=np.int64)
    new = np.empty(min(n, STEP_ROWS), dtype=bool)
    for i in range(0, n, STEP_ROWS):
        part = keys[i : i + STEP_ROWS]
        m = part.size
        score[0] = keys[i - 1] >> 1 if i else -1  # the score before the step (none: -1)
        np.right_shift(part, 1, out=score[1 : m + 1])
        np.not_equal(score[1 : m + 1], score[:m], out=new[:m])
        found = np.flatnonzero(new[:m])
        found += i
        starts.append(found)
        np.bitwise_and(part, 1, out=classes[i : i + m], casting="unsafe")
    del score, new
    at = np.concatenate(starts)
    del starts
    values = None
    if scores:  # each group's score: its first key without the class bit
        first = keys[at]
        del keys
        np.right_shift(first, 1, out=first)
        values = first.view(np.float64)
    else:
        del keys
    pos: NDArray[Any] = np.add.reduceat(classes, at, dtype=count)
    del classes
    neg: NDArray[Any] = np.empty(at.size, dtype=count)  # each group's rows, then less pos
    np.subtract(at[1:], at[:-1], out=neg[:-1], casting="unsafe")
    neg[-1] = n - at[-1]
    np.subtract(neg, pos, out=neg)
    return ScoreGroups(pos, neg, values)
