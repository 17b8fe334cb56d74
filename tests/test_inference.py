"""Inference (summary, covariances, fit statistics, LR tests) against statsmodels.

Reference numbers live in ``tests/reference/statsmodels.json`` with the statsmodels
commands that produced them (``tests/reference/make_statsmodels.py``); a few live
statsmodels fits on other seeds guard against a reference that happens to fit. The
tolerance is 1e-6 relative, the issue's requirement (observed: about 1e-10).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

from logitkit import InferenceWarning, LogisticModel, Summary, load
from logitkit.inference import FIT_STATISTICS, SUMMARY_COLUMNS, covariance, fit_statistics
from tests.helpers import make_logistic

RTOL = 1e-6
REF = json.loads((Path(__file__).parent / "reference" / "statsmodels.json").read_text())
COV_TYPES = ["nonrobust", "HC0", "HC1", "cluster"]
STATS = {  # logitkit key: statsmodels attribute
    "log_likelihood": "llf",
    "null_log_likelihood": "llnull",
    "aic": "aic",
    "bic": "bic",
    "pseudo_r2": "prsquared",
    "lr_stat": "llr",
    "lr_pvalue": "llr_pvalue",
    "df_model": "df_model",
}


def reference(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = REF[kind]
    return np.array(data["X"]), np.array(data["y"]), np.array(data["groups"])


def robust_kwargs(cov_type: str, X: np.ndarray, y: np.ndarray, g: np.ndarray) -> dict:
    if cov_type == "nonrobust":
        return {}
    return {"X": X, "y": y, **({"groups": g} if cov_type == "cluster" else {})}


def test_column_vocabulary_is_verbatim() -> None:
    assert SUMMARY_COLUMNS == (
        "coef",
        "std_err",
        "z",
        "p_value",
        "ci_low",
        "ci_high",
        "odds_ratio",
        "odds_ratio_ci_low",
        "odds_ratio_ci_high",
        "coef_std",
        "odds_ratio_per_sd",
        "odds_ratio_per_sd_ci_low",
        "odds_ratio_per_sd_ci_high",
    )
    X, y, _ = reference("binary")
    table = LogisticModel(penalty=None).fit(X, y).summary()
    assert tuple(table.columns) == SUMMARY_COLUMNS
    assert list(table.index) == ["intercept", "x0", "x1", "x2"]
    assert isinstance(table, pd.DataFrame)
    assert isinstance(table, Summary)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_binary_matches_statsmodels(cov_type: str) -> None:
    X, y, g = reference("binary")
    model = LogisticModel(penalty=None).fit(X, y)
    table = model.summary(cov_type=cov_type, **robust_kwargs(cov_type, X, y, g))
    ref = REF["binary"]
    np.testing.assert_allclose(table["coef"], ref["params"], rtol=RTOL)
    np.testing.assert_allclose(table["std_err"], ref["bse"][cov_type], rtol=RTOL)
    z = np.array(ref["params"]) / np.array(ref["bse"][cov_type])
    np.testing.assert_allclose(table["z"], z, rtol=RTOL)
    np.testing.assert_allclose(table["odds_ratio"], np.exp(ref["params"]), rtol=RTOL)
    half = table["ci_high"] - table["coef"]
    np.testing.assert_allclose(half, 1.959963984540054 * np.array(ref["bse"][cov_type]), rtol=RTOL)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_multinomial_matches_statsmodels_mnlogit(cov_type: str) -> None:
    X, y, g = reference("multinomial")
    model = LogisticModel(penalty=None).fit(X, y)
    table = model.summary(cov_type=cov_type, **robust_kwargs(cov_type, X, y, g))
    ref = REF["multinomial"]
    # MNLogit holds (k, K-1): column k-1 is class k against class 0; we stack the blocks.
    np.testing.assert_allclose(table["coef"], np.array(ref["params"]).T.ravel(), rtol=RTOL)
    np.testing.assert_allclose(
        table["std_err"], np.array(ref["bse"][cov_type]).T.ravel(), rtol=RTOL
    )
    assert table.index.names == ["class", "term"]
    assert list(table.index.get_level_values("class").unique()) == [1, 2]
    assert table.header["kind"] == "multinomial"


def test_no_intercept_matches_statsmodels_without_constant() -> None:
    X, y, _ = reference("binary")
    table = LogisticModel(penalty=None, fit_intercept=False).fit(X, y).summary()
    assert list(table.index) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(table["coef"], REF["no_constant"]["params"], rtol=RTOL)
    np.testing.assert_allclose(table["std_err"], REF["no_constant"]["bse"]["nonrobust"], rtol=RTOL)


@pytest.mark.parametrize("kind", ["binary", "multinomial", "no_constant"])
def test_fit_statistics_match_statsmodels(kind: str) -> None:
    X, y, _ = reference("binary" if kind == "no_constant" else kind)
    model = LogisticModel(penalty=None, fit_intercept=kind != "no_constant").fit(X, y)
    stats = model.fit_statistics()
    assert tuple(stats) == FIT_STATISTICS
    for ours, theirs in STATS.items():
        np.testing.assert_allclose(stats[ours], REF[kind]["stats"][theirs], rtol=RTOL)
    assert stats["deviance"] == pytest.approx(-2 * stats["log_likelihood"])
    assert stats["n_obs"] == X.shape[0]


@pytest.mark.parametrize("seed", [3, 4])
def test_live_statsmodels_other_seeds(seed: int) -> None:
    X, y = make_logistic(n=250, p=3, seed=seed)
    model = LogisticModel(penalty=None).fit(X, y)
    res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    table = model.summary()
    np.testing.assert_allclose(table["std_err"], res.bse, rtol=RTOL)
    np.testing.assert_allclose(table["p_value"], res.pvalues, rtol=RTOL)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]], res.conf_int(), rtol=RTOL)
    np.testing.assert_allclose(model.fit_statistics()["bic"], res.bic, rtol=RTOL)


def test_lr_test_matches_statsmodels_llf_difference() -> None:
    X, y, _ = reference("binary")
    full = LogisticModel(penalty=None).fit(X, y)
    reduced = LogisticModel(penalty=None).fit(X[:, :1], y)
    res = sm.Logit(y, sm.add_constant(X[:, :1])).fit(disp=0, method="newton", tol=1e-12)
    test = full.lr_test(reduced)
    expected = 2.0 * (REF["binary"]["stats"]["llf"] - res.llf)
    np.testing.assert_allclose(test["lr_stat"], expected, rtol=RTOL)
    assert test["df"] == 2.0
    with pytest.raises(ValueError, match="pass the larger model as full"):
        reduced.lr_test(full)
    with pytest.raises(ValueError, match="unpenalised"):
        LogisticModel().fit(X, y).lr_test(reduced)


def test_lr_test_refuses_different_rows() -> None:
    X, y, _ = reference("binary")
    full = LogisticModel(penalty=None).fit(X, y)
    with pytest.raises(ValueError, match="different rows"):
        full.lr_test(LogisticModel(penalty=None).fit(X[:200, :1], y[:200]))


def test_weight_two_equals_row_twice() -> None:
    """Sample weights are frequencies: weight 2 on a row = the row twice (and its cluster)."""
    X, y, g = reference("binary")
    w = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    twice = np.repeat(np.arange(len(y)), w.astype(int))
    weighted = LogisticModel(penalty=None).fit(X, y, sample_weight=w)
    repeated = LogisticModel(penalty=None).fit(X[twice], y[twice])
    for cov_type in COV_TYPES:
        a = weighted.summary(cov_type=cov_type, **robust_kwargs(cov_type, X, y, g), sample_weight=w)
        b = repeated.summary(
            cov_type=cov_type, **robust_kwargs(cov_type, X[twice], y[twice], g[twice])
        )
        np.testing.assert_allclose(a["std_err"], b["std_err"], rtol=1e-8)
    sa, sb = weighted.fit_statistics(), repeated.fit_statistics()
    for key in FIT_STATISTICS:
        np.testing.assert_allclose(sa[key], sb[key], rtol=1e-8)


def test_standardisation_does_not_change_inference() -> None:
    X, y, _g = reference("binary")
    a = LogisticModel(penalty=None).fit(X, y).summary(cov_type="HC1", X=X, y=y)
    b = LogisticModel(penalty=None, standardize=False).fit(X, y).summary(cov_type="HC1", X=X, y=y)
    np.testing.assert_allclose(
        a.table.drop(columns="coef_std"), b.table.drop(columns="coef_std"), rtol=1e-6
    )
    # coef_std is per standard deviation of the feature either way
    np.testing.assert_allclose(a["coef_std"], b["coef_std"], rtol=1e-6)
    np.testing.assert_allclose(a.loc["x0", "coef_std"], a.loc["x0", "coef"] * X[:, 0].std())


def test_constant_and_duplicated_features_have_no_standard_error() -> None:
    X, y, _ = reference("binary")
    with_constant = np.column_stack([X, np.full(len(y), 3.0)])
    table = LogisticModel(penalty=None).fit(with_constant, y).summary()
    assert math.isnan(table.loc["x3", "std_err"])
    assert table.loc["x3", "coef"] == 0.0
    np.testing.assert_allclose(
        table["std_err"].iloc[:4], REF["binary"]["bse"]["nonrobust"], rtol=RTOL
    )
    doubled = np.column_stack([X, X[:, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the collinear fit may stop at rounding level
        table = LogisticModel(penalty=None).fit(doubled, y).summary()
    assert np.isnan(table.loc[["x1", "x3"], "std_err"]).all()
    assert np.isfinite(table.loc["x0", "std_err"])
    assert any("not identified" in note for note in table.notes)


def test_penalised_fit_gives_no_naive_intervals_by_default() -> None:
    X, y, _ = reference("binary")
    table = LogisticModel(C=0.1).fit(X, y).summary()
    assert table[["std_err", "p_value", "ci_low", "ci_high"]].isna().all().all()
    assert np.isfinite(table["coef"]).all()
    assert np.isfinite(table["odds_ratio"]).all()
    text = str(table)
    assert "Penalised fit" in text
    assert "method='bootstrap'" in text


def test_naive_wald_on_penalised_fit_warns_loudly() -> None:
    X, y, _ = reference("binary")
    model = LogisticModel(penalty="l1", C=0.05).fit(X, y)
    with pytest.warns(InferenceWarning, match="NAIVE WALD"):
        table = model.summary(method="wald", X=X, y=y)
    assert "NAIVE WALD INTERVALS FOR A PENALISED FIT" in str(table)
    assert any("selected the features on the same data" in n for n in table.notes)
    with pytest.raises(ValueError, match="pass the training rows X and y"):
        model.summary(method="wald")  # the L1 fit kept no full Hessian


def test_bootstrap_intervals_for_a_penalised_fit() -> None:
    X, y, g = reference("binary")
    model = LogisticModel(C=0.5).fit(X, y)
    a = model.summary(method="bootstrap", X=X, y=y, n_boot=60, random_state=0)
    b = model.summary(method="bootstrap", X=X, y=y, n_boot=60, random_state=0)
    pd.testing.assert_frame_equal(a.table, b.table)  # seeded
    assert (a["ci_low"] < a["ci_high"]).all()
    assert (a["std_err"] > 0).all()
    assert a[["z", "p_value"]].isna().all().all()
    assert "bootstrap percentile" in str(a)
    assert a.header["method"] == "bootstrap"
    clustered = model.summary(method="bootstrap", X=X, y=y, groups=g, n_boot=30, random_state=1)
    assert "resampled clusters" in " ".join(clustered.notes)


def test_bootstrap_agrees_with_wald_for_an_unpenalised_fit() -> None:
    X, y = make_logistic(n=2000, p=2, seed=7, scale_spread=0.5)
    model = LogisticModel(penalty=None).fit(X, y)
    wald = model.summary()
    boot = model.summary(method="bootstrap", X=X, y=y, n_boot=150, random_state=3)
    np.testing.assert_allclose(boot["std_err"], wald["std_err"], rtol=0.2)


def test_profile_intervals_for_an_unpenalised_fit() -> None:
    """Profile-likelihood bounds solve 2 (l(hat) - l(profile)) = chi2_1(0.95)."""
    X, y, _ = reference("binary")
    model = LogisticModel(penalty=None).fit(X, y)
    table = model.summary(method="profile", X=X, y=y)
    llf = model.fit_statistics()["log_likelihood"]
    for j in range(3):
        for bound in table.iloc[j + 1][["ci_low", "ci_high"]]:
            # refit with x_j's coefficient fixed: an offset, the other columns free
            rest = np.delete(X, j, axis=1)
            res = sm.Logit(y, sm.add_constant(rest), offset=bound * X[:, j]).fit(
                disp=0, method="newton", tol=1e-12
            )
            assert 2 * (llf - res.llf) == pytest.approx(3.841458820694124, rel=1e-6)
    for j in range(3):  # the p-value is the LR test of dropping x_j
        res = sm.Logit(y, sm.add_constant(np.delete(X, j, axis=1))).fit(
            disp=0, method="newton", tol=1e-12
        )
        lr = 2 * (llf - res.llf)
        assert table.iloc[j + 1]["z"] ** 2 == pytest.approx(lr, rel=1e-6)
        assert table.iloc[j + 1]["p_value"] == pytest.approx(chi2.sf(lr, 1), rel=1e-5)


def test_robust_covariance_needs_the_rows() -> None:
    X, y, g = reference("binary")
    model = LogisticModel(penalty=None).fit(X, y)
    with pytest.raises(ValueError, match="needs the per-row scores: pass the training rows"):
        model.summary(cov_type="HC1")
    with pytest.raises(ValueError, match="needs groups="):
        model.summary(cov_type="cluster", X=X, y=y)
    with pytest.raises(ValueError, match="only used with cov_type='cluster'"):
        model.summary(cov_type="HC0", X=X, y=y, groups=g)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        model.summary(cov_type="HC3", X=X, y=y)
    with pytest.raises(ValueError, match="alpha must be a float in"):
        model.summary(alpha=1.5)
    with pytest.raises(ValueError, match="refits the model"):
        model.summary(method="bootstrap")
    with pytest.raises(ValueError, match="Pass both X and y"):
        model.summary(X=X)
    with pytest.raises(ValueError, match="not among the model's classes"):
        model.summary(cov_type="HC0", X=X, y=y + 5)


def test_profile_refuses_multinomial() -> None:
    X, y, _ = reference("multinomial")
    model = LogisticModel(penalty=None).fit(X, y)
    with pytest.raises(ValueError, match="binary model"):
        model.summary(method="profile", X=X, y=y)


def test_alpha_sets_the_interval_level() -> None:
    X, y, _ = reference("binary")
    table = LogisticModel(penalty=None).fit(X, y).summary(alpha=0.1)
    half = table["ci_high"] - table["coef"]
    np.testing.assert_allclose(half, 1.6448536269514722 * table["std_err"], rtol=1e-12)
    assert "90% Wald" in str(table)


def test_readable_text_and_json_header() -> None:
    frame = pd.DataFrame(reference("binary")[0], columns=["age", "dose", "score"])
    y = np.where(reference("binary")[1] == 1, "sick", "well")
    table = LogisticModel(penalty=None).fit(frame, y).summary()
    text = str(table)
    for part in [
        "Logistic regression summary",
        "Rows:",
        "300",
        "Classes:",
        "sick (",
        "Penalty:",
        "Log-likelihood:",
        "LR test vs null",
        "AIC / BIC",
        "Wald",
        "age",
        "odds_ratio",
    ]:
        assert part in text
    assert text == table.to_text()
    narrow = table.to_text(columns=["coef", "p_value"])
    assert "odds_ratio" not in narrow
    assert "p_value" in narrow
    json.dumps(table.header)  # for the report and the artifact
    assert list(table.index) == ["intercept", "age", "dose", "score"]


def test_class_weights_are_importance_weights() -> None:
    """With class weights the sandwich is statsmodels' GLM with var_weights (meat w^2 s s')."""
    X, y, _ = reference("binary")
    model = LogisticModel(penalty=None, class_weight={0: 2.0, 1: 0.5}).fit(X, y)
    glm = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), var_weights=np.where(y == 0, 2.0, 0.5)
    ).fit(cov_type="HC0", tol=1e-12)
    table = model.summary(cov_type="HC0", X=X, y=y)
    np.testing.assert_allclose(table["coef"], glm.params, rtol=RTOL)
    np.testing.assert_allclose(table["std_err"], glm.bse, rtol=RTOL)
    assert any("pseudo-likelihood" in n for n in model.summary().notes)
    balanced = LogisticModel(penalty=None, class_weight="balanced").fit(X, y)
    assert balanced.fit_statistics()["n_obs"] == pytest.approx(len(y))


def test_loaded_model_keeps_its_inference(tmp_path: Path) -> None:
    # The artifact stores the statistics at the solution: no training rows needed.
    X, y, _ = reference("binary")
    model = LogisticModel(penalty=None).fit(X, y)
    path = model.save(tmp_path / "model.json")
    loaded = load(path)
    pd.testing.assert_frame_equal(loaded.summary().table, model.summary().table, rtol=1e-12)
    assert fit_statistics(loaded) == pytest.approx(fit_statistics(model), rel=1e-12)
    pd.testing.assert_frame_equal(loaded.summary(X=X, y=y).table, model.summary().table, rtol=1e-7)
    cov, unidentified = covariance(loaded, X=X, y=y)
    assert cov.shape == (4, 4)
    assert not unidentified.any()
