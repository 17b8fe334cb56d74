"""Coefficient bounds, penalty factors and offsets against glum and statsmodels.

References:

* glum ``GeneralizedLinearRegressor(family="binomial", alpha=1/(C n), l1_ratio=a,
  lower_bounds=..., upper_bounds=..., P1=v, P2=v, scale_predictors=False)`` minimises
  ``(1/n) sum loss_i + alpha (a sum_j v_j |b_j| + (1-a)/2 sum_j v_j b_j^2)`` over the
  box: ours (``C sum loss_i + penalty``) divided by ``C n``, so with
  ``standardize=False`` the minimisers are the same. Both solvers run to a gradient
  tolerance far below the 1e-6 compared (measured agreement is about 1e-10).
* statsmodels ``GLM(y, X, family=Binomial(), offset=o)``: the maximum-likelihood fit
  with an offset, coefficients and standard errors to 1e-6 relative (both are Newton
  solutions to about 1e-10).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer

import logitkit
from logitkit import LogisticModel
from logitkit._artifact_model import model_from_section
from logitkit.exceptions import DataError

glum = pytest.importorskip("glum")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """Six breast-cancer features, scaled once so that both solvers meet a tame problem."""
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :6]
    X = np.ascontiguousarray((X - X.mean(axis=0)) / X.std(axis=0))
    return X, y.astype(np.float64)


LOWER = np.array([-np.inf, 0.0, -np.inf, -0.5, -np.inf, -np.inf])
UPPER = np.array([np.inf, np.inf, 0.0, np.inf, 0.25, np.inf])
FACTOR = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 3.0])


def glum_fit(X: np.ndarray, y: np.ndarray, C: float, l1_ratio: float, **controls: object) -> object:
    n = X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tabmat's notes on copies; glum's line search
        return glum.GeneralizedLinearRegressor(
            family="binomial",
            alpha=1.0 / (C * n),
            l1_ratio=l1_ratio,
            scale_predictors=False,
            gradient_tol=1e-11,
            max_iter=1000,
            **controls,
        ).fit(X, y)


@pytest.mark.parametrize(("C", "l1_ratio"), [(0.05, 0.0), (0.02, 1.0), (0.05, 0.5)])
def test_bounds_equal_glum(
    cancer: tuple[np.ndarray, np.ndarray], C: float, l1_ratio: float
) -> None:
    X, y = cancer
    ref = glum_fit(X, y, C, l1_ratio, lower_bounds=LOWER, upper_bounds=UPPER)
    model = LogisticModel(
        penalty="elasticnet",
        C=C,
        l1_ratio=l1_ratio,
        standardize=False,
        lower_bounds=LOWER,
        upper_bounds=UPPER,
    ).fit(X, y)
    assert model.solver_result_.converged
    np.testing.assert_allclose(model.coef_[0], ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.intercept_[0], ref.intercept_, rtol=1e-6)
    # The bounds bind: without them the sign-constrained coefficients leave the box.
    free = LogisticModel(penalty="elasticnet", C=C, l1_ratio=l1_ratio, standardize=False)
    free_coef = free.fit(X, y).coef_[0]
    assert ((free_coef < LOWER) | (free_coef > UPPER)).any()
    assert ((model.coef_[0] >= LOWER) & (model.coef_[0] <= UPPER)).all()


@pytest.mark.parametrize(("C", "l1_ratio"), [(0.05, 0.0), (0.02, 1.0), (0.05, 0.5)])
def test_penalty_factor_equals_glum_p1_p2(
    cancer: tuple[np.ndarray, np.ndarray], C: float, l1_ratio: float
) -> None:
    X, y = cancer
    ref = glum_fit(X, y, C, l1_ratio, P1=FACTOR, P2=FACTOR)
    model = LogisticModel(
        penalty="elasticnet", C=C, l1_ratio=l1_ratio, standardize=False, penalty_factor=FACTOR
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_[0], ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.intercept_[0], ref.intercept_, rtol=1e-6)


def test_bounds_and_penalty_factor_together_equal_glum(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = cancer
    ref = glum_fit(X, y, 0.05, 0.5, P1=FACTOR, P2=FACTOR, lower_bounds=LOWER, upper_bounds=UPPER)
    model = LogisticModel(
        penalty="elasticnet",
        C=0.05,
        l1_ratio=0.5,
        standardize=False,
        penalty_factor=FACTOR,
        lower_bounds=LOWER,
        upper_bounds=UPPER,
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_[0], ref.coef_, rtol=1e-6, atol=1e-8)


def test_bounds_in_original_units_with_standardize(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    """standardize=True: bounds bind coef_ in original units, non-zero ones included."""
    X, y = cancer
    X = X * np.array([1.0, 10.0, 0.1, 3.0, 1.0, 5.0]) + 2.0
    lower = LOWER * np.array([1.0, 0.1, 10.0, 1 / 3, 1.0, 0.2])
    upper = UPPER * np.array([1.0, 0.1, 10.0, 1 / 3, 1.0, 0.2])
    model = LogisticModel(penalty=None, lower_bounds=lower, upper_bounds=upper).fit(X, y)
    # The same problem on the scale of the previous test: the same fit, rescaled.
    plain = LogisticModel(penalty=None, lower_bounds=LOWER, upper_bounds=UPPER).fit(*cancer)
    scale = np.array([1.0, 10.0, 0.1, 3.0, 1.0, 5.0])
    np.testing.assert_allclose(model.coef_[0] * scale, plain.coef_[0], rtol=1e-7, atol=1e-9)
    assert ((model.coef_[0] >= lower) & (model.coef_[0] <= upper)).all()
    assert model.coef_[0][3] == lower[3]  # an active non-zero bound, exactly


def test_bounds_by_feature_name_and_scalar() -> None:
    birth = pd.read_csv(DATA / "birthwt.csv")
    X = birth[["age", "lwt", "smoke", "ht"]].astype(float)
    y = birth["low"]
    named = LogisticModel(penalty=None, upper_bounds={"age": 0.0}).fit(X, y)
    ordered = LogisticModel(penalty=None, upper_bounds=[0.0, np.inf, np.inf, np.inf]).fit(X, y)
    np.testing.assert_array_equal(named.coef_, ordered.coef_)
    assert named.coef_[0][0] <= 0.0
    assert named.upper_bounds_.tolist() == [0.0, np.inf, np.inf, np.inf]
    wide = LogisticModel(penalty=None, lower_bounds=-100.0, upper_bounds=100.0).fit(X, y)
    free = LogisticModel(penalty=None).fit(X, y)
    np.testing.assert_allclose(wide.coef_, free.coef_, rtol=1e-8)  # inactive bounds


def test_penalty_factor_one_and_scaling_metamorphic(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    base = LogisticModel(C=0.3).fit(X, y)
    ones = LogisticModel(C=0.3, penalty_factor=1.0).fit(X, y)
    np.testing.assert_allclose(ones.coef_, base.coef_, rtol=1e-9, atol=1e-12)
    # Twice the penalty on every feature is half the C (the intercept is unpenalised).
    doubled = LogisticModel(C=0.3, penalty_factor=2.0).fit(X, y)
    half = LogisticModel(C=0.15).fit(X, y)
    np.testing.assert_allclose(doubled.coef_, half.coef_, rtol=1e-8, atol=1e-12)
    # A factor of 0 leaves a feature unpenalised: with all zero, the ML fit.
    zero = LogisticModel(C=0.3, penalty_factor=0.0).fit(X, y)
    ml = LogisticModel(penalty=None).fit(X, y)
    np.testing.assert_allclose(zero.coef_, ml.coef_, rtol=1e-7)


def test_multinomial_bounds_hold_for_every_class() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(400, 3)), axis=1)
    model = LogisticModel(C=1.0, lower_bounds=[-0.2, -np.inf, 0.0], upper_bounds=0.4).fit(X, y)
    assert model.solver_result_.converged
    assert (model.coef_ >= np.array([-0.2, -np.inf, 0.0]) - 0).all()
    assert (model.coef_ <= 0.4).all()
    assert np.isclose(model.coef_, 0.4).any() or np.isclose(model.coef_, -0.2).any()


# ------------------------------------------------------------------------------ offsets
def birthwt() -> tuple[pd.DataFrame, np.ndarray]:
    birth = pd.read_csv(DATA / "birthwt.csv")
    X = birth[["age", "lwt", "smoke", "ht", "ui"]].astype(float)
    return X, birth["low"].to_numpy()


def test_offset_equals_statsmodels_glm() -> None:
    X, y = birthwt()
    # An offset that varies by row: a log-odds term from the previous pregnancies.
    offset = 0.4 * np.log1p(pd.read_csv(DATA / "birthwt.csv")["ptl"].to_numpy())
    model = LogisticModel(penalty=None).fit(X, y, offset=offset)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset).fit(tol=1e-12)
    table = model.summary()
    np.testing.assert_allclose(table["coef"].to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(table["std_err"].to_numpy(), ref.bse.to_numpy(), rtol=1e-6)
    stats = model.fit_statistics()
    np.testing.assert_allclose(stats["log_likelihood"], ref.llf, rtol=1e-9)
    # Predictions on the scale of the fit need the rows' offsets.
    np.testing.assert_allclose(
        model.predict_proba(X, offset=offset)[:, 1], ref.fittedvalues, rtol=1e-7
    )
    without = model.predict_proba(X)[:, 1]
    assert not np.allclose(without, ref.fittedvalues)


def test_case_control_intercept_correction() -> None:
    """A constant offset shifts only the intercept, by exactly the offset (R's example).

    With cases over-sampled, ``glm(y ~ x, offset = rep(log((n1/n0) / (pi/(1-pi)))))``
    gives the population intercept: the slopes are those of the plain fit.
    """
    X, y = birthwt()
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    prevalence = 0.07  # population share of low birth weight
    shift = np.log((n1 / n0) / (prevalence / (1 - prevalence)))
    plain = LogisticModel(penalty=None).fit(X, y)
    corrected = LogisticModel(penalty=None).fit(X, y, offset=np.full(len(y), shift))
    np.testing.assert_allclose(corrected.coef_, plain.coef_, rtol=1e-8)
    np.testing.assert_allclose(corrected.intercept_, plain.intercept_ - shift, rtol=1e-8)
    # On the sample, with the offset, its predictions are the plain fit's.
    np.testing.assert_allclose(
        corrected.predict_proba(X, offset=shift), plain.predict_proba(X), rtol=1e-8
    )
    ref = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), offset=np.full(len(y), shift)
    ).fit(tol=1e-12)
    np.testing.assert_allclose(corrected.summary()["std_err"], ref.bse, rtol=1e-6)


def test_offset_equals_fixed_coefficient() -> None:
    """A coefficient pinned by equal bounds is an offset of that feature times the value."""
    X, y = birthwt()
    pinned = LogisticModel(penalty=None, lower_bounds={"lwt": -0.01}, upper_bounds={"lwt": -0.01})
    pinned.fit(X, y)
    rest = X.drop(columns="lwt")
    offset = -0.01 * X["lwt"].to_numpy()
    model = LogisticModel(penalty=None).fit(rest, y, offset=offset)
    np.testing.assert_allclose(pinned.coef_[0][[0, 2, 3, 4]], model.coef_[0], rtol=1e-7)
    np.testing.assert_allclose(pinned.intercept_, model.intercept_, rtol=1e-7)
    assert pinned.coef_[0][1] == -0.01


def test_penalised_offset_duplicated_row_equals_weight_two() -> None:
    X, y = birthwt()
    offset = np.linspace(-0.5, 0.5, len(y))
    # A duplicated row with its offset counts as weight 2.
    Xd = pd.concat([X, X.iloc[:1]], ignore_index=True)
    yd = np.r_[y, y[:1]]
    od = np.r_[offset, offset[:1]]
    w = np.ones(len(y))
    w[0] = 2.0
    a = LogisticModel(C=0.5).fit(Xd, yd, offset=od)
    b = LogisticModel(C=0.5).fit(X, y, sample_weight=w, offset=offset)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "fit_kwargs", "match"),
    [
        ({"penalty": None, "penalty_factor": [1.0] * 5}, {}, "penalty_factor multiplies"),
        ({"penalty_factor": -1.0}, {}, "finite number >= 0"),
        ({"lower_bounds": 1.0, "upper_bounds": 0.0}, {}, "are empty"),
        ({"upper_bounds": {"weight": 0.0}}, {}, "names the feature 'weight'"),
        ({"upper_bounds": [0.0, 1.0]}, {}, "one number per feature"),
        ({"lower_bounds": np.inf}, {}, "no value fits"),
        ({"penalty": "firth", "upper_bounds": 0.0}, {}, "takes no bounds"),
        ({"solver": "lbfgs", "upper_bounds": 0.0}, {}, "does not take coefficient bounds"),
        ({"upper_bounds": "zero"}, {}, "'upper_bounds' parameter"),
    ],
)
def test_controls_refused_with_clear_errors(
    kwargs: dict[str, object], fit_kwargs: dict[str, object], match: str
) -> None:
    X, y = birthwt()
    with pytest.raises(ValueError, match=match):
        LogisticModel(**kwargs).fit(X, y, **fit_kwargs)


def test_offset_refused_with_clear_errors() -> None:
    X, y = birthwt()
    with pytest.raises(DataError, match="one number per row"):
        LogisticModel().fit(X, y, offset=np.zeros(3))
    bad = np.zeros(len(y))
    bad[7] = np.nan
    with pytest.raises(DataError, match="first at row 7") as info:
        LogisticModel().fit(X, y, offset=bad)
    assert info.value.row == 7
    with pytest.raises(ValueError, match="takes no offset"):
        LogisticModel(penalty="firth").fit(X, y, offset=np.zeros(len(y)))
    model = LogisticModel().fit(X, y)
    with pytest.raises(DataError, match="one number per row"):
        model.predict_proba(X, offset=np.zeros(2))
    three = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match="cancels in the softmax"):
        LogisticModel().fit(X, three, offset=np.zeros(len(y)))


def test_offset_fit_statistics_equal_statsmodels(tmp_path: Path) -> None:
    """llf, llnull (the null model keeps the offset), deviance, AIC; also after saving."""
    X, y = birthwt()
    offset = np.linspace(-1.0, 1.0, len(y))
    model = LogisticModel(penalty=None).fit(X, y, offset=offset)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset).fit(tol=1e-12)
    loaded = logitkit.load(model.save(tmp_path / "m.json"))
    for fitted in (model, loaded):
        stats = fitted.fit_statistics()
        np.testing.assert_allclose(stats["log_likelihood"], ref.llf, rtol=1e-9)
        np.testing.assert_allclose(stats["null_log_likelihood"], ref.llnull, rtol=1e-9)
        np.testing.assert_allclose(stats["aic"], ref.aic, rtol=1e-9)
        np.testing.assert_allclose(fitted.summary()["std_err"], ref.bse, rtol=1e-6)
    assert loaded.fitted_with_offset_
    with pytest.raises(ValueError, match="fitted with an offset"):
        model.summary(cov_type="HC0", X=X, y=y)
    # With its training rows, the model-based numbers are still the offset fit's.
    np.testing.assert_allclose(model.fit_statistics(X=X, y=y)["log_likelihood"], ref.llf, rtol=1e-9)


def test_controls_survive_the_artifact(tmp_path: Path) -> None:
    X, y = birthwt()
    model = LogisticModel(
        upper_bounds={"age": 0.0}, lower_bounds=-np.inf, penalty_factor=[1, 0, 1, 2, 1]
    ).fit(X, y)
    loaded = logitkit.load(model.save(tmp_path / "m.json"))
    np.testing.assert_array_equal(loaded.upper_bounds_, model.upper_bounds_)
    np.testing.assert_array_equal(loaded.penalty_factor_, model.penalty_factor_)
    again = LogisticModel(**loaded.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.coef_, model.coef_)
    # An artifact written before these controls existed has no "controls" section.
    section = json.loads((tmp_path / "m.json").read_text())["model"]
    del section["controls"]
    for name in ("lower_bounds", "upper_bounds", "penalty_factor"):
        del section["params"][name]
    old = model_from_section(section)
    assert old.lower_bounds_ is None
    assert old.penalty_factor_ is None
    assert not old.fitted_with_offset_
    np.testing.assert_array_equal(old.predict_proba(X), model.predict_proba(X))
