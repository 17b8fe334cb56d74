"""Marginal effects against statsmodels, finite differences and metamorphic relations.

The reference is statsmodels' ``get_margeff(at=..., method="dydx", dummy=...)`` of
``Logit`` and ``MNLogit`` fitted on the same columns with ``sm.add_constant``, run live
(an independent implementation: numerical complex-step Jacobians where ours are
analytic). The tolerance is 1e-6 relative, the issue's requirement; observed: about
1e-9 for the standard errors, 1e-8 for the effects (statsmodels' own convergence).

statsmodels' ``MNLogit`` delta method for dummies (``_derivative_predict``) only
broadcasts when the number of classes equals the number of columns with the constant,
so its multinomial ``dummy=True`` reference uses one continuous feature and one dummy
(3 classes, 3 columns); wider multinomial dummy effects are checked against finite
differences instead.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from sklearn.datasets import load_iris

from logitkit import LogisticModel, load
from logitkit.data.encoding import TableEncoder
from logitkit.inference import MARGINS_COLUMNS, MarginalEffects, marginal_effects
from logitkit.inference.margins import _effects

RTOL = 1e-6
DATA = Path(__file__).resolve().parents[1] / "data" / "birthwt.csv"
FEATURES = ["age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"]


@pytest.fixture(scope="module")
def birthwt() -> tuple[pd.DataFrame, TableEncoder, pd.DataFrame, np.ndarray]:
    """MASS birthwt with ``race`` categorical: columns race[T.2], race[T.3] (as R's glm)."""
    df = pd.read_csv(DATA)
    raw = df[FEATURES].copy()
    raw["race"] = raw["race"].astype(str)
    encoder = TableEncoder().fit(raw)
    return raw, encoder, encoder.transform(raw), df["low"].to_numpy()


@pytest.fixture(scope="module")
def binary(birthwt: tuple) -> LogisticModel:
    _, encoder, X, y = birthwt
    model = LogisticModel(penalty=None).fit(X, y)
    model.encoder_ = encoder
    return model


def iris_data(n_noise: int) -> tuple[np.ndarray, np.ndarray]:
    """Sepal length, a seeded 0/1 column and ``n_noise`` normal columns (no separation)."""
    iris = load_iris()
    rng = np.random.default_rng(0)
    parts = [iris.data[:, [0]], rng.integers(0, 2, 150).astype(float)]
    parts += [rng.normal(size=150) for _ in range(n_noise)]
    return np.column_stack(parts), iris.target


def assert_matches(table: pd.DataFrame, margeff: object, n_classes: int = 1) -> None:
    """Compare with a statsmodels ``DiscreteMargins`` (features x classes for MNLogit)."""
    got = table["dy_dx"].to_numpy().reshape(n_classes, -1).T
    se = table["std_err"].to_numpy().reshape(n_classes, -1).T
    want = np.asarray(margeff.margeff).reshape(got.shape)  # type: ignore[attr-defined]
    want_se = np.asarray(margeff.margeff_se).reshape(got.shape)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, want, rtol=RTOL)
    np.testing.assert_allclose(se, want_se, rtol=RTOL)
    low, high = np.asarray(margeff.conf_int()).reshape(-1, 2).T  # type: ignore[attr-defined]
    if n_classes == 1:
        np.testing.assert_allclose(table["ci_low"], low, rtol=RTOL)
        np.testing.assert_allclose(table["ci_high"], high, rtol=RTOL)
        np.testing.assert_allclose(table["p_value"], margeff.pvalues, rtol=RTOL)  # type: ignore[attr-defined]


def test_column_vocabulary_is_verbatim() -> None:
    assert MARGINS_COLUMNS == ("dy_dx", "std_err", "z", "p_value", "ci_low", "ci_high")


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("dummy", [True, False])
def test_binary_equals_statsmodels(
    binary: LogisticModel, birthwt: tuple, at: str, dummy: bool
) -> None:
    raw, _, X, y = birthwt
    # sm.Logit(low, sm.add_constant(X)).fit().get_margeff(at=at, method="dydx", dummy=dummy)
    reference = (
        sm.Logit(y, sm.add_constant(X)).fit(disp=0).get_margeff(at=at, method="dydx", dummy=dummy)
    )
    table = marginal_effects(binary, raw, at=at, dummy=dummy)  # raw rows, encoded
    assert isinstance(table, MarginalEffects)
    assert tuple(table.columns) == MARGINS_COLUMNS
    assert list(table.index) == list(X.columns)
    assert_matches(table, reference)
    expected = ["race[T.2]", "race[T.3]", "smoke", "ht", "ui"] if dummy else []
    assert table.header["dummies"] == expected
    assert table.header["at"] == at


