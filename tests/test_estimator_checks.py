"""scikit-learn's estimator contract, and use inside its meta-estimators."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from logitkit import LogisticModel


@parametrize_with_checks(
    [
        LogisticModel(),
        LogisticModel(penalty="l1", C=0.5),
        LogisticModel(penalty="elasticnet", l1_ratio=0.5, class_weight="balanced"),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_lbfgs_solver_works_as_an_estimator(breast_cancer):
    # Not in the contract checks above: L-BFGS stops where rounding stops it, about 1e-8
    # from the optimum, which the 1e-9 weight-equivalence check cannot tell from a bug.
    X, y = breast_cancer
    newton = LogisticModel().fit(X, y)
    lbfgs = clone(LogisticModel(solver="lbfgs")).fit(X, y)
    np.testing.assert_allclose(lbfgs.predict_proba(X), newton.predict_proba(X), atol=1e-6)
    assert pickle.loads(pickle.dumps(lbfgs)).score(X, y) == lbfgs.score(X, y)


def test_pipeline_gridsearch_and_cross_val_score(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(FunctionTransformer(np.log1p), LogisticModel())
    scores = cross_val_score(pipe, X, y, cv=5)
    assert scores.mean() > 0.95
    search = GridSearchCV(LogisticModel(), {"C": [0.01, 0.1, 1.0], "penalty": ["l1", "l2"]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["C"] in (0.01, 0.1, 1.0)
    assert search.best_score_ > 0.95
