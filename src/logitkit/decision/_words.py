"""A threshold policy in plain sentences, and its caveats, for every surface that shows it.

The command line, the summary, the report and the diagnostics print these words as they
are, so each caveat's message stands alone: what is wrong, by how much, and what to do.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from logitkit.decision._rules import percent
from logitkit.decision.exact import least_n

if TYPE_CHECKING:
    from logitkit.decision._evidence import Verification
    from logitkit.decision.threshold import ThresholdPolicy

__all__ = ["caveats", "describe"]

_METRIC = {
    "recall": "recall",
    "precision": "precision",
    "false_positive_rate": "false-positive rate",
    "negative_predictive_value": "negative predictive value",
    "accuracy": "accuracy",
    "predicted_positive_rate": "share flagged",
}


# ----------------------------------------------------------------------- formatting
def rate(x: float | None) -> str:
    """A rate: 3 decimals, or 2 significant digits below 0.01."""
    if x is None or not math.isfinite(x):
        return "undefined"
    return f"{x:.3f}" if x >= 0.01 or x == 0 else f"{x:.2g}"


def prob(x: float) -> str:
    """A threshold: 3 decimals in [0.01, 0.99], 2 significant digits of the tail beyond."""
    if 0.01 <= x <= 0.99 or x in (0.0, 1.0):
        return f"{x:.3f}"
    if x < 0.01:
        return f"{x:.2g}"
    return f"{x:.{max(3, -math.floor(math.log10(1.0 - x)) + 1)}f}"


def _level(x: float) -> str:
    return f"{x:g}"


def _floor3(x: float) -> str:
    return f"{math.floor(x * 1000) / 1000:.3f}"


def _ceil3(x: float) -> str:
    return f"{math.ceil(x * 1000) / 1000:.3f}"


def _rows(n: int, what: str) -> str:
    return f"{n:,} {what} row{'' if n == 1 else 's'}"


def _labels(policy: ThresholdPolicy) -> tuple[str, str]:
    pos = str(policy.positive)
    neg = f"not-{pos}" if policy.negative is None else str(policy.negative)
    return pos, neg


# ------------------------------------------------------------------------- describe
def describe(policy: ThresholdPolicy) -> list[str]:
    """The sentences of :meth:`ThresholdPolicy.describe`."""
    pos, neg = _labels(policy)
    out = [_rule(policy, pos, neg)]
    out.append(
        f"Threshold: decide {pos} when P({pos}) >= {prob(policy.threshold)}; otherwise {neg}."
    )
    c = policy.confusion
    if c is None or policy.metrics is None:
        out.append("It has not been measured on labelled rows: refit(y_true, proba) measures it.")
        return out
    out += _record(policy, c, pos, neg)
    if policy.rests_on is not None and not policy.unstable:
        out.append(f"The threshold rests on {policy.rests_on:,} rows: {_tail(policy, pos, neg)}.")
    v = policy.verification
    if v is not None and v.verified and v.bound is not None:
        op = ">=" if v.side == "lower" else "<="
        out.append(
            f"At {percent(v.level)} confidence these rows show {_METRIC[v.metric]} {op} "
            f"{rate(v.bound)} (one-sided exact bound), which meets the target {v.target:g}."
        )
    out += [f"{severity.capitalize()}: {message}" for _, severity, message in caveats(policy)]
    return out


def _rule(policy: ThresholdPolicy, pos: str, neg: str) -> str:
    p, method = policy.params, policy.method
    if method in ("min_recall", "min_precision", "max_false_positive_rate"):
        target = p[method]
        what = {
            "min_recall": f"recall of {pos} (the share of {pos} rows flagged) is at least",
            "min_precision": f"precision (the share of flagged rows that are {pos}) is at least",
            "max_false_positive_rate": (
                f"the false-positive rate (the share of {neg} rows flagged) is at most"
            ),
        }[method]
        if policy.at_confidence is not None:
            side = "upper" if method == "max_false_positive_rate" else "lower"
            what = (
                f"the {percent(policy.at_confidence)} {side} confidence bound of "
                + what.replace("the false-positive", "false-positive")
            )
        which = "highest" if method == "min_recall" else "lowest"
        why = (
            "the fewest false alarms" if method == "min_recall" else f"the fewest missed {pos} rows"
        )
        return f"Rule: the {which} threshold at which {what} {target:g}, for {why}."
    if method == "cost":
        terms = [
            f"a false positive costs {p['cost_fp']:g}",
            f"a false negative (a missed {pos} row) costs {p['cost_fn']:g}",
        ]
        terms += [
            f"a correct {label} decision gains {p[k]:g}"
            for k, label in (("benefit_tp", pos), ("benefit_tn", neg))
            if p.get(k, 0.0)
        ]
        listed = ", ".join(terms[:-1]) + " and " + terms[-1]
        return f"Rule: the threshold of least expected cost per row, where {listed}."
    return "Rule: a fixed threshold, set by hand (not chosen from data)."


def _with_interval(policy: ThresholdPolicy, name: str) -> str:
    value = (policy.metrics or {}).get(name)
    text = f"{_METRIC.get(name, name)} {rate(value)}"
    ci = (policy.intervals or {}).get(name)
    if value is None or ci is None:
        return text
    return f"{text}, {percent(policy.confidence or 0.95)} interval {rate(ci[0])} to {rate(ci[1])}"


def _record(policy: ThresholdPolicy, c: dict[str, int], pos: str, neg: str) -> list[str]:
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n_pos, n_neg = tp + fn, fp + tn
    flagged = (
        f"On {tp + fp + fn + tn:,} rows ({n_pos:,} {pos}, {n_neg:,} {neg}) it flags "
        f"{tp + fp:,}: {tp:,} of {n_pos:,} {pos} rows ({_with_interval(policy, 'recall')}) "
        f"and {fp:,} of {n_neg:,} {neg} rows ({_with_interval(policy, 'false_positive_rate')})."
    )
    shares = (
        f"Of the {tp + fp:,} flagged rows {tp:,} are {pos} "
        f"({_with_interval(policy, 'precision')}); of the {tn + fn:,} rows not flagged "
        f"{tn:,} are {neg} ({_with_interval(policy, 'negative_predictive_value')})."
    )
    out = [flagged, shares]
    cost = (policy.metrics or {}).get("expected_cost")
    if cost is not None:
        ci = (policy.intervals or {}).get("expected_cost")
        band = (
            f" ({percent(policy.confidence or 0.95)} bootstrap interval {ci[0]:.4g} to {ci[1]:.4g})"
            if ci is not None
            else ""
        )
        out.append(f"Expected cost per row {cost:.4g}{band}.")
    note = (
        f"The rate intervals are exact (Clopper-Pearson) at "
        f"{percent(policy.confidence or 0.95)}, for these rows at this threshold."
    )
    if policy.method != "fixed":
        note += (
            " The threshold was chosen on the same rows, so the rate it was chosen for "
            "looks better here than it will on new rows: check it on held-out rows."
        )
    out.append(note)
    return out


def _tail(policy: ThresholdPolicy, pos: str, neg: str) -> str:
    """Which rows set the threshold, for :attr:`ThresholdPolicy.rests_on`."""
    k, c = policy.rests_on or 0, policy.confusion or {}
    if policy.method == "min_recall":
        fn = c.get("fn", 0)
        return (
            f"the {pos} rows scored at or below the lowest flagged {pos} score "
            f"({fn:,} missed and {k - fn:,} at that score)"
        )
    fp, n_neg = c.get("fp", 0), c.get("fp", 0) + c.get("tn", 0)
    if fp == n_neg:
        return f"all {n_neg:,} {neg} rows, since every row is flagged"
    return (
        f"the {neg} rows scored at or above the highest unflagged {neg} score "
        f"({fp:,} flagged and {k - fp:,} at that score)"
    )


# -------------------------------------------------------------------------- caveats
def caveats(policy: ThresholdPolicy) -> list[tuple[str, str, str]]:
    """The ``(kind, severity, message)`` tuples of :meth:`ThresholdPolicy.caveats`."""
    pos, neg = _labels(policy)
    out = []
    v = policy.verification
    if v is not None and not v.verified:
        out.append(("unverifiable_policy", "warning", _unverifiable(policy, v, pos, neg)))
    if policy.unstable:
        out.append(("unstable_threshold", "warning", _unstable(policy, pos, neg)))
    return out


def _unverifiable(policy: ThresholdPolicy, v: Verification, pos: str, neg: str) -> str:
    pct, lvl = percent(v.level), _level(v.level)
    name, op = _METRIC[v.metric], (">=" if v.side == "lower" else "<=")
    asks = f"The policy asks for {name} {op} {v.target:g}"
    if v.metric == "recall":
        asks += f" of {pos}"
    choose = f"choose with at_confidence={lvl} (--confidence {lvl})"
    if not v.showable:
        if v.metric == "recall":
            rows, zero = _rows(v.n, pos), "even with no miss they prove"
        elif v.metric == "precision":
            rows = f"{_rows(v.n, 'flagged')} (and {_rows(policy.n_positive or 0, pos)} in all)"
            zero = f"even flagging every {pos} row and nothing else would prove"
        else:
            rows, zero = _rows(v.n, neg), f"even with no {neg} row flagged they prove"
        who = {"recall": f"{pos} rows", "precision": "flagged rows without a false alarm"}.get(
            v.metric, f"{neg} rows"
        )
        need = (
            f"It would take at least {v.rows_needed:,} {who}."
            if v.rows_needed is not None
            else f"No number of rows can show a {name} of exactly {v.target:g}."
        )
        bound = v.best_bound
        move = (
            f"lower the target to {_floor3(bound)} or less"
            if v.side == "lower"
            else f"raise the target to {_ceil3(bound)} or more"
        )
        more = "rows" if v.metric == "precision" else who
        return (
            f"{asks}, but {rows} cannot show that at {pct} confidence: {zero} only "
            f"{name} {op} {rate(bound)}. {need} Label more {more}, or {move} and {choose} "
            "so that the threshold is one the data support."
        )
    point = (policy.metrics or {}).get(v.metric)
    k = _successes(policy, v.metric)
    return (
        f"{asks}, but at this threshold these rows show only {name} {op} {rate(v.bound)} "
        f"at {pct} confidence ({k:,} of {v.n:,}): the point estimate {rate(point)} meets the "
        f"target, the evidence does not. Refit and {choose} to get a threshold whose bound "
        "meets it, or label more rows."
    )


def _successes(policy: ThresholdPolicy, metric: str) -> int:
    c = policy.confusion or {}
    return int(c.get("fp", 0) if metric == "false_positive_rate" else c.get("tp", 0))


def _unstable(policy: ThresholdPolicy, pos: str, neg: str) -> str:
    k, c, method = policy.rests_on or 0, policy.confusion or {}, policy.method
    ways: list[str] = []
    if method == "min_recall":
        n_pos, target, name = c.get("tp", 0) + c.get("fn", 0), policy.params[method], "recall"
        who = (
            f"it sits at the score of the lowest-scored {pos} row, so that single row decides it"
            if k == 1
            else f"the {k} lowest-scored {pos} rows decide it"
        )
        if n_pos > 2:
            lower = f"a recall target of {_floor3((n_pos - 2) / n_pos)} or lower"
            ways.append(f"allow at least 2 misses ({lower} with these {n_pos:,} rows)")
        need = _rows_allowing(target, 2, method)
        if need is not None:
            ways.append(f"label at least {need:,} {pos} rows")
    else:
        who = (
            f"the highest-scored {neg} row left unflagged decides it"
            if k == 1
            else f"the {k} highest-scored {neg} rows decide it"
        )
        if method == "max_false_positive_rate":
            n_neg, target = c.get("fp", 0) + c.get("tn", 0), policy.params[method]
            name = "false-positive rate"
            ways.append(
                f"allow at least 2 false alarms (a false-positive rate target of "
                f"{_ceil3(2 / n_neg)} or higher with these {n_neg:,} rows)"
            )
            need = _rows_allowing(target, 2, method)
            if need is not None:
                ways.append(f"label at least {need:,} {neg} rows")
        else:
            name = "precision"
            fewer = "lower the precision target so that the flagged rows may hold 2 false alarms"
            ways += [fewer, "label more rows"]
    if not ways:
        ways.append(f"use a lower target and label more {pos} rows")
    moved = (
        "scored a little differently, it would move the threshold"
        if k == 1
        else "any of them scored differently would move the threshold"
    )
    return (
        f"The threshold {prob(policy.threshold)} rests on {k} row{'' if k == 1 else 's'}: "
        f"{who}; {moved}, so the {name} it promises on new rows is not established. To rest "
        f"it on at least 3 rows, {' or '.join(ways)}; check the threshold on held-out rows."
    )


def _rows_allowing(target: float, errors: int, method: str) -> int | None:
    """The least class size whose rule allows ``errors`` misses (recall) or false alarms."""

    def allows(n: int) -> bool:
        if n <= errors:
            return False
        if method == "min_recall":
            return (n - errors) / n >= target
        return errors / n <= target

    if (method == "min_recall" and target >= 1.0) or (method != "min_recall" and target <= 0):
        return None
    gap = 1.0 - target if method == "min_recall" else target
    return least_n(allows, math.ceil(errors / gap))
