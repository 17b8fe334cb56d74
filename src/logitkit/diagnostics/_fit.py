"""Checks of the fit: convergence, separation, saturated probabilities, class balance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import softmax
from scipy.stats import poisson

from logitkit.diagnostics._findings import Finding
from logitkit.diagnostics._rows import OutOfFold, Rows, chunks, class_totals, quoted
from logitkit.solver.separation import find_separation, single_feature_separation

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

__all__ = ["convergence", "imbalance", "saturation", "separation"]

#: Ratio of the largest to the smallest class (by weight) reported (info, warning).
IMBALANCE_INFO, IMBALANCE_WARNING = 4.0, 10.0
#: Fewer rows of the smallest class per estimated parameter than this is too few.
MIN_EVENTS_PER_PARAMETER = 10.0
#: Linear predictors beyond this are saturated (probabilities beyond 0.7% / 99.3%).
SATURATION_Z = 5.0
#: Share of every class's rows predicted with saturated certainty, and rightly, that is
#: reported (info, warning): a sign of a leaking feature or near-separation. Taking the
#: smallest share over the classes keeps rare-event models quiet, whose many
#: near-zero probabilities all sit on the common class.
SATURATION_INFO, SATURATION_WARNING = 0.05, 0.25
#: Saturated rows whose outcome went the other way are reported when at least this many
#: and more than the probabilities allow at this one-sided Poisson level.
MIN_SURPRISES, SURPRISE_LEVEL = 5, 1e-3


def convergence(model: LogisticModel, binary: bool) -> list[Finding]:
    """An error when the solver stopped before converging."""
    result = getattr(model, "solver_result_", None)
    if result is None or result.converged:
        return []
    scaled = "" if model.standardize else ", use standardize=True"
    firth = (", or use penalty='firth'", " or use --penalty firth") if binary else ("", "")
    return [
        Finding(
            "convergence",
            "error",
            f"The solver stopped before converging ({result.message}; {result.n_iter} "
            f"iterations, optimality violation {result.kkt:.2e} > tol={model.tol:g}).",
            f"Do not use these coefficients: raise max_iter (now {model.max_iter}){scaled}, "
            "strengthen the penalty (smaller C), or remove the separation if one is "
            f"reported{firth[0]}.",
            value=float(result.kkt),
            cli_advice="Do not use these coefficients: raise --max-iter (now "
            f"{model.max_iter}), strengthen the penalty (a smaller --C, or --cv to choose "
            f"it), or leave separating columns out with --drop COL{firth[1]}.",
        )
    ]


def _separation_advice(
    model: LogisticModel, binary: bool, severity: str, feats: tuple[str, ...]
) -> tuple[str, str]:
    """Python and command-line advice; Firth's penalty only where it exists (two classes)."""
    leak = f"check {quoted(feats, 3)} for leakage of the target (a column recorded after, or "
    leak += "derived from, the outcome)"
    if severity == "info":  # Firth's fit: finite, but the Wald intervals mislead
        return (
            (
                "Read the profile-likelihood intervals (model.summary(method='profile', X=X, "
                f"y=y)), not the Wald ones; {leak}."
            ),
            (
                f"Treat the Wald intervals of these features as approximate; {leak}, and leave "
                "any that leak out with --drop COL."
            ),
        )
    if binary:
        return (
            (
                "Use penalty='firth' (finite bias-reduced estimates; profile intervals with "
                "model.summary(method='profile', X=X, y=y)) or a penalty with C chosen by "
                f"cross-validation (LogisticModelCV); {leak}, and drop any that leak."
            ),
            (
                "Use --penalty firth (finite bias-reduced estimates) or a penalty with --cv "
                f"choosing its strength; {leak}, and leave any that leak out with --drop COL."
            ),
        )
    penalty = "penalty='l2' with " if model.penalty is None else ""
    return (
        (
            f"Keep a penalty ({penalty}C chosen by cross-validation, LogisticModelCV), or merge "
            f"the separated class with a neighbour; {leak}, and drop any that leak."
        ),
        (
            f"Keep a penalty (--penalty l2 with --cv choosing its strength), or merge the "
            f"separated class with a neighbour in the data; {leak}, and leave any that leak out "
            "with --drop COL."
        ),
    )


