"""Tests of logitkit.selection: LogisticModelCV against scikit-learn on the same folds and grid."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from logitkit import ConvergenceWarning, DataError, LogisticModel, LogisticModelCV
from logitkit.selection import CV_RESULTS_COLUMNS
from tests.helpers import make_logistic

CS = np.logspace(-3, 1, 12)
FOLDS = StratifiedKFold(5)


@pytest.fixture(scope="module")
def binary():
    """300 x 6, columns on scales 1e-2..1e2 with offsets; the optimum is inside CS."""
    return make_logistic(n=300, p=6, seed=3)


def neg(scores):
    """scikit-learn's ``neg_log_loss`` as log-loss."""
    return -np.asarray(scores)


# --------------------------------------------------------- agreement with scikit-learn
def test_l2_same_scores_and_C_as_logistic_regression_cv(binary):
    """standardize=False on pre-standardised columns is LogisticRegressionCV's objective."""
    X, y = binary
    Xs = StandardScaler().fit_transform(X)
    sk = LogisticRegressionCV(
        Cs=CS,
        cv=FOLDS,
        l1_ratios=(0.0,),
        scoring="neg_log_loss",
        solver="newton-cholesky",
        tol=1e-12,
        use_legacy_attributes=False,
    ).fit(Xs, y)
    lk = LogisticModelCV(Cs=CS, cv=FOLDS, standardize=False).fit(Xs, y)
    # path_tol=1e-6 moves a held-out log-loss by far less than 1e-6.
    np.testing.assert_allclose(
        lk.cv_results_["mean_score"], neg(sk.scores_.mean(axis=0).ravel()), atol=1e-6
    )
    folds = lk.cv_results_[[f"split{k}_score" for k in range(5)]].to_numpy().T
    np.testing.assert_allclose(folds, neg(sk.scores_[:, 0, :]), atol=1e-6)
    assert lk.C_ == sk.C_
    assert 0 < lk.best_index_ < len(CS) - 1  # an interior optimum: the comparison means something
    np.testing.assert_allclose(lk.coef_, sk.coef_, atol=1e-6)


def test_l1_same_scores_and_C_as_liblinear_on_the_default_grid(binary):
    """liblinear penalises its intercept column; intercept_scaling=1e4 makes that negligible."""
    X, y = binary
    Xs = StandardScaler().fit_transform(X)
    lk = LogisticModelCV(Cs=12, cv=FOLDS, penalty="l1", standardize=False).fit(Xs, y)
    grid = lk.Cs_[0]
    sk = LogisticRegressionCV(
        Cs=grid,
        cv=FOLDS,
        l1_ratios=(1.0,),
        scoring="neg_log_loss",
        solver="liblinear",
        intercept_scaling=1e4,
        random_state=0,  # liblinear visits coordinates in random order
        tol=1e-12,
        max_iter=100_000,
        use_legacy_attributes=False,
    ).fit(Xs, y)
    np.testing.assert_allclose(
        lk.cv_results_["mean_score"], neg(sk.scores_.mean(axis=0).ravel()), atol=1e-6
    )
    assert lk.C_ == sk.C_
    assert 0 < lk.best_index_ < len(grid) - 1


def test_standardized_same_scores_and_C_as_grid_search_over_a_pipeline(binary):
    """standardize=True scales each fold by its own training rows, as a pipeline does."""
    X, y = binary
    pipe = make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cholesky", tol=1e-12))
    gs = GridSearchCV(pipe, {"logisticregression__C": CS}, cv=FOLDS, scoring="neg_log_loss").fit(
        X, y
    )
    lk = LogisticModelCV(Cs=CS, cv=FOLDS).fit(X, y)
    np.testing.assert_allclose(
        lk.cv_results_["mean_score"], neg(gs.cv_results_["mean_test_score"]), atol=1e-6
    )
    assert gs.best_params_["logisticregression__C"] == lk.C_


