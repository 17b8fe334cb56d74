"""RiskBands: ordered bands of risk, each cut chosen like a ThresholdPolicy."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit._validation import BinaryTarget, Label, check_binary, check_proba
from logitkit.decision._rules import (
    CONSTRAINTS,
    COSTS,
    FORMAT_VERSION,
    RULE_KEYS,
    check_boot,
    check_header,
    choose,
    decide,
    make_rule,
    rule_params,
)
from logitkit.decision.threshold import ThresholdPolicy, _assess
from logitkit.exceptions import ArtifactError, ConstraintError

__all__ = ["RiskBands"]


@dataclass(frozen=True, repr=False)
class RiskBands:
    """Ordered risk bands: ``len(names) - 1`` cuts, each chosen like a ThresholdPolicy.

    Band ``i`` holds the rows with ``cut[i-1] <= proba < cut[i]`` (the first band starts
    at 0, the last includes 1). Each cut is a full :class:`ThresholdPolicy` for the
    decision "this band or above", so it carries its own rule, metrics and intervals.

    Attributes
    ----------
    names : tuple of str
        Band names from the lowest risk to the highest.
    cuts : tuple of ThresholdPolicy
        The cut between band ``i`` and band ``i + 1``, non-decreasing thresholds.
    positive : str, int, float or bool
        The label whose risk is banded.
    table : tuple of dict or None
        Per band on the fitting data: ``band``, ``low``, ``high``, ``n``, ``n_positive``
        and ``positive_rate`` (``None`` when the band is empty).

    Examples
    --------
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95]
    >>> bands = RiskBands.fit(
    ...     y, p, positive=1,
    ...     bands=[("clear", {"min_recall": 1.0}), ("review", {"min_precision": 1.0}), "refer"],
    ... )
    >>> bands.thresholds
    (0.25, 0.525)
    >>> bands.assign([0.1, 0.3, 0.9]).tolist()
    ['clear', 'review', 'refer']
    """

    names: tuple[str, ...]
    cuts: tuple[ThresholdPolicy, ...]
    positive: Label
    table: tuple[dict[str, Any], ...] | None = None

    @classmethod
    def fit(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        positive: Label,
        bands: Sequence[tuple[str, Mapping[str, float]] | str],
        n_boot: int = 1000,
        confidence: float = 0.95,
        random_state: int | None = 0,
    ) -> RiskBands:
        """Choose each cut by its rule.

        Parameters
        ----------
        y_true, proba, positive
            As in :meth:`ThresholdPolicy.fit`.
        bands : sequence
            ``(name, rule)`` for every band but the last, then the last band's name.
            ``rule`` holds the keyword arguments of :meth:`ThresholdPolicy.fit` for the
            cut at the top of that band (``{"min_recall": 0.995}`` means rows above the
            cut catch 99.5% of positives; add ``"at_confidence": 0.95`` to meet it by
            the exact lower bound), or ``{"threshold": t}`` for a fixed cut.
        n_boot, confidence, random_state
            Interval settings of each cut (see :meth:`ThresholdPolicy.fit`).

        Returns
        -------
        RiskBands

        Raises
        ------
        ConstraintError
            A cut's constraint cannot be met, or the cuts come out in decreasing order
            (the rules contradict each other on this data).

        Examples
        --------
        >>> RiskBands.fit([0, 1, 0, 1], [0.1, 0.7, 0.4, 0.9], positive=1,
        ...               bands=[("low", {"threshold": 0.5}), "high"]).thresholds
        (0.5,)
        """
        where = "RiskBands.fit"
        names, rules = _check_bands(bands, where)
        data = check_binary(y_true, proba, positive, where)
        boot = check_boot(n_boot, confidence, random_state, where)
        cuts = []
        for rule in rules:
            at_conf = None
            if "threshold" in rule:
                method, params = "fixed", rule_params(where, {"threshold": rule["threshold"]})
            else:
                costs: dict[str, float | None] = {k: rule.get(k) for k in COSTS}
                costs["benefit_tp"] = rule.get("benefit_tp", 0.0)
                costs["benefit_tn"] = rule.get("benefit_tn", 0.0)
                method, params, at_conf = make_rule(
                    where, costs, {k: rule.get(k) for k in CONSTRAINTS}, rule.get("at_confidence")
                )
            threshold = choose(method, params, data, at_conf)
            cuts.append(_assess(threshold, method, params, data, boot, at_conf))
        return cls._build(names, tuple(cuts), data)

    @classmethod
    def _build(
        cls, names: tuple[str, ...], cuts: tuple[ThresholdPolicy, ...], data: BinaryTarget
    ) -> RiskBands:
        t = [c.threshold for c in cuts]
        for i in range(1, len(t)):
            if t[i] < t[i - 1]:
                msg = (
                    f"The cut above band {names[i]!r} ({t[i]:.6g}) falls below the cut above "
                    f"{names[i - 1]!r} ({t[i - 1]:.6g}): the rules contradict each other on this data."
                )
                raise ConstraintError(msg)
        idx = _band_index(t, data.p)
        edges = [0.0, *t, 1.0]
        table = []
        for i, name in enumerate(names):
            inside = idx == i
            n, n_pos = int(inside.sum()), int(data.y[inside].sum())
            table.append(
                {
                    "band": name,
                    "low": edges[i],
                    "high": edges[i + 1],
                    "n": n,
                    "n_positive": n_pos,
                    "positive_rate": n_pos / n if n else None,
                }
            )
        return cls(names, cuts, data.positive, tuple(table))

    @classmethod
    def fixed(
        cls, names: Sequence[str], thresholds: Sequence[float], *, positive: Label
    ) -> RiskBands:
        """Bands with cuts set by hand.

        Examples
        --------
        >>> RiskBands.fixed(["low", "high"], [0.5], positive=1).assign([0.2, 0.7]).tolist()
        ['low', 'high']
        """
        where = "RiskBands.fixed"
        if len(thresholds) != len(names) - 1:
            msg = f"{where} needs one threshold fewer than names; got {len(names)} names and {len(thresholds)} thresholds."
            raise ValueError(msg)
        bands: list[tuple[str, Mapping[str, float]] | str] = [
            (n, {"threshold": t}) for n, t in zip(names[:-1], thresholds, strict=True)
        ]
        names_, _ = _check_bands([*bands, names[-1]], where)
        cuts = tuple(ThresholdPolicy.fixed(t, positive=positive) for t in thresholds)
        if any(b.threshold < a.threshold for a, b in itertools.pairwise(cuts)):
            msg = f"The thresholds passed to {where} must be non-decreasing. Got {list(thresholds)!r}."
            raise ValueError(msg)
        return cls(names_, cuts, cuts[0].positive)

    def refit(self, y_true: ArrayLike, proba: ArrayLike) -> RiskBands:
        """Re-apply every cut's rule to new labelled probabilities.

        Examples
        --------
        >>> bands = RiskBands.fixed(["low", "high"], [0.5], positive=1)
        >>> bands.refit([0, 1, 1], [0.2, 0.6, 0.4]).table[1]["n_positive"]
        1
        """
        data = check_binary(y_true, proba, self.positive, "RiskBands.refit")
        return self._build(self.names, tuple(c.refit(y_true, proba) for c in self.cuts), data)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """The cut thresholds, lowest first."""
        return tuple(c.threshold for c in self.cuts)

    def assign_index(self, proba: ArrayLike) -> NDArray[np.intp]:
        """Return the band number of each row (0 = lowest risk).

        Examples
        --------
        >>> RiskBands.fixed(["a", "b", "c"], [0.3, 0.6], positive=1).assign_index([0.3, 0.9]).tolist()
        [1, 2]
        """
        return _band_index(self.thresholds, check_proba(proba, "RiskBands.assign"))

    def assign(self, proba: ArrayLike) -> NDArray[np.str_]:
        """Return the band name of each row.

        Examples
        --------
        >>> RiskBands.fixed(["low", "high"], [0.5], positive=1).assign([0.5]).tolist()
        ['high']
        """
        return np.asarray(self.names)[self.assign_index(proba)]

    def __repr__(self) -> str:
        return f"RiskBands(names={self.names!r}, thresholds={self.thresholds!r}, positive={self.positive!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds identical bands.

        Examples
        --------
        >>> bands = RiskBands.fixed(["low", "high"], [0.5], positive=1)
        >>> RiskBands.from_dict(bands.to_dict()) == bands
        True
        """
        return {
            "type": "RiskBands",
            "format_version": FORMAT_VERSION,
            "positive": self.positive,
            "names": list(self.names),
            "cuts": [c.to_dict() for c in self.cuts],
            "table": None if self.table is None else [dict(r) for r in self.table],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskBands:
        """Rebuild bands from :meth:`to_dict` output.

        Examples
        --------
        >>> d = RiskBands.fixed(["low", "high"], [0.5], positive=1).to_dict()
        >>> RiskBands.from_dict(d).thresholds
        (0.5,)
        """
        check_header(data, "RiskBands")
        try:
            table = data["table"]
            names = tuple(data["names"])
            cuts = tuple(ThresholdPolicy.from_dict(c) for c in data["cuts"])
            positive = data["positive"]
        except (KeyError, TypeError) as exc:
            msg = f"Not a valid RiskBands dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc
        thresholds = [c.threshold for c in cuts]
        if len(names) != len(cuts) + 1 or thresholds != sorted(thresholds):
            msg = (
                f"Not a valid RiskBands dict: {len(names)} band names need {len(names) - 1} "
                f"cuts in increasing order; got thresholds {thresholds}."
            )
            raise ArtifactError(msg)
        return cls(
            names=names,
            cuts=cuts,
            positive=positive,
            table=None if table is None else tuple(dict(r) for r in table),
        )


def _band_index(thresholds: Sequence[float], p: NDArray[np.float64]) -> NDArray[np.intp]:
    """The band of each row: how many cuts decide it positive (cuts are non-decreasing)."""
    idx = np.zeros(p.shape, dtype=np.intp)
    for t in thresholds:
        idx += decide(p, t)
    return idx


def _check_bands(
    bands: Sequence[tuple[str, Mapping[str, float]] | str], where: str
) -> tuple[tuple[str, ...], list[Mapping[str, float]]]:
    shape = "[(name, rule), ..., last_name] with at least two bands and unique names"
    bad = f"The 'bands' parameter of {where} must be {shape}. Got {bands!r} instead."
    if isinstance(bands, str) or len(bands) < 2 or not isinstance(bands[-1], str):
        raise ValueError(bad)
    names, rules = [], []
    for band in bands[:-1]:
        if isinstance(band, str) or len(band) != 2 or not isinstance(band[1], Mapping):
            raise ValueError(bad)
        names.append(band[0])
        rules.append(band[1])
        unknown = set(band[1]) - RULE_KEYS
        if "threshold" in band[1] and len(band[1]) > 1:
            msg = f"The rule of band {band[0]!r} in {where} mixes 'threshold' with other keys."
            raise ValueError(msg)
        if unknown:
            msg = f"Unknown rule keys {sorted(unknown)} for band {band[0]!r} in {where}; use {sorted(RULE_KEYS)}."
            raise ValueError(msg)
    names.append(bands[-1])
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(bad)
    return tuple(names), rules
