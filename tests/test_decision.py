"""Tests of logitkit.decision: thresholds, risk bands and multiclass decisions."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.proportion import proportion_confint

from logitkit.decision import (
    POLICY_METRICS,
    MulticlassPolicy,
    RiskBands,
    ThresholdPolicy,
    clopper_pearson,
    decide,
    rows_needed,
)
from logitkit.exceptions import ArtifactError, ConstraintError, DataError


# ------------------------------------------------------------------------- helpers
def counts(y, p, t):
    """Confusion counts of the rule ``p >= t`` (the brute-force oracle)."""
    flag = p >= t
    return (
        int(np.sum(flag & y)),
        int(np.sum(flag & ~y)),
        int(np.sum(~flag & y)),
        int(np.sum(~flag & ~y)),
    )


def candidates(p):
    """Every reachable operating point is ``p >= t`` for one of these thresholds."""
    return np.unique(np.r_[p, 1.0])


def mean_cost(y, p, t, cfp, cfn, btp=0.0, btn=0.0):
    tp, fp, fn, tn = counts(y, p, t)
    return (cfp * fp + cfn * fn - btp * tp - btn * tn) / y.size


def roundtrip(obj):
    return type(obj).from_dict(json.loads(json.dumps(obj.to_dict(), allow_nan=False)))


@pytest.fixture(scope="module")
def cancer():
    """Out-of-fold probabilities of 'malignant' on scikit-learn's breast-cancer data."""
    data = load_breast_cancer()
    y = data.target_names[data.target]  # 'malignant' / 'benign'
    model = make_pipeline(StandardScaler(), LogisticRegression())
    proba = cross_val_predict(model, data.data, y, cv=5, method="predict_proba")
    col = list(np.unique(y)).index("malignant")
    return y, proba[:, col]


# Binary data: scores from a small grid (many ties) or free floats; both classes present.
grid = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000000000000001, 0.75, 0.9, 1.0])
scores = st.one_of(grid, st.floats(0.0, 1.0))


@st.composite
def binary_data(draw):
    n = draw(st.integers(2, 40))
    p = np.array(draw(st.lists(scores, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    assume(y.any() and not y.all())
    return y, p


# ------------------------------------------------------------------------ cost rule
@settings(max_examples=50, deadline=None)
@given(binary_data(), st.integers(0, 10), st.integers(0, 10), st.integers(0, 3), st.integers(0, 3))
def test_cost_threshold_matches_brute_force(data, cfp, cfn, btp, btn):
    y, p = data
    assume(cfp + cfn + btp + btn > 0)
    pol = ThresholdPolicy.fit(
        y, p, positive=True, cost_fp=cfp, cost_fn=cfn, benefit_tp=btp, benefit_tn=btn, n_boot=0
    )
    costs = {t: mean_cost(y, p, t, cfp, cfn, btp, btn) for t in candidates(p)}
    best = min(costs.values())
    assert mean_cost(y, p, pol.threshold, cfp, cfn, btp, btn) == pytest.approx(best, abs=1e-12)
    assert pol.metrics["expected_cost"] == pytest.approx(best, abs=1e-12)
    # Tie-break: among the cheapest operating points, the one flagging the most rows.
    most = max(np.sum(p >= t) for t, c in costs.items() if abs(c - best) <= 1e-12)
    assert np.sum(p >= pol.threshold) == most
    assert 0.0 <= pol.threshold <= 1.0


@settings(max_examples=50, deadline=None)
@given(binary_data(), st.floats(0.0, 100.0), st.floats(0.01, 100.0))
def test_cost_threshold_real_costs(data, cfp, cfn):
    y, p = data
    pol = ThresholdPolicy.fit(y, p, positive=True, cost_fp=cfp, cost_fn=cfn, n_boot=0)
    best = min(mean_cost(y, p, t, cfp, cfn) for t in candidates(p))
    assert mean_cost(y, p, pol.threshold, cfp, cfn) <= best + 1e-9 * (1 + cfp + cfn)


def test_cost_threshold_is_the_midpoint_between_scores():
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.05, 0.6, 0.7])
    pol = ThresholdPolicy.fit(y, p, positive=1, cost_fp=1, cost_fn=5, n_boot=0)
    assert pol.threshold == (0.4 + 0.35) / 2
    assert pol.confusion == {"tn": 3, "fp": 1, "fn": 0, "tp": 4}
    assert pol.metrics["expected_cost"] == 1 / 8
    assert pol.bayes_threshold == 1 / 6


def test_threshold_between_neighbouring_floats():
    lo = 0.3
    hi = np.nextafter(lo, 1.0)  # (lo + hi) / 2 rounds to one of them
    y = np.array([False, True])
    pol = ThresholdPolicy.fit(y, [lo, hi], positive=True, cost_fp=1, cost_fn=1, n_boot=0)
    assert pol.decide([lo, hi]).tolist() == [False, True]
    assert pol.metrics["expected_cost"] == 0.0


def test_extreme_operating_points():
    y = np.array([0, 0, 0, 1])
    # False alarms cost far more than misses: flag nothing (threshold above every score).
    pol = ThresholdPolicy.fit(y, [0.6, 0.5, 0.4, 0.3], positive=1, cost_fp=100, cost_fn=1)
    assert pol.threshold == 0.8
    assert pol.confusion["tp"] + pol.confusion["fp"] == 0
    assert pol.metrics["precision"] is None
    # Misses cost far more: flag everything, threshold half the lowest score.
    pol = ThresholdPolicy.fit(y, [0.6, 0.5, 0.4, 0.3], positive=1, cost_fp=1, cost_fn=100)
    assert pol.threshold == 0.15
    # A score of exactly 1 cannot be left unflagged by a threshold in [0, 1].
    pol = ThresholdPolicy.fit(y, [1.0, 1.0, 0.4, 0.3], positive=1, cost_fp=100, cost_fn=1)
    assert pol.threshold == 0.7


# ------------------------------------------------------------------------ constraints
@settings(max_examples=50, deadline=None)
@given(binary_data(), st.floats(0.01, 1.0))
def test_min_recall_is_highest_threshold_meeting_it(data, target):
    y, p = data
    pol = ThresholdPolicy.fit(y, p, positive=True, min_recall=target, n_boot=0)
    tp, _, fn, _ = counts(y, p, pol.threshold)
    assert tp / (tp + fn) >= target
    ok = [t for t in np.unique(p) if counts(y, p, t)[0] / y.sum() >= target]
    assert np.sum(p >= pol.threshold) == np.sum(p >= max(ok))


@settings(max_examples=50, deadline=None)
@given(binary_data(), st.floats(0.01, 1.0))
def test_min_precision_is_lowest_threshold_meeting_it(data, target):
    y, p = data
    prec = {t: counts(y, p, t)[0] / np.sum(p >= t) for t in np.unique(p)}
    ok = [t for t, v in prec.items() if v >= target]
    if not ok:
        with pytest.raises(ConstraintError) as err:
            ThresholdPolicy.fit(y, p, positive=True, min_precision=target)
        assert err.value.best_achievable == max(prec.values())
        return
    pol = ThresholdPolicy.fit(y, p, positive=True, min_precision=target, n_boot=0)
    assert pol.metrics["precision"] >= target
    assert np.sum(p >= pol.threshold) == np.sum(p >= min(ok))


@settings(max_examples=50, deadline=None)
@given(binary_data(), st.floats(0.0, 0.99))
def test_max_fpr_is_lowest_threshold_meeting_it(data, target):
    y, p = data
    fpr = {t: counts(y, p, t)[1] / np.sum(~y) for t in np.unique(p)}
    ok = [t for t, v in fpr.items() if v <= target]
    if not ok:
        with pytest.raises(ConstraintError) as err:
            ThresholdPolicy.fit(y, p, positive=True, max_false_positive_rate=target)
        assert err.value.best_achievable == min(fpr.values())
        return
    pol = ThresholdPolicy.fit(y, p, positive=True, max_false_positive_rate=target, n_boot=0)
    assert pol.metrics["false_positive_rate"] <= target
    assert np.sum(p >= pol.threshold) == np.sum(p >= min(ok))


def test_breast_cancer_min_recall(cancer):
    y, p = cancer
    pol = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.99)
    flagged = p >= pol.threshold
    recall = np.sum(flagged & (y == "malignant")) / np.sum(y == "malignant")
    assert recall >= 0.99
    assert pol.metrics["recall"] == recall
    assert (pol.positive, pol.negative) == ("malignant", "benign")
    assert (pol.n_samples, pol.n_positive) == (569, 212)
    assert sum(pol.confusion.values()) == 569
    assert pol.method == "min_recall"
    assert pol.params == {"min_recall": 0.99}
    assert set(pol.metrics) == set(POLICY_METRICS)
    assert pol.metrics["expected_cost"] is None
    for name in ("precision", "recall", "false_positive_rate", "accuracy"):
        low, high = pol.intervals[name]
        assert low <= pol.metrics[name] <= high
    assert pol.decide_labels(p)[flagged].tolist() == ["malignant"] * int(flagged.sum())