def test_elastic_net_grid_matches_grid_search_over_C_and_l1_ratio(binary):
    X, y = binary
    Cs, ratios = np.logspace(-2, 1, 5), [0.2, 0.8]
    pipe = make_pipeline(
        StandardScaler(), LogisticRegression(solver="saga", tol=1e-12, max_iter=100_000)
    )
    grid = {"logisticregression__C": Cs, "logisticregression__l1_ratio": ratios}
    gs = GridSearchCV(pipe, grid, cv=FOLDS, scoring="neg_log_loss").fit(X, y)
    lk = LogisticModelCV(Cs=Cs, cv=FOLDS, penalty="elasticnet", l1_ratios=ratios).fit(X, y)
    ours = lk.cv_results_.set_index(["C", "l1_ratio"])["mean_score"]
    theirs = pd.Series(
        neg(gs.cv_results_["mean_test_score"]),
        index=pd.MultiIndex.from_arrays(
            [
                gs.cv_results_["param_logisticregression__C"].astype(float),
                gs.cv_results_["param_logisticregression__l1_ratio"].astype(float),
            ]
        ),
    )
    # saga stops early where every coefficient is zero (its intercept is then off by ~3e-3),
    # so those candidates are left out; elsewhere it converges to 1e-12.
    ours = ours.sort_index()
    some = lk.cv_results_.set_index(["C", "l1_ratio"])["mean_nonzero"].sort_index() > 0
    assert some.sum() >= 8
    np.testing.assert_allclose(ours[some], theirs.sort_index()[some], atol=1e-6)
    best = gs.best_params_
    assert (lk.C_, lk.l1_ratio_) == (
        best["logisticregression__C"],
        best["logisticregression__l1_ratio"],
    )
    assert lk.Cs_.shape == (2, 5)


def test_multinomial_same_scores_as_logistic_regression_cv():
    X, y = make_logistic(n=240, p=4, n_classes=3, seed=5)
    Xs = StandardScaler().fit_transform(X)
    Cs = np.logspace(-2, 2, 6)
    sk = LogisticRegressionCV(
        Cs=Cs,
        cv=FOLDS,
        l1_ratios=(0.0,),
        scoring="neg_log_loss",
        solver="newton-cholesky",
        tol=1e-12,
        use_legacy_attributes=False,
    ).fit(Xs, y)
    lk = LogisticModelCV(Cs=Cs, cv=FOLDS, standardize=False).fit(Xs, y)
    np.testing.assert_allclose(
        lk.cv_results_["mean_score"], neg(sk.scores_.mean(axis=0).ravel()), atol=1e-6
    )
    assert lk.C_ == sk.C_
    assert lk.oof_proba_.shape == (240, 3)
    np.testing.assert_allclose(lk.oof_proba_.sum(axis=1), 1.0)


# ------------------------------------------------------------------- the path itself
def test_fold_scores_equal_independent_fits_on_each_fold(binary):
    """Warm starts change nothing, and each fold is standardised by its training rows only."""
    X, y = binary
    lk = LogisticModelCV(
        Cs=[0.05, 0.5], cv=FOLDS, penalty="l1", scoring="brier", class_weight="balanced"
    ).fit(X, y)
    for k, (train, test) in enumerate(FOLDS.split(X, y)):
        for i, C in enumerate([0.05, 0.5]):
            # "balanced" is computed on each fold's training rows.
            model = LogisticModel(penalty="l1", C=C, class_weight="balanced")
            model.fit(X[train], y[train])
            brier = skm.brier_score_loss(y[test], model.predict_proba(X[test])[:, 1])
            # The path stops at path_tol=1e-6, so scores agree to about that.
            assert lk.cv_results_[f"split{k}_score"].iloc[i] == pytest.approx(brier, abs=1e-6)


def test_default_l1_grid_starts_where_every_coefficient_is_zero(binary):
    X, y = binary
    lk = LogisticModelCV(Cs=6, penalty="l1").fit(X, y)
    grid = lk.Cs_[0]
    np.testing.assert_allclose(grid[-1] / grid[0], 1e4)
    assert np.all(np.diff(grid) > 0)
    at = LogisticModel(penalty="l1", C=grid[0] * 0.999).fit(X, y)
    above = LogisticModel(penalty="l1", C=grid[0] * 1.01).fit(X, y)
    assert np.count_nonzero(at.coef_) == 0
    assert np.count_nonzero(above.coef_) > 0
    assert lk.cv_results_["mean_nonzero"].iloc[-1] > lk.cv_results_["mean_nonzero"].iloc[0]


def test_default_l2_grid_is_scikit_learns(binary):
    X, y = binary
    lk = LogisticModelCV(Cs=4, cv=3).fit(X, y)
    np.testing.assert_allclose(lk.Cs_[0], np.logspace(-4, 4, 4))
    np.testing.assert_array_equal(lk.l1_ratios_, [0.0])


