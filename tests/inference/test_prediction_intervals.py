"""Prediction intervals (delta method on the log-odds) against statsmodels, on real data.

Data: MASS ``birthwt`` (Hosmer and Lemeshow, 189 births), ``low`` on the eight
predictors, fitted by maximum likelihood. References, computed live:

- statsmodels ``GLM(y, add_constant(X), family=Binomial()).fit().get_prediction(exog)
  .summary_frame(alpha)``: its ``mean_ci_lower``/``mean_ci_upper`` are the linear
  predictor's Wald interval mapped by the inverse link, R's
  ``plogis(fit +- qnorm(1 - alpha / 2) * se.fit)`` after
  ``predict(glm(low ~ ., binomial, birthwt), type="link", se.fit=TRUE)``.
- statsmodels ``Logit(...).fit(cov_type=...).cov_params()`` with numpy:
  ``se = sqrt(diag(X V X'))``, for the robust covariances.

Tolerance 1e-6 (relative): both sides solve the same likelihood to about 1e-8 in the
coefficients, and the intervals are smooth in them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import norm

import logitkit
from logitkit import LogisticModel
from logitkit.inference import PREDICTION_COLUMNS, link_covariance, probability_bounds

DATA = Path(__file__).parents[1] / "data" / "birthwt.csv"
FEATURES = ["age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"]
RTOL = 1e-6


@pytest.fixture(scope="module")
def birthwt() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(DATA)
    return frame[FEATURES].astype(float), frame["low"]


@pytest.fixture(scope="module")
def fitted(birthwt) -> LogisticModel:
    X, y = birthwt
    return LogisticModel(penalty=None).fit(X, y)


def test_columns_are_the_vocabulary(fitted, birthwt):
    X, _ = birthwt
    table = fitted.predict_interval(X.iloc[:3])
    assert PREDICTION_COLUMNS == ("log_odds", "std_err", "probability", "ci_low", "ci_high")
    assert tuple(table.columns) == PREDICTION_COLUMNS
    assert table.attrs["logitkit"]["positive"] == 1


@pytest.mark.parametrize("level", [0.95, 0.9, 0.5])
def test_matches_statsmodels_glm_get_prediction(fitted, birthwt, level):
    X, y = birthwt
    exog = sm.add_constant(X)
    result = sm.GLM(y, exog, family=sm.families.Binomial()).fit()
    ref = result.get_prediction(exog).summary_frame(alpha=1.0 - level)
    table = fitted.predict_interval(X, level=level)
    np.testing.assert_allclose(table["probability"], ref["mean"], rtol=RTOL)
    np.testing.assert_allclose(table["ci_low"], ref["mean_ci_lower"], rtol=RTOL)
    np.testing.assert_allclose(table["ci_high"], ref["mean_ci_upper"], rtol=RTOL)
    linear = result.get_prediction(exog, which="linear").summary_frame(alpha=1.0 - level)
    np.testing.assert_allclose(table["log_odds"], linear["predicted"], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(table["std_err"], linear["se"], rtol=RTOL)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_std_err_is_x_v_x_with_statsmodels_covariance(fitted, birthwt, cov_type):
    X, y = birthwt
    exog = sm.add_constant(X).to_numpy()
    V = sm.Logit(y.to_numpy(), exog).fit(disp=0, cov_type=cov_type).cov_params()
    se = np.sqrt(np.einsum("ij,jk,ik->i", exog, V, exog))
    rows = {} if cov_type == "nonrobust" else {"X_train": X, "y_train": y}
    table = fitted.predict_interval(X, cov_type=cov_type, **rows)
    np.testing.assert_allclose(table["std_err"], se, rtol=RTOL)
    z = norm.ppf(0.975)
    np.testing.assert_allclose(table["ci_low"], expit(table["log_odds"] - z * se), rtol=RTOL)


def test_probability_is_predict_proba_bit_for_bit_and_inside(fitted, birthwt):
    X, _ = birthwt
    table = fitted.predict_interval(X)
    np.testing.assert_array_equal(table["probability"], fitted.predict_proba(X)[:, 1])
    assert (table["ci_low"] < table["probability"]).all()
    assert (table["probability"] < table["ci_high"]).all()
    assert ((table["ci_low"] > 0) & (table["ci_high"] < 1)).all()
    wider = fitted.predict_interval(X, level=0.99)
    assert (wider["ci_low"] < table["ci_low"]).all()
    assert (wider["ci_high"] > table["ci_high"]).all()


def test_positive_class_first_gives_the_mirrored_interval(fitted, birthwt):
    X, y = birthwt
    flipped = LogisticModel(penalty=None, positive_class=0).fit(X, y)
    assert flipped.positive_class_ == 0
    ours, theirs = flipped.predict_interval(X), fitted.predict_interval(X)
    assert ours.attrs["logitkit"]["positive"] == 0
    np.testing.assert_allclose(ours["log_odds"], -theirs["log_odds"], rtol=1e-9)
    np.testing.assert_allclose(ours["std_err"], theirs["std_err"], rtol=1e-9)
    np.testing.assert_allclose(ours["ci_low"], 1.0 - theirs["ci_high"], rtol=1e-9)
    np.testing.assert_allclose(ours["ci_high"], 1.0 - theirs["ci_low"], rtol=1e-9)
    np.testing.assert_array_equal(ours["probability"], flipped.predict_proba(X)[:, 0])


def test_loaded_model_needs_no_rows(fitted, birthwt, tmp_path):
    X, _ = birthwt
    loaded = logitkit.load(fitted.save(tmp_path / "model.json"))
    pd.testing.assert_frame_equal(loaded.predict_interval(X), fitted.predict_interval(X))


def test_index_sparse_and_plain_arrays_agree(fitted, birthwt):
    X, _ = birthwt
    picked = X.iloc[[5, 7, 11]]
    table = fitted.predict_interval(picked)
    assert list(table.index) == [5, 7, 11]
    plain = LogisticModel(penalty=None).fit(X.to_numpy(), birthwt[1].to_numpy())
    dense = plain.predict_interval(picked.to_numpy())
    sparse = plain.predict_interval(sp.csr_matrix(picked.to_numpy()))
    np.testing.assert_allclose(dense.to_numpy(), table.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(sparse.to_numpy(), dense.to_numpy(), rtol=1e-12)


def test_a_row_on_an_unidentified_coefficient_gets_no_interval():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[:, 1] = 5.0  # constant: its coefficient is held at zero
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticModel(penalty=None).fit(X, y)
    new = X[:2].copy()
    new[1, 1] = 7.0
    table = model.predict_interval(new)
    assert np.isfinite(table.loc[0, "ci_low"])
    assert np.isnan(table.loc[1, ["std_err", "ci_low", "ci_high"]].to_numpy(float)).all()


def test_penalised_multinomial_and_bad_levels_are_refused(birthwt):
    X, y = birthwt
    with pytest.raises(ValueError, match=r"penalised fit \(penalty='l2'.*penalty=None"):
        LogisticModel().fit(X, y).predict_interval(X)
    three = pd.read_csv(DATA)["race"]
    with pytest.raises(ValueError, match="binary models; this one has 3 classes"):
        LogisticModel(penalty=None).fit(X.drop(columns="race"), three).predict_interval(
            X.drop(columns="race")
        )
    model = LogisticModel(penalty=None).fit(X, y)
    for level in (0.0, 1.0, 95, True, "0.95"):
        with pytest.raises(ValueError, match="'level' parameter must be a float in"):
            model.predict_interval(X, level=level)
    with pytest.raises(ValueError, match="needs the per-row scores"):
        model.predict_interval(X, cov_type="HC1")


def test_firth_fit_gets_intervals(birthwt):
    X, y = birthwt
    table = LogisticModel(penalty="firth").fit(X, y).predict_interval(X)
    assert np.isfinite(table.to_numpy()).all()


def test_link_covariance_and_bounds(fitted):
    link = link_covariance(fitted)
    assert link.sign == 1.0
    assert link.cov.shape == (len(FEATURES) + 1,) * 2
    low, high = probability_bounds(np.array([0.0, 50.0]), np.array([1.0, 1.0]), 0.95)
    np.testing.assert_allclose(low[0], expit(-norm.ppf(0.975)))
    assert high[1] == 1.0
    # Levels near 1 keep a finite quantile (from the upper tail's own probability).
    low, high = probability_bounds(np.array([0.0]), np.array([1.0]), 1.0 - 1e-15)
    assert 0.0 < low[0] < high[0] < 1.0
