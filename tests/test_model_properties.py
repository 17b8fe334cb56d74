"""Invariants that any correct fit must satisfy, for many random data sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logitkit import LogisticModel
from tests.strategies import logistic_data, penalties

SETTINGS = settings(max_examples=25, deadline=None)


def _model(penalty: tuple[str, float | None], C: float = 0.5) -> LogisticModel:
    return LogisticModel(penalty=penalty[0], l1_ratio=penalty[1], C=C)


@SETTINGS
@given(data=logistic_data(), penalty=penalties, seed=st.integers(0, 1000))
def test_row_order_does_not_matter(data, penalty, seed):
    X, y = data
    perm = np.random.default_rng(seed).permutation(len(y))
    a = _model(penalty).fit(X, y)
    b = _model(penalty).fit(X[perm], y[perm])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-7, atol=1e-9)


@SETTINGS
@given(data=logistic_data(), penalty=penalties, seed=st.integers(0, 1000))
def test_weight_two_equals_row_twice(data, penalty, seed):
    X, y = data
    rng = np.random.default_rng(seed)
    doubled = rng.random(len(y)) < 0.3
    weights = np.where(doubled, 2.0, 1.0)
    X_rep = np.vstack([X, X[doubled]])
    y_rep = np.concatenate([y, y[doubled]])
    a = _model(penalty).fit(X, y, sample_weight=weights)
    b = _model(penalty).fit(X_rep, y_rep)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    # Multinomial intercepts are unpenalised, so they are identified only up to a
    # constant added to every class (the softmax is unchanged): compare them centred.
    centre = (lambda b0: b0 - b0.mean()) if len(a.classes_) > 2 else (lambda b0: b0)
    np.testing.assert_allclose(centre(a.intercept_), centre(b.intercept_), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-9)


@SETTINGS
@given(
    data=logistic_data(),
    penalty=penalties,
    factor=st.floats(1e-3, 1e3),
    shift=st.floats(-100.0, 100.0),
    column=st.integers(0, 4),
)
def test_rescaling_a_feature_leaves_predictions_unchanged(data, penalty, factor, shift, column):
    X, y = data
    j = column % X.shape[1]
    X2 = X.copy()
    X2[:, j] = X2[:, j] * factor + shift
    a = _model(penalty).fit(X, y)
    b = _model(penalty).fit(X2, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X2), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.coef_standardized_, b.coef_standardized_, rtol=1e-5, atol=1e-7)


@SETTINGS
@given(data=logistic_data(max_classes=2), C=st.floats(0.01, 10.0))
def test_duplicated_columns_with_doubled_penalty_equal_original(data, C):
    # [X, X] splits each coefficient evenly, which halves its L2 penalty; doubling the
    # penalty strength (halving C) restores the original fit.
    X, y = data
    a = LogisticModel(C=C).fit(X, y)
    b = LogisticModel(C=C / 2).fit(np.hstack([X, X]), y)
    p = X.shape[1]
    np.testing.assert_allclose(b.coef_[:, :p] + b.coef_[:, p:], a.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b.predict_proba(np.hstack([X, X])), a.predict_proba(X), rtol=1e-7)


@SETTINGS
@given(data=logistic_data(), penalty=penalties)
def test_newton_and_lbfgs_reach_the_same_optimum(data, penalty):
    X, y = data
    a = LogisticModel(penalty=penalty[0], l1_ratio=penalty[1], C=0.5, solver="newton").fit(X, y)
    b = LogisticModel(penalty=penalty[0], l1_ratio=penalty[1], C=0.5, solver="lbfgs").fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5, atol=1e-6)
