"""The training-row fingerprint: its row hash is a stored format, and it finds its rows."""

from __future__ import annotations

import hashlib

import numpy as np

from logitkit.data.fingerprint import (
    _BLAKE2B,
    _HASH,
    _SEEDS,
    BloomBits,
    RowFingerprint,
    row_hashes,
)

MASK = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _by_hand(row: np.ndarray, seed: int) -> int:
    """The documented hash, in Python integers: folded bits on splitmix64 multipliers."""
    h = 0
    for j, value in enumerate(row):
        b = int(np.float64(value + 0.0).view(np.uint64))
        a = _splitmix64(((seed & 0xFFFFFFFF) << 32) + j) | 1
        h = (h + a * (b ^ (b >> 32))) & MASK
    return _splitmix64(h ^ seed)


def test_row_hash_is_the_documented_pair_of_multilinear_hashes():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(257, 7))
    X[::5, 2] = -0.0  # hashed as 0.0
    X[7] = [1.0, 2.0, 0.5, 0.0, 3.0, -1.0, 1e300]  # round numbers vary in every bit too
    got = row_hashes(np.asfortranarray(X))
    for i in (0, 5, 7, 100, 256):
        assert [int(v) for v in got[i]] == [_by_hand(X[i], seed) for seed in _SEEDS]
    assert _HASH.endswith(f"seeds {_SEEDS[0]:#x} and {_SEEDS[1]:#x}")


def test_a_filter_stored_with_the_earlier_hash_still_knows_its_rows():
    rng = np.random.default_rng(4)
    seen, new = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    bloom = BloomBits(300)
    bloom.add(row_hashes(seen, _BLAKE2B))  # as an artifact of an earlier version has it
    stored = {**bloom.fingerprint().to_dict(), "hash": _BLAKE2B}
    loaded = RowFingerprint.from_dict(stored)
    assert loaded is not None
    assert loaded.hash == _BLAKE2B
    assert loaded.contains(seen).all()
    assert loaded.contains(new).mean() < 0.01
    assert RowFingerprint.from_dict({**stored, "hash": "a hash from elsewhere"}) is None
    current = RowFingerprint.from_dict(RowFingerprint.of_rows(seen).to_dict())
    assert current is not None
    assert current.hash == _HASH
    assert current.contains(seen).all()


def test_row_hash_of_artifacts_before_is_blake2b_of_the_rows_little_endian_bytes():
    """Stored Bloom filters stay readable: their rows are hashed as they were written."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(257, 7))
    X[::5, 2] = -0.0  # hashed as 0.0
    got = row_hashes(np.asfortranarray(X), _BLAKE2B)
    for i in (0, 5, 100, 256):
        row = (X[i] + 0.0).astype("<f8").tobytes()
        expected = np.frombuffer(hashlib.blake2b(row, digest_size=16).digest(), dtype="<u8")
        np.testing.assert_array_equal(got[i], expected)


def test_row_hash_of_edge_shapes():
    assert row_hashes(np.zeros((0, 4))).shape == (0, 2)
    empty_rows = row_hashes(np.zeros((3, 0)))
    assert empty_rows.shape == (3, 2)
    assert (empty_rows == empty_rows[0]).all()
