"""Drift statistics: flags calibrated to the window size, expected and realised performance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from logitkit.reference import feature_profile
from logitkit.serve import Settings
from logitkit.serve.drift import expected_performance, psi_test
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer, instances

REFERENCE = feature_profile(np.random.default_rng(0).normal(size=20_000))


@pytest.mark.parametrize("n", [50, 500, 5000])
def test_psi_flags_fire_at_about_alpha_without_drift_whatever_the_window(n):
    # Each trial draws its reference too: the threshold accounts for both samples' noise.
    rng = np.random.default_rng(n)
    flags = [
        psi_test(rng.normal(size=n), feature_profile(rng.normal(size=5000)), 0.05)["flagged"]
        for _ in range(300)
    ]
    assert 0.015 <= np.mean(flags) <= 0.09


def test_a_fixed_cut_off_would_fire_on_small_windows_by_chance():
    rng = np.random.default_rng(1)
    psi = [psi_test(rng.normal(size=30), REFERENCE, 0.05)["statistic"] for _ in range(300)]
    assert np.mean(np.array(psi) > 0.1) > 0.5  # the folk rule's "moderate shift" fires on noise


def test_psi_detects_a_small_shift_on_a_large_window_that_the_fixed_cut_off_misses():
    result = psi_test(np.random.default_rng(2).normal(0.15, 1.0, size=20_000), REFERENCE, 0.05)
    assert result["flagged"]
    assert result["statistic"] < 0.1  # below the folk rule's "no shift" line
    assert result["threshold"] < 0.01


def test_expected_performance_matches_simulated_outcomes():
    rng = np.random.default_rng(3)
    p = rng.beta(1, 3, size=2000)
    flagged = p >= 0.3
    expected = expected_performance(p, flagged)
    precision, recall = [], []
    for _ in range(400):
        y = rng.random(p.size) < p
        tp = (y & flagged).sum()
        precision.append(tp / flagged.sum())
        recall.append(tp / y.sum())
    assert expected["precision"] == pytest.approx(np.mean(precision), abs=0.005)
    assert expected["recall"] == pytest.approx(np.mean(recall), abs=0.005)
    low, high = expected["precision_ci"]
    assert np.mean((np.array(precision) >= low) & (np.array(precision) <= high)) > 0.9
    low, high = expected["recall_ci"]
    assert np.mean((np.array(recall) >= low) & (np.array(recall) <= high)) > 0.9


def test_drift_endpoint_with_feedback(demo_model, demo_rows, tmp_path):
    names, rows = demo_rows
    settings = Settings(
        model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'log.db'}", api_keys=(API_KEY,)
    )
    with LiveServer(settings) as live:
        client = live.client(API_KEY)
        empty = client.get("/v1/drift").json()
        assert empty["n"] == 0
        assert empty["notes"]
        answer = client.post("/v1/predict", json=instances(names, rows[:300]))
        ids = answer.json()["request_id"]
        truth = ["malignant" if k % 3 == 0 else "benign" for k in range(100)]
        feedback = {
            "feedback": [
                {"request_id": ids, "instance": k, "label": t} for k, t in enumerate(truth)
            ]
        }
        assert client.post("/v1/feedback", json=feedback).json() == {"accepted": 100}
        unknown = client.post(
            "/v1/feedback", json={"feedback": [{"request_id": "nope", "label": "benign"}]}
        )
        assert unknown.status_code == 404
        assert "nope" in unknown.json()["error"]
        bad_label = client.post(
            "/v1/feedback", json={"feedback": [{"request_id": ids, "label": "maybe"}]}
        )
        assert bad_label.status_code == 422
        assert bad_label.json()["errors"][0]["field"] == "feedback[0].label"
        report = client.get("/v1/drift", params={"window": 1000}).json()
        shifted_rows = [[v * 1.5 for v in row] for row in rows[:300]]
        client.post("/v1/predict", json=instances(names, shifted_rows))
        shifted = client.get("/v1/drift", params={"window": 300}).json()
    assert report["n"] == 300
    assert len(report["features"]) == len(names)
    policy = json.loads(demo_model.read_text())["policy"]
    expected_rate = policy["metrics"]["predicted_positive_rate"]
    assert report["positive_rate"]["expected"] == pytest.approx(expected_rate, abs=1e-12)
    assert report["expected"]["n"] == 300
    labelled = report["labelled"]
    assert labelled["n"] == 100
    realised = labelled["realised"]
    assert realised["tp"] + realised["fn"] == sum(t == "malignant" for t in truth)
    assert "Yurdakul" in report["method"]
    assert "mean radius" in shifted["flagged"]
    assert shifted["n"] == 300


def test_the_rate_shift_needs_enough_rows_and_its_interval_is_newcombes():
    from statsmodels.stats.proportion import confint_proportions_2indep

    from logitkit.serve.drift import _rate_shift, rows_needed_for_rate

    # Two rows, both flagged, against 46% expected: no interval can claim certainty here.
    tiny = _rate_shift(np.array([True, True]), 0.46, 569, 0.05)
    assert tiny["p_value"] is None
    assert tiny["ci_low"] is None
    assert not tiny["flagged"]
    assert tiny["rows_needed"] == rows_needed_for_rate(0.46) == 11
    # Enough rows: Newcombe's hybrid score interval, as statsmodels computes it.
    flagged = np.r_[np.ones(30, dtype=bool), np.zeros(20, dtype=bool)]
    shift = _rate_shift(flagged, 250 / 569, 569, 0.05)
    low, high = confint_proportions_2indep(30, 50, 250, 569, method="newcomb", compare="diff")
    assert shift["ci_low"] == pytest.approx(low, rel=1e-9)
    assert shift["ci_high"] == pytest.approx(high, rel=1e-9)