def test_unreachable_constraints_report_best_achievable(cancer):
    y, p = cancer
    # The two highest-scored rows: a benign row above a malignant one.
    y2, p2 = np.array(["benign", "malignant", "benign"]), np.array([0.9, 0.8, 0.1])
    with pytest.raises(ConstraintError, match=r"best achievable is 0\.5") as err:
        ThresholdPolicy.fit(y2, p2, positive="malignant", min_precision=0.75)
    assert err.value.best_achievable == 0.5
    with pytest.raises(ConstraintError) as err:
        ThresholdPolicy.fit(y2, p2, positive="malignant", max_false_positive_rate=0.25)
    assert err.value.best_achievable == 0.5
    # Out-of-fold logistic regression is not perfect on breast cancer: precision 1 fails
    # at recall 1, and min_precision=1 is met only at a high threshold.
    pol = ThresholdPolicy.fit(y, p, positive="malignant", min_precision=1.0)
    assert pol.metrics["precision"] == 1.0
    assert pol.metrics["recall"] < 1.0


def test_expected_cost_bootstrap_matches_row_resampling(cancer):
    """The multinomial draw of the four cells equals resampling rows (the cost interval)."""
    y, p = cancer
    pol = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=10, n_boot=4000)
    rng = np.random.default_rng(1)
    pos, flag = y == "malignant", p >= pol.threshold
    idx = rng.integers(0, y.size, size=(4000, y.size))
    cost = ((flag[idx] & ~pos[idx]).sum(1) + 10 * (~flag[idx] & pos[idx]).sum(1)) / y.size
    naive = np.quantile(cost, [0.025, 0.975])
    assert pol.intervals["expected_cost"] == pytest.approx(naive, abs=0.006)
    assert pol.interval_method["expected_cost"] == "bootstrap-percentile"
    again = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=10, n_boot=4000)
    assert again.intervals == pol.intervals  # seeded
    low, high = pol.intervals["expected_cost"]
    assert low <= pol.metrics["expected_cost"] <= high
    # Without resamples the rates keep their exact intervals; only the cost has none.
    none = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=10, n_boot=0)
    assert none.intervals["expected_cost"] is None
    assert "expected_cost" not in none.interval_method
    assert none.intervals["recall"] == pol.intervals["recall"]