def separation(model: LogisticModel, d: Rows) -> list[Finding]:
    """Complete or quasi-complete separation of each class from the others."""
    if d.dense is None:
        return []
    keep = d.rows.sw > 0
    Xs = (d.dense[keep] - d.mean) / np.where(d.sd > 0, d.sd, 1.0)
    codes = d.rows.codes[keep]
    severity = {None: "error", "firth": "info"}.get(model.penalty, "warning")
    consequence = {
        "error": "the maximum-likelihood estimate does not exist: those coefficients "
        "diverge and their standard errors mean nothing",
        "warning": "the penalty alone sets the size of those coefficients",
        "info": "Firth's estimates stay finite, but Wald intervals understate the uncertainty",
    }[severity]
    out = []
    for k in [1] if d.binary else range(len(model.classes_)):
        positive = codes == k
        found = find_separation(Xs, positive, fit_intercept=bool(model.fit_intercept))
        single = single_feature_separation(Xs, positive)
        if found is None and not single:
            continue
        strict = set(single_feature_separation(Xs, positive, strict=True))
        complete = found.complete if found is not None else bool(strict)
        label = model.classes_[k]
        if d.binary and getattr(model, "positive_class_", None) is not None:
            label = model.positive_class_  # the same hyperplane, told from the user's side
        n = int(positive.size)
        if complete:
            what = (
                f"completely separated: a linear combination of the features puts every row "
                f"of class {label!s} strictly on one side and every other row on the other"
            )
        else:
            n_sep = found.n_separated if found is not None else 0
            what = (
                f"quasi-completely separated: a linear combination of the features puts the "
                f"rows of class {label!s} on one side and the others on the other, with "
                f"{n - n_sep} rows tied on the boundary; the other {n_sep} rows are "
                "perfectly predicted"
            )
        if single:
            names = [d.names[j] for j in single]
            ties = "" if set(single) <= strict else " (with ties at the boundary)"
            each = "each of " if len(names) > 1 else ""
            what += f"; on its own, {each}{quoted(names, 3)} separates them{ties}"
            feats = tuple(names)
        else:
            assert found is not None
            feats = tuple(d.names[j] for j in found.features)
            what += f" (features involved, largest weight first: {quoted(feats, 5)})"
        advice, cli = _separation_advice(model, d.binary, severity, feats)
        out.append(
            Finding(
                "separation",
                severity,
                f"The classes are {what}, so {consequence}.",
                advice,
                feats,
                float(found.n_separated) if found is not None else None,
                cli_advice=cli,
            )
        )
    return out


def _strongest(model: LogisticModel, d: Rows, k: int = 3) -> tuple[str, ...]:
    """Up to ``k`` features with the largest effects per standard deviation.

    Only those within a factor of 4 of the largest: a leak dwarfs the honest features.
    """
    effect = np.abs(np.asarray(model.coef_, dtype=np.float64) * d.sd).max(axis=0)
    top = float(effect.max(initial=0.0))
    order = np.argsort(-effect, kind="stable")[:k]
    return tuple(d.names[j] for j in order if effect[j] > 0 and effect[j] >= top / 4)


