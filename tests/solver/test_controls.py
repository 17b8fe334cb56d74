"""Solver pieces behind bounds, penalty factors and offsets, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from logitkit import LogisticModel
from logitkit._offset import OffsetSource
from logitkit.data.memory import ArraySource
from logitkit.solver import Problem, Scaling, StopReason, solve
from logitkit.solver.objective import Objective, box_violation, coordinate_minimum
from logitkit.solver.prox_newton import coordinate_descent
from logitkit.solver.statistics import Chunk, chunk_statistics

INF = np.inf


def test_coordinate_minimum_is_the_bounded_soft_threshold() -> None:
    grid = np.linspace(-3, 3, 60001)
    for z, shrink, low, high in [
        (1.5, 0.5, -INF, INF),
        (0.2, 0.5, -INF, INF),
        (2.0, 0.5, -INF, 1.0),
        (-2.0, 0.0, -0.5, INF),
        (0.3, 0.1, 0.5, 2.0),
    ]:
        inside = grid[(grid >= low) & (grid <= high)]
        brute = inside[np.argmin((inside - z) ** 2 / 2 + shrink * np.abs(inside))]
        assert coordinate_minimum(z, shrink, low, high) == pytest.approx(brute, abs=1e-4)


def test_box_violation_is_the_projected_gradient() -> None:
    free = np.ones(4, dtype=bool)
    lower = np.array([0.0, -INF, -1.0, 2.0])
    upper = np.array([INF, 0.0, 1.0, 2.0])
    theta = np.array([0.0, 0.0, 0.5, 2.0])
    levels = np.zeros(4)
    # At a lower bound only a negative gradient (the function falls upwards) violates.
    assert box_violation(np.array([0.3, 0, 0, 0.0]), theta, levels, lower, upper, free) == 0.0
    assert box_violation(np.array([-0.3, 0, 0, 0.0]), theta, levels, lower, upper, free) == 0.3
    # At an upper bound only a positive one; inside, any; where the bounds meet, none.
    assert box_violation(np.array([0, -0.2, 0, 0.0]), theta, levels, lower, upper, free) == 0.0
    assert box_violation(np.array([0, 0.2, 0, 0.0]), theta, levels, lower, upper, free) == 0.2
    assert box_violation(np.array([0, 0, -0.1, 9.0]), theta, levels, lower, upper, free) == 0.1
    # An L1 level below the gradient holds a zero coefficient without violation.
    levels = np.array([0.0, 0.0, 0.0, 0.0])
    theta0 = np.zeros(4)
    g = np.array([0.0, 0.0, 0.05, 0.0])
    none = np.full(4, -INF), np.full(4, INF)
    assert box_violation(g, theta0, levels + 0.1, *none, free) == 0.0
    assert box_violation(g, theta0, levels + 0.01, *none, free) == pytest.approx(0.04)


@pytest.mark.parametrize("seed", range(5))
def test_coordinate_descent_solves_the_bounded_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(8, 5))
    H = A.T @ A + 1e-3 * np.eye(5)
    g = rng.normal(size=5) * 3
    theta = np.zeros(5)
    levels = np.abs(rng.normal(size=5)) * np.array([1, 0, 1, 1, 0])
    lower = np.array([-0.5, -INF, 0.0, -INF, -1.0])
    upper = np.array([INF, 0.3, INF, 0.0, 1.0])
    on = np.ones(5, dtype=bool)
    u, _ = coordinate_descent(H, g, theta, levels, on, on, 1e-12, lower=lower, upper=upper)

    def model(v: np.ndarray) -> float:
        return float(g @ v + v @ H @ v / 2 + levels @ np.abs(v))

    # Split each coordinate into positive and negative parts for a smooth reference.
    def split(w: np.ndarray) -> tuple[float, np.ndarray]:
        v = w[:5] - w[5:]
        grad = g + H @ v
        return float(g @ v + v @ H @ v / 2 + levels @ (w[:5] + w[5:])), np.r_[
            grad + levels, -grad + levels
        ]

    bounds = [(0, max(h, 0) if np.isfinite(h) else None) for h in upper] + [
        (0, max(-lo, 0) if np.isfinite(lo) else None) for lo in lower
    ]
    ref = minimize(
        split,
        np.zeros(10),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"gtol": 1e-14, "ftol": 0, "maxiter": 10000},
    )
    v = ref.x[:5] - ref.x[5:]
    assert model(u) <= model(v) + 1e-10
    np.testing.assert_allclose(u, v, atol=1e-6)
    assert ((u >= lower) & (u <= upper)).all()
    assert box_violation(g + H @ u, u, levels, lower, upper, np.ones(5, dtype=bool)) <= 1e-10


def _problem(source: ArraySource, scaling: Scaling, **controls: object) -> Problem:
    return Problem(
        source=source,
        scaling=scaling,
        n_outputs=1,
        C=np.inf,
        l1_ratio=0.0,
        fit_intercept=True,
        fixed_features=np.zeros(scaling.mean.shape[0], dtype=bool),
        total_weight=float(source.w.sum()),
        n_rows=int(source.X.shape[0]),
        **controls,  # type: ignore[arg-type]
    )


def test_offset_enters_every_pass_alike() -> None:
    """The small in-memory path and the chunked path see the same offset."""
    rng = np.random.default_rng(0)
    n, p = 3000, 4
    X = rng.normal(size=(n, p))
    offset = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [1, -1, 0.5, 0] + offset)))).astype(np.intp)
    w = np.ones(n)
    scaling = Scaling(X.mean(axis=0), X.std(axis=0))
    one = OffsetSource(ArraySource(X, y, w, w, 1), offset)
    blocks = OffsetSource(
        ArraySource(X, y, w, w, 1, blocks=[slice(0, 1000), slice(1000, 2200), slice(2200, n)]),
        offset,
    )
    theta = rng.normal(size=p + 1)
    small = Objective(_problem(one, scaling)).at(theta, hessian="full")
    chunked = Objective(_problem(blocks, scaling)).at(theta, hessian="full")
    np.testing.assert_allclose(small.grad, chunked.grad, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(small.hess, chunked.hess, rtol=1e-10, atol=1e-14)
    # Against the statistics of a chunk whose offset is folded into the intercept.
    direct = chunk_statistics(Chunk(X, y, w, w, offset), theta[None, :], scaling, hessian=False)
    assert small.smooth == pytest.approx(direct.loss / n, rel=1e-12)
    fit_small = solve(_problem(one, scaling), np.zeros(p + 1), tol=1e-11)
    fit_chunked = solve(_problem(blocks, scaling), np.zeros(p + 1), tol=1e-11)
    np.testing.assert_allclose(fit_small.theta, fit_chunked.theta, rtol=1e-8, atol=1e-10)


def test_bounded_solution_meets_projected_kkt_and_bounds() -> None:
    rng = np.random.default_rng(1)
    n, p = 500, 5
    X = rng.normal(size=(n, p))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [2, -1, 1, 0.5, -2])))).astype(np.intp)
    w = np.ones(n)
    scaling = Scaling(X.mean(axis=0), X.std(axis=0))
    lower = np.array([-INF, 0.0, -INF, -INF, -0.3])
    upper = np.array([0.5, INF, 0.0, INF, INF])
    problem = _problem(ArraySource(X, y, w, w, 1), scaling, lower_bounds=lower, upper_bounds=upper)
    result = solve(problem, np.zeros(p + 1), tol=1e-10)
    assert result.converged
    assert result.method == "prox-newton"
    coef = result.theta[0, 1:] / scaling.scale
    assert ((coef >= lower - 1e-12) & (coef <= upper + 1e-12)).all()
    # Each of the five bounds binds here, so the gradient there is non-zero.
    objective = Objective(problem)
    point = objective.at(result.theta.ravel())
    assert np.abs(point.grad[1:]).max() > 1e-3
    assert objective.kkt_violation(point) <= 1e-10


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """All 569 breast-cancer rows, standardised: nearly separable under a weak L1."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("C", [1e2, 1e3, 1e4])
def test_unit_penalty_factors_take_the_unweighted_path(cancer, C: float) -> None:
    # Factors of one state the same problem as none, so the model solve must be the
    # same too: same coefficients, same outer steps, and a few sweeps per step (the
    # weak penalty makes the Hessians ill-conditioned, so a cycling face step shows).
    X, y = cancer
    plain = LogisticModel(penalty="l1", C=C).fit(X, y)
    ones = LogisticModel(penalty="l1", C=C, penalty_factor=np.ones(X.shape[1])).fit(X, y)
    np.testing.assert_allclose(ones.coef_, plain.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ones.intercept_, plain.intercept_, rtol=0, atol=1e-10)
    result = ones.solver_result_
    assert result.convergence.reason is StopReason.KKT
    assert abs(result.n_iter - plain.solver_result_.n_iter) <= 1
    assert result.n_iter <= result.n_sweeps <= 3 * result.n_iter