# ------------------------------------------------------------------ use and serialise
def test_decide_and_fixed():
    pol = ThresholdPolicy.fixed(0.3, positive="M", negative="B")
    assert pol.decide([0.1, 0.3, 0.9]).tolist() == [False, True, True]
    assert pol.decide_labels([0.1, 0.3]).tolist() == ["B", "M"]
    assert pol.metrics is None
    assert pol.bayes_threshold is None
    with pytest.raises(ValueError, match="negative label"):
        ThresholdPolicy.fixed(0.3, positive="M").decide_labels([0.5])
    with pytest.raises(DataError, match="outside"):
        pol.decide([0.5, 1.5])
    assert "min_recall=0.9" in repr(
        ThresholdPolicy.fit([0, 1], [0.2, 0.8], positive=1, min_recall=0.9)
    )


def test_refit_reapplies_the_rule(cancer):
    y, p = cancer
    half = slice(0, 300)
    pol = ThresholdPolicy.fit(y[half], p[half], positive="malignant", min_recall=0.95)
    again = pol.refit(y, p)
    assert again == ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.95)
    fixed = ThresholdPolicy.fixed(0.4, positive="malignant").refit(y, p, n_boot=200)
    assert fixed.threshold == 0.4
    assert fixed.n_samples == 569
    assert fixed.bootstrap["n_boot"] == 200
    assert fixed.metrics["recall"] == np.mean(p[y == "malignant"] >= 0.4)


@pytest.mark.parametrize(
    ("y", "positive"),
    [
        (["no", "yes", "yes", "no", "yes"], "yes"),
        ([0, 1, 1, 0, 1], 1),
        ([False, True, True, False, True], True),
        (np.array([2, 7, 7, 2, 7]), np.int64(7)),
    ],
)
def test_policy_json_roundtrip_keeps_label_types(y, positive):
    p = [0.1, 0.7, 0.4, 0.35, 0.9]
    for kw in ({"min_recall": 1.0}, {"cost_fp": 1.5, "cost_fn": 3.0, "benefit_tp": 0.25}):
        pol = ThresholdPolicy.fit(y, p, positive=positive, **kw)
        back = roundtrip(pol)
        assert back == pol
        assert back.to_dict() == pol.to_dict()
        assert type(back.positive) is type(pol.positive) is type(np.asarray(y)[1].item())
        assert type(back.negative) is type(pol.positive)
    fixed = ThresholdPolicy.fixed(0.25, positive=positive)
    assert roundtrip(fixed) == fixed


def test_from_dict_rejects_other_dicts():
    with pytest.raises(ArtifactError, match="Not a ThresholdPolicy"):
        ThresholdPolicy.from_dict({"type": "RiskBands"})
    d = ThresholdPolicy.fixed(0.5, positive=1).to_dict()
    with pytest.raises(ArtifactError, match="format_version"):
        ThresholdPolicy.from_dict({**d, "format_version": 99})
    del d["rule"]
    with pytest.raises(ArtifactError, match="malformed"):
        ThresholdPolicy.from_dict(d)


# ------------------------------------------------------------------------ validation
def test_parameter_errors_have_one_shape():
    y, p = [0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6]
    msg = "The 'min_recall' parameter of ThresholdPolicy.fit must be a float in (0, 1]. Got 2 instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ThresholdPolicy.fit(y, p, positive=1, min_recall=2)
    cases = [
        ({"min_precision": 0}, "'min_precision' parameter .* float in \\(0, 1\\]. Got 0 instead"),
        ({"max_false_positive_rate": 1.0}, "float in \\[0, 1\\). Got 1.0"),
        ({"cost_fp": -1, "cost_fn": 1}, "'cost_fp' parameter .* float in \\[0, inf\\). Got -1"),
        ({"cost_fp": 1}, "'cost_fn' parameter .* Got None instead"),
        ({"cost_fp": 0, "cost_fn": 0}, "all 0"),
        ({}, "exactly one rule.*Got none"),
        ({"min_recall": 0.9, "min_precision": 0.9}, "Got min_recall and min_precision"),
        ({"min_recall": 0.9, "benefit_tp": 1}, "'benefit_tp' parameter .* only with cost_fp"),
        ({"min_recall": 0.9, "n_boot": -1}, "'n_boot' parameter .* int in \\[0, inf\\). Got -1"),
        ({"min_recall": 0.9, "confidence": 1}, "'confidence' .* float in \\(0, 1\\). Got 1"),
        ({"min_recall": True}, "Got True instead"),
    ]
    for kw, match in cases:
        with pytest.raises(ValueError, match=match):
            ThresholdPolicy.fit(y, p, positive=1, **kw)
    with pytest.raises(TypeError, match="'positive' parameter"):
        ThresholdPolicy.fit(y, p, positive=[1], min_recall=0.5)
    with pytest.raises(
        ValueError, match=re.escape("'threshold' parameter of ThresholdPolicy.fixed")
    ):
        ThresholdPolicy.fixed(1.2, positive=1)


@pytest.mark.parametrize(
    ("y", "p", "match", "column"),
    [
        ([0, 1, 1], [0.1, 0.9], "differ in length: 3 and 2", "proba"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "1 values NaN \\(first at row 1", "proba"),
        ([0, 1, 1], [0.1, 1.2, -3], "2 values outside \\[0, 1\\]", "proba"),
        ([0, 1, 1], [[0.1, 0.9]] * 3, "must be 1-D", "proba"),
        ([0, 0, 0], [0.1, 0.2, 0.3], "positive label 1 does not occur", "y_true"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "no negative rows", "y_true"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "3 distinct labels", "y_true"),
        ([0, None, 1], [0.1, 0.2, 0.3], "1 missing labels", "y_true"),
        (["a", "b"], ["x", "y"], "numeric probabilities", "proba"),
    ],
)
def test_data_errors_name_the_argument(y, p, match, column):
    with pytest.raises(DataError, match=match) as err:
        ThresholdPolicy.fit(y, p, positive=1, min_recall=0.5)
    assert err.value.column == column


