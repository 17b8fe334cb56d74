"""The exact line search on small data: right derivatives, right minimum, fewer Hessians."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer

import logitkit.solver.objective as objective_module
from logitkit import LogisticModel
from logitkit.solver.line_search import MAX_STEP, loss_derivatives_along, minimise_along
from logitkit.solver.loss import binomial_loss, multinomial_loss
from tests.helpers import make_logistic


def _loss_along(Z, D, y, w, t):
    if Z.shape[1] == 1:
        return float(w @ binomial_loss(Z[:, 0] + t * D[:, 0], y.astype(float)))
    return float(w @ multinomial_loss(Z + t * D, y))


@pytest.mark.parametrize("classes", [2, 4])
def test_derivatives_along_the_line_match_finite_differences(classes):
    rng = np.random.default_rng(3)
    n, M = 300, 1 if classes == 2 else classes
    Z, D = rng.normal(size=(n, M)), rng.normal(size=(n, M))
    y = rng.integers(0, classes, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    derivatives = loss_derivatives_along(Z, D, y, w)
    for t in (0.0, 0.7, 2.5):
        h = 1e-5
        first, second = derivatives(t)
        numeric_first = (_loss_along(Z, D, y, w, t + h) - _loss_along(Z, D, y, w, t - h)) / (2 * h)
        numeric_second = (derivatives(t + h)[0] - derivatives(t - h)[0]) / (2 * h)
        assert first == pytest.approx(numeric_first, rel=1e-6)
        assert second == pytest.approx(numeric_second, rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    # Minima from a tenth of the Newton step to three times the longest step allowed.
    centre=st.floats(0.1, 30.0),
    curvature=st.floats(0.01, 100.0),
    quartic=st.floats(0.0, 10.0),
)
def test_minimise_along_finds_the_minimum_of_a_convex_function(centre, curvature, quartic):
    # phi(t) = curvature/2 (t - c)^2 + quartic/4 (t - c)^4: minimum at c.
    def phi(t: float) -> float:
        u = t - centre
        return curvature * u**2 / 2 + quartic * u**4 / 4

    def derivatives(t: float) -> tuple[float, float]:
        u = t - centre
        return curvature * u + quartic * u**3, curvature + 3 * quartic * u**2

    t = minimise_along(derivatives, derivatives(0.0)[0])
    assert 0.0 < t <= MAX_STEP
    # Never worse than the full step, and most of the way to the minimum.
    best = phi(min(centre, MAX_STEP))
    assert phi(t) <= phi(1.0) + 1e-12
    assert phi(t) - best <= 0.05 * (phi(0.0) - best) + 1e-12
    if quartic == 0.0 and centre < MAX_STEP:
        # A quadratic: exact after one Newton step, unless the full step already brought
        # the slope within 1% of its start (the search then stops at t = 1).
        if abs(derivatives(1.0)[0]) <= 1e-2 * abs(derivatives(0.0)[0]):
            assert t == 1.0
        else:
            assert t == pytest.approx(centre, rel=1e-9)


def test_minimise_along_takes_the_full_step_on_a_quadratic_newton_model():
    calls = []

    def derivatives(t: float) -> tuple[float, float]:
        calls.append(t)
        return 2.0 * (t - 1.0), 2.0

    assert minimise_along(derivatives, -2.0) == 1.0
    assert calls == [1.0]


def test_minimise_along_does_nothing_for_an_ascent_direction():
    assert minimise_along(lambda t: (1.0, 1.0), 0.5) == 1.0


@pytest.mark.parametrize(
    ("penalty", "C", "classes"), [("l2", 1.0, 2), ("l2", 100.0, 2), (None, 1.0, 2), ("l2", 1.0, 3)]
)
def test_the_exact_search_changes_the_path_not_the_answer(penalty, C, classes, monkeypatch):
    X, y = make_logistic(n=2_000, p=12, n_classes=classes, seed=11)
    searched = LogisticModel(penalty=penalty, C=C, tol=1e-10).fit(X, y)
    monkeypatch.setattr(objective_module.Objective, "line_minimum", lambda *_: 1.0)
    full_steps = LogisticModel(penalty=penalty, C=C, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(searched.coef_, full_steps.coef_, rtol=1e-7, atol=1e-9)
    assert searched.solver_result_.n_iter <= full_steps.solver_result_.n_iter


def test_the_exact_search_saves_newton_steps_on_the_breast_cancer_data(monkeypatch):
    X, y = load_breast_cancer(return_X_y=True)
    searched = LogisticModel(C=1.0).fit(X, y).solver_result_
    monkeypatch.setattr(objective_module.Objective, "line_minimum", lambda *_: 1.0)
    full_steps = LogisticModel(C=1.0).fit(X, y).solver_result_
    assert searched.n_iter <= full_steps.n_iter - 2, (searched.n_iter, full_steps.n_iter)


@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_small_fits_end_with_the_exact_hessian_at_the_solution(C):
    # The quadratic phase reuses one Hessian for a step; the solution still carries its own.
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticModel(C=C).fit(X, y)
    result = model.solver_result_
    Xa = np.column_stack([np.ones(len(X)), (X - model.feature_mean_) / model.feature_scale_])
    prob = 1.0 / (1.0 + np.exp(-(Xa @ result.theta[0])))
    exact = Xa.T @ (Xa * (prob * (1.0 - prob))[:, None])
    np.testing.assert_allclose(result.stats.hess, exact, rtol=1e-9, atol=1e-9)
    assert result.kkt <= 1e-8
