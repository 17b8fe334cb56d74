"""Every diagnostic fires on data built to trigger it, and stays silent on data that does not.

Reference data (tests/data/, provenance in its README): Smarket, where the lags do not
predict the market's direction (ISLR 2nd ed. sec. 4.7.2: null deviance 1731.2, residual
1727.6 on 6 fewer df, so the LR test has p = 0.73); Default, a rare event (3.3%) that
balance predicts well and calibrated; the breast-cancer demo, linearly separable and
highly collinear.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from sklearn.model_selection import StratifiedKFold, cross_val_predict

import logitkit
from logitkit import (
    ConvergenceWarning,
    Finding,
    Findings,
    LogisticModel,
    ThresholdPolicy,
    diagnose,
)
from logitkit.data.demo import DEMO_TARGET, load_demo
from logitkit.diagnostics import CHECKS, SEVERITIES
from logitkit.report.fitting import diagnostics_section

DATA = Path(__file__).parent / "data"
LAGS = ["Lag1", "Lag2", "Lag3", "Lag4", "Lag5", "Volume"]
#: The options `logitkit train` has; command-line advice may name no other.
TRAIN_OPTIONS = {
    "--target",
    "--positive",
    "--penalty",
    "--C",
    "--cv",
    "--cs",
    "--class-weight",
    "--weight",
    "--reference",
    "--max-iter",
    "--tol",
    "--drop",
    "--impute",
    "--formula",
    "--min-recall",
    "--min-precision",
    "--max-fpr",
    "--cost-fp",
    "--cost-fn",
    "--threshold",
    "--confidence",
    "--normalize-labels",
    "--na-values",
}


def overlapping(n: int = 400, p: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Independent standard-normal features and labels with moderate signal (no problems)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X @ np.linspace(0.8, -0.5, p) + rng.logistic(size=n) > 0).astype(int)
    return X, y


def checks(X: np.ndarray, y: np.ndarray, model: LogisticModel | None = None) -> list[str]:
    model = model or LogisticModel().fit(X, y)
    return [f.check for f in diagnose(model, X, y)]


def out_of_fold(model: LogisticModel, X: Any, y: Any) -> np.ndarray:
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        proba = cross_val_predict(model, X, y, cv=folds, method="predict_proba")
    return np.asarray(proba)


@pytest.fixture(scope="module")
def smarket() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(DATA / "Smarket.csv")
    return frame[LAGS], frame["Direction"]


@pytest.fixture(scope="module")
def default() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(DATA / "Default.csv")
    X = pd.DataFrame(
        {
            "balance": frame["balance"],
            "income": frame["income"],
            "student": (frame["student"] == "Yes").astype(float),
        }
    )
    return X, frame["default"]


@pytest.fixture(scope="module")
def demo() -> tuple[LogisticModel, Findings]:
    frame = load_demo()
    X, y = frame.drop(columns=[DEMO_TARGET]), frame[DEMO_TARGET]
    model = LogisticModel().fit(X, y)  # classes_[1] is 'malignant'
    return model, diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)))


# ------------------------------------------------------------------- the old checks
def test_clean_data_has_no_findings() -> None:
    X, y = overlapping()
    model = LogisticModel(penalty=None).fit(X, y)
    found = diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)))
    assert len(found) == 0
    assert "No problems found" in str(found)


def test_convergence() -> None:
    X, y = overlapping()
    with pytest.warns(ConvergenceWarning):
        stopped = LogisticModel(max_iter=1).fit(X, y)
    found = diagnose(stopped, X, y).select(check="convergence")
    assert len(found) == 1
    assert found[0].severity == "error"
    assert "--max-iter" in found[0].cli_advice
    assert "max_iter" in found[0].advice
    assert "convergence" not in checks(X, y)


def test_complete_separation_names_the_feature() -> None:
    X, y = overlapping()
    X[:, 1] = np.where(y == 1, 1.0, -1.0) + 0.01 * X[:, 1]
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert found[0].feature == "x1"
    assert found[0].severity == "warning"
    assert "completely separated" in found[0].message
    assert "quasi" not in found[0].message
    assert "penalty='firth'" in found[0].advice
    assert "--penalty firth" in found[0].cli_advice
    firth = diagnose(LogisticModel(penalty="firth").fit(X, y), X, y).select(check="separation")
    assert firth[0].severity == "info"
    assert "separation" not in checks(*overlapping())


def test_complete_separation_by_a_combination() -> None:
    """No single feature separates and there are no ties: complete, not quasi-complete."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert set(found[0].features[:2]) == {"x0", "x2"}
    assert "The classes are completely separated" in found[0].message
    assert "quasi" not in found[0].message
    assert found[0].value == 200