def test_binary_robust_covariance_equals_statsmodels(binary: LogisticModel, birthwt: tuple) -> None:
    _, _, X, y = birthwt
    fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="HC0")
    table = binary.marginal_effects(X, cov_type="HC0", y=y)
    assert_matches(table, fit.get_margeff(at="overall", method="dydx", dummy=True))


def test_encoder_levels_are_dummies_even_without_both_values(
    binary: LogisticModel, birthwt: tuple
) -> None:
    raw = birthwt[0]
    rows = raw[raw["race"] != "3"]  # race[T.3] is all zero here: still a level column
    assert "race[T.3]" in marginal_effects(binary, rows).header["dummies"]


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("dummy", [True, False])
def test_multinomial_equals_statsmodels(at: str, dummy: bool) -> None:
    X, y = iris_data(0)
    # sm.MNLogit(y, sm.add_constant(X)).fit(method="newton").get_margeff(at, "dydx", dummy)
    fit = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton")
    table = marginal_effects(LogisticModel(penalty=None).fit(X, y), X, at=at, dummy=dummy)
    assert table.index.names == ["class", "term"]
    assert table.index.get_level_values("class").unique().tolist() == [0, 1, 2]
    assert_matches(table, fit.get_margeff(at=at, method="dydx", dummy=dummy), n_classes=3)
    # The probabilities sum to one: the effects on them sum to zero over the classes.
    sums = table["dy_dx"].to_numpy().reshape(3, -1).sum(axis=0)
    np.testing.assert_allclose(sums, 0.0, atol=1e-12)


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_wider_multinomial_derivatives_equal_statsmodels(at: str) -> None:
    X, y = iris_data(2)
    fit = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton")
    table = marginal_effects(LogisticModel(penalty=None).fit(X, y), X, at=at, dummy=False)
    assert_matches(table, fit.get_margeff(at=at, method="dydx", dummy=False), n_classes=3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_jacobian_equals_finite_differences(n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    X = np.column_stack([rng.normal(size=40), rng.integers(0, 2, 40), rng.normal(size=40)])
    B = np.vstack([np.zeros(4), rng.normal(size=(n_classes - 1, 4))])
    v = rng.uniform(0.5, 1.5, size=40)
    v /= v.sum()
    dummy = np.array([False, True, False])
    _, jac = _effects(B, X, v, dummy)
    h = 1e-6
    numeric = np.empty_like(jac)
    for c in range(B.size):
        step = np.zeros(B.size)
        step[c] = h
        up = _effects(B + step.reshape(B.shape), X, v, dummy)[0]
        down = _effects(B - step.reshape(B.shape), X, v, dummy)[0]
        numeric[:, c] = (up - down).ravel() / (2 * h)
    np.testing.assert_allclose(jac, numeric, atol=1e-8)


@pytest.mark.parametrize("n_noise", [0, 2])
def test_effects_are_derivatives_and_changes_of_predict_proba(n_noise: int) -> None:
    X, y = iris_data(n_noise)
    model = LogisticModel(penalty=None).fit(X, y)
    table = marginal_effects(model, X)
    got = table["dy_dx"].to_numpy().reshape(3, -1)
    h = 1e-6
    for j in range(X.shape[1]):
        up, down = X.copy(), X.copy()
        if j == 1:  # the 0/1 column: the discrete change
            up[:, j], down[:, j] = 1.0, 0.0
            want = (model.predict_proba(up) - model.predict_proba(down)).mean(axis=0)
        else:
            up[:, j] += h
            down[:, j] -= h
            want = ((model.predict_proba(up) - model.predict_proba(down)) / (2 * h)).mean(axis=0)
        np.testing.assert_allclose(got[:, j], want, rtol=1e-6, atol=1e-9)


def test_positive_class_first_flips_the_signs(birthwt: tuple) -> None:
    _, _, X, y = birthwt
    default = LogisticModel(penalty=None).fit(X, y).marginal_effects(X)
    flipped = LogisticModel(penalty=None, positive_class=0).fit(X, y).marginal_effects(X)
    np.testing.assert_allclose(flipped["dy_dx"], -default["dy_dx"], rtol=1e-9)
    np.testing.assert_allclose(flipped["std_err"], default["std_err"], rtol=1e-9)
    np.testing.assert_allclose(flipped["ci_low"], -default["ci_high"], rtol=1e-9)
    assert flipped.header["positive"] == "0"
    assert "probability of 0" in flipped.to_text()


def test_penalised_fit_gives_effects_without_standard_errors(birthwt: tuple) -> None:
    _, _, X, y = birthwt
    model = LogisticModel(C=0.5).fit(X, y)
    table = model.marginal_effects(X, dummy=False)
    assert table[["std_err", "z", "p_value", "ci_low", "ci_high"]].isna().all().all()
    assert "Penalised fit" in table.notes[0]
    h = 1e-6
    for name in X.columns:
        up, down = X.copy(), X.copy()
        up[name] += h
        down[name] -= h
        want = ((model.predict_proba(up) - model.predict_proba(down))[:, 1] / (2 * h)).mean()
        assert math.isclose(table.loc[name, "dy_dx"], want, rel_tol=1e-6)


def test_weights_count_as_frequencies(birthwt: tuple) -> None:
    _, _, X, y = birthwt
    w = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    doubled = np.repeat(np.arange(len(y)), w.astype(int))
    for at in ("overall", "mean"):
        weighted = LogisticModel(penalty=None).fit(X, y, sample_weight=w)
        a = weighted.marginal_effects(X, at=at, y=y, sample_weight=w)
        repeated = LogisticModel(penalty=None).fit(X.iloc[doubled], y[doubled])
        b = repeated.marginal_effects(X.iloc[doubled], at=at)
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-7)


def test_loaded_model_needs_rows_and_answers_as_before_saving(
    birthwt: tuple, tmp_path: Path
) -> None:
    _, _, X, y = birthwt
    plain = LogisticModel(penalty=None).fit(X, y)
    loaded = load(plain.save(tmp_path / "model.json"))
    with pytest.raises(ValueError, match="loaded from an artifact has none"):
        loaded.marginal_effects()
    want = plain.marginal_effects(X).to_numpy()
    np.testing.assert_allclose(loaded.marginal_effects(X).to_numpy(), want, rtol=1e-12)
    # With y the covariance is recomputed from the rows: the same numbers.
    np.testing.assert_allclose(loaded.marginal_effects(X, y=y).to_numpy(), want, rtol=1e-8)


def test_rows_are_required(binary: LogisticModel) -> None:
    with pytest.raises(ValueError, match=r"needs the rows X=\.\.\.") as info:
        binary.marginal_effects()
    assert "loaded from an artifact" in str(info.value)


def test_explicit_dummies_and_bad_arguments(binary: LogisticModel, birthwt: tuple) -> None:
    X = birthwt[2]
    table = marginal_effects(binary, X, dummy=["smoke"])
    assert table.header["dummies"] == ["smoke"]
    with pytest.raises(ValueError, match="'smok', not feature"):
        marginal_effects(binary, X, dummy=["smok"])
    with pytest.raises(TypeError, match="dummy must be"):
        marginal_effects(binary, X, dummy="smoke")
    with pytest.raises(ValueError, match="at must be one of 'overall', 'mean'; got 'median'"):
        marginal_effects(binary, X, at="median")
    with pytest.raises(ValueError, match="alpha must be"):
        marginal_effects(binary, X, alpha=1.5)


def test_report_names_where_and_which(binary: LogisticModel, birthwt: tuple) -> None:
    text = str(marginal_effects(binary, birthwt[2], at="mean", alpha=0.1))
    assert text.startswith("Marginal effects\n")
    assert "mean: the effects at the mean row (MEM)" in text
    assert "Dummies:         race[T.2], race[T.3], smoke, ht, ui" in text
    assert "Rows:            189" in text
    assert "90% Wald" in text


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_sparse_rows_equal_dense(at: str) -> None:
    X, y = iris_data(2)
    model = LogisticModel(penalty=None).fit(X, y)
    dense = marginal_effects(model, X, at=at)
    sparse = marginal_effects(model, sp.csr_matrix(X), at=at)
    np.testing.assert_allclose(sparse.to_numpy(), dense.to_numpy(), rtol=1e-10)
    assert sparse.header["dummies"] == dense.header["dummies"] == ["x1"]
