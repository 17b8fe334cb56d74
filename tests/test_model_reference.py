"""LogisticModel against independent implementations: scikit-learn and statsmodels.

Reference fits use scikit-learn's documented pipeline (StandardScaler then
LogisticRegression) with tolerances far tighter than ours needs, so the remaining
difference is logitkit's: coefficients must agree to 1e-6 relative (1e-8 absolute for
coefficients that are zero), and logitkit's objective must never be worse.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from logitkit import LogisticModel
from tests.helpers import make_logistic, objective

RTOL = 1e-6
ATOL = 1e-8


def sklearn_reference(
    X: np.ndarray,
    y: np.ndarray,
    *,
    C: float,
    l1_ratio: float,
    sample_weight: np.ndarray | None = None,
    class_weight: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and intercepts, in original units, of the scikit-learn pipeline."""
    solver = "newton-cholesky" if l1_ratio == 0.0 else "saga"
    lr = LogisticRegression(
        C=C,
        l1_ratio=l1_ratio,
        solver=solver,
        tol=1e-14 if solver == "saga" else 1e-12,
        max_iter=200_000 if solver == "saga" else 1000,
        class_weight=class_weight,
    )
    pipe = make_pipeline(StandardScaler(), lr)
    with warnings.catch_warnings():
        # saga may stop just short of tol=1e-14; its accuracy is checked by the objective.
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        pipe.fit(
            X,
            y,
            standardscaler__sample_weight=sample_weight,
            logisticregression__sample_weight=sample_weight,
        )
    scaler = pipe[0]
    coef = lr.coef_ / scaler.scale_
    intercept = lr.intercept_ - coef @ scaler.mean_
    return coef, intercept


PENALTIES = [
    ("l2", None, 1.0, 0.0),
    ("l1", None, 0.3, 1.0),
    ("elasticnet", 0.4, 0.5, 0.4),
]


def _compare(
    model: LogisticModel, X, y, ref_coef, ref_intercept, *, C, l1_ratio, sw=None, cw_rows=None
):
    np.testing.assert_allclose(model.coef_, ref_coef, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model.intercept_, ref_intercept, rtol=RTOL, atol=1e-7)
    weights = sw if cw_rows is None else (np.ones(len(y)) if sw is None else sw) * cw_rows
    ours = objective(
        model.coef_,
        model.intercept_,
        X,
        y,
        C=C,
        l1_ratio=l1_ratio,
        sample_weight=weights,
        scale=model.feature_scale_,
    )
    theirs = objective(
        ref_coef,
        ref_intercept,
        X,
        y,
        C=C,
        l1_ratio=l1_ratio,
        sample_weight=weights,
        scale=model.feature_scale_,
    )
    assert ours <= theirs * (1 + 1e-12) + 1e-12


@pytest.mark.parametrize(("penalty", "l1_ratio", "C", "rho"), PENALTIES)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_matches_sklearn_pipeline(penalty, l1_ratio, C, rho, n_classes):
    X, y = make_logistic(n=400, p=6, n_classes=n_classes, seed=n_classes)
    model = LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio).fit(X, y)
    coef, intercept = sklearn_reference(X, y, C=C, l1_ratio=rho)
    if n_classes > 2:
        # The intercepts of a multinomial model are defined up to a common shift.
        intercept = intercept - intercept.mean() + model.intercept_.mean()
    _compare(model, X, y, coef, intercept, C=C, l1_ratio=rho)


@pytest.mark.parametrize(("penalty", "l1_ratio", "C", "rho"), PENALTIES)
def test_matches_sklearn_with_sample_weight(penalty, l1_ratio, C, rho):
    X, y = make_logistic(n=300, p=5, seed=7)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, size=len(y))
    model = LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio).fit(X, y, sample_weight=sw)
    coef, intercept = sklearn_reference(X, y, C=C, l1_ratio=rho, sample_weight=sw)
    _compare(model, X, y, coef, intercept, C=C, l1_ratio=rho, sw=sw)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0}])
@pytest.mark.parametrize(("penalty", "l1_ratio", "C", "rho"), PENALTIES[:2])
def test_matches_sklearn_with_class_weight(class_weight, penalty, l1_ratio, C, rho):
    X, y = make_logistic(n=300, p=5, seed=11)
    y = np.where(np.arange(len(y)) % 4 == 0, y, 0)  # imbalanced
    model = LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio, class_weight=class_weight)
    model.fit(X, y)
    coef, intercept = sklearn_reference(X, y, C=C, l1_ratio=rho, class_weight=class_weight)
    counts = np.bincount(y)
    cw = (len(y) / (2 * counts)) if class_weight == "balanced" else np.array([1.0, 4.0])
    _compare(model, X, y, coef, intercept, C=C, l1_ratio=rho, cw_rows=cw[y])


@pytest.mark.parametrize(("penalty", "l1_ratio", "C", "rho"), PENALTIES)
def test_sparse_input_matches_dense_reference(penalty, l1_ratio, C, rho):
    rng = np.random.default_rng(3)
    X, y = make_logistic(n=300, p=8, seed=5, scale_spread=0.5)
    X[rng.random(X.shape) < 0.6] = 0.0
    model = LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio).fit(sp.csr_matrix(X), y)
    coef, intercept = sklearn_reference(X, y, C=C, l1_ratio=rho)
    _compare(model, X, y, coef, intercept, C=C, l1_ratio=rho)
    dense = LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio).fit(X, y)
    np.testing.assert_allclose(
        model.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-7, atol=1e-10
    )


def test_breast_cancer_matches_sklearn(breast_cancer):
    X, y = breast_cancer
    model = LogisticModel().fit(X, y)
    coef, intercept = sklearn_reference(X, y, C=1.0, l1_ratio=0.0)
    _compare(model, X, y, coef, intercept, C=1.0, l1_ratio=0.0)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_unpenalised_binary_matches_statsmodels(solver):
    # statsmodels' Logit maximises the same likelihood with no penalty, by Newton.
    X, y = make_logistic(n=500, p=4, seed=21)
    model = LogisticModel(penalty=None, solver=solver, tol=1e-10).fit(X, y)
    res = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    np.testing.assert_allclose(model.intercept_[0], res.params[0], rtol=RTOL)
    np.testing.assert_allclose(model.coef_[0], res.params[1:], rtol=RTOL)


def test_unpenalised_multinomial_matches_statsmodels():
    # MNLogit reports each class against the first; compare the same contrasts.
    X, y = make_logistic(n=600, p=3, n_classes=3, seed=4)
    model = LogisticModel(penalty=None).fit(X, y)
    res = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    params = np.asarray(res.params).T  # (K-1, p+1): intercept then coefficients
    ours = np.column_stack([model.intercept_, model.coef_])
    np.testing.assert_allclose(ours[1:] - ours[0], params, rtol=RTOL, atol=1e-9)


def test_standardize_false_matches_plain_sklearn():
    X, y = make_logistic(n=300, p=4, seed=9, scale_spread=0.3)
    model = LogisticModel(C=0.7, standardize=False).fit(X, y)
    lr = LogisticRegression(C=0.7, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(model.coef_, lr.coef_, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model.intercept_, lr.intercept_, rtol=RTOL)
