"""The evidence pass's row vectors: one byte a class code, no weights stored while all are 1."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from logitkit._memory import release_pages
from logitkit.selection import HashKFold
from logitkit.workflow._evidence import EvidenceWriter, _memmap, block_evidence
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
    assert writer.labels().dtype == np.uint8  # integer classes 0 and 1: one byte a label


def test_unit_weights_read_as_a_view_of_ones():
    writer = EvidenceWriter(9, 2, np.array(["no", "yes"], dtype=object))
    for part in _blocks([np.ones(5), np.ones(4)]):
        writer.add(part)
    sw = writer.sw
    assert sw.shape == (9,)
    assert not sw.flags.writeable
    assert float(sw.sum()) == 9.0
    assert set(writer.labels()) <= {"no", "yes"}


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_row_vectors_hand_their_pages_back_and_keep_their_values():
    rows = _memmap(2_000_000, 2, np.float64)  # 32 MB on disk, column-major
    assert rows.flags.f_contiguous
    rows[:, 0], rows[:, 1] = 0.25, 0.75
    before = _resident_bytes()
    release_pages(rows)
    assert before - _resident_bytes() > 24e6  # the written pages no longer count
    assert rows[:, 1].sum() == 0.75 * 2_000_000  # read back from the file
    release_pages(np.ones(3))  # an array in memory is left alone


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_the_evidence_pass_hands_written_pages_back_as_it_goes():
    # 1,200,000 rows of 33 bytes (40 MB) written in blocks; the pages are handed back
    # every 2**20 rows, so at most about one such stretch stays resident.
    blocks = [np.ones(100_000)] * 12
    writer = EvidenceWriter(1_200_000, 2, np.array([0, 1]))
    parts = list(_blocks(blocks))
    before = _resident_bytes()
    for part in parts:
        writer.add(part)
    assert _resident_bytes() - before < 0.85 * 33 * 1_200_000
    fitted = np.concatenate([p.fitted for p in parts])
    assert np.array_equal(writer.fitted, fitted)  # the values stay in the file
    assert np.array_equal(writer.codes, np.concatenate([p.codes for p in parts]))