# ------------------------------------------------------------------------ risk bands
def test_risk_bands_on_breast_cancer(cancer):
    y, p = cancer
    bands = RiskBands.fit(
        y,
        p,
        positive="malignant",
        bands=[("clear", {"min_recall": 0.995}), ("review", {"min_precision": 0.9}), "refer"],
        n_boot=100,
    )
    low, high = bands.thresholds
    assert low <= high
    pos = y == "malignant"
    assert np.mean(p[pos] >= low) >= 0.995  # 'clear' misses at most 0.5% of malignant
    assert np.mean(pos[p >= high]) >= 0.9  # 'refer' is at least 90% malignant
    labels = bands.assign(p)
    assert set(labels) <= {"clear", "review", "refer"}
    assert [r["n"] for r in bands.table] == [int(np.sum(labels == b)) for b in bands.names]
    assert sum(r["n_positive"] for r in bands.table) == 212
    assert [c.method for c in bands.cuts] == ["min_recall", "min_precision"]
    assert roundtrip(bands) == bands
    assert bands.refit(y, p) == RiskBands.fit(
        y,
        p,
        positive="malignant",
        bands=[("clear", {"min_recall": 0.995}), ("review", {"min_precision": 0.9}), "refer"],
        n_boot=100,
    )


def test_risk_band_edges_and_fixed():
    bands = RiskBands.fixed(["low", "mid", "high"], [0.3, 0.6], positive=True)
    assert bands.assign([0.0, 0.29, 0.3, 0.59, 0.6, 1.0]).tolist() == [
        "low", "low", "mid", "mid", "high", "high",
    ]  # fmt: skip
    assert bands.assign_index([0.3]).tolist() == [1]
    assert roundtrip(bands) == bands
    refit = bands.refit([True, False, True], [0.9, 0.1, 0.5])
    assert [r["n_positive"] for r in refit.table] == [0, 1, 1]
    assert refit.table[0]["positive_rate"] == 0.0
    assert refit.thresholds == (0.3, 0.6)
    mixed = RiskBands.fit(
        [0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6], positive=1,
        bands=[("low", {"threshold": 0.2}), ("mid", {"cost_fp": 1, "cost_fn": 1}), "high"],
    )  # fmt: skip
    assert mixed.thresholds == (0.2, 0.5)


def test_risk_band_errors():
    y, p = [0, 1, 0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6, 0.7, 0.2]
    with pytest.raises(ConstraintError, match="contradict"):
        RiskBands.fit(
            y, p, positive=1, bands=[("a", {"min_precision": 1.0}), ("b", {"min_recall": 1.0}), "c"]
        )
    for bad in (["a"], [("a", {"min_recall": 0.5}), ("b", {"min_recall": 0.5})], ["a", "b"],
                [("a", {"min_recall": 0.5}), "a"]):  # fmt: skip
        with pytest.raises(ValueError, match=re.escape("'bands' parameter of RiskBands.fit")):
            RiskBands.fit(y, p, positive=1, bands=bad)
    with pytest.raises(ValueError, match="Unknown rule keys \\['min_recal'\\]"):
        RiskBands.fit(y, p, positive=1, bands=[("a", {"min_recal": 0.5}), "b"])
    with pytest.raises(ValueError, match="mixes 'threshold'"):
        RiskBands.fit(y, p, positive=1, bands=[("a", {"threshold": 0.5, "min_recall": 1}), "b"])
    with pytest.raises(ValueError, match="non-decreasing"):
        RiskBands.fixed(["a", "b", "c"], [0.6, 0.3], positive=1)
    with pytest.raises(ValueError, match="one threshold fewer"):
        RiskBands.fixed(["a", "b"], [0.3, 0.6], positive=1)


# ------------------------------------------------------------------------ multiclass
@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(
            st.lists(
                st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k), min_size=1, max_size=20
            ),
            st.lists(st.lists(st.floats(-5, 5), min_size=k, max_size=k), min_size=k, max_size=k),
        )
    )
)
def test_multiclass_cost_decision_is_brute_force_argmin(data):
    raw, cost = data
    W = np.asarray(raw) + 1e-3
    P = W / W.sum(axis=1, keepdims=True)
    k = P.shape[1]
    classes = [f"c{i}" for i in range(k)]
    pol = MulticlassPolicy.from_costs(classes, cost)
    C = np.asarray(cost)
    for row, decided in zip(P, pol.decide_index(P), strict=True):
        expected = [sum(row[i] * C[i, j] for i in range(k)) for j in range(k)]
        assert expected[decided] <= min(expected) + 1e-9
    assert pol.decide(P).tolist() == [classes[j] for j in pol.decide_index(P)]
    assert MulticlassPolicy.argmax(classes).decide_index(P).tolist() == P.argmax(1).tolist()


def test_argmax_separates_probabilities_one_ulp_apart():
    # 1 - 0.34 and 1 - 0.3400000000000001 round to the same float: argmin of 1 - p ties.
    P = [[0.34, 0.3400000000000001, 0.31999999999999984]]
    assert MulticlassPolicy.argmax(["a", "b", "c"]).decide(P).tolist() == ["b"]


def test_two_class_cost_matrix_equals_bayes_threshold():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=500)
    pol = MulticlassPolicy.from_costs(["neg", "pos"], [[0, 1], [4, 0]])  # FN costs 4
    decided = pol.decide(np.c_[1 - p, p])
    assert ((decided == "pos") == (p > 0.2)).all()  # Bayes threshold 1 / (1 + 4)


