"""One stopping rule: every method ends with a typed reason, judged the same way."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import logitkit
from logitkit import LogisticModel
from logitkit.solver import Convergence, StopReason
from logitkit.solver.stopping import ROUNDING_SLACK, StoppingRule
from tests.helpers import make_logistic

SOLVER_SOURCES = Path(logitkit.__file__).parent / "solver"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_logistic(n=300, p=4, seed=3)


def test_the_rule_stops_at_tol_and_at_max_iter():
    rule = StoppingRule(tol=1e-10, max_iter=5)
    assert rule.check(kkt=1e-3, n_iter=4) is None
    at_tol = rule.check(kkt=1e-10, n_iter=4)
    assert at_tol == Convergence(StopReason.KKT, True, 1e-10, 1e-10, 4)
    at_limit = rule.check(kkt=1e-3, n_iter=5)
    assert at_limit is not None
    assert (at_limit.reason, at_limit.converged) == (StopReason.MAX_ITER, False)
    assert "max_iter=5" in at_limit.message


def test_a_stall_at_rounding_converges_only_near_tol():
    rule = StoppingRule(tol=1e-10, max_iter=50)
    near = rule.stalled(kkt=0.99 * ROUNDING_SLACK * 1e-10, n_iter=7)
    far = rule.stalled(kkt=1.01 * ROUNDING_SLACK * 1e-10, n_iter=7)
    assert near.reason is far.reason is StopReason.NO_PROGRESS_AT_ROUNDING
    assert near.converged
    assert not far.converged
    # A stall below tol is simply convergence.
    assert rule.stalled(kkt=1e-11, n_iter=7).reason is StopReason.KKT


@pytest.mark.parametrize(
    ("params", "method"),
    [
        ({"penalty": "l2"}, "newton"),
        ({"penalty": None}, "newton"),
        ({"penalty": "l1", "C": 0.5}, "prox-newton"),
        ({"penalty": "elasticnet", "l1_ratio": 0.5}, "prox-newton"),
        ({"penalty": "l2", "solver": "lbfgs", "tol": 1e-8}, "lbfgs"),
        ({"penalty": "firth"}, "firth"),
    ],
)
def test_every_method_records_its_reason_in_solver_result(data, params, method):
    X, y = data
    result = LogisticModel(**params).fit(X, y).solver_result_
    assert result.method == method
    assert isinstance(result.convergence, Convergence)
    assert result.convergence.reason in {StopReason.KKT, StopReason.NO_PROGRESS_AT_ROUNDING}
    assert result.converged
    assert result.kkt <= ROUNDING_SLACK * result.convergence.tol
    assert result.convergence.tol == params.get("tol", 1e-10)
    assert result.n_iter == result.convergence.n_iter


@pytest.mark.parametrize(
    ("params", "method"),
    [
        ({"penalty": "l2"}, "newton"),
        ({"penalty": "l1", "C": 0.5}, "prox-newton"),
        ({"penalty": "l2", "solver": "lbfgs"}, "lbfgs"),
        ({"penalty": "firth"}, "firth"),
    ],
)
def test_an_unreachable_tol_never_counts_as_converged(data, params, method):
    X, y = data
    with pytest.warns(ConvergenceWarning) as caught:
        result = LogisticModel(tol=1e-300, max_iter=30, **params).fit(X, y).solver_result_
    assert result.method == method
    # Rounding ends it (no step lowers F), or the steps that only shuffle rounding
    # noise run into max_iter: either way the fit says so and is not converged.
    assert result.convergence.reason in {StopReason.NO_PROGRESS_AT_ROUNDING, StopReason.MAX_ITER}
    assert not result.converged
    assert result.message in str(caught[0].message)


def test_max_iter_is_a_reason_of_its_own(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        result = LogisticModel(penalty="l1", C=0.5, max_iter=1).fit(X, y).solver_result_
    assert result.convergence.reason is StopReason.MAX_ITER
    assert result.n_iter == 1


def test_the_reason_survives_the_artifact(data, tmp_path):
    X, y = data
    model = LogisticModel(penalty="l1", C=0.5).fit(X, y)
    loaded = logitkit.load(model.save(tmp_path / "model.json"))
    assert loaded.solver_result_.convergence == model.solver_result_.convergence
    assert loaded.solver_result_.message == model.solver_result_.message


def test_no_solver_decides_convergence_on_its_own():
    # The slack and the reasons live in stopping.py alone: no solver compares a message
    # or writes its own multiple of tol.
    for path in SOLVER_SOURCES.glob("*.py"):
        if path.name == "stopping.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"[\"']\w+[\"'] in message", text), path.name
        assert not re.search(r"\d(\.\d*)?e\d+ \* tol", text), path.name
        assert "converged=" not in text, path.name
