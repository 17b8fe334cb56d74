"""The evidence pass's row vectors: one byte a class code, no weights stored while all are 1."""

from __future__ import annotations

import numpy as np

from logitkit.selection import HashKFold
from logitkit.workflow._evidence import EvidenceWriter, block_evidence
from logitkit.workflow._hash_search import FoldModels


def _blocks(weights: list[np.ndarray]):
    rng = np.random.default_rng(2)
    folds = FoldModels(HashKFold(3), rng.normal(size=(3, 1, 2)), rng.normal(size=(3, 1)))
    for sw in weights:
        X = rng.normal(size=(sw.size, 2))
        codes = rng.integers(0, 2, sw.size).astype(np.intp)
        yield block_evidence(
            X,
            codes,
            sw,
            folds=folds,
            coef=np.array([[0.5, -0.2]]),
            intercept=np.array([0.1]),
            edges=[np.array([0.0]), np.array([0.0])],
            score_edges=None,
            positive=1,
        )


def test_weights_are_stored_from_the_first_block_that_is_not_all_ones():
    weights = [np.ones(5), np.ones(4), np.array([2.0, 1.0, 0.5]), np.ones(2)]
    writer = EvidenceWriter(14, 2, np.array([0, 1]))
    parts = list(_blocks(weights))
    for part in parts[:2]:
        writer.add(part)
    assert writer._sw is None  # nothing stored for unit weights
    assert np.array_equal(writer.sw, np.ones(9))
    for part in parts[2:]:
        writer.add(part)
    assert np.array_equal(writer.sw, np.concatenate(weights))
    assert writer.codes.dtype == np.int8
    assert np.array_equal(writer.codes, np.concatenate([p.codes for p in parts]))
    assert np.array_equal(writer.labels(), np.concatenate([p.codes for p in parts]))


def test_unit_weights_read_as_a_view_of_ones():
    writer = EvidenceWriter(9, 2, np.array(["no", "yes"], dtype=object))
    for part in _blocks([np.ones(5), np.ones(4)]):
        writer.add(part)
    sw = writer.sw
    assert sw.shape == (9,)
    assert not sw.flags.writeable
    assert float(sw.sum()) == 9.0
    assert set(writer.labels()) <= {"no", "yes"}