def test_multiclass_mean_cost_roundtrip_and_errors():
    pol = MulticlassPolicy.from_costs([0, 1, 2], [[0, 1, 2], [1, 0, 1], [5, 1, 0]])
    P = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.4, 0.5, 0.1]]
    assert pol.decide(P).tolist() == [0, 2, 1]
    assert pol.mean_cost([0, 1, 2], P) == pytest.approx((0 + 1 + 1) / 3)
    assert MulticlassPolicy.argmax([0, 1, 2]).mean_cost([0, 1, 2], P) == pytest.approx(2 / 3)
    for p in (pol, MulticlassPolicy.argmax(["a", "b"])):
        assert roundtrip(p) == p
    with pytest.raises(
        ValueError, match=re.escape("'cost' parameter of MulticlassPolicy.from_costs")
    ):
        MulticlassPolicy.from_costs([0, 1], [[0, 1]])
    with pytest.raises(ValueError, match="at least two distinct labels"):
        MulticlassPolicy.argmax([0, 0])
    with pytest.raises(DataError, match="must sum to 1"):
        pol.decide([[0.5, 0.2, 0.2]])
    with pytest.raises(DataError, match="shape \\(n_samples, 3\\)"):
        pol.decide([[0.5, 0.5]])
    with pytest.raises(DataError, match="label 7 not in classes"):
        pol.mean_cost([0, 7, 2], P)
    with pytest.raises(ArtifactError):
        MulticlassPolicy.from_dict({"type": "MulticlassPolicy", "format_version": 1})


# ------------------------------------------------------- exact intervals and evidence
# References come from statsmodels' proportion_confint(method="beta") and scipy's beta
# distribution: implementations independent of logitkit.decision.exact.
def sm_interval(k, n, level):
    return proportion_confint(k, n, alpha=1 - level, method="beta")


def sm_lower(k, n, level):
    """One-sided lower bound: the two-sided interval at alpha = 2 (1 - level)."""
    return proportion_confint(k, n, alpha=2 * (1 - level), method="beta")[0]


def sm_upper(k, n, level):
    return proportion_confint(k, n, alpha=2 * (1 - level), method="beta")[1]


@pytest.fixture(scope="module")
def demo_like():
    """Like the breast-cancer demo: 159 positives, the lowest one far below the rest."""
    rng = np.random.default_rng(7)
    pos = np.r_[0.0009, rng.uniform(0.2, 1.0, 158)]
    neg = rng.uniform(0.002, 0.6, 267)
    y = np.array(["malignant"] * 159 + ["benign"] * 267)
    return y, np.r_[pos, neg]


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 20), (20, 20), (7, 20), (159, 159),
                                      (3, 267), (264, 267), (1, 1000), (500, 1000)])  # fmt: skip
def test_clopper_pearson_matches_statsmodels(k, n, level):
    assert clopper_pearson(k, n, level) == pytest.approx(sm_interval(k, n, level), rel=1e-9)
    assert clopper_pearson(k, n, level, side="lower") == pytest.approx(
        (sm_lower(k, n, level), 1.0), rel=1e-9
    )
    assert clopper_pearson(k, n, level, side="upper") == pytest.approx(
        (0.0, sm_upper(k, n, level)), rel=1e-9, abs=1e-15
    )


def test_clopper_pearson_is_never_degenerate():
    low, high = clopper_pearson(159, 159)
    assert (round(low, 3), high) == (0.977, 1.0)
    assert low == pytest.approx(0.025 ** (1 / 159), rel=1e-12)  # Beta(n, 1) quantile
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(3, 2)
    with pytest.raises(ValueError, match="'side' parameter of clopper_pearson"):
        clopper_pearson(1, 2, side="left")


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.99, 0.995, 0.999])
def test_rows_needed_is_the_least_n_that_shows_the_target(target, level):
    def shows_lower(n):  # n of n, scipy's Beta(n, 1) quantile
        return stats.beta.ppf(1 - level, n, 1) >= target

    def shows_upper(n):  # 0 of n: the upper bound of a false-positive rate of 1 - target
        return stats.beta.isf(1 - level, 1, n) <= 1 - target

    for side, shows in (("lower", shows_lower), ("upper", shows_upper)):
        goal = target if side == "lower" else 1 - target
        n = rows_needed(goal, level, side=side)
        assert shows(n)
        assert n == 1 or not shows(n - 1)
    assert rows_needed(0.995) == math.ceil(math.log(0.05) / math.log(0.995)) == 598
    assert rows_needed(1.0) is None
    assert rows_needed(0.0, side="upper") is None


@pytest.mark.parametrize(
    "rule",
    [{"min_recall": 0.9}, {"min_precision": 0.95}, {"max_false_positive_rate": 0.05},
     {"cost_fp": 1.0, "cost_fn": 5.0}],
)  # fmt: skip
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_policy_rates_get_clopper_pearson_intervals(cancer, rule, confidence):
    y, p = cancer
    pol = ThresholdPolicy.fit(y, p, positive="malignant", confidence=confidence, **rule)
    c = pol.confusion
    behind = {
        "precision": (c["tp"], c["tp"] + c["fp"]),
        "recall": (c["tp"], c["tp"] + c["fn"]),
        "false_positive_rate": (c["fp"], c["fp"] + c["tn"]),
        "negative_predictive_value": (c["tn"], c["tn"] + c["fn"]),
        "accuracy": (c["tp"] + c["tn"], 569),
        "predicted_positive_rate": (c["tp"] + c["fp"], 569),
    }
    assert pol.rate_counts == behind
    assert pol.confidence == confidence
    for name, (k, n) in behind.items():
        assert pol.intervals[name] == pytest.approx(sm_interval(k, n, confidence), rel=1e-9)
        assert pol.interval_method[name] == "clopper-pearson"
        low, high = pol.intervals[name]
        assert low < high
    assert pol.to_dict()["interval_method"]["recall"] == "clopper-pearson"


