"""Every diagnostic fires on data built to trigger it, and stays silent on data that does not."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from logitkit import ConvergenceWarning, Finding, Findings, LogisticModel, diagnose
from logitkit.diagnostics import CHECKS, SEVERITIES


def overlapping(n: int = 400, p: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Independent standard-normal features and labels with moderate signal (no problems)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X @ np.linspace(0.8, -0.5, p) + rng.logistic(size=n) > 0).astype(int)
    return X, y


def checks(X: np.ndarray, y: np.ndarray, model: LogisticModel | None = None) -> list[str]:
    model = model or LogisticModel().fit(X, y)
    return [f.check for f in diagnose(model, X, y)]


def test_clean_data_has_no_findings() -> None:
    X, y = overlapping()
    found = diagnose(LogisticModel(penalty=None).fit(X, y), X, y)
    assert len(found) == 0
    assert "No problems found" in str(found)


def test_convergence() -> None:
    X, y = overlapping()
    with pytest.warns(ConvergenceWarning):
        stopped = LogisticModel(max_iter=1).fit(X, y)
    found = diagnose(stopped, X, y).select(check="convergence")
    assert len(found) == 1
    assert found[0].severity == "error"
    assert "convergence" not in checks(X, y)


def test_complete_separation_names_the_feature() -> None:
    X, y = overlapping()
    X[:, 1] = np.where(y == 1, 1.0, -1.0) + 0.01 * X[:, 1]
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert found[0].feature == "x1"
    assert found[0].severity == "warning"
    assert "completely separated" in found[0].message
    firth = diagnose(LogisticModel(penalty="firth").fit(X, y), X, y).select(check="separation")
    assert firth[0].severity == "info"
    assert "separation" not in checks(*overlapping())


def test_quasi_complete_separation_by_a_combination() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)  # no single feature separates, the sum does
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="separation")
    assert len(found) == 1
    assert set(found[0].features[:2]) == {"x0", "x2"}
    assert "separated" in found[0].message


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


def test_duplicated_columns() -> None:
    X, y = overlapping()
    doubled = np.column_stack([X, X[:, 0]])
    found = diagnose(LogisticModel().fit(doubled, y), doubled, y)
    assert [f.check for f in found] == ["duplicate"]  # not also reported as collinear
    assert found[0].features == ("x0", "x3")
    assert "duplicate" not in checks(X, y)


def test_exact_collinearity() -> None:
    X, y = overlapping()
    combined = np.column_stack([X, X[:, 0] - 2.0 * X[:, 2]])
    found = diagnose(LogisticModel().fit(combined, y), combined, y).select(check="collinearity")
    assert len(found) == 1
    assert set(found[0].features) == {"x0", "x2", "x3"}
    assert found[0].to_dict()["value"] is None  # infinite VIF is not JSON
    assert "collinearity" not in checks(X, y)


def test_variance_inflation_thresholds() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal(500)
    # correlations giving VIFs of about 1 / (1 - r^2): 25 (high) and 6 (moderate)
    high = base + rng.standard_normal(500) * 0.2
    moderate = rng.standard_normal(500) * 0.45 + base
    X = np.column_stack([base, high, rng.standard_normal(500)])
    y = (base + rng.logistic(size=500) > 0).astype(int)
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="vif")
    assert {f.feature for f in found} == {"x0", "x1"}
    assert all(f.severity == "warning" and f.value is not None and f.value > 10 for f in found)
    X2 = np.column_stack([base, moderate])
    found = diagnose(LogisticModel().fit(X2, y), X2, y).select(check="vif")
    assert [f.severity for f in found] == ["info", "info"]
    assert found[0].value is not None
    assert 5 <= found[0].value < 10
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


def test_class_imbalance() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((1000, 2))
    y = (X[:, 0] + rng.logistic(size=1000) > 3.5).astype(int)  # about 5% positives
    found = diagnose(LogisticModel().fit(X, y), X, y).select(check="imbalance")
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert "not accuracy" in found[0].advice
    assert "class_weight='balanced'" in found[0].advice
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


def test_saturation_of_the_linear_predictor() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 2))
    y = (10.0 * X[:, 0] + rng.logistic(size=400) > 0).astype(int)
    found = diagnose(LogisticModel(penalty=None).fit(X, y), X, y).select(check="saturation")
    assert len(found) == 1
    assert found[0].value is not None
    assert found[0].value > 0.25
    assert found[0].severity == "warning"
    assert "saturation" not in checks(*overlapping())


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
        "value",
    }
    assert Findings.from_list(data).to_list() == data
    assert all(f.severity in SEVERITIES and f.check in CHECKS for f in found)
    assert isinstance(found[0], Finding)
    assert len(found[:1]) == 1