def test_quasi_complete_separation_is_named_with_the_tied_rows() -> None:
    """Both classes at x0 = 0, the negatives' x1 between the positives': 8 rows tied."""
    rng = np.random.default_rng(7)
    x0 = np.concatenate([rng.uniform(0.5, 2.0, 40), rng.uniform(-2.0, -0.5, 40), np.zeros(8)])
    x1 = rng.standard_normal(88)
    x1[80:] = [-1.0, 0.0, 1.0, 0.5, -2.0, -0.5, 2.0, 0.2]
    y = np.concatenate([np.ones(40), np.zeros(40), (np.arange(8) % 2 == 0)]).astype(int)
    X = np.column_stack([x0, x1])
    # An independent check of the definition: no direction has margin >= 1 on every row.
    S = np.column_stack([np.ones(88), X]) * np.where(y == 1, 1.0, -1.0)[:, None]
    complete = linprog(np.zeros(3), A_ub=-S, b_ub=-np.ones(88), bounds=[(None, None)] * 3)
    assert complete.status == 2  # infeasible
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert "quasi-completely separated" in found[0].message
    assert "8 rows tied on the boundary" in found[0].message
    assert found[0].features == ("x0",)
    assert found[0].value == 80


def test_demo_is_completely_separated(demo: tuple[LogisticModel, Findings]) -> None:
    _, found = demo
    separation = found.select(check="separation")
    assert len(separation) == 1
    assert "The classes are completely separated" in separation[0].message
    assert "malignant" in separation[0].message


def test_separation_of_one_class_in_a_multinomial_model() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 2))
    y = np.where(X[:, 0] > 1.0, 2, (X[:, 1] + rng.logistic(size=300) > 0).astype(int))
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert "class 2" in found[0].message
    assert found[0].feature == "x0"
    rng_y = rng.integers(0, 3, 300)
    assert "separation" not in checks(X, rng_y)