def test_demo_like_policy_is_unstable_and_unverifiable(demo_like):
    y, p = demo_like
    pol = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.995)
    assert pol.confusion["fn"] == 0
    assert pol.n_negative == 267
    assert pol.intervals["recall"] == pytest.approx(sm_interval(159, 159, 0.95), rel=1e-9)
    assert pol.intervals["recall"][0] == pytest.approx(0.977, abs=5e-4)  # not "1 to 1"
    # One row sets the threshold: move it and the threshold follows.
    assert (pol.rests_on, pol.unstable) == (1, True)
    moved = p.copy()
    moved[0] = 0.0004
    assert ThresholdPolicy.fit(y, moved, positive="malignant", min_recall=0.995).threshold < 0.0004
    v = pol.verification
    assert (v.metric, v.side, v.level, v.target, v.n) == ("recall", "lower", 0.95, 0.995, 159)
    assert v.bound == pytest.approx(stats.beta.ppf(0.05, 159, 1), rel=1e-12)
    assert v.bound == pytest.approx(0.05 ** (1 / 159), rel=1e-12)
    assert round(v.bound, 3) == 0.981
    assert v.best_bound == v.bound
    assert v.verified is False
    assert v.rows_needed == math.ceil(math.log(0.05) / math.log(0.995)) == 598
    kinds = [(kind, severity) for kind, severity, _ in pol.caveats()]
    assert kinds == [("unverifiable_policy", "warning"), ("unstable_threshold", "warning")]
    unverifiable, unstable = (message for _, _, message in pol.caveats())
    assert unverifiable == (
        "The policy asks for recall >= 0.995 of malignant, but 159 malignant rows cannot show "
        "that at 95% confidence: even with no miss they prove only recall >= 0.981. It would "
        "take at least 598 malignant rows. Label more malignant rows, or lower the target to "
        "0.981 or less and choose with at_confidence=0.95 (--confidence 0.95) so that the "
        "threshold is one the data support."
    )
    assert unstable.startswith(
        "The threshold 0.00045 rests on 1 row: it sits at the score of the lowest-scored "
        "malignant row, so that single row decides it"
    )
    assert "a recall target of 0.987 or lower" in unstable
    assert "label at least 400 malignant rows" in unstable
    words = pol.describe()
    assert words[0] == (
        "Rule: the highest threshold at which recall of malignant (the share of malignant rows "
        "flagged) is at least 0.995, for the fewest false alarms."
    )
    assert words[1] == "Threshold: decide malignant when P(malignant) >= 0.00045; otherwise benign."
    assert words[2].startswith("On 426 rows (159 malignant, 267 benign) it flags ")
    assert "159 of 159 malignant rows (recall 1.000, 95% interval 0.977 to 1.000)" in words[2]
    assert words[-2:] == [f"Warning: {unverifiable}", f"Warning: {unstable}"]


def test_at_confidence_says_what_the_data_can_show(demo_like):
    y, p = demo_like
    with pytest.raises(ConstraintError) as err:
        ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.995, at_confidence=0.95)
    assert str(err.value).startswith(
        "recall >= 0.995 cannot be shown at 95% confidence from 159 positives ('malignant'): "
        "zero misses proves only recall >= 0.981; it would take at least 598 positives."
    )
    assert err.value.best_achievable == pytest.approx(0.05 ** (1 / 159), rel=1e-12)
    # A target the rows can show: the threshold drops until the lower bound meets it.
    pol = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.98, at_confidence=0.9)
    tp = pol.confusion["tp"]
    assert sm_lower(tp, 159, 0.9) >= 0.98
    assert pol.verification.verified
    assert pol.verification.level == 0.9
    assert not pol.caveats() or [k for k, _, _ in pol.caveats()] == ["unstable_threshold"]
    assert "the 90% lower confidence bound of recall of malignant" in pol.describe()[0]


def test_verified_policy_says_so(cancer):
    y, p = cancer
    pol = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.9, verify_level=0.9)
    v = pol.verification
    assert v.level == 0.9
    assert v.bound == pytest.approx(sm_lower(pol.confusion["tp"], 212, 0.9), rel=1e-9)
    assert v.verified == (v.bound >= 0.9)
    if v.verified:
        assert any(
            s.startswith("At 90% confidence these rows show recall >=") for s in pol.describe()
        )
    assert pol.rests_on > 2
    assert not pol.unstable
    assert [k for k, _, _ in pol.caveats()] == ([] if v.verified else ["unverifiable_policy"])
    assert any(s.startswith(f"The threshold rests on {pol.rests_on} rows") for s in pol.describe())
    cost = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=5)
    assert (cost.rests_on, cost.unstable, cost.verification, cost.caveats()) == (
        None, None, None, []
    )  # fmt: skip


def test_unverifiable_caveats_of_the_other_constraints(demo_like):
    y, p = demo_like
    fpr = ThresholdPolicy.fit(y, p, positive="malignant", max_false_positive_rate=0.0)
    v = fpr.verification
    assert (v.metric, v.side, v.n, v.rows_needed) == ("false_positive_rate", "upper", 267, None)
    assert v.bound == pytest.approx(sm_upper(0, 267, 0.95), rel=1e-9)
    message = {k: m for k, _, m in fpr.caveats()}["unverifiable_policy"]
    assert "267 benign rows cannot show that at 95% confidence" in message
    assert "No number of rows can show a false-positive rate of exactly 0" in message
    prec = ThresholdPolicy.fit(y, p, positive="malignant", min_precision=0.99)
    v = prec.verification
    assert v.n == prec.confusion["tp"] + prec.confusion["fp"]
    assert v.bound == pytest.approx(sm_lower(prec.confusion["tp"], v.n, 0.95), rel=1e-9)


