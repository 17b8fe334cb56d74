"""The training-row fingerprint: its row hash is a stored format, and it finds its rows."""

from __future__ import annotations

import hashlib

import numpy as np

from logitkit.data.fingerprint import row_hashes


def test_row_hash_is_blake2b_of_the_rows_little_endian_bytes():
    """Stored Bloom filters stay readable: the hash of a row is fixed by the format."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(257, 7))
    X[::5, 2] = -0.0  # hashed as 0.0
    got = row_hashes(np.asfortranarray(X))
    for i in (0, 5, 100, 256):
        row = (X[i] + 0.0).astype("<f8").tobytes()
        expected = np.frombuffer(hashlib.blake2b(row, digest_size=16).digest(), dtype="<u8")
        np.testing.assert_array_equal(got[i], expected)


def test_row_hash_of_edge_shapes():
    assert row_hashes(np.zeros((0, 4))).shape == (0, 2)
    empty_rows = row_hashes(np.zeros((3, 0)))
    assert empty_rows.shape == (3, 2)
    assert (empty_rows == empty_rows[0]).all()
