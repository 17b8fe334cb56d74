"""The interactive threshold explorer: its data (embedded as JSON) and its markup.

The page's script (``report.js``) reads the data and, whenever the slider moves,
recounts the confusion matrix with the policy's rule ``P(positive) >= threshold`` by a
binary search in each class's sorted probabilities, then updates precision, recall,
the false-positive rate and, when the policy has costs, the expected cost per row. The
markup is rendered here with the numbers at the starting threshold, so the page reads
correctly before (or without) the script.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit.decision import decide
from logitkit.report._context import Context
from logitkit.report._html import Html, el, fmt_num, fmt_pct, fmt_prob, missing, section
from logitkit.report.performance import NO_ROWS, threshold_grid

__all__ = ["MAX_ROWS", "explorer_data", "explorer_section"]

#: Most rows embedded in the page; beyond this a seeded random sample is used.
MAX_ROWS = 100_000


def explorer_data(
    ctx: Context, max_rows: int = MAX_ROWS
) -> tuple[dict[str, Any] | None, str | None]:
    """The explorer's JSON data, or ``(None, reason)`` when there is nothing to explore.

    The data hold each class's probabilities sorted (the labelled pairs grouped by
    label), the slider's thresholds (``grid``, evenly spaced in log-odds, with 0.5 and
    the policy's threshold among them), the starting position and the policy's costs.
    """
    if not ctx.binary:
        return None, "The threshold explorer applies to binary models."
    rows = ctx.explorer_rows
    if rows is None:
        return None, NO_ROWS
    y, p = rows.is_positive, rows.p
    note = None
    if y.size > max_rows:
        keep = np.sort(np.random.default_rng(0).choice(y.size, max_rows, replace=False))
        y, p = y[keep], p[keep]
        note = f"A random sample of {max_rows:,} of the {rows.y.size:,} rows is used."
    policy_t = ctx.policy.threshold if ctx.policy is not None else None
    grid = threshold_grid(policy_t)
    return {
        "rows": rows.name,
        "positive": str(ctx.positive),
        "negative": str(ctx.negative),
        "pos": np.sort(p[y]).tolist(),
        "neg": np.sort(p[~y]).tolist(),
        "grid": grid.tolist(),
        "start": int(np.searchsorted(grid, policy_t if policy_t is not None else 0.5)),
        "default": int(np.searchsorted(grid, 0.5)),
        "policy": policy_t,
        "costs": ctx.costs,
        "note": note,
    }, None


def _at(data: dict[str, Any], index: int) -> dict[str, Any]:
    """The numbers the script shows, computed the same way, at one slider position."""
    t = data["grid"][index]
    pos, neg = np.asarray(data["pos"]), np.asarray(data["neg"])
    tp, fp = int(decide(pos, t).sum()), int(decide(neg, t).sum())
    fn, tn = pos.size - tp, neg.size - fp
    n = pos.size + neg.size
    out: dict[str, Any] = {
        "threshold": fmt_prob(t),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "recall": fmt_num(tp / (tp + fn)) if tp + fn else "n/a",
        "precision": fmt_num(tp / (tp + fp)) if tp + fp else "n/a",
        "fpr": fmt_num(fp / (fp + tn)) if fp + tn else "n/a",
        "flagged": f"{tp + fp} of {n} ({fmt_pct((tp + fp) / n if n else None)})",
        "cost": "n/a",
    }
    c = data["costs"]
    if c:
        total = c["cost_fp"] * fp + c["cost_fn"] * fn - c["benefit_tp"] * tp - c["benefit_tn"] * tn
        out["cost"] = fmt_num(total / n)
    return out


def _sentence(data: dict[str, Any], v: dict[str, Any]) -> str:
    pos, neg = data["positive"], data["negative"]
    return (
        f"At threshold {v['threshold']}, {v['tp']} of {v['tp'] + v['fn']} {pos} rows are flagged "
        f"and {v['fn']} missed; {v['fp']} of {v['fp'] + v['tn']} {neg} rows are flagged by mistake."
    )


def explorer_section(data: dict[str, Any] | None, reason: str | None) -> Html:
    """The explorer's markup (slider, confusion matrix, metrics), at its start position."""
    heading = "Threshold explorer"
    if data is None:
        return section("explorer", heading, None, missing(reason or NO_ROWS))
    pos, neg = data["positive"], data["negative"]
    v = _at(data, data["start"])
    n_grid = len(data["grid"])

    def left(index: int) -> str:
        return f"left: {100.0 * index / max(n_grid - 1, 1):.2f}%"

    marks = [el("span", "0.5", class_="tickmark default", style=left(data["default"]))]
    buttons = [el("button", "Go to 0.5", type="button", id="ex-to-default")]
    if data["policy"] is not None:
        marks.append(el("span", "policy", class_="tickmark policy", style=left(data["start"])))
        buttons.insert(
            0,
            el(
                "button",
                f"Go to the policy threshold ({fmt_prob(data['policy'])})",
                type="button",
                id="ex-to-policy",
            ),
        )
    matrix = el(
        "table",
        el("caption", "Decisions at this threshold"),
        el(
            "thead",
            el(
                "tr",
                el("td"),
                el("th", f"Flagged {pos}", scope="col"),
                el("th", f"Not flagged ({neg})", scope="col"),
            ),
        ),
        el(
            "tbody",
            el(
                "tr",
                el("th", f"Actually {pos}", scope="row"),
                el("td", str(v["tp"]), id="ex-tp", class_="good"),
                el("td", str(v["fn"]), id="ex-fn", class_="bad"),
            ),
            el(
                "tr",
                el("th", f"Actually {neg}", scope="row"),
                el("td", str(v["fp"]), id="ex-fp", class_="bad"),
                el("td", str(v["tn"]), id="ex-tn", class_="good"),
            ),
        ),
        class_="confusion",
    )
    facts = [
        ("Recall", f"share of {pos} rows flagged", "ex-recall", v["recall"]),
        ("Precision", f"share of flagged rows that are {pos}", "ex-precision", v["precision"]),
        ("False-positive rate", f"share of {neg} rows flagged", "ex-fpr", v["fpr"]),
        ("Rows flagged", None, "ex-flagged", v["flagged"]),
    ]
    if data["costs"]:
        facts.append(("Expected cost per row", "from the policy's costs", "ex-cost", v["cost"]))
    listing = el(
        "dl",
        [
            el(
                "div",
                el("dt", name, el("span", hint, class_="small hint") if hint else None),
                el("dd", value, id=ident),
            )
            for name, hint, ident, value in facts
        ],
        class_="facts",
    )
    cost_note = (
        None
        if data["costs"]
        else el("p", "The policy has no costs, so no expected cost is shown.", class_="small")
    )
    return section(
        "explorer",
        heading,
        f"Try other thresholds on the {data['rows']}: the numbers below update as the slider "
        "moves. Everything is computed in this page; nothing is sent anywhere.",
        el(
            "div",
            el(
                "div",
                el("label", f"Threshold on P({pos})", for_="ex-slider"),
                el(
                    "div",
                    el(
                        "input",
                        type="range",
                        id="ex-slider",
                        min="0",
                        max=str(n_grid - 1),
                        step="1",
                        value=str(data["start"]),
                        aria_valuetext=v["threshold"],
                        aria_describedby="ex-help",
                    ),
                    el("div", marks, class_="slider-marks", aria_hidden="true"),
                    class_="track",
                ),
                el("output", v["threshold"], id="ex-threshold", for_="ex-slider"),
                class_="slider-row",
            ),
            el(
                "p",
                "Keyboard: focus the slider, then use the arrow keys for small steps and Page Up / "
                "Page Down for large ones. The slider is spaced evenly in log-odds, so small and "
                "large probabilities get the same room.",
                id="ex-help",
                class_="small",
            ),
            el("p", *buttons, class_="buttons"),
            el("div", matrix, listing, class_="grid2"),
            el("p", _sentence(data, v), id="ex-sentence", aria_live="polite"),
            cost_note,
            el("p", data["note"], class_="small") if data["note"] else None,
            class_="explorer",
            id="lk-explorer",
        ),
    )