def _confident_right(model: LogisticModel, d: Rows, P: FloatArray) -> list[Finding]:
    """Near-certainty for a large share of every class: leakage or near-separation."""
    codes, sw = d.rows.codes, d.rows.sw
    eps = 1.0 / (1.0 + math.exp(SATURATION_Z))
    K = P.shape[1]
    totals, sure = np.zeros(K), np.zeros(K)
    for rows in chunks(len(codes), P, codes, sw):
        c, w = np.asarray(codes[rows], dtype=np.intp), np.asarray(sw[rows])
        right = np.asarray(P[rows])[np.arange(c.size), c] > 1.0 - eps
        totals += np.bincount(c, weights=w, minlength=K)
        sure += np.bincount(c[right], weights=w[right], minlength=K)
    shares = sure / np.maximum(totals, 1e-300)
    least = float(shares.min())
    if least < SATURATION_INFO:
        return []
    per_class = ", ".join(
        f"{100.0 * s:.1f}% of class {c!s}" for c, s in zip(model.classes_, shares, strict=True)
    )
    top = _strongest(model, d)
    leak = f"check {quoted(top)} (the largest effects per standard deviation) for leakage"
    return [
        Finding(
            "saturation",
            "warning" if least >= SATURATION_WARNING else "info",
            f"The fitted model is near-certain (above {100 * (1 - eps):.1f}%) and right for "
            f"{per_class}. Such certainty across every class, without separation, usually "
            "means a feature that leaks the target (recorded after the outcome, or derived "
            "from it), or near-separation.",
            f"{leak[0].upper()}{leak[1:]} and drop any that leak; confirm calibration on "
            "rows the model has not seen (logitkit.evaluate); a stronger penalty (smaller C) "
            "tempers the certainty.",
            top,
            least,
            cli_advice=f"{leak[0].upper()}{leak[1:]} and leave any that leak out with --drop "
            "COL; confirm calibration on held-out rows (logitkit evaluate MODEL DATA); a "
            "smaller --C (or --cv) tempers the certainty.",
        )
    ]


def _overconfident(P: FloatArray, codes: NDArray[np.intp], source: str) -> list[Finding]:
    """Saturated rows that went the other way more often than their probabilities allow."""
    eps = 1.0 / (1.0 + math.exp(SATURATION_Z))
    n_saturated, wrong, expected = 0, 0, 0.0
    for rows in chunks(len(codes), P, codes):
        block = np.asarray(P[rows])
        top = block.max(axis=1)
        saturated = top > 1.0 - eps
        n_saturated += int(saturated.sum())
        wrong += int((block[saturated].argmax(axis=1) != codes[rows][saturated]).sum())
        expected += float((1.0 - top[saturated]).sum())
    if wrong < MIN_SURPRISES:
        return []
    p_value = float(poisson.sf(wrong - 1, max(expected, 1e-12)))
    if p_value >= SURPRISE_LEVEL:
        return []
    return [
        Finding(
            "saturation",
            "warning",
            f"Of the {n_saturated} rows that {source} gives a probability above "
            f"{100 * (1 - eps):.1f}% for one class, {wrong} turned out otherwise, where "
            f"those probabilities allow about {expected:.1f} (Poisson p = {p_value:.2g}): "
            "the extreme probabilities are overconfident.",
            "Do not trust probabilities near 0 or 1: strengthen the penalty (smaller C, or "
            "choose it with LogisticModelCV), look for features whose relation to the "
            "target differs between rows, and recalibrate on out-of-fold probabilities "
            "(logitkit.calibration.Recalibrator) before using them.",
            value=float(wrong / max(expected, 1e-12)),
            cli_advice="Do not trust probabilities near 0 or 1: strengthen the penalty (a "
            "smaller --C, or --cv), look for columns whose relation to the target differs "
            "between rows, and check calibration on held-out rows (logitkit evaluate "
            "MODEL DATA).",
        )
    ]


