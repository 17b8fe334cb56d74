"""Tests of logitkit.decision: thresholds, risk bands and multiclass decisions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from logitkit.decision import POLICY_METRICS, MulticlassPolicy, RiskBands, ThresholdPolicy
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


def test_bootstrap_matches_row_resampling(cancer):
    """The multinomial draw of the four cells equals resampling rows."""
    y, p = cancer
    pol = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=10, n_boot=4000)
    rng = np.random.default_rng(1)
    pos, flag = y == "malignant", p >= pol.threshold
    idx = rng.integers(0, y.size, size=(4000, y.size))
    recall = (flag[idx] & pos[idx]).sum(1) / pos[idx].sum(1)
    naive = np.quantile(recall, [0.025, 0.975])
    assert pol.intervals["recall"] == pytest.approx(naive, abs=0.006)
    again = ThresholdPolicy.fit(y, p, positive="malignant", cost_fp=1, cost_fn=10, n_boot=4000)
    assert again.intervals == pol.intervals  # seeded
    low, high = pol.intervals["expected_cost"]
    assert low <= pol.metrics["expected_cost"] <= high
    assert (
        ThresholdPolicy.fit(y, p, positive="malignant", min_recall=0.9, n_boot=0).intervals is None
    )


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