def test_cv_results_table(binary):
    X, y = binary
    lk = LogisticModelCV(Cs=CS, cv=FOLDS).fit(X, y)
    table = lk.cv_results_
    assert list(table.columns) == [*CV_RESULTS_COLUMNS, *(f"split{k}_score" for k in range(5))]
    folds = table[[f"split{k}_score" for k in range(5)]].to_numpy()
    np.testing.assert_allclose(table["std_score"], folds.std(axis=1, ddof=1))
    np.testing.assert_allclose(table["se_score"], table["std_score"] / np.sqrt(5))
    assert table["selected"].sum() == 1
    assert table["rank"].iloc[lk.best_index_] == 1
    assert table["C"].iloc[lk.best_index_] == lk.C_ == lk.best_estimator_.C


def test_one_se_rule_picks_the_strongest_penalty_within_one_standard_error(binary):
    X, y = binary
    best = LogisticModelCV(Cs=CS, cv=FOLDS).fit(X, y)
    sparse = LogisticModelCV(Cs=CS, cv=FOLDS, one_se_rule=True).fit(X, y)
    table = best.cv_results_
    limit = table["mean_score"].min() + table["se_score"].iloc[best.best_index_]
    within = table["C"][table["mean_score"] <= limit]
    assert sparse.C_ == within.min() < best.C_
    pd.testing.assert_frame_equal(
        sparse.cv_results_.drop(columns="selected"), table.drop(columns="selected")
    )


def test_roc_auc_is_maximised(binary):
    X, y = binary
    lk = LogisticModelCV(Cs=CS, cv=FOLDS, scoring="roc_auc").fit(X, y)
    assert lk.cv_results_["mean_score"].iloc[lk.best_index_] == lk.cv_results_["mean_score"].max()
    train, test = next(FOLDS.split(X, y))
    model = LogisticModel(C=CS[3]).fit(X[train], y[train])
    auc = skm.roc_auc_score(y[test], model.decision_function(X[test]))
    assert lk.cv_results_["split0_score"].iloc[3] == pytest.approx(auc, abs=1e-9)


@pytest.mark.parametrize("scoring", ["brier", "roc_auc"])
def test_multinomial_scores(scoring):
    """Brier summed over classes; ROC-AUC the macro mean of one-vs-rest AUCs."""
    X, y = make_logistic(n=240, p=4, n_classes=3, seed=5)
    lk = LogisticModelCV(Cs=[0.1, 1.0], cv=FOLDS, scoring=scoring).fit(X, y)
    train, test = next(FOLDS.split(X, y))
    P = LogisticModel(C=1.0).fit(X[train], y[train]).predict_proba(X[test])
    Y = np.eye(3)[y[test]]
    if scoring == "brier":
        expected = np.mean(np.sum((P - Y) ** 2, axis=1))
    else:
        expected = skm.roc_auc_score(y[test], P, multi_class="ovr", average="macro")
    assert lk.cv_results_["split0_score"].iloc[1] == pytest.approx(expected, abs=1e-7)


def test_out_of_fold_probabilities_at_the_chosen_C(binary):
    X, y = binary
    lk = LogisticModelCV(Cs=CS, cv=FOLDS).fit(X, y)
    expected = np.empty((len(y), 2))
    for train, test in FOLDS.split(X, y):
        expected[test] = LogisticModel(C=lk.C_).fit(X[train], y[train]).predict_proba(X[test])
    # The path stops at path_tol=1e-6 (the independent fits at tol=1e-10).
    np.testing.assert_allclose(lk.oof_proba_, expected, atol=1e-5)
    log_loss = skm.log_loss(y, lk.oof_proba_)
    # Every fold has 60 rows, so the mean of the fold scores is the pooled log-loss.
    assert lk.cv_results_["mean_score"].iloc[lk.best_index_] == pytest.approx(log_loss)


def test_out_of_fold_rows_outside_every_test_fold_are_nan(binary):
    X, y = binary
    idx = np.arange(len(y))
    splits = [(idx[100:], idx[:50]), (idx[:100], idx[200:])]
    lk = LogisticModelCV(Cs=[1.0], cv=splits).fit(X, y)
    assert np.isnan(lk.oof_proba_[50:200]).all()
    assert np.isfinite(lk.oof_proba_[:50]).all()
    assert np.isfinite(lk.oof_proba_[200:]).all()