def test_bounded_weak_l1_fit_is_exact_in_few_sweeps(cancer) -> None:
    # Forbid the sign that the most negative coefficient takes without bounds: the
    # bound binds, and the model solves must settle the bound and the support together.
    X, y = cancer
    n, p = X.shape
    C = 1e4
    k = int(np.argmin(LogisticModel(penalty="l1", C=C).fit(X, y).coef_[0]))
    lower = np.full(p, -INF)
    lower[k] = 0.0
    model = LogisticModel(penalty="l1", C=C, lower_bounds=lower).fit(X, y)
    result = model.solver_result_
    assert result.convergence.reason is StopReason.KKT
    assert result.kkt <= 1e-10
    assert result.n_iter <= result.n_sweeps <= 3 * result.n_iter
    assert result.n_iter <= 30
    # Optimality recomputed from the coefficients alone, on the standardised scale.
    coef = model.coef_[0]
    assert coef[k] == 0.0
    assert (coef >= lower).all()
    scale = X.std(axis=0)
    z = X @ coef + model.intercept_[0]
    grad = X.T @ (expit(z) - y) / n / scale
    level = 1.0 / (C * n)
    # The bound holds coefficient k at zero against a gradient far above the L1 level.
    assert grad[k] > 100 * level
    others = np.arange(p) != k
    viol = box_violation(
        grad[others],
        coef[others] * scale[others],
        np.full(p - 1, level),
        None,
        None,
        np.ones(p - 1, dtype=bool),
    )
    assert viol <= 1e-9