# ---------------------------------------------------------- confidence-aware choice
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99])


def _reference_choice(y, p, method, target, level):
    """Brute force over every threshold that flags a row, with statsmodels' bounds."""
    P, N = int(y.sum()), int((~y).sum())
    ok = {}
    for t in np.unique(p):
        tp, fp, _, _ = counts(y, p, t)
        if method == "min_recall":
            b = sm_lower(tp, P, level)
        elif method == "min_precision":
            b = sm_lower(tp, tp + fp, level)
        else:
            b = sm_upper(fp, N, level)
        assume(abs(b - target) > 1e-9)  # no decision within rounding of the target
        ok[t] = b >= target if method != "max_false_positive_rate" else b <= target
    return [t for t, good in ok.items() if good]


@settings(max_examples=60, deadline=None)
@given(binary_data(), st.floats(0.01, 1.0), levels)
def test_at_confidence_min_recall_is_highest_threshold_whose_bound_meets_it(data, target, level):
    y, p = data
    ok = _reference_choice(y, p, "min_recall", target, level)
    point = ThresholdPolicy.fit(y, p, positive=True, min_recall=target, n_boot=0)
    if not ok:
        with pytest.raises(ConstraintError, match="cannot be shown"):
            ThresholdPolicy.fit(y, p, positive=True, min_recall=target, at_confidence=level)
        return
    pol = ThresholdPolicy.fit(y, p, positive=True, min_recall=target, at_confidence=level)
    assert np.sum(p >= pol.threshold) == np.sum(p >= max(ok))
    assert pol.threshold <= point.threshold  # never above the point-estimate threshold
    assert pol.verification.verified


@pytest.mark.parametrize(
    ("method", "targets"),
    [("min_precision", st.floats(0.01, 1.0)), ("max_false_positive_rate", st.floats(0.0, 0.99))],
)
def test_at_confidence_lower_bounded_rules_take_the_lowest_threshold_whose_bound_meets_it(
    method, targets
):
    @settings(max_examples=60, deadline=None)
    @given(binary_data(), targets, levels)
    def check(data, target, level):
        y, p = data
        ok = _reference_choice(y, p, method, target, level)
        rule = {method: target}
        if not ok:
            with pytest.raises(ConstraintError, match="cannot be shown"):
                ThresholdPolicy.fit(y, p, positive=True, at_confidence=level, **rule)
            return
        pol = ThresholdPolicy.fit(y, p, positive=True, at_confidence=level, **rule)
        assert np.sum(p >= pol.threshold) == np.sum(p >= min(ok))
        point = ThresholdPolicy.fit(y, p, positive=True, n_boot=0, **rule)
        assert pol.threshold >= point.threshold  # never below the point-estimate threshold
        assert pol.verification.verified

    check()


@settings(max_examples=60, deadline=None)
@given(binary_data(), st.floats(0.01, 0.99),
       st.sampled_from(["min_recall", "min_precision", "max_false_positive_rate"]))  # fmt: skip
def test_rests_on_counts_the_tail_that_sets_the_threshold(data, target, method):
    y, p = data
    try:
        pol = ThresholdPolicy.fit(y, p, positive=True, n_boot=0, **{method: target})
    except ConstraintError:
        return
    flag = p >= pol.threshold
    if method == "min_recall":
        expected = np.sum(p[y] <= p[y & flag].min())  # misses and the lowest flagged
        assert pol.rests_on >= pol.confusion["fn"] + 1
    else:
        unflagged = p[~y & ~flag]
        expected = np.sum(p[~y] >= unflagged.max()) if unflagged.size else np.sum(~y)
    assert pol.rests_on == expected
    assert pol.unstable == (expected <= 2)
    # Twice the rows, same rates: the same threshold, resting on twice the rows.
    twice = ThresholdPolicy.fit(np.r_[y, y], np.r_[p, p], positive=True, n_boot=0,
                                **{method: target})  # fmt: skip
    assert twice.threshold == pol.threshold
    assert twice.rests_on == 2 * pol.rests_on


# ------------------------------------------------------------ one rule, serialised
def test_decide_is_the_one_rule():
    p = np.array([0.0, 0.2999999, 0.3, 0.30000001, 1.0, np.nan])
    assert decide(p, 0.3).tolist() == [False, False, True, True, True, False]
    assert (
        decide(p[:5], 0.3).tolist() == ThresholdPolicy.fixed(0.3, positive=1).decide(p[:5]).tolist()
    )
    bands = RiskBands.fixed(["a", "b", "c"], [0.3, 0.3000001], positive=1)
    assert (
        bands.assign_index(p[:5]).tolist()
        == (decide(p[:5], 0.3).astype(int) + decide(p[:5], 0.3000001)).tolist()
    )


def test_version_2_dicts_round_trip_every_field(cancer, demo_like):
    y, p = cancer
    policies = [
        ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.9, at_confidence=0.9),
        ThresholdPolicy.fit(y, p, positive="malignant", min_precision=0.95, verify_level=0.99),
        ThresholdPolicy.fit(y, p, positive="malignant", max_false_positive_rate=0.05),
        ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=4, n_boot=50),
        ThresholdPolicy.fixed(0.4, positive="malignant").refit(y, p),
        ThresholdPolicy.fixed(0.4, positive="malignant"),
        ThresholdPolicy.fit(*demo_like, positive="malignant", min_recall=0.995),
    ]
    for pol in policies:
        d = json.loads(json.dumps(pol.to_dict(), allow_nan=False))
        assert d["format_version"] == 2
        back = ThresholdPolicy.from_dict(d)
        assert back == pol
        assert back.to_dict() == pol.to_dict()
        assert back.describe() == pol.describe()
        assert back.caveats() == pol.caveats()
    d = policies[0].to_dict()
    assert d["rule"] == {"method": "min_recall", "min_recall": 0.9, "at_confidence": 0.9}
    assert d["fitted_on"] == {"n_samples": 569, "n_positive": 212, "n_negative": 357}
    assert d["verification"]["level"] == 0.9
    assert d["verification"]["verified"] is True
    assert policies[2].to_dict()["rule"] == {
        "method": "max_false_positive_rate", "max_false_positive_rate": 0.05
    }  # fmt: skip
    assert policies[1].verification.level == 0.99
    last = policies[-1].to_dict()
    assert last["evidence"] == {"rests_on": 1, "unstable": True}
    assert last["verification"]["rows_needed"] == 598


