"""The statistics pass: analytic derivatives against finite differences, chunking, folding."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import approx_fprime

import logitkit.solver.statistics as statistics_module
from logitkit.data.memory import ArraySource
from logitkit.solver.loss import binomial_loss, log1pexp, multinomial_loss, sigmoid, softmax
from logitkit.solver.moments import feature_moments
from logitkit.solver.statistics import (
    Chunk,
    Scaling,
    block_statistics,
    chunk_statistics,
    standardised_block,
)
from tests.helpers import make_logistic


def _chunk(n_classes: int, sparse: bool = False, seed: int = 0) -> tuple[Chunk, Scaling]:
    X, y = make_logistic(n=80, p=4, n_classes=n_classes, seed=seed, scale_spread=1.0)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, len(y))
    scaling = Scaling(X.mean(axis=0), X.std(axis=0))
    Xm = sp.csr_matrix(X) if sparse else X
    return Chunk(Xm, y.astype(np.intp), w, w), scaling


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_and_hessian_match_finite_differences(n_classes, sparse):
    chunk, scaling = _chunk(n_classes, sparse)
    M = 1 if n_classes == 2 else n_classes
    theta = np.random.default_rng(1).normal(size=(M, 5)) * 0.3

    def loss(flat: np.ndarray) -> float:
        return chunk_statistics(chunk, flat.reshape(M, 5), scaling, hessian=False).loss

    def grad(flat: np.ndarray) -> np.ndarray:
        return chunk_statistics(chunk, flat.reshape(M, 5), scaling, hessian=False).grad.ravel()

    stats = chunk_statistics(chunk, theta, scaling, hessian=True)
    eps = 1e-6
    np.testing.assert_allclose(
        stats.grad.ravel(), approx_fprime(theta.ravel(), loss, eps), rtol=1e-5, atol=1e-5
    )
    numeric_hess = np.array(
        [approx_fprime(theta.ravel(), lambda t, i=i: grad(t)[i], eps) for i in range(theta.size)]
    )
    np.testing.assert_allclose(stats.hess, numeric_hess, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.hess, stats.hess.T, atol=1e-12)


def test_dense_hessian_pass_equals_folded_gradient_pass():
    chunk, scaling = _chunk(2)
    theta = np.array([[0.2, 0.5, -0.3, 0.1, 0.0]])
    with_h = chunk_statistics(chunk, theta, scaling, hessian=True)
    without = chunk_statistics(chunk, theta, scaling, hessian=False)
    np.testing.assert_allclose(with_h.grad, without.grad, rtol=1e-12, atol=1e-12)
    assert with_h.loss == pytest.approx(without.loss, rel=1e-14)


def test_chunked_pass_equals_single_pass():
    X, y = make_logistic(n=1000, p=3, seed=2)
    w = np.ones(len(y))
    scaling = Scaling(X.mean(axis=0), X.std(axis=0))
    theta = np.array([[0.1, 0.4, -0.2, 0.3]])
    whole = ArraySource(X, y.astype(np.intp), w, w, 1)
    blocks = ArraySource(
        X, y.astype(np.intp), w, w, 1, [slice(i, i + 97) for i in range(0, 1000, 97)]
    )

    def fn(c: Chunk):
        return chunk_statistics(c, theta, scaling, hessian=True)

    a, b = whole.map_reduce(fn), blocks.map_reduce(fn)
    assert a.loss == pytest.approx(b.loss, rel=1e-13)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(a.hess, b.hess, rtol=1e-12, atol=1e-10)


def test_moments_merge_is_stable_for_large_offsets():
    rng = np.random.default_rng(0)
    X = 1e9 + rng.standard_normal((5000, 2))
    y = np.zeros(5000, dtype=np.intp)
    w = np.ones(5000)
    source = ArraySource(X, y, w, w, 1, [slice(i, i + 333) for i in range(0, 5000, 333)])
    moments = feature_moments(source, 2)
    np.testing.assert_allclose(moments.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(moments.variance(), X.var(axis=0), rtol=1e-6)


def test_losses_are_finite_at_extreme_linear_predictors():
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    assert np.all(np.isfinite(log1pexp(z)))
    assert log1pexp(np.array([800.0]))[0] == 800.0
    np.testing.assert_array_equal(sigmoid(np.array([-800.0, 800.0])), [0.0, 1.0])
    assert np.all(np.isfinite(binomial_loss(z, np.array([1.0, 0, 1, 0, 1]))))
    Z = np.array([[800.0, -800.0, 0.0], [-1000.0, 1000.0, 0.0]])
    loss = multinomial_loss(Z, np.array([0, 0]))
    np.testing.assert_allclose(loss, [0.0, 2000.0])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("columns", [None, np.array([0, 2, 3])])
def test_row_blocked_dense_hessian_equals_the_standardised_product(n_classes, columns, monkeypatch):
    # Blocks of a few rows, so that the sum over blocks (and the buffer reuse) is exercised;
    # the reference forms [1, X_s] explicitly and weights all rows at once.
    monkeypatch.setattr(statistics_module, "_GRAM_BLOCK_VALUES", 12)
    monkeypatch.setattr(statistics_module, "_GRAM_ROWS_PER_COLUMN", 1)
    chunk, scaling = _chunk(n_classes, seed=4)
    M = 1 if n_classes == 2 else n_classes
    theta = np.random.default_rng(2).normal(size=(M, 5)) * 0.4
    blocked = chunk_statistics(chunk, theta, scaling, hessian=True, columns=columns)
    Xa = standardised_block(chunk.X, scaling)
    y = chunk.y.astype(np.float64) if M == 1 else chunk.y
    whole = block_statistics(Xa, y, chunk.w, theta, hessian=True, columns=columns)
    np.testing.assert_allclose(blocked.hess, whole.hess, rtol=1e-12, atol=1e-10)
    np.testing.assert_array_equal(blocked.hess, blocked.hess.T)


def test_in_place_softmax_equals_the_copying_one():
    Z = np.random.default_rng(3).normal(size=(50, 7)) * 30
    P, lse = softmax(Z)
    Z_in = Z.copy()
    P_in, lse_in = softmax(Z_in, overwrite=True)
    assert P_in is Z_in
    np.testing.assert_array_equal(P_in, P)
    np.testing.assert_array_equal(lse_in, lse)


@pytest.mark.parametrize("unit_weights", [True, False])
def test_multinomial_gradient_is_the_standardised_residual_product(unit_weights):
    # The gradient pass computes its residuals in the linear predictor's memory (and skips
    # unit weights); the reference is X_s^T W (P - Y) written out, and the Hessian pass,
    # which keeps P.
    chunk, scaling = _chunk(4, seed=6)
    if unit_weights:
        chunk = Chunk(chunk.X, chunk.y, np.ones(len(chunk.y)), np.ones(len(chunk.y)))
    theta = np.random.default_rng(5).normal(size=(4, 5)) * 0.5
    stats = chunk_statistics(chunk, theta, scaling, hessian=False)
    Xa = standardised_block(chunk.X, scaling)
    Z = Xa @ theta.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(4)[chunk.y]
    np.testing.assert_allclose(
        stats.grad, ((P - Y) * chunk.w[:, None]).T @ Xa, rtol=1e-12, atol=1e-12
    )
    loss = -float(chunk.w @ np.log(P[np.arange(len(chunk.y)), chunk.y]))
    assert stats.loss == pytest.approx(loss, rel=1e-13)
    with_hessian = chunk_statistics(chunk, theta, scaling, hessian=True)
    np.testing.assert_array_equal(with_hessian.grad, stats.grad)
    assert with_hessian.loss == stats.loss
