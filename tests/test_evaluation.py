"""Tests of logitkit.evaluation: AUC with DeLong intervals, threshold tables, evaluate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import expit
from sklearn import metrics as skm

from logitkit.calibration import hosmer_lemeshow
from logitkit.decision import MulticlassPolicy, ThresholdPolicy
from logitkit.evaluation import (
    CLASS_COLUMNS,
    CONFUSION_COLUMNS,
    CURVE_POINTS,
    classification_table,
    confusion_table,
    evaluate,
    evaluate_multiclass,
    roc_auc_ci,
)
from logitkit.exceptions import DataError


def binary(n, seed, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.uniform(size=n) < 0.4
    p = expit(rng.normal(size=n) + 1.3 * y - 0.5)
    return y, (np.round(p, 1) if ties else p)


def delong_by_definition(y, p):
    """DeLong et al. (1988) written out with the O(mn) kernel psi(x, z)."""
    x, z = p[y], p[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / x.size + v01.var(ddof=1) / z.size


# ---------------------------------------------------------------------------- AUC
@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True)])
def test_delong_matches_definition_and_sklearn(seed, ties):
    y, p = binary(300, seed, ties)
    r = roc_auc_ci(y, p, positive=True)
    auc, var = delong_by_definition(y, p)
    assert r.auc == pytest.approx(auc, rel=1e-12)
    assert r.auc == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert r.std_err == pytest.approx(math.sqrt(var), rel=1e-10)
    assert r.ci_low == pytest.approx(auc - 1.959963984540054 * math.sqrt(var), rel=1e-10)


def test_delong_standard_error_agrees_with_bootstrap():
    y, p = binary(400, seed=7)
    r = roc_auc_ci(y, p, positive=True)
    rng = np.random.default_rng(0)
    aucs = []
    for _ in range(1000):
        i = rng.integers(0, y.size, y.size)
        aucs.append(skm.roc_auc_score(y[i], p[i]))
    assert r.std_err == pytest.approx(np.std(aucs, ddof=1), rel=0.1)


def test_auc_hanley_mcneil_published_example():
    """Hanley & McNeil (1982), Radiology 143:29-36, Table 1: CT ratings 1-5 of 58 normal
    and 51 abnormal patients. Published: AUC 0.893, SE 0.032 (their own SE formula, an
    approximation to DeLong's, so agreement there is only to a few thousandths)."""
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    ratings = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    y = np.r_[["normal"] * 58, ["abnormal"] * 51]
    r = roc_auc_ci(y, ratings / 5, positive="abnormal")
    assert round(r.auc, 3) == 0.893
    assert r.std_err == pytest.approx(0.032, abs=0.002)
    assert 0.0 <= r.ci_low < r.auc < r.ci_high <= 1.0


def test_auc_interval_edge_cases():
    r = roc_auc_ci([0, 1, 1, 1], [0.1, 0.5, 0.6, 0.7], positive=1)
    assert r.auc == 1.0
    assert math.isnan(r.std_err)
    assert r.to_dict() == {
        "auc": 1.0, "std_err": None, "ci_low": None, "ci_high": None,
        "confidence": 0.95, "method": "delong",
    }  # fmt: skip
    r = roc_auc_ci([0, 0, 1, 1], [0.1, 0.5, 0.6, 0.7], positive=1, confidence=0.9)
    assert r.ci_high == 1.0  # clipped
    with pytest.raises(ValueError, match=r"'confidence' parameter of roc_auc_ci"):
        roc_auc_ci([0, 1], [0.1, 0.5], positive=1, confidence=95)


# --------------------------------------------------------------------- thresholds
def test_tables_match_sklearn():
    y, p = binary(200, seed=3)
    labels = np.where(y, "malignant", "benign")
    thresholds = {"policy": 0.3, "default": 0.5}
    conf = confusion_table(labels, p, positive="malignant", thresholds=thresholds)
    classes = classification_table(labels, p, positive="malignant", thresholds=thresholds)
    assert list(conf.columns) == list(CONFUSION_COLUMNS)
    assert list(classes.columns) == list(CLASS_COLUMNS)
    for name, t in thresholds.items():
        pred = np.where(p >= t, "malignant", "benign")
        row = conf[conf["name"] == name].iloc[0]
        cm = skm.confusion_matrix(labels, pred, labels=["benign", "malignant"]).ravel()
        assert [row[c] for c in ("tn", "fp", "fn", "tp")] == cm.tolist()
        assert row["accuracy"] == skm.accuracy_score(labels, pred)
        report = skm.classification_report(labels, pred, output_dict=True)
        for label in ("benign", "malignant"):
            got = classes[(classes["name"] == name) & (classes["label"] == label)].iloc[0]
            assert got["precision"] == pytest.approx(report[label]["precision"])
            assert got["recall"] == pytest.approx(report[label]["recall"])
            assert got["f1"] == pytest.approx(report[label]["f1-score"])
            assert got["support"] == report[label]["support"]
    assert confusion_table(labels, p, positive="malignant", thresholds=[0.25])["name"][0] == "0.25"


def test_undefined_precision_is_nan_not_zero():
    t = classification_table([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], positive=1, thresholds=0.9)
    assert math.isnan(t.loc[t["label"] == 1, "precision"].iloc[0])
    with pytest.raises(ValueError, match=r"'thresholds' parameter of confusion_table"):
        confusion_table([0, 1], [0.1, 0.9], positive=1, thresholds={"x": 1.5})


# ----------------------------------------------------------------------- evaluate
def test_evaluate_matches_sklearn_and_is_json():
    y, p = binary(500, seed=11)
    labels = np.where(y, "malignant", "benign")
    policy = ThresholdPolicy.fit(labels, p, positive="malignant", min_recall=0.9, n_boot=0)
    e = evaluate(labels, p, positive="malignant", threshold=policy)
    assert e.roc_auc.auc == pytest.approx(skm.roc_auc_score(y, p))
    assert e.average_precision == pytest.approx(skm.average_precision_score(y, p))
    assert e.log_loss == pytest.approx(skm.log_loss(labels, p))  # 'malignant' sorts last
    assert e.brier_score == pytest.approx(skm.brier_score_loss(labels, p, pos_label="malignant"))
    assert (e.n_samples, e.n_positive) == (500, int(y.sum()))
    assert (e.positive, e.negative) == ("malignant", "benign")
    assert e.confusion["name"].tolist() == ["policy", "default"]
    assert e.confusion["threshold"].tolist() == [policy.threshold, 0.5]
    assert e.classes["label"].tolist() == ["benign", "malignant"] * 2
    assert e.hosmer_lemeshow is not None
    assert set(e.ece) == {"uniform", "quantile"}
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert d["roc_auc"]["auc"] == e.roc_auc.auc
    assert d["classes"][0]["label"] == "benign"
    assert d["reliability"][0]["count"] == int(e.reliability["count"].iloc[0])
    # Out-of-fold or held-out probabilities: df = g (the 10 risk groups), not g - 2.
    assert d["hosmer_lemeshow"]["df"] == 10
    assert e.hosmer_lemeshow.p_value == pytest.approx(
        hosmer_lemeshow(labels, p, positive="malignant", df=10).p_value
    )
    assert evaluate(labels, p, positive="malignant").confusion["name"].tolist() == ["default"]


def test_evaluate_with_few_distinct_probabilities_and_wrong_policy():
    e = evaluate([0, 1, 0, 1], [0.2, 0.8, 0.2, 0.8], positive=1, threshold=0.5)
    assert e.hosmer_lemeshow is None
    assert json.dumps(e.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="decides 'yes'"):
        evaluate(
            [0, 1], [0.2, 0.8], positive=1, threshold=ThresholdPolicy.fixed(0.5, positive="yes")
        )
    with pytest.raises(DataError, match="differ in length"):
        evaluate([0, 1, 1], [0.2, 0.8], positive=1)


# --------------------------------------------------------------------- multiclass
def multiclass(n, seed, k=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    Z = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    return y, P


def test_evaluate_multiclass_matches_sklearn():
    y, P = multiclass(400, seed=0)
    names = np.array(["setosa", "versicolor", "virginica"])  # sorted, as sklearn assumes
    e = evaluate_multiclass(names[y], P, classes=names)
    pred = names[P.argmax(1)]
    assert e.log_loss == pytest.approx(skm.log_loss(names[y], P))
    assert e.brier_score == pytest.approx(skm.brier_score_loss(names[y], P, scale_by_half=False))
    assert e.accuracy == skm.accuracy_score(names[y], pred)
    assert e.f1_macro == pytest.approx(skm.f1_score(names[y], pred, average="macro"))
    assert e.f1_weighted == pytest.approx(skm.f1_score(names[y], pred, average="weighted"))
    assert e.roc_auc_ovr_macro == pytest.approx(
        skm.roc_auc_score(names[y], P, multi_class="ovr", average="macro")
    )
    per = e.per_class.set_index("label")
    assert per.loc["virginica", "recall"] == pytest.approx(
        skm.recall_score(names[y], pred, labels=["virginica"], average=None)[0]
    )
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert d["classes"] == names.tolist()
    assert d["decision"] == "argmax"


def test_evaluate_multiclass_column_order_is_respected():
    y, P = multiclass(200, seed=1)
    classes = ["c", "a", "b"]  # not sorted: the columns follow this order
    labels = np.array(classes)[y]
    e = evaluate_multiclass(labels, P, classes=classes)
    order = np.argsort(classes)  # sklearn wants the columns in sorted label order
    assert e.log_loss == pytest.approx(skm.log_loss(labels, P[:, order]))
    assert e.per_class["label"].tolist() == classes


def test_evaluate_multiclass_with_cost_policy_and_absent_class():
    y, P = multiclass(100, seed=2)
    y[y == 2] = 0  # class 2 never occurs: its one-vs-rest AUC is undefined
    policy = MulticlassPolicy.from_costs([0, 1, 2], [[0, 5, 5], [1, 0, 1], [1, 1, 0]])
    e = evaluate_multiclass(y, P, classes=[0, 1, 2], policy=policy)
    assert e.decision == "cost"
    assert e.accuracy == np.mean(policy.decide(P) == y)
    assert math.isnan(e.per_class["roc_auc_ovr"].iloc[2])
    assert e.to_dict()["per_class"][2]["roc_auc_ovr"] is None
    with pytest.raises(DataError, match="label 5 not in classes"):
        evaluate_multiclass([5, 0], P[:2], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="policy passed to evaluate_multiclass"):
        evaluate_multiclass(
            y, P, classes=[0, 1, 2], policy=MulticlassPolicy.argmax(["a", "b", "c"])
        )


def test_mean_metrics_over_many_rows_are_taken_in_parts(monkeypatch):
    """Log-loss and Brier score in parts of rows (bounded copies), equal to the whole."""
    from logitkit import evaluation

    rng = np.random.default_rng(7)
    p = rng.random(10_001)
    y = np.where(rng.random(p.size) < p, "yes", "no")
    y[:3000] = "no"  # whole parts of one class
    whole = evaluate(y, p, positive="yes")
    monkeypatch.setattr(evaluation, "_MEAN_ROWS", 1000)
    parts = evaluate(y, p, positive="yes")
    assert parts.log_loss == pytest.approx(skm.log_loss(y == "yes", p), rel=1e-12)
    assert parts.brier_score == pytest.approx(
        skm.brier_score_loss(y, p, pos_label="yes"), rel=1e-12
    )
    assert parts.log_loss == pytest.approx(whole.log_loss, rel=1e-12)
    assert parts.roc_auc.auc == whole.roc_auc.auc


@pytest.mark.parametrize("seed", range(6))
def test_auc_interval_and_average_precision_from_one_sort_equal_the_definitions(seed):
    """Ties, one-sided groups and lopsided classes: against pairwise DeLong and scikit-learn."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    digits = int(rng.integers(0, 3))  # coarse scores: many ties
    p = np.round(rng.random(n), digits)
    y = rng.random(n) < rng.uniform(0.05, 0.95)
    y[:2] = [True, False]
    x, z = p[y], p[~y]
    # DeLong's placement values by their definition: pairwise comparisons.
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = (
        np.var(v10, ddof=1) / x.size + np.var(v01, ddof=1) / z.size
        if min(x.size, z.size) > 1
        else math.nan
    )
    r = roc_auc_ci(y, p, positive=True)
    assert r.auc == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert r.auc == pytest.approx(v10.mean(), rel=1e-12)
    if math.isfinite(var):
        assert r.std_err == pytest.approx(math.sqrt(var), rel=1e-9)
    e = evaluate(y, p, positive=True)
    assert e.average_precision == pytest.approx(skm.average_precision_score(y, p), rel=1e-12)
    assert e.roc_auc.auc == r.auc
    assert e.roc_auc.std_err == r.std_err


@pytest.mark.parametrize("seed", [0, 1])
def test_rank_curves_equal_scikit_learns_curves(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(3000) < 0.3
    p = np.round(rng.random(3000), 2)  # many ties
    curves = evaluate(y, p, positive=True).curves
    assert curves is not None
    assert not curves.thinned
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(curves.fpr, fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(curves.tpr, tpr, rtol=0, atol=1e-15)
    precision, recall, _ = skm.precision_recall_curve(y, p)
    np.testing.assert_allclose(curves.precision, precision[::-1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(curves.recall, recall[::-1], rtol=0, atol=1e-15)


def test_rank_curves_beyond_the_point_limit_keep_exact_points_a_step_apart():
    rng = np.random.default_rng(3)
    n = 60_000
    y = rng.random(n) < 0.2
    p = expit(rng.normal(size=n) + 1.5 * y)
    curves = evaluate(y, p, positive=True).curves
    assert curves is not None
    assert curves.thinned
    assert curves.fpr.size <= 2 * CURVE_POINTS + 3
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    exact = {(round(a, 12), round(b, 12)) for a, b in zip(fpr, tpr, strict=True)}
    kept = zip(curves.fpr, curves.tpr, strict=True)
    assert all((round(a, 12), round(b, 12)) in exact for a, b in kept)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    assert np.diff(curves.tpr).max() <= math.ceil(n_pos / CURVE_POINTS) / n_pos + 1e-12
    assert np.diff(curves.fpr).max() <= math.ceil(n_neg / CURVE_POINTS) / n_neg + 1e-12
    assert (curves.fpr[-1], curves.tpr[-1]) == (1.0, 1.0)
    precision = curves.tpr[1:] * n_pos / (curves.tpr[1:] * n_pos + curves.fpr[1:] * n_neg)
    np.testing.assert_allclose(curves.precision[1:], precision, rtol=1e-12)


def test_tables_at_thresholds_equal_scikit_learns_at_every_edge():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(400):
        n = int(rng.integers(2, 30))
        y = rng.random(n) < rng.random()
        if y.all() or not y.any():
            continue
        p = np.round(rng.random(n), 1)
        t = float(rng.choice([0.0, 0.3, 0.5, 1.0]))
        confusion = confusion_table(y, p, positive=True, thresholds={"t": t})
        table = classification_table(y, p, positive=True, thresholds={"t": t})
        flagged = p >= t
        expected = skm.confusion_matrix(y, flagged, labels=[False, True]).ravel().tolist()
        assert confusion[["tn", "fp", "fn", "tp"]].to_numpy().ravel().tolist() == expected
        with np.errstate(all="ignore"):
            prf = skm.precision_recall_fscore_support(
                y, flagged, labels=[False, True], zero_division=np.nan
            )
        got = table[["precision", "recall", "f1", "support"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, np.column_stack(prf), equal_nan=True)
        checked += 1
    assert checked > 300
