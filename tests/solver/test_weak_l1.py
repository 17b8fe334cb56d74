"""A weak L1 penalty on nearly separable data: the exact optimum, at a bounded cost.

On the breast-cancer training rows a weak penalty leaves large coefficients and most
fitted probabilities near 0 or 1, so the working-set Hessians are ill-conditioned
(condition numbers near 1e5 and above). Coordinate descent alone then needs thousands of
sweeps per model solve; the face Newton step makes it a few. The objective is checked
against glum's (``tests/reference/weak_l1.json``, made by
``tests/reference/make_weak_l1.py``), recomputed here from the coefficients.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from logitkit import LogisticModel, LogisticModelCV
from logitkit.solver import StopReason
from logitkit.solver.objective import box_violation
from logitkit.solver.prox_newton import coordinate_descent

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "reference" / "weak_l1.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    return X_train, y_train


def objective(model: LogisticModel, X: np.ndarray, y: np.ndarray) -> float:
    """The normalised L1 objective on the standardised scale, from the fitted model."""
    scale = StandardScaler().fit(X).scale_
    z = X @ model.coef_[0] + model.intercept_[0]
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return float(loss + np.abs(model.coef_[0] * scale).sum() / (model.C * y.size))


@pytest.mark.parametrize("fit", REFERENCE["fits"], ids=lambda f: f"C={f['C']:g}")
def test_weak_l1_reaches_the_reference_optimum_in_few_sweeps(rows, fit):
    X, y = rows
    assert y.size == REFERENCE["n_rows"]
    model = LogisticModel(penalty="l1", C=fit["C"]).fit(X, y)
    result = model.solver_result_
    assert result.convergence.reason is StopReason.KKT
    assert result.kkt <= 1e-10
    assert objective(model, X, y) == pytest.approx(fit["objective"], rel=1e-8)
    # Never worse than the reference beyond rounding.
    assert objective(model, X, y) <= fit["objective"] * (1.0 + 1e-12)
    # The cost, in counts: coordinate descent alone spent about 10,000 sweeps per model
    # solve here (162,035 over 16 at C=100), and 24-37 outer steps at C=1000.
    assert result.n_sweeps <= 3 * result.n_iter
    assert result.n_iter <= 35


def test_the_model_solve_is_exact_on_an_ill_conditioned_hessian(rows):
    # A proximal-Newton model halfway to the C=1e4 optimum: most probabilities are
    # already near 0 or 1, and the support must change on the way to the model's minimum.
    X, y = rows
    model = LogisticModel(penalty="l1", C=1e4).fit(X, y)
    Xa = np.column_stack([np.ones(y.size), StandardScaler().fit_transform(X)])
    theta = 0.5 * model.solver_result_.theta[0]
    p = expit(Xa @ theta)
    H = Xa.T @ (Xa * (p * (1.0 - p))[:, None]) / y.size
    g = Xa.T @ (p - y) / y.size
    assert np.linalg.cond(H) > 1e8
    penalised = np.ones(theta.size, bool)
    penalised[0] = False
    free = np.ones(theta.size, bool)
    l1 = 1.0 / (1e4 * y.size)
    u, n_sweeps = coordinate_descent(H, g, theta, l1, penalised, free, 1e-13)
    levels = np.where(penalised, l1, 0.0)
    assert box_violation(g + H @ (u - theta), u, levels, None, None, free) <= 1e-13
    assert np.count_nonzero(u) != np.count_nonzero(theta)
    assert n_sweeps <= 10


def test_the_l1_path_warm_starts_cheaply(rows):
    X, y = rows
    model = LogisticModelCV(penalty="l1", Cs=20, cv=5).fit(X, y)
    refit = model.best_estimator_.solver_result_
    assert refit.converged
    assert refit.n_sweeps <= 3 * max(refit.n_iter, 1)