def test_refit_and_from_dict_reapply_at_confidence(cancer):
    y, p = cancer
    half = slice(0, 300)
    pol = ThresholdPolicy.fit(y[half], p[half], positive="malignant", min_recall=0.9,
                              at_confidence=0.95, verify_level=0.99)  # fmt: skip
    again = roundtrip(pol).refit(y, p)
    assert again == ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.9,
                                        at_confidence=0.95, verify_level=0.99)  # fmt: skip
    assert again.at_confidence == 0.95
    assert "at_confidence=0.95" in repr(again)


# A policy as version 1 of the format wrote it (logitkit before exact intervals).
V1_POLICY = {
    "type": "ThresholdPolicy",
    "format_version": 1,
    "threshold": 0.0008560449612929262,
    "positive": "malignant",
    "negative": "benign",
    "rule": {"method": "min_recall", "min_recall": 0.995},
    "fitted_on": {"n_samples": 426, "n_positive": 159},
    "confusion": {"tn": 99, "fp": 168, "fn": 0, "tp": 159},
    "metrics": {
        "precision": 0.486,
        "recall": 1.0,
        "false_positive_rate": 0.629,
        "negative_predictive_value": 1.0,
        "accuracy": 0.606,
        "predicted_positive_rate": 0.768,
        "expected_cost": None,
    },
    "intervals": {
        "precision": [0.43, 0.54],
        "recall": [1.0, 1.0],
        "false_positive_rate": [0.57, 0.69],
        "negative_predictive_value": [1.0, 1.0],
        "accuracy": [0.56, 0.65],
        "predicted_positive_rate": [0.72, 0.81],
        "expected_cost": None,
    },
    "bootstrap": {"n_boot": 1000, "confidence": 0.95, "random_state": 0},
}


def test_version_1_dicts_are_still_read():
    pol = ThresholdPolicy.from_dict(V1_POLICY)
    assert pol.threshold == V1_POLICY["threshold"]
    assert (pol.at_confidence, pol.rests_on, pol.unstable, pol.verification) == (
        None, None, None, None
    )  # fmt: skip
    assert pol.confidence == 0.95
    assert pol.bootstrap == {"n_boot": 1000, "random_state": 0}
    assert pol.interval_method["recall"] == "bootstrap-percentile"  # what v1 computed
    assert pol.n_negative == 267
    assert pol.caveats() == []
    assert roundtrip(pol) == pol  # written back as version 2
    assert pol.to_dict()["format_version"] == 2
    refit = pol.refit(["benign", "malignant", "malignant"], [0.2, 0.0005, 0.9])
    assert refit.verification is not None  # a refit gains the evidence
    assert refit.rests_on == 1
    bands = {"type": "RiskBands", "format_version": 1, "positive": "malignant",
             "names": ["low", "high"], "cuts": [V1_POLICY], "table": None}  # fmt: skip
    assert RiskBands.from_dict(bands).thresholds == (V1_POLICY["threshold"],)
    mc = {"type": "MulticlassPolicy", "format_version": 1, "classes": [0, 1, 2], "cost": None}
    assert MulticlassPolicy.from_dict(mc) == MulticlassPolicy.argmax([0, 1, 2])


def test_at_confidence_parameter_errors():
    y, p = [0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6]
    msg = (
        "The 'at_confidence' parameter of ThresholdPolicy.fit applies only with min_recall, "
        "min_precision or max_false_positive_rate. Got 0.95."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        ThresholdPolicy.fit(y, p, positive=1, cost_fp=1, cost_fn=2, at_confidence=0.95)
    msg = (
        "The 'at_confidence' parameter of ThresholdPolicy.fit must be a float in (0, 1) or "
        "one of None. Got 1.5 instead."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        ThresholdPolicy.fit(y, p, positive=1, min_recall=0.5, at_confidence=1.5)
    with pytest.raises(ValueError, match=r"'verify_level' parameter .* applies only with"):
        ThresholdPolicy.fit(y, p, positive=1, cost_fp=1, cost_fn=2, verify_level=0.9)
    with pytest.raises(ValueError, match="mixes 'threshold'"):
        RiskBands.fit(
            y, p, positive=1, bands=[("a", {"threshold": 0.5, "at_confidence": 0.9}), "b"]
        )
    with pytest.raises(
        ValueError, match=re.escape("'at_confidence' parameter of RiskBands.fit applies only")
    ):
        RiskBands.fit(y, p, positive=1,
                      bands=[("a", {"cost_fp": 1, "cost_fn": 1, "at_confidence": 0.9}), "b"])  # fmt: skip


def test_risk_band_cut_at_confidence(cancer):
    y, p = cancer
    rules = [("clear", {"min_recall": 0.95, "at_confidence": 0.95}), "refer"]
    bands = RiskBands.fit(y, p, positive="malignant", bands=rules)
    cut = bands.cuts[0]
    assert cut.at_confidence == 0.95
    assert cut.verification.verified
    assert cut == ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.95,
                                      at_confidence=0.95)  # fmt: skip
    assert roundtrip(bands) == bands
    assert bands.refit(y, p) == bands
