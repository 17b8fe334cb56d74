"""Tests of logitkit.calibration: reliability, ECE, Hosmer-Lemeshow, recalibration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss

from logitkit.calibration import (
    RELIABILITY_COLUMNS,
    Recalibrator,
    expected_calibration_error,
    hosmer_lemeshow,
    reliability_curve,
)
from logitkit.exceptions import ArtifactError, DataError


def simulate(n, seed, slope=1.0, shift=0.0):
    """True probabilities, labels drawn from them, and a distorted copy of them."""
    rng = np.random.default_rng(seed)
    true = expit(rng.normal(-0.3, 1.5, n))
    y = rng.uniform(size=n) < true
    return true, y, expit(slope * logit(true) + shift)


# ------------------------------------------------------------------ reliability / ECE
@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.0)), min_size=2, max_size=60),
    st.integers(1, 12),
    st.sampled_from(["uniform", "quantile"]),
)
def test_reliability_curve_matches_sklearn(rows, n_bins, strategy):
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    assume(y.any() and not y.all())
    curve = reliability_curve(y, p, positive=True, n_bins=n_bins, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    assert list(curve.columns) == list(RELIABILITY_COLUMNS)
    np.testing.assert_allclose(curve["observed_frequency"], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve["mean_predicted"], prob_pred, rtol=1e-12)
    assert curve["count"].sum() == y.size
    ece = expected_calibration_error(y, p, positive=True, n_bins=n_bins, strategy=strategy)
    by_hand = sum(
        np.sum(ids) / y.size * abs(p[ids].mean() - y[ids].mean())
        for ids in (curve_members(p, curve, i) for i in range(len(curve)))
    )
    assert ece == pytest.approx(by_hand, abs=1e-12)


def curve_members(p, curve, i):
    """Rows of the i-th (non-empty) bin: right-closed, the first bin holding its low edge."""
    low, high = curve["bin_low"].iloc[i], curve["bin_high"].iloc[i]
    inside = (p > low) & (p <= high)
    return inside | (p == low) if curve["bin"].iloc[i] == 0 else inside


def test_ece_zero_when_calibrated_within_bins_and_labels_respected():
    y = ["no", "yes", "no", "yes"]
    p = [0.5, 0.5, 0.5, 0.5]
    assert expected_calibration_error(y, p, positive="yes") == 0.0
    assert expected_calibration_error(y, [0.1, 0.1, 0.9, 0.9], positive="yes") == pytest.approx(0.4)
    with pytest.raises(ValueError, match="'strategy' parameter of reliability_curve"):
        reliability_curve(y, p, positive="yes", strategy="equal")


# ------------------------------------------------------------------ Hosmer-Lemeshow
def test_hosmer_lemeshow_by_hand():
    """20 distinct probabilities, 4 groups of 5 sorted rows; formula written out."""
    rng = np.random.default_rng(3)
    p = rng.permutation(np.linspace(0.05, 0.95, 20))
    y = rng.uniform(size=20) < p
    result = hosmer_lemeshow(y, p, positive=True, groups=4)
    order = np.argsort(p)
    stat = 0.0
    for g in range(4):
        rows = order[5 * g : 5 * g + 5]
        o1, e1 = y[rows].sum(), p[rows].sum()
        o0, e0 = 5 - o1, 5 - e1
        stat += (o1 - e1) ** 2 / e1 + (o0 - e0) ** 2 / e0
    assert result.statistic == pytest.approx(stat, rel=1e-12)
    assert result.df == 2
    assert result.p_value == pytest.approx(stats.chi2.sf(stat, 2), rel=1e-12)
    assert [r["n"] for r in result.table] == [5, 5, 5, 5]


def test_hosmer_lemeshow_matches_qcut_deciles_with_ties():
    """Independent grouping with pandas.qcut (R's cut at type-7 quantiles, ties kept)."""
    true, y, _ = simulate(700, seed=4)
    p = np.round(true, 2)  # many ties
    result = hosmer_lemeshow(y, p, positive=True)
    groups = pd.qcut(p, 10, duplicates="drop")
    frame = pd.DataFrame({"y": y, "p": p, "g": groups}).groupby("g", observed=True)
    n, o, e = frame.size(), frame["y"].sum(), frame["p"].sum()
    stat = float(np.sum((o - e) ** 2 / (e * (1 - e / n))))  # one-column form, same statistic
    assert result.statistic == pytest.approx(stat, rel=1e-10)
    assert result.df == len(n) - 2
    assert json.loads(json.dumps(result.to_dict()))["df"] == result.df
    held_out = hosmer_lemeshow(y, p, positive=True, held_out=True)
    assert held_out.df == len(n)  # the groups actually used, ties merged
    assert held_out.p_value == pytest.approx(stats.chi2.sf(stat, len(n)), rel=1e-10)
    assert hosmer_lemeshow(y, p, positive=True, held_out=True, df=3).df == 3


def fit_logistic(x, y, iters=25):
    """Unpenalised logistic regression on one feature, Newton, vectorised over rows."""
    b = np.zeros((x.shape[0], 2))
    for _ in range(iters):
        mu = expit(b[:, :1] + b[:, 1:] * x)
        w, r = mu * (1 - mu), y - mu
        grad = np.stack([r.sum(1), (r * x).sum(1)], 1)
        hess = np.stack(
            [
                np.stack([w.sum(1), (w * x).sum(1)], 1),
                np.stack([(w * x).sum(1), (w * x * x).sum(1)], 1),
            ],
            1,
        )
        b = b + np.linalg.solve(hess, grad[..., None])[..., 0]
    return expit(b[:, :1] + b[:, 1:] * x)


def test_hosmer_lemeshow_pvalues_uniform_for_correct_models():
    """A correct model fitted in sample gives roughly uniform p-values with g - 2 df;
    the true probabilities themselves (nothing fitted) need g df."""
    rng = np.random.default_rng(0)
    reps, n = 300, 500
    x = rng.normal(size=(reps, n))
    true = expit(-0.5 + 1.2 * x)
    y = rng.uniform(size=(reps, n)) < true
    fitted = fit_logistic(x, y.astype(np.float64))
    p_fit = np.array([hosmer_lemeshow(y[i], fitted[i], positive=True).p_value for i in range(reps)])
    p_true = np.array(
        [hosmer_lemeshow(y[i], true[i], positive=True, held_out=True).p_value for i in range(reps)]
    )
    for pv in (p_fit, p_true):
        assert stats.kstest(pv, "uniform").pvalue > 0.001
        assert 0.02 <= np.mean(pv < 0.05) <= 0.09
    # ... and a miscalibrated model is rejected.
    _, y_bad, p_bad = simulate(2000, seed=1, slope=2.0, shift=0.5)
    assert hosmer_lemeshow(y_bad, p_bad, positive=True).p_value < 1e-6


def test_hosmer_lemeshow_errors():
    with pytest.raises(DataError, match="too few distinct values"):
        hosmer_lemeshow([0, 1, 0, 1], [0.2, 0.2, 0.7, 0.7], positive=1)
    with pytest.raises(ValueError, match="'groups' parameter of hosmer_lemeshow"):
        hosmer_lemeshow([0, 1, 0, 1], [0.1, 0.2, 0.7, 0.8], positive=1, groups=2)
    message = "The 'held_out' parameter of hosmer_lemeshow must be one of True, False. Got 1"
    with pytest.raises(ValueError, match=message):
        hosmer_lemeshow([0, 1, 0, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9], positive=1, held_out=1)


# --------------------------------------------------------------------- Recalibrator
def test_platt_matches_statsmodels_and_sklearn():
    """Platt's fit is a binomial GLM on logit(p) with smoothed targets."""
    from sklearn.calibration import _sigmoid_calibration  # private: Platt's reference

    _, y, p = simulate(1500, seed=2, slope=2.0, shift=0.5)
    cal = Recalibrator.fit(y, p, positive=True, method="platt")
    n1 = y.sum()
    n0 = y.size - n1
    targets = np.where(y, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
    glm = sm.GLM(targets, sm.add_constant(logit(p)), family=sm.families.Binomial()).fit(tol=1e-14)
    assert cal.params["intercept"] == pytest.approx(glm.params[0], rel=1e-7)
    assert cal.params["slope"] == pytest.approx(glm.params[1], rel=1e-7)
    a, b = _sigmoid_calibration(logit(p), y)
    assert cal.params["slope"] == pytest.approx(-a, rel=1e-5)
    assert cal.params["intercept"] == pytest.approx(-b, rel=1e-5)
    # It undoes the distortion: slope ~ 1/2, intercept ~ -1/4, and improves log-loss.
    assert cal.params["slope"] == pytest.approx(0.5, abs=0.05)
    assert cal.params["intercept"] == pytest.approx(-0.25, abs=0.1)
    assert log_loss(y, cal.transform(p)) < log_loss(y, p)


def test_platt_survives_separation():
    cal = Recalibrator.fit([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], positive=1)
    assert np.isfinite(list(cal.params.values())).all()
    with pytest.raises(DataError, match="constant"):
        Recalibrator.fit([0, 1], [0.3, 0.3], positive=1)


def test_isotonic_matches_sklearn():
    _, y, p = simulate(800, seed=5, slope=0.6)
    cal = Recalibrator.fit(y, p, positive=True, method="isotonic")
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y.astype(float))
    grid = np.r_[0.0, np.linspace(0, 1, 1001), p, 1.0]
    np.testing.assert_allclose(cal.transform(grid), iso.predict(grid), rtol=0, atol=1e-12)
    assert np.all(np.diff(cal.transform(np.sort(grid))) >= 0)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_recalibrator_json_roundtrip(method):
    _, y, p = simulate(300, seed=6)
    labels = np.where(y, "malignant", "benign")
    cal = Recalibrator.fit(labels, p, positive="malignant", method=method)
    back = Recalibrator.from_dict(json.loads(json.dumps(cal.to_dict(), allow_nan=False)))
    assert back == cal
    assert np.array_equal(back.transform(p), cal.transform(p))
    assert repr(back) == f"Recalibrator(method={method!r}, positive='malignant')"


def test_recalibrator_errors():
    with pytest.raises(ValueError, match=r"'method' parameter of Recalibrator\.fit"):
        Recalibrator.fit([0, 1], [0.2, 0.8], positive=1, method="beta")
    with pytest.raises(ArtifactError):
        Recalibrator.from_dict({"type": "Recalibrator", "format_version": 1, "method": "platt"})
    with pytest.raises(ArtifactError, match="format_version"):
        Recalibrator.from_dict({"type": "Recalibrator", "format_version": 2})
    with pytest.raises(DataError, match="outside"):
        Recalibrator("platt", {"slope": 1.0, "intercept": 0.0}, positive=1).transform([2.0])
