"""Bad input gets a clear error naming the problem; odd but valid input just works."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

from logitkit import ConvergenceWarning, DataError, LogisticModel, SeparationError
from tests.helpers import make_logistic


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_logistic(n=120, p=3, seed=1)


def test_nan_is_reported_with_column_and_count(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["age", "income", "debt"])
    frame.loc[[5, 9], "income"] = np.nan
    frame.loc[7, "debt"] = np.inf
    with pytest.raises(DataError, match=r"'income' has 2 NaN value\(s\) \(first at row 5\)") as err:
        LogisticModel().fit(frame, y)
    assert "'debt' has 1 infinite" in str(err.value)
    assert err.value.column == "income"
    assert err.value.row == 5
    assert err.value.count == 3


def test_nan_in_numpy_names_column_index(data):
    X, y = data
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(DataError, match="column 1 has 1 NaN"):
        LogisticModel().fit(X, y)


def test_nan_at_predict_time_is_reported(data):
    X, y = data
    model = LogisticModel().fit(X, y)
    X2 = X.copy()
    X2[0, 2] = np.nan
    with pytest.raises(DataError, match="column 2 has 1 NaN"):
        model.predict_proba(X2)


def test_non_numeric_column_is_named(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["region"] = ["north", "south"] * 60
    with pytest.raises(DataError, match=r"'region' \(.*\) are not numeric.*one-hot"):
        LogisticModel().fit(frame, y)


def test_one_class_only(data):
    X, _ = data
    with pytest.raises(DataError, match=r"only one class \('benign'\)"):
        LogisticModel().fit(X, np.array(["benign"] * len(X)))


def test_empty_data():
    with pytest.raises(ValueError, match="0 sample"):
        LogisticModel().fit(np.empty((0, 3)), np.empty(0))


def test_length_mismatch(data):
    X, y = data
    with pytest.raises(DataError, match="X has 120 rows but y has 119"):
        LogisticModel().fit(X, y[:-1])


def test_negative_weights(data):
    X, y = data
    sw = np.ones(len(y))
    sw[4] = -1.0
    with pytest.raises(DataError, match=r"1 negative value\(s\) \(first at row 4"):
        LogisticModel().fit(X, y, sample_weight=sw)


def test_continuous_target_is_refused(data):
    X, _ = data
    with pytest.raises(DataError, match="continuous"):
        LogisticModel().fit(X, np.linspace(0, 1, len(X)))


def test_parameter_errors_have_one_shape(data):
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"The 'C' parameter of LogisticModel must be a float in "
        r"\(0, inf\)\. Got -1 instead\.",
    ):
        LogisticModel(C=-1).fit(X, y)
    with pytest.raises(ValueError, match="'penalty' parameter of LogisticModel must be one of"):
        LogisticModel(penalty="l3").fit(X, y)
    with pytest.raises(ValueError, match=r"'l1_ratio' parameter .* when penalty='elasticnet'"):
        LogisticModel(penalty="elasticnet").fit(X, y)


def test_constant_column_does_not_divide_by_zero(data):
    X, y = data
    Xc = np.column_stack([X, np.full(len(X), 7.0)])
    for penalty in ("l2", "l1", None):
        model = LogisticModel(penalty=penalty).fit(Xc, y)
        assert np.all(np.isfinite(model.coef_))
        assert model.coef_[0, -1] == 0.0
        reference = LogisticModel(penalty=penalty).fit(X, y)
        np.testing.assert_allclose(model.coef_[0, :-1], reference.coef_[0], rtol=1e-7)


def test_labels_of_any_type(data):
    X, y = data
    for labels in (np.array(["benign", "malignant"]), np.array([False, True]), np.array([3, 8])):
        yy = labels[y]
        model = LogisticModel().fit(X, yy)
        assert list(model.classes_) == list(labels)
        assert set(model.predict(X)) <= set(labels)


def test_dataframes_keep_feature_names(data):
    X, y = data
    names = ["age", "income", "debt"]
    for frame in (pd.DataFrame(X, columns=names), pl.DataFrame(X, schema=names)):
        model = LogisticModel().fit(frame, y)
        assert list(model.feature_names_in_) == names
        np.testing.assert_allclose(
            model.predict_proba(frame), LogisticModel().fit(X, y).predict_proba(X)
        )


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_formats(data, fmt):
    X, y = data
    model = LogisticModel().fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(model.coef_, LogisticModel().fit(X, y).coef_, rtol=1e-7)


def test_complete_separation_names_the_feature():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(100)
    signal = np.concatenate([rng.uniform(-3, -1, 50), rng.uniform(1, 3, 50)])
    X = pd.DataFrame({"noise": noise, "tumour_size": signal})
    y = np.repeat(["benign", "malignant"], 50)
    with pytest.raises(
        SeparationError, match=r"completely separated: feature\(s\) 'tumour_size'"
    ) as err:
        LogisticModel(penalty=None).fit(X, y)
    assert err.value.features == ["tumour_size"]
    assert "Add a penalty" in str(err.value)
    # With a penalty the same data fit fine.
    assert np.all(np.isfinite(LogisticModel(C=1.0).fit(X, y).coef_))


def test_quasi_complete_separation_is_detected():
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal(200)
    x2 = np.where(np.arange(200) < 100, 0.0, rng.uniform(0, 1, 200))
    y = np.where(x2 > 0, 1, (rng.random(200) < 0.5).astype(int))
    with pytest.raises(SeparationError) as err:
        LogisticModel(penalty=None).fit(np.column_stack([x1, x2]), y)
    assert err.value.features[0] == "x1"


def test_overlapping_classes_are_not_flagged(data):
    X, y = data
    model = LogisticModel(penalty=None).fit(X, y)
    assert np.all(np.abs(model.coef_standardized_) < 20)


def test_convergence_warning_says_what_to_try(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match=r"after 1 iterations.*larger max_iter"):
        LogisticModel(max_iter=1).fit(X, y)


def test_warm_start_reuses_solution(data):
    X, y = data
    model = LogisticModel(warm_start=True, C=0.5).fit(X, y)
    first = model.n_iter_[0]
    model.fit(X, y)
    assert model.n_iter_[0] < first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(C=0.6).fit(X, y)
    np.testing.assert_allclose(model.coef_, LogisticModel(C=0.6).fit(X, y).coef_, rtol=1e-7)


def test_quasi_separation_with_moderate_coefficients_is_detected():
    # Newton "converges" here with a standardised coefficient near 11; the rows whose
    # probabilities ran to 0 or 1 give the separation away.
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "reference" / "firth.json").read_text())["separated"]
    with pytest.raises(SeparationError, match=r"quasi-completely separated: feature\(s\) 'x0'"):
        LogisticModel(penalty=None).fit(np.array(data["X"]), np.array(data["y"]))