def saturation(
    model: LogisticModel,
    d: Rows,
    oof: OutOfFold | None,
    separated: bool,
    proba: FloatArray | None = None,
) -> list[Finding]:
    """Overconfident extreme probabilities (out of fold when given), and leakage.

    Many tiny probabilities are no alarm where the outcome is rare: only certainty that
    covers every class, or that the outcomes contradict, is reported. ``proba`` holds
    the fitted class probabilities of the rows when they were computed in a pass.
    """
    if proba is None:
        Z = np.asarray(d.rows.X @ model.coef_.T, dtype=np.float64) + model.intercept_
        P = softmax(np.column_stack([np.zeros(len(Z)), Z]) if Z.shape[1] == 1 else Z, axis=1)
    else:
        P = proba
    out = [] if separated else _confident_right(model, d, P)
    if oof is not None:
        out += _overconfident(oof.proba, oof.codes, "the out-of-fold prediction")
    else:
        keep = d.rows.sw > 0
        out += _overconfident(P[keep], d.rows.codes[keep], "the fitted model")
    return out


def imbalance(model: LogisticModel, d: Rows) -> list[Finding]:
    """Class imbalance, and too few rows of the smallest class per parameter."""
    K = len(model.classes_)
    totals = class_totals(d.rows.codes, d.rows.sw, K)
    small, large = int(np.argmin(totals)), int(np.argmax(totals))
    ratio = float(totals[large] / max(totals[small], 1e-300))
    out = []
    if ratio >= IMBALANCE_INFO:
        share = float(totals[small] / totals.sum())
        majority = float(totals[large] / totals.sum())
        if model.class_weight is not None:
            weighted = (
                (
                    f" (class_weight={model.class_weight!r} is set: its probabilities are not "
                    "calibrated to the real class shares)"
                ),
                (
                    " (--class-weight is set: the probabilities are not calibrated to the real "
                    "class shares)"
                ),
            )
        else:
            weighted = (
                (
                    "; class_weight='balanced' raises minority recall at the cost of calibrated "
                    "probabilities"
                ),
                (
                    "; --class-weight balanced raises minority recall at the cost of calibrated "
                    "probabilities"
                ),
            )
        judge = (
            "Judge the model by recall and precision of the rare class, PR-AUC, balanced "
            "accuracy, log-loss or Brier score, not accuracy; "
        )
        out.append(
            Finding(
                "imbalance",
                "warning" if ratio >= IMBALANCE_WARNING else "info",
                f"Class {model.classes_[small]!s} is {100.0 * share:.1f}% of the rows "
                f"({ratio:.1f} times fewer than class {model.classes_[large]!s}): always "
                f"predicting {model.classes_[large]!s} would be {100.0 * majority:.1f}% "
                "accurate.",
                f"{judge}set the decision threshold from costs or a minimum recall "
                f"(ThresholdPolicy.fit(..., cost_fp=..., cost_fn=...) or min_recall=...)"
                f"{weighted[0]}.",
                value=ratio,
                cli_advice=f"{judge}set the decision threshold from costs (--cost-fp, "
                f"--cost-fn) or a minimum recall (--min-recall){weighted[1]}.",
            )
        )
    n_params = int((~d.constant).sum()) + int(model.fit_intercept)
    n_params *= 1 if K == 2 else K - 1
    events = float(np.bincount(d.rows.codes[d.rows.sw > 0], minlength=K).min())
    epp = events / max(n_params, 1)
    if epp < MIN_EVENTS_PER_PARAMETER:
        firth = (", or penalty='firth'", ", or --penalty firth") if K == 2 else ("", "")
        out.append(
            Finding(
                "events_per_parameter",
                "warning",
                f"Only {epp:.1f} rows of the smallest class per estimated parameter "
                f"({int(events)} rows, {n_params} parameters; "
                f"{MIN_EVENTS_PER_PARAMETER:g} is the usual minimum).",
                "Unpenalised estimates are biased away from zero and unstable: use fewer "
                "features, a penalty with C chosen by cross-validation (LogisticModelCV)"
                f"{firth[0]}.",
                value=epp,
                cli_advice="Unpenalised estimates are biased away from zero and unstable: "
                "use fewer columns (--drop COL, or a smaller --formula), a penalty with --cv "
                f"choosing its strength{firth[1]}.",
            )
        )
    return out
