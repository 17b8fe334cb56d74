"""The one sort of scored rows that the decision curve and the evaluation share."""

from __future__ import annotations

import numpy as np

from logitkit._ranks import score_groups


def test_score_groups_count_each_class_at_each_distinct_score():
    rng = np.random.default_rng(8)
    p = rng.choice([-0.0, 0.0, 1e-300, 0.25, 0.5, 0.5 + 1e-16, 1.0], size=5000)
    p[:2500] = rng.random(2500).round(3)
    y = rng.random(5000) < 0.4
    pos, neg, scores = score_groups(y, p, scores=True)
    values = np.unique(p + 0.0)  # -0.0 and 0.0 are one score
    assert scores is not None
    assert scores.tolist() == values.tolist()
    assert pos.tolist() == [int(np.sum(y & (p == v))) for v in values]
    assert neg.tolist() == [int(np.sum(~y & (p == v))) for v in values]
    assert pos.dtype == np.int32


def test_score_groups_of_no_rows_and_of_one_score():
    empty = score_groups(np.zeros(0, dtype=bool), np.zeros(0), scores=True)
    assert empty.pos.size == empty.neg.size == 0
    one = score_groups(np.array([True, False, True]), np.full(3, 0.5))
    assert (one.pos.tolist(), one.neg.tolist(), one.scores) == ([2], [1], None)
