"""Checks of the features themselves: duplicates, collinearity, VIF, constant columns, scale.

These affect how far single coefficients can be read, not whether the model predicts,
so they rank last. Checks that would list many features (VIF, constant columns) return
one finding naming them all, most affected first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from logitkit.diagnostics._findings import Finding
from logitkit.diagnostics._rows import Rows, quoted

FloatArray = NDArray[np.float64]

__all__ = ["collinearity", "constant", "duplicates", "scale"]

#: Variance inflation factors from which a feature is reported (info, warning).
VIF_MODERATE, VIF_HIGH = 5.0, 10.0
#: A feature with one value in at least this share of the rows is near-constant.
NEAR_CONSTANT_SHARE = 0.99
#: Ratio of the largest to the smallest feature standard deviation reported.
SCALE_RATIO = 1e3
#: Eigenvalues of the correlation matrix below this mark exact collinearity.
_COLLINEAR = 1e-9
#: Above this many exact dependencies they are reported together, not one by one.
_MAX_NAMED_DEPENDENCIES = 5
_DROP_CLI = "--drop COL (it takes the data's column names; repeat it for several)"


def _redundant(
    check: str,
    names: tuple[str, ...],
    message: str,
    fixes: tuple[str, str],
    why: str,
    value: float | None = None,
) -> Finding:
    """A warning about columns that carry the same information: the fix in both forms."""
    python, cli = fixes
    return Finding(
        check, "warning", message, f"{python}: {why}", names, value, cli_advice=f"{cli}: {why}"
    )


def duplicates(d: Rows) -> tuple[list[Finding], set[int]]:
    """Identical columns; returns the findings and the columns to leave out (all but one)."""
    if d.dense is None:
        return [], set()
    groups: dict[bytes, list[int]] = {}
    for j in np.flatnonzero(~d.constant):
        groups.setdefault(np.ascontiguousarray(d.dense[:, j]).tobytes(), []).append(int(j))
    out, dropped = [], set()
    for cols in groups.values():
        if len(cols) < 2:
            continue
        dropped.update(cols[1:])
        names = tuple(d.names[j] for j in cols)
        out.append(
            _redundant(
                "duplicate",
                names,
                f"{len(cols)} columns are identical: {quoted(names)}.",
                (
                    f"Keep one of them (remove {quoted(names[1:])} from X)",
                    f"Keep one of them, leaving the others out with {_DROP_CLI}",
                ),
                "the fit cannot tell them apart, so their coefficients are split arbitrarily "
                "(penalised) or not identified (no penalty).",
            )
        )
    return out, dropped


def _correlation(d: Rows, cols: list[int]) -> FloatArray:
    if d.dense is None and d.correlation is not None:  # from the moments of a pass
        return np.asarray(d.correlation[np.ix_(cols, cols)])
    assert d.dense is not None
    sw = d.rows.sw
    Z = (d.dense[:, cols] - d.mean[cols]) / d.sd[cols]
    return np.asarray((Z * sw[:, None]).T @ Z / sw.sum())


def _many_dependencies(d: Rows, cols: list[int], null: FloatArray) -> Finding:
    """One finding for many exact dependencies (more features than rows, say).

    Naming them one at a time would take an eigen-decomposition each.
    """
    load = np.sqrt((null**2).sum(axis=1))
    top = tuple(d.names[cols[i]] for i in np.argsort(-load)[:5])
    rank = len(cols) - null.shape[1]
    why = "without one the coefficients are not identified. VIFs are not defined here."
    return Finding(
        "collinearity",
        "warning",
        f"The {len(cols)} varying features span only {rank} dimensions: {null.shape[1]} "
        f"exact linear dependencies (more features than rows, or derived columns), "
        f"involving e.g. {quoted(top)}.",
        f"Remove redundant or derived features, or keep an L2 penalty (penalty='l2'): {why}",
        top,
        float("inf"),
        cli_advice=f"Leave out redundant or derived columns with {_DROP_CLI}, or keep "
        f"--penalty l2: {why}",
    )


def collinearity(d: Rows, dropped: set[int]) -> list[Finding]:
    """Exact linear dependencies, then one finding for the inflated VIFs."""
    if d.dense is None and d.correlation is None:
        return []
    cols = [int(j) for j in np.flatnonzero(~d.constant) if int(j) not in dropped]
    out = []
    if len(cols) > 1:
        vals, vecs = np.linalg.eigh(_correlation(d, cols))
        null = vecs[:, vals <= _COLLINEAR * len(cols)]
        if null.shape[1] > _MAX_NAMED_DEPENDENCIES:
            return [_many_dependencies(d, cols, null)]
    while len(cols) > 1:
        vals, vecs = np.linalg.eigh(_correlation(d, cols))
        if vals[0] > _COLLINEAR * len(cols):
            break
        load = np.abs(vecs[:, 0])
        members = [cols[i] for i in np.argsort(-load) if load[i] > 1e-3 * load.max()]
        names = tuple(d.names[j] for j in members)
        out.append(
            _redundant(
                "collinearity",
                names,
                f"Features {quoted(names)} are exactly collinear: one is a linear "
                "combination of the others.",
                (
                    f"Drop one of them (e.g. remove {names[0]!r} from X)",
                    f"Leave one of them out with {_DROP_CLI}",
                ),
                "their coefficients are not identified without a penalty, and the penalty "
                "alone decides how they share the effect.",
                float("inf"),
            )
        )
        cols.remove(members[0])
    if len(cols) >= 2:
        vif = np.diag(np.linalg.inv(_correlation(d, cols)))
        out.extend(_vif(d, cols, vif))
    return out


def _fmt_vif(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _vif(d: Rows, cols: list[int], vif: FloatArray) -> list[Finding]:
    """One finding listing every feature with a VIF of at least VIF_MODERATE, highest first."""
    order = [i for i in np.argsort(-vif, kind="stable") if vif[i] >= VIF_MODERATE]
    if not order:
        return []
    names = tuple(d.names[cols[i]] for i in order)
    values = tuple(float(vif[i]) for i in order)
    high = sum(v >= VIF_HIGH for v in values)
    counts = []
    if high:
        counts.append(f"{high} of {VIF_HIGH:g} or more")
    if len(values) > high:
        counts.append(f"{len(values) - high} between {VIF_MODERATE:g} and {VIF_HIGH:g}")
    noun = "feature has" if len(values) == 1 else "features have"
    listed = ", ".join(f"{n!r} {_fmt_vif(v)}" for n, v in zip(names, values, strict=True))
    why = (
        f"a VIF above {VIF_MODERATE:g} (moderate) or {VIF_HIGH:g} (high) makes a coefficient, "
        "its sign and its standard error unstable and hard to read on its own (predictions "
        "are not affected)"
    )
    return [
        Finding(
            "vif",
            "warning" if high else "info",
            f"{len(values)} {noun} a variance inflation factor ({' and '.join(counts)}; VIF "
            f"1/(1 - R^2), R^2 the share of its variance the other features explain): "
            f"{listed}.",
            f"Read these coefficients together, not one by one: {why}. Drop or combine "
            "correlated features (keep one of each group), or keep an L2 penalty "
            "(penalty='l2').",
            names,
            values[0],
            cli_advice=f"Read these coefficients together, not one by one: {why}. Leave "
            f"correlated columns out with {_DROP_CLI}, combine them with --formula, or keep "
            "--penalty l2.",
            per_feature=values,
        )
    ]


def constant(d: Rows) -> list[Finding]:
    """Constant features, then near-constant ones: one finding each, naming them all."""
    keep = d.rows.sw > 0
    fixed = [j for j in range(len(d.names)) if d.constant[j]]
    near: list[tuple[int, float, int]] = []
    if d.dense is not None:
        for j in np.flatnonzero(~d.constant):
            _, counts = np.unique(d.dense[keep, j], return_counts=True)
            share = float(counts.max()) / float(keep.sum())
            if share >= NEAR_CONSTANT_SHARE:
                near.append((int(j), share, int(keep.sum() - counts.max())))
    near.sort(key=lambda t: -t[1])
    out = []
    if fixed:
        names = tuple(d.names[j] for j in fixed)
        one = len(fixed) == 1
        what = (
            f"The feature takes one value ({d.mean[fixed[0]]:g}) in every row: it carries no "
            "information, and its coefficient is held at 0 (or, without an intercept, acts "
            "as one)."
            if one
            else f"{len(fixed)} features take one value in every row: "
            + ", ".join(f"{d.names[j]!r} (= {d.mean[j]:g})" for j in fixed)
            + ". They carry no information; their coefficients are held at 0."
        )
        out.append(
            Finding(
                "constant",
                "warning",
                what,
                f"Drop {'it' if one else 'them'} (remove the column{'' if one else 's'} from X).",
                names,
                0.0,
                cli_advice=f"Leave {'it' if one else 'them'} out with {_DROP_CLI}.",
                per_feature=(0.0,) * len(fixed),
            )
        )
    if near:
        names = tuple(d.names[j] for j, _, _ in near)
        listed = ", ".join(
            f"{d.names[j]!r} ({100.0 * s:.1f}%, {rest} other rows)" for j, s, rest in near
        )
        what = (
            f"One value covers {100.0 * near[0][1]:.1f}% of the rows: its coefficient rests "
            f"on {near[0][2]} rows."
            if len(near) == 1
            else f"{len(near)} features have one value in at least "
            f"{100.0 * NEAR_CONSTANT_SHARE:g}% of the rows, so each coefficient rests on a "
            f"few rows: {listed}."
        )
        out.append(
            Finding(
                "near_constant",
                "warning",
                what,
                "Expect wide intervals and possible quasi-separation; merge rare values, drop "
                "the feature, or keep a penalty (penalty='l2').",
                names,
                near[0][1],
                cli_advice="Expect wide intervals and possible quasi-separation; merge rare "
                f"values in the data, leave the column out with {_DROP_CLI}, or keep "
                "--penalty l2.",
                per_feature=tuple(s for _, s, _ in near),
            )
        )
    return out


def scale(d: Rows, standardize: bool) -> list[Finding]:
    """Features on very different scales when the model does not standardise."""
    if standardize:
        return []
    live = np.flatnonzero(~d.constant & (d.sd > 0))
    if live.size < 2:
        return []
    hi, lo = live[np.argmax(d.sd[live])], live[np.argmin(d.sd[live])]
    ratio = float(d.sd[hi] / d.sd[lo])
    if ratio < SCALE_RATIO:
        return []
    return [
        Finding(
            "scale",
            "warning",
            f"With standardize=False, feature standard deviations range from "
            f"{d.sd[lo]:.3g} ({d.names[lo]!r}) to {d.sd[hi]:.3g} ({d.names[hi]!r}), a ratio "
            f"of {ratio:.3g}: a penalty then shrinks small-scale features far more (its "
            "effect depends on the units) and the Hessian is badly conditioned.",
            "Use standardize=True (the default); coefficients are still reported in "
            "original units and per standard deviation.",
            (d.names[hi], d.names[lo]),
            ratio,
            cli_advice="logitkit train always standardises: refit the model with it "
            "(coefficients are still reported in original units).",
        )
    ]
