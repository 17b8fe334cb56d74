"""Fold models fitted in lockstep equal the same models fitted one by one.

The reference for each fold model is an independent :meth:`LogisticModel.fit` on that
fold's training rows (the rows :class:`HashKFold` puts outside the fold), in memory.
The lockstep fits must stop by the solver's rule (optimality violation at most ``tol``)
and agree with it to 1e-8 in coefficients and intercepts, on rows in memory and
streamed from a Parquet file alike.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logitkit import LogisticModel
from logitkit.data.row_filters import HashShare
from logitkit.data.stream import FileSource
from logitkit.exceptions import ConvergenceWarning
from logitkit.selection import HashKFold
from logitkit.workflow import TrainingSpec
from logitkit.workflow import _lockstep as lockstep
from logitkit.workflow._hash_search import fixed_fold_models, fold_models, search_C
from logitkit.workflow._lockstep import fit_in_lockstep, fold_data, lockstep_applies
from logitkit.workflow._rows import FrameRows, SourceRows

K = 4
SEED = 7


def _rows(
    n_classes: int, *, n: int = 3000, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features on unequal scales and means, labels from a logistic model, row weights."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1.0, 3.0, 0.5, 10.0, 1.0] + [0.0, 20.0, -1.0, 100.0, 0.0]
    X[:, 4] = rng.integers(0, 2, n)  # a 0/1 column
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    if n_classes == 2:
        eta = Xs @ np.array([0.8, -0.5, 0.3, 0.2, 0.6]) - 0.4
        y = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    else:
        scores = Xs @ rng.normal(size=(5, n_classes)) * 0.6
        P = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        y = np.array(["a", "b", "c", "d"][:n_classes])[
            (rng.random(n)[:, None] > P.cumsum(1)).sum(1)
        ]
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    return frame, y, rng.uniform(0.2, 3.0, n)


def _separate(
    frame: pd.DataFrame, y: np.ndarray, sw: np.ndarray | None, model: LogisticModel, fold: int
) -> LogisticModel:
    """The fold model fitted alone on its training rows."""
    train = HashKFold(K, seed=SEED).filter(fold).mask(frame.to_numpy())
    return LogisticModel(**model.get_params()).fit(
        frame[train], y[train], sample_weight=None if sw is None else sw[train]
    )


CASES = [
    pytest.param(2, "l2", None, True, id="binary-l2-weights"),
    pytest.param(2, None, None, False, id="binary-unpenalised"),
    pytest.param(2, "l2", "balanced", True, id="binary-l2-balanced"),
    pytest.param(3, "l2", None, True, id="multinomial-l2-weights"),
    pytest.param(3, None, None, False, id="multinomial-unpenalised"),
    pytest.param(3, "l2", {"a": 2.0, "b": 1.0, "c": 0.5}, False, id="multinomial-class-weights"),
]


@pytest.mark.parametrize(("n_classes", "penalty", "class_weight", "weighted"), CASES)
def test_lockstep_fold_models_equal_separate_fits(n_classes, penalty, class_weight, weighted):
    frame, y, sw = _rows(n_classes)
    weights = sw if weighted else None
    rows = FrameRows(frame, y, weights)
    model = LogisticModel(penalty=penalty, C=0.3, class_weight=class_weight)
    assert lockstep_applies(model, 1 if n_classes == 2 else n_classes, 5)
    data = fold_data(rows, HashKFold(K, seed=SEED), None)
    models = [LogisticModel(**model.get_params()) for _ in range(K)]
    fits = fit_in_lockstep(rows, data, models, list(range(K)), [None] * K)
    for fold, fit in enumerate(fits):
        alone = _separate(frame, y, weights, model, fold)
        assert fit.convergence.converged
        assert fit.convergence.kkt <= model.tol
        scale = max(1.0, float(np.abs(alone.coef_).max()))
        np.testing.assert_allclose(fit.coef, alone.coef_, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(fit.intercept, alone.intercept_, rtol=0, atol=1e-8 * scale)


def test_warm_started_fold_models_and_the_shipped_model_in_one_lockstep():
    """From the model on all rows (as the pipeline starts them), with that model itself
    refitted beside them (fold -1: no rows left out)."""
    frame, y, sw = _rows(2, seed=3)
    rows = FrameRows(frame, y, sw)
    full = LogisticModel(C=2.0).fit(frame, y, sample_weight=sw)
    data = fold_data(rows, HashKFold(K, seed=SEED), None)
    start = (full.coef_, full.intercept_)
    fits = fit_in_lockstep(
        rows, data, [LogisticModel(C=2.0) for _ in range(K + 1)], [-1, *range(K)], [start] * (K + 1)
    )
    assert fits[0].convergence.n_iter == 0  # already optimal: stops on the first pass
    np.testing.assert_array_equal(fits[0].coef, full.coef_)
    for fold, fit in enumerate(fits[1:]):
        alone = _separate(frame, y, sw, LogisticModel(C=2.0), fold)
        assert 0 < fit.convergence.n_iter <= 6
        assert fit.convergence.kkt <= 1e-10
        np.testing.assert_allclose(fit.coef, alone.coef_, rtol=0, atol=1e-8)


def test_a_model_that_stops_leaves_the_later_passes(monkeypatch):
    frame, y, _ = _rows(2, seed=4)
    rows = FrameRows(frame, y, None)
    data = fold_data(rows, HashKFold(K, seed=SEED), None)
    # Fold 2's model starts at its own solution; the others from the null model.
    alone = _separate(frame, y, None, LogisticModel(), 2)
    starts = [None, None, (alone.coef_, alone.intercept_), None]
    seen: list[list[int]] = []
    block = lockstep.lockstep_block

    def spy(*args, **kwargs):
        seen.append(kwargs["excluded"].tolist())
        return block(*args, **kwargs)

    monkeypatch.setattr(lockstep, "lockstep_block", spy)
    fits = fit_in_lockstep(rows, data, [LogisticModel() for _ in range(K)], list(range(K)), starts)
    passes = seen  # one block per pass here (3,000 rows)
    assert passes[0] == [0, 1, 2, 3]
    assert all(2 not in s for s in passes[1:])  # dropped after its first pass
    assert fits[2].convergence.n_iter == 0
    np.testing.assert_array_equal(fits[2].coef, alone.coef_)
    for fold in (0, 1, 3):
        assert fits[fold].convergence.kkt <= 1e-10
        expected = _separate(frame, y, None, LogisticModel(), fold)
        np.testing.assert_allclose(fits[fold].coef, expected.coef_, rtol=0, atol=1e-8)
    # Every model stopped on the pass where its violation met tol, and left: the
    # passes hold fewer models as they go, never one that already stopped.
    sizes = [len(s) for s in passes]
    assert sizes == sorted(sizes, reverse=True)


def test_a_model_stopped_by_max_iter_warns():
    frame, y, _ = _rows(2, seed=5)
    rows = FrameRows(frame, y, None)
    data = fold_data(rows, HashKFold(K, seed=SEED), None)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fits = fit_in_lockstep(
            rows, data, [LogisticModel(max_iter=1) for _ in range(K)], list(range(K)), [None] * K
        )
    assert all(not f.convergence.converged and f.convergence.n_iter == 1 for f in fits)


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_pipeline_fold_models_equal_separate_fits(tmp_path: Path, positive):
    """Through the pipeline's own entry points, with held-out rows, in memory and streamed."""
    frame, y, _ = _rows(2, seed=6)
    spec = TrainingSpec(target="y", folds=K, seed=SEED, C=0.5, positive=positive, test_size=0.2)
    fitting = HashShare(0.2, seed=SEED + 0x7E57, held=False)
    memory = FrameRows(frame, y, None)
    data = frame.assign(y=y)
    path = tmp_path / "rows.parquet"
    data.to_parquet(path, row_group_size=700)
    streamed = SourceRows(FileSource(path, target="y", batch_rows=500))
    keep = fitting.mask(frame.to_numpy())
    full = LogisticModel(C=0.5, positive_class=positive).fit(frame[keep], y[keep])
    a = fixed_fold_models(memory, spec, positive, fitting, start=full)
    b = fixed_fold_models(streamed, spec, positive, fitting, start=full)
    np.testing.assert_allclose(a.coef, b.coef, rtol=0, atol=1e-9)
    for fold in range(K):
        train = keep & HashKFold(K, seed=SEED).filter(fold).mask(frame.to_numpy())
        alone = LogisticModel(C=0.5).fit(frame[train], y[train])
        np.testing.assert_allclose(a.coef[fold], alone.coef_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(a.intercept[fold], alone.intercept_, rtol=0, atol=1e-8)


def test_search_grid_in_lockstep_equals_fold_by_fold_fits():
    frame, y, sw = _rows(3, seed=8, n=2000)
    rows = FrameRows(frame, y, sw)
    spec = TrainingSpec(target="y", folds=K, seed=SEED, cv=True, Cs=4)
    grid = [(0.0, C) for C in (0.01, 0.1, 1.0, 10.0)]
    together = fold_models(rows, spec, None, grid)
    for fold in range(K):
        for i, (_, C) in enumerate(grid):
            alone = _separate(frame, y, sw, LogisticModel(C=C), fold)
            np.testing.assert_allclose(together.coef[fold, i], alone.coef_, rtol=0, atol=1e-8)
    search, chosen = search_C(rows, spec, None)
    assert chosen.coef.shape == (K, 3, 5)
    assert search.cv_results_["selected"].sum() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"penalty": "l1"},
        {"penalty": "elasticnet", "l1_ratio": 0.5},
        {"upper_bounds": {"x0": 0.0}},
        {"penalty_factor": {"x0": 0.0}},
        {"penalty": "firth"},
    ],
)
def test_other_penalties_and_controls_are_fitted_fold_by_fold(params):
    assert not lockstep_applies(LogisticModel(**params), 1, 5)


def test_wide_penalised_models_are_fitted_fold_by_fold():
    # Above the solver's Newton size for a penalised fit, as the fit itself would switch.
    assert lockstep_applies(LogisticModel(), 1, 300)
    assert not lockstep_applies(LogisticModel(), 1, 500)
    assert lockstep_applies(LogisticModel(penalty=None), 1, 500)


def test_no_warning_on_converged_fits():
    frame, y, _ = _rows(2, seed=9)
    rows = FrameRows(frame, y, None)
    data = fold_data(rows, HashKFold(K, seed=SEED), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_in_lockstep(rows, data, [LogisticModel() for _ in range(K)], list(range(K)), [None] * K)