def test_refit_equals_a_logistic_model_at_the_chosen_C(binary):
    X, y = binary
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    labels = np.where(y == 1, "yes", "no")
    lk = LogisticModelCV(Cs=CS, cv=FOLDS, penalty="l1").fit(frame, labels)
    direct = LogisticModel(penalty="l1", C=lk.C_).fit(frame, labels)
    np.testing.assert_allclose(lk.coef_, direct.coef_, atol=1e-8)
    np.testing.assert_allclose(lk.predict_proba(frame), direct.predict_proba(frame), atol=1e-8)
    np.testing.assert_allclose(
        lk.predict_log_proba(frame), direct.predict_log_proba(frame), atol=1e-8
    )
    np.testing.assert_allclose(
        lk.decision_function(frame), direct.decision_function(frame), atol=1e-8
    )
    assert (lk.predict(frame) == direct.predict(frame)).all()
    assert list(lk.classes_) == ["no", "yes"]
    assert list(lk.feature_names_in_) == list(frame.columns)
    assert lk.best_estimator_.get_params()["warm_start"] is False


def test_weights_scale_like_C(binary):
    """Sample weights 2 double the loss: the same path as unit weights at twice each C."""
    X, y = binary
    weighted = LogisticModelCV(Cs=CS, cv=FOLDS).fit(X, y, sample_weight=np.full(len(y), 2.0))
    unit = LogisticModelCV(Cs=2 * CS, cv=FOLDS).fit(X, y)
    np.testing.assert_allclose(
        weighted.cv_results_["mean_score"], unit.cv_results_["mean_score"], atol=1e-7
    )
    np.testing.assert_allclose(weighted.oof_proba_, unit.oof_proba_, atol=1e-6)


def test_parallel_folds_give_the_same_results(binary):
    X, y = binary
    one = LogisticModelCV(Cs=CS, cv=FOLDS, penalty="l1").fit(X, y)
    two = LogisticModelCV(Cs=CS, cv=FOLDS, penalty="l1", n_jobs=2).fit(X, y)
    with parallel_config(backend="threading"):
        threads = LogisticModelCV(Cs=CS, cv=FOLDS, penalty="l1", n_jobs=2).fit(X, y)
    for other in (two, threads):
        pd.testing.assert_frame_equal(one.cv_results_, other.cv_results_)
        np.testing.assert_array_equal(one.oof_proba_, other.oof_proba_)


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Cs": 0}, "The 'Cs' parameter of LogisticModelCV must be an int in [1, inf)"),
        ({"Cs": [1.0, -2.0]}, "sequence of floats in (0, inf). Got [1.0, -2.0] instead."),
        ({"cv": 1}, "The 'cv' parameter of LogisticModelCV must be an int in [2, inf)"),
        ({"scoring": "accuracy"}, "one of 'log_loss', 'roc_auc', 'brier'. Got 'accuracy'"),
        ({"penalty": "elasticnet"}, "'l1_ratios' parameter of LogisticModelCV must be a non-empty"),
        ({"penalty": "l1", "l1_ratios": [0.5]}, "must be None when penalty='l1'"),
        ({"penalty": None}, "The 'penalty' parameter of LogisticModelCV must be one of"),
        (
            {"path_tol": 0},
            "The 'path_tol' parameter of LogisticModelCV must be a float in (0, inf)",
        ),
    ],
)
def test_parameter_errors_have_one_shape(binary, params, message):
    X, y = binary
    with pytest.raises(ValueError, match=re.escape(message)):
        LogisticModelCV(**params).fit(X, y)


def test_a_training_fold_without_a_class_is_a_data_error():
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([0] * 5 + [1] * 5)
    with pytest.raises(DataError, match="training fold holds 1 of the 2 classes"):
        LogisticModelCV(Cs=[1.0], cv=KFold(2)).fit(X, y)


def test_convergence_warning_names_the_path_fits(binary):
    X, y = binary
    with pytest.warns(ConvergenceWarning) as caught:
        LogisticModelCV(Cs=[10.0], cv=FOLDS, penalty="l1", max_iter=1).fit(X, y)
    text = " ".join(str(w.message) for w in caught)
    assert "path fits did not converge" in text
    assert "refit at C=10 did not converge" in text


def test_predicting_before_fit_raises(binary):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogisticModelCV().predict(binary[0])


# --------------------------------------------------------- scikit-learn's contract
@parametrize_with_checks([LogisticModelCV(Cs=3, cv=3)])
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # Tiny and degenerate check data can leave a path fit short of tol.
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