def test_multiclass_advice_never_recommends_firth() -> None:
    """Firth's penalty is for binary targets only (LogisticModel refuses it otherwise)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 8))
    y = np.where(X[:, 0] > 1.0, 2, (X[:, 1] + rng.logistic(size=60) > 0).astype(int))
    for penalty in ("l2", "l1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticModel(penalty=penalty, max_iter=1).fit(X, y)
        found = diagnose(model, X, y)
        assert {"separation", "events_per_parameter", "convergence"} <= {f.check for f in found}
        for f in found:
            assert "firth" not in f.advice.lower(), f
            assert "firth" not in f.cli_advice.lower(), f
    binary = (y == 2).astype(int)
    found = diagnose(LogisticModel().fit(X, binary), X, binary)
    assert any("firth" in f.advice for f in found)


def test_duplicated_columns() -> None:
    X, y = overlapping()
    doubled = np.column_stack([X, X[:, 0]])
    found = diagnose(LogisticModel().fit(doubled, y), doubled, y)
    assert [f.check for f in found] == ["duplicate"]  # not also reported as collinear
    assert found[0].features == ("x0", "x3")
    assert "--drop" in found[0].cli_advice
    assert "duplicate" not in checks(X, y)


def test_exact_collinearity() -> None:
    X, y = overlapping()
    combined = np.column_stack([X, X[:, 0] - 2.0 * X[:, 2]])
    found = diagnose(LogisticModel().fit(combined, y), combined, y).select(check="collinearity")
    assert len(found) == 1
    assert set(found[0].features) == {"x0", "x2", "x3"}
    assert found[0].to_dict()["value"] is None  # infinite VIF is not JSON
    assert "collinearity" not in checks(X, y)


def test_variance_inflation_is_one_finding_most_inflated_first() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal(500)
    # correlations giving VIFs of about 1 / (1 - r^2): 25 (high) and 6 (moderate)
    high = base + rng.standard_normal(500) * 0.2
    moderate = rng.standard_normal(500) * 0.45 + base
    X = np.column_stack([base, high, rng.standard_normal(500)])
    y = (base + rng.logistic(size=500) > 0).astype(int)
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="vif")
    assert len(found) == 1
    assert set(found[0].features) == {"x0", "x1"}
    assert found[0].severity == "warning"
    assert all(v > 10 for v in found[0].per_feature)
    assert list(found[0].per_feature) == sorted(found[0].per_feature, reverse=True)
    assert found[0].value == found[0].per_feature[0]
    X2 = np.column_stack([base, moderate])
    found = diagnose(LogisticModel().fit(X2, y), X2, y).select(check="vif")
    assert [f.severity for f in found] == ["info"]
    assert len(found[0].per_feature) == 2
    assert all(5 <= v < 10 for v in found[0].per_feature)
    assert "vif" not in checks(*overlapping())


def test_constant_and_near_constant_features() -> None:
    X, y = overlapping()
    rare = np.zeros(len(y))
    rare[:2] = 1.0
    extra = np.column_stack([X, np.full(len(y), 7.0), rare])
    found = diagnose(LogisticModel().fit(extra, y), extra, y)
    assert [f.feature for f in found.select(check="constant")] == ["x3"]
    near = found.select(check="near_constant")
    assert [f.feature for f in near] == ["x4"]
    assert near[0].value == pytest.approx(0.995)
    common = np.column_stack([X, (np.arange(len(y)) % 2).astype(float)])
    assert not {"constant", "near_constant"} & set(checks(common, y))


def test_many_constant_features_are_one_finding() -> None:
    X, y = overlapping()
    extra = np.column_stack([X, np.full((len(y), 4), [1.0, 2.0, 3.0, 4.0])])
    found = diagnose(LogisticModel().fit(extra, y), extra, y).select(check="constant")
    assert len(found) == 1
    assert found[0].features == ("x3", "x4", "x5", "x6")
    assert "4 features take one value" in found[0].message


def test_class_imbalance() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((1000, 2))
    y = (X[:, 0] + rng.logistic(size=1000) > 3.5).astype(int)  # about 5% positives
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="imbalance")
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert "not accuracy" in found[0].advice
    assert "class_weight='balanced'" in found[0].advice
    assert "--class-weight balanced" in found[0].cli_advice
    assert "class_weight" not in found[0].cli_advice
    y_info = (X[:, 0] + rng.logistic(size=1000) > 1.8).astype(int)  # about 15%
    assert (
        diagnose(LogisticModel().fit(X, y_info), X, y_info).select(check="imbalance")[0].severity
        == "info"
    )
    assert "imbalance" not in checks(*overlapping())


def test_events_per_parameter() -> None:
    X, y = overlapping(n=60, p=8)
    assert "events_per_parameter" in checks(X, y)
    assert "events_per_parameter" not in checks(*overlapping(n=400, p=3))


def test_scales_without_standardisation() -> None:
    X, y = overlapping()
    wild = X * np.array([1e-3, 1.0, 1e3])
    model = LogisticModel(standardize=False, penalty=None).fit(wild, y)
    found = diagnose(model, wild, y).select(check="scale")
    assert len(found) == 1
    assert found[0].features == ("x2", "x0")
    assert found[0].value == pytest.approx(1e6, rel=0.2)
    assert "scale" not in checks(wild, y)  # standardize=True
    assert "scale" not in checks(X, y, LogisticModel(standardize=False).fit(X, y))


# --------------------------------------------------------------------- no signal
def test_smarket_does_not_beat_chance(smarket: tuple[pd.DataFrame, pd.Series]) -> None:
    import statsmodels.api as sm

    X, y = smarket
    model = LogisticModel(penalty=None).fit(X, y)
    found = diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)))
    first = found[0]
    assert first.check == "no_signal"
    assert first.severity == "warning"
    reference = sm.Logit((y == "Up").astype(float), sm.add_constant(X)).fit(disp=0)
    assert first.value == pytest.approx(reference.llr_pvalue, rel=1e-6)
    assert first.value == pytest.approx(0.73, abs=0.005)  # ISLR: deviance 1731.2 -> 1727.6
    assert "chi2 = 3.59 on 6 df, p = 0.73" in first.message
    assert re.search(r"out-of-fold ROC-AUC is 0\.4\d\d \(95% DeLong interval", first.message)
    assert "which contains 0.5" in first.message


def test_penalised_smarket_is_tested_by_an_unpenalised_refit(
    smarket: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = smarket
    found = diagnose(LogisticModel(C=0.5).fit(X, y), X, y)
    assert found[0].check == "no_signal"
    assert "unpenalised refit" in found[0].message
    assert found[0].value == pytest.approx(0.7319, abs=1e-3)


def test_signal_on_training_rows_alone_is_not_enough() -> None:
    """A significant LR test with out-of-fold probabilities that rank at random."""
    X, y = overlapping()
    model = LogisticModel().fit(X, y)
    rng = np.random.default_rng(0)
    found = diagnose(model, X, y, oof=(y, rng.uniform(0.2, 0.8, size=len(y))))
    assert [f.check for f in found] == ["no_signal"]
    assert found[0].severity == "warning"
    assert "rows it has not seen" in found[0].message
    assert "no_signal" not in [
        f.check for f in diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)))
    ]


def test_a_model_with_every_coefficient_at_zero_has_no_signal() -> None:
    X, y = overlapping()
    model = LogisticModel(penalty="l1", C=1e-4).fit(X, y)
    assert not model.coef_.any()
    found = diagnose(model, X, y).select(check="no_signal")
    assert "set every coefficient to 0" in found[0].message


def test_multiclass_without_signal() -> None:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 3))
    y = rng.integers(0, 3, 300)
    model = LogisticModel().fit(X, y)
    found = diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)))
    assert found[0].check == "no_signal"
    assert "one-vs-rest ROC-AUCs" in found[0].message
    X2, y2 = X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    model = LogisticModel().fit(X2, y2)
    assert "no_signal" not in [
        f.check for f in diagnose(model, X2, y2, oof=(y2, out_of_fold(model, X2, y2)))
    ]


def test_default_beats_chance_and_is_not_saturated(
    default: tuple[pd.DataFrame, pd.Series],
) -> None:
    """A calibrated rare-event model: many tiny probabilities, all of the common class."""
    X, y = default
    for model in (LogisticModel(penalty=None), LogisticModel()):
        model.fit(X, y)
        found = diagnose(model, X, y, oof=(y, out_of_fold(model, X, y)[:, 1]))
        assert [f.check for f in found] == ["imbalance"]


def test_out_of_fold_input_is_checked() -> None:
    X, y = overlapping()
    model = LogisticModel().fit(X, y)
    with pytest.raises(ValueError, match="'oof' parameter of diagnose"):
        diagnose(model, X, y, oof=(y, np.zeros((len(y), 3))))
    with pytest.raises(ValueError, match="labels among"):
        diagnose(model, X, y, oof=(y + 5, np.full(len(y), 0.5)))


# -------------------------------------------------------------------- saturation
def test_a_leaking_feature_saturates(default: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = default
    rng = np.random.default_rng(0)
    leaky = X.assign(leak=(y == "Yes") + 0.3 * rng.standard_normal(len(y)))
    found = diagnose(LogisticModel(penalty=None).fit(leaky, y), leaky, y)
    assert "separation" not in [f.check for f in found]  # the classes overlap
    saturated = found.select(check="saturation")
    assert len(saturated) == 1
    assert saturated[0].severity == "warning"
    assert saturated[0].feature == "leak"
    assert saturated[0].value is not None
    assert saturated[0].value > 0.25


def test_saturation_of_both_classes() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 2))
    y = (10.0 * X[:, 0] + rng.logistic(size=400) > 0).astype(int)
    found = diagnose(LogisticModel(penalty=None).fit(X, y), X, y).select(check="saturation")
    assert len(found) == 1
    assert found[0].value is not None
    assert found[0].value > 0.25
    assert found[0].severity == "warning"
    assert found[0].feature == "x0"
    assert "saturation" not in checks(*overlapping())


def test_overconfident_out_of_fold_probabilities() -> None:
    X, y = overlapping()
    model = LogisticModel().fit(X, y)
    proba = out_of_fold(model, X, y)[:, 1]
    proba[:40] = np.where(y[:40] == 1, 0.001, 0.999)  # near-certain and wrong
    found = diagnose(model, X, y, oof=(y, proba)).select(check="saturation")
    assert len(found) == 1
    assert "turned out otherwise" in found[0].message
    assert "40 turned out otherwise" in found[0].message


# ------------------------------------------------------------------------ policy
class StubPolicy:
    def caveats(self) -> list[tuple[str, str, str]]:
        return [
            ("unstable_threshold", "warning", "One row decides the threshold."),
            ("unverifiable_policy", "warning", "20 positives cannot show recall >= 0.99."),
        ]


def test_policy_caveats_become_findings() -> None:
    X, y = overlapping()
    model = LogisticModel().fit(X, y)
    found = diagnose(model, X, y, policy=cast(Any, StubPolicy()))
    assert [f.check for f in found] == ["unverifiable_policy", "unstable_threshold"]
    assert found[0].message == "20 positives cannot show recall >= 0.99."
    assert "--confidence" in found[0].cli_advice
    assert "at_confidence" in found[0].advice
    assert {"unverifiable_policy", "unstable_threshold"} <= set(CHECKS)
    assert len(diagnose(model, X, y, policy=cast(Any, object()))) == 0


def test_a_real_policy_that_rests_on_one_row() -> None:
    X, y = overlapping()
    model = LogisticModel().fit(X, y)
    proba = out_of_fold(model, X, y)[:, 1]
    policy = ThresholdPolicy.fit(y, proba, positive=1, min_recall=1.0)
    found = diagnose(model, X, y, oof=(y, proba), policy=policy)
    expected = {kind for kind, _, _ in policy.caveats()}
    assert expected
    assert {f.check for f in found} == expected


# ------------------------------------------------------------------ rank, collapse
def test_findings_are_ranked_by_what_matters() -> None:
    # Whether the model is worth having, then whether its estimates exist, whether its
    # decisions hold, what limits its precision, and last what affects reading it.
    order = (  # noqa: SIM905 - one line of words reads as the ranking it states
        "no_signal separation convergence saturation unverifiable_policy"
        " unstable_threshold imbalance events_per_parameter collinearity vif"
    ).split()
    assert [c for c in CHECKS if c in order] == order
    assert CHECKS[-1] == "vif"
    shuffled = [Finding(c, "warning", "m", "a") for c in reversed(order)]
    shuffled.append(Finding("convergence", "error", "m", "a"))
    assert [f.check for f in Findings(shuffled)] == ["convergence", *order]


def test_demo_leads_with_what_matters_and_collapses_vif(
    demo: tuple[LogisticModel, Findings],
) -> None:
    _, found = demo
    checks_found = [f.check for f in found]
    assert checks_found[0] == "separation"
    assert checks_found[-1] == "vif"
    assert checks_found.count("vif") == 1
    vif = found.select(check="vif")[0]
    assert vif.features[:2] == ("mean radius", "mean perimeter")
    assert list(vif.per_feature) == sorted(vif.per_feature, reverse=True)
    assert len(vif.per_feature) == len(vif.features) > 20
    assert "'mean radius' 3806" in vif.message
    text = found.to_text(interface="cli")
    assert text.index("separation") < text.index("vif")
    assert text.count("[WARNING] vif") == 1
    assert len(found) < 6


# ------------------------------------------------------------- advice and printing
def _python_names() -> set[str]:
    names: set[str] = set()
    for fn in (
        LogisticModel.__init__,
        LogisticModel.summary,
        ThresholdPolicy.fit,
        logitkit.evaluate,
    ):
        names |= set(inspect.signature(fn).parameters)
    return names


def _all_findings(
    smarket: tuple[pd.DataFrame, pd.Series], default: tuple[pd.DataFrame, pd.Series]
) -> list[Finding]:
    out: list[Finding] = []
    X, y = overlapping()
    with pytest.warns(ConvergenceWarning):
        out += diagnose(LogisticModel(max_iter=1).fit(X, y), X, y)
    sep = X.copy()
    sep[:, 1] = np.where(y == 1, 1.0, -1.0) + 0.01 * X[:, 1]
    for penalty in ("l2", "firth"):
        out += diagnose(LogisticModel(penalty=penalty).fit(sep, y), sep, y)
    base = np.column_stack([X, X[:, 0], X[:, 0] - 2.0 * X[:, 2], np.ones(len(y))])
    base = np.column_stack([base, X[:, 1] + 0.1 * np.random.default_rng(0).standard_normal(400)])
    rare = np.zeros(len(y))
    rare[:2] = 1
    base = np.column_stack([base, rare])
    out += diagnose(LogisticModel().fit(base, y), base, y)
    out += diagnose(
        m := LogisticModel(standardize=False).fit(X * [1e-3, 1, 1e3], y), X * [1e-3, 1, 1e3], y
    )
    del m
    Xs, ys = smarket
    out += diagnose(LogisticModel().fit(Xs, ys), Xs, ys)
    Xd, yd = default
    rng = np.random.default_rng(0)
    leaky = Xd.assign(leak=(yd == "Yes") + 0.3 * rng.standard_normal(len(yd)))
    out += diagnose(LogisticModel(class_weight="balanced").fit(leaky, yd), leaky, yd)
    Xf, yf = overlapping(n=60, p=8)
    out += diagnose(LogisticModel().fit(Xf, yf), Xf, yf, policy=cast(Any, StubPolicy()))
    return out


def test_advice_names_only_what_exists(
    smarket: tuple[pd.DataFrame, pd.Series], default: tuple[pd.DataFrame, pd.Series]
) -> None:
    found = _all_findings(smarket, default)
    assert set(CHECKS) <= {f.check for f in found}
    python_names = _python_names()
    for f in found:
        assert f.cli_advice, f
        assert "--" not in f.advice, f
        options = set(re.findall(r"--[a-z][a-z-]*|--C\b", f.cli_advice))
        assert options <= TRAIN_OPTIONS, (f.check, options - TRAIN_OPTIONS)
        assert not re.search(r"\b[a-z_]+=", f.cli_advice.replace("COL=LEVEL", "")), f
        named = set(re.findall(r"\b([a-z_]+)=", f.advice))
        assert named <= python_names, (f.check, named - python_names)


def test_text_picks_the_advice_of_the_interface() -> None:
    found = Findings(
        [
            Finding(
                "imbalance",
                "info",
                "Few.",
                "class_weight='balanced'",
                cli_advice="--class-weight balanced",
            )
        ]
    )
    assert "-> class_weight='balanced'" in found.to_text()
    assert "-> --class-weight balanced" in found.to_text(interface="cli")
    assert "class_weight=" not in found.to_text(interface="cli")
    with pytest.raises(ValueError, match="'interface' parameter"):
        found.to_text(interface="shell")


def test_findings_print_and_serialise() -> None:
    X, y = overlapping()
    frame = pd.DataFrame(np.column_stack([X, X[:, 0], np.ones(len(y))]), columns=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        found = diagnose(LogisticModel().fit(frame, y), frame, y)
    text = str(found)
    assert text.startswith("Diagnostics: 2 findings (0 errors, 2 warnings, 0 info)")
    assert "[WARNING] duplicate ('a', 'd')" in text
    assert "-> " in text
    data = json.loads(json.dumps(found.to_list()))
    assert {d["check"] for d in data} == {"duplicate", "constant"}
    assert set(data[0]) == {
        "check",
        "severity",
        "feature",
        "features",
        "message",
        "advice",
        "cli_advice",
        "value",
        "per_feature",
    }
    assert Findings.from_list(data).to_list() == data
    assert all(f.severity in SEVERITIES and f.check in CHECKS for f in found)
    assert isinstance(found[0], Finding)
    assert len(found[:1]) == 1


def test_lists_without_command_line_advice_still_load() -> None:
    old = [
        {
            "check": "vif",
            "severity": "info",
            "feature": "a",
            "features": ["a"],
            "message": "VIF 6.0.",
            "advice": "Drop it.",
            "value": 6.0,
        }
    ]
    found = Findings.from_list(old)
    assert found[0].cli_advice == ""
    assert found[0].per_feature == ()
    assert found[0].advice_for("cli") == "Drop it."
    assert "-> Drop it." in found.to_text(interface="cli")


def test_report_shows_ranked_findings_with_both_kinds_of_advice(
    demo: tuple[LogisticModel, Findings],
) -> None:
    _, found = demo
    html = diagnostics_section(cast(Any, SimpleNamespace(findings=found)))
    assert "From the command line: " in html
    assert "What to do (Python): " in html
    assert "--penalty firth" in html
    assert html.index("Separation of the classes") < html.index("variance inflation factor")
    assert html.count("Correlated features (variance inflation factor)") == 1


def _certain_rows(n: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A strong feature (near-certain fitted probabilities in both classes, not separated),
    a rare positive class, and out-of-fold probabilities pushed to overconfidence."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(7 * X[:, 0] - 9)))).astype(int)
    model = LogisticModel(penalty=None).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    z = np.log(p / (1 - p))
    oof = 1 / (1 + np.exp(-3 * z))
    return X, y, oof


def test_row_checks_taken_in_steps_equal_one_step(monkeypatch):
    import logitkit.diagnostics._rows as rows_module

    X, y, oof = _certain_rows()
    model = LogisticModel(penalty=None).fit(X, y)
    whole = diagnose(model, X, y, oof=(y, oof))
    checks = {f.check for f in whole}
    assert {"saturation", "imbalance"} <= checks  # what the steps must reproduce
    assert sum(f.check == "saturation" for f in whole) == 2  # leakage and overconfidence
    monkeypatch.setattr(rows_module, "CHUNK_ROWS", 97)
    stepped = diagnose(model, X, y, oof=(y, oof))
    assert [(f.check, f.message) for f in stepped] == [(f.check, f.message) for f in whole]
    np.testing.assert_allclose(
        [f.value if f.value is not None else np.nan for f in stepped],
        [f.value if f.value is not None else np.nan for f in whole],
        rtol=1e-12,
    )


def test_a_given_out_of_fold_auc_is_used_as_computed():
    from logitkit.diagnostics._moments import diagnose_summaries
    from logitkit.evaluation import roc_auc_ci

    rng = np.random.default_rng(4)
    X = rng.normal(size=(800, 3))
    y = rng.integers(0, 2, 800)  # no signal: the finding quotes the AUC interval
    model = LogisticModel().fit(X, y)
    oof = model.predict_proba(X[::-1])  # scores unrelated to the rows' labels
    codes = y.astype(np.intp)
    summaries = {
        "labels": y,
        "codes": codes,
        "sw": np.ones(800),
        "mean": X.mean(axis=0),
        "sd": X.std(axis=0),
        "constant_features": np.zeros(3, dtype=bool),
        "correlation": np.corrcoef(X.T),
        "fitted": model.predict_proba(X),
        "oof": oof,
        "policy": None,
    }
    computed = diagnose_summaries(model, **summaries)
    auc = roc_auc_ci(y == 1, oof[:, 1], positive=True)
    given = diagnose_summaries(model, **summaries, oof_auc=auc)
    assert [f.message for f in given] == [f.message for f in computed]
    assert any(f.check == "no_signal" and "DeLong" in f.message for f in given)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_row_checks_hand_back_the_pages_of_row_vectors_on_disk():
    import os

    from logitkit._memory import release_pages
    from logitkit.diagnostics._fit import _overconfident
    from logitkit.workflow._evidence import _memmap

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    n = 4_000_000  # 64 MB of probabilities on disk
    P = _memmap(n, 2, np.float64)
    P[:, 0], P[:, 1] = 0.3, 0.7
    codes = _memmap(n, 0, np.int8)
    codes[:] = 1
    release_pages(P, codes)
    before = resident()
    assert _overconfident(P, codes, "the rows") == []
    assert resident() - before < 32e6  # not the 68 MB read
