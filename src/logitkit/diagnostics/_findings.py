"""Finding and Findings: what a check found, how much it matters, what to do, in rank order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

__all__ = ["CHECKS", "INTERFACES", "SEVERITIES", "Finding", "Findings"]

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
#: Every check, in the order its findings are listed within a severity: first whether the
#: model is worth having at all, then whether its estimates exist, whether its decisions
#: hold, what limits its precision, and last what only affects reading coefficients.
CHECKS: tuple[str, ...] = (
    "no_signal",
    "separation",
    "convergence",
    "saturation",
    "unverifiable_policy",
    "unstable_threshold",
    "imbalance",
    "events_per_parameter",
    "duplicate",
    "collinearity",
    "constant",
    "near_constant",
    "scale",
    "vif",
)
#: Where advice is followed: the Python API or the ``logitkit`` command line.
INTERFACES: tuple[str, ...] = ("python", "cli")


def _plain(value: float | None) -> float | None:
    """A float for JSON, None where missing or not finite (an infinite VIF)."""
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Finding:
    """One finding of :func:`~logitkit.diagnostics.diagnose`.

    Attributes
    ----------
    check : str
        Which check raised it (one of :data:`CHECKS`).
    severity : {"error", "warning", "info"}
        How much it matters.
    message : str
        What was found, with the numbers.
    advice : str
        What to do about it, in terms of the Python API.
    features : tuple of str
        The features involved, most responsible first (empty for model-level findings).
    value : float or None
        The number behind the finding (a p-value, a share, a ratio, the largest VIF).
    cli_advice : str
        The same advice in terms of ``logitkit train`` options; empty when it is the
        same as ``advice``.
    per_feature : tuple of float
        One number per feature, in the order of ``features`` (e.g. each VIF), or empty.

    Examples
    --------
    >>> from logitkit.diagnostics import Finding
    >>> f = Finding("constant", "warning", "'x' is constant.", "Drop it.", ("x",),
    ...             cli_advice="Leave it out with --drop x.")
    >>> f.feature, f.to_dict()["severity"], f.advice_for("cli")
    ('x', 'warning', 'Leave it out with --drop x.')
    """

    check: str
    severity: str
    message: str
    advice: str
    features: tuple[str, ...] = ()
    value: float | None = None
    cli_advice: str = ""
    per_feature: tuple[float, ...] = ()

    @property
    def feature(self) -> str | None:
        """The main feature involved, or None for a model-level finding."""
        return self.features[0] if self.features else None

    def advice_for(self, interface: str = "python") -> str:
        """The advice for ``interface``: "python" or "cli" (the command line).

        Examples
        --------
        >>> Finding("constant", "info", "...", "Drop it.").advice_for("cli")
        'Drop it.'
        """
        if interface not in INTERFACES:
            msg = (
                f"The 'interface' parameter must be one of {INTERFACES}. Got {interface!r} instead."
            )
            raise ValueError(msg)
        return self.cli_advice if interface == "cli" and self.cli_advice else self.advice

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable data (numbers None where not finite).

        Examples
        --------
        >>> sorted(Finding("vif", "info", "...", "...", ("a",), 6.0, per_feature=(6.0,)).to_dict())
        ['advice', 'check', 'cli_advice', 'feature', 'features', 'message', 'per_feature', 'severity', 'value']
        """
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "advice": self.advice,
            "cli_advice": self.cli_advice,
            "feature": self.feature,
            "features": list(self.features),
            "value": _plain(self.value),
            "per_feature": [_plain(v) for v in self.per_feature],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_dict` output (older records lack the newer keys).

        Examples
        --------
        >>> Finding.from_dict({"check": "constant", "severity": "warning", "message": "m",
        ...                    "advice": "a"}).cli_advice
        ''
        """
        return cls(
            data["check"],
            data["severity"],
            data["message"],
            data["advice"],
            tuple(data.get("features") or ()),
            data.get("value"),
            data.get("cli_advice") or "",
            tuple(math.inf if v is None else float(v) for v in data.get("per_feature") or ()),
        )

    def __str__(self) -> str:
        where = f" ({', '.join(repr(f) for f in self.features[:3])})" if self.features else ""
        more = f" +{len(self.features) - 3}" if len(self.features) > 3 else ""
        return f"[{self.severity.upper()}] {self.check}{where}{more}: {self.message}"


def _rank(f: Finding) -> tuple[int, int]:
    severity = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)
    check = CHECKS.index(f.check) if f.check in CHECKS else len(CHECKS)
    return severity, check


class Findings(Sequence[Finding]):
    """The findings of :func:`~logitkit.diagnostics.diagnose`, in order of what matters.

    Errors come first, then warnings, then information; within each, the order of
    :data:`CHECKS` (whether the model beats chance, separation, convergence, saturation,
    the decision policy, imbalance, then collinearity, with the variance inflation factors
    last). Print it for a readable list; ``to_list()`` gives plain data.

    Examples
    --------
    >>> from logitkit.diagnostics import Finding, Findings
    >>> found = Findings([
    ...     Finding("imbalance", "info", "Class 'a' is 20%.", "Use PR-AUC.",
    ...             cli_advice="Read the PR-AUC line."),
    ...     Finding("no_signal", "warning", "No better than chance.", "Find better features."),
    ... ])
    >>> [f.check for f in found], found.to_list()[1]["check"]
    (['no_signal', 'imbalance'], 'imbalance')
    >>> print(found.to_text(interface="cli"))  # doctest: +NORMALIZE_WHITESPACE
    Diagnostics: 2 findings (0 errors, 1 warning, 1 info)
      1. [WARNING] no_signal: No better than chance.
         -> Find better features.
      2. [INFO] imbalance: Class 'a' is 20%.
         -> Read the PR-AUC line.
    """

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        self._items = tuple(sorted(findings, key=_rank))

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Findings: ...
    def __getitem__(self, index: int | slice) -> Finding | Findings:
        if isinstance(index, slice):
            return Findings(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._items)

    def select(self, *, check: str | None = None, severity: str | None = None) -> Findings:
        """The findings of one check and/or severity.

        Examples
        --------
        >>> Findings([Finding("vif", "info", "...", "...")]).select(check="scale")
        Findings([])
        """
        return Findings(
            f
            for f in self._items
            if (check is None or f.check == check) and (severity is None or f.severity == severity)
        )

    def to_list(self) -> list[dict[str, Any]]:
        """Each finding as a plain dict (see :meth:`Finding.to_dict`)."""
        return [f.to_dict() for f in self._items]

    @classmethod
    def from_list(cls, data: Iterable[dict[str, Any]]) -> Findings:
        """Rebuild findings from :meth:`to_list` output, including older lists."""
        return cls(Finding.from_dict(d) for d in data)

    def to_text(self, max_per_check: int | None = None, *, interface: str = "python") -> str:
        """The readable list, each finding with its advice.

        Parameters
        ----------
        max_per_check : int, optional
            Show at most this many findings of each check and severity in a row, then a
            count of the rest.
        interface : {"python", "cli"}, default="python"
            Whose advice to print: the Python API's or the command line's.

        Returns
        -------
        str

        Examples
        --------
        >>> print(Findings().to_text())
        Diagnostics: 0 findings (0 errors, 0 warnings, 0 info)
          No problems found.
        """
        counts = [sum(f.severity == s for f in self._items) for s in SEVERITIES]
        noun = "finding" if len(self) == 1 else "findings"
        warnings = "warning" if counts[1] == 1 else "warnings"
        errors = "error" if counts[0] == 1 else "errors"
        lines = [
            (
                f"Diagnostics: {len(self)} {noun} ({counts[0]} {errors}, {counts[1]} {warnings}, "
                f"{counts[2]} info)"
            )
        ]
        items = self._items
        advice = [f.advice_for(interface) for f in items]
        shown = 0
        for i, f in enumerate(items):
            key = (f.check, advice[i])
            shown = 1 if i == 0 or (items[i - 1].check, advice[i - 1]) != key else shown + 1
            if max_per_check is None or shown <= max_per_check:
                lines.append(f"  {i + 1}. {f}")
            if i + 1 == len(items) or (items[i + 1].check, advice[i + 1]) != key:
                # one piece of advice closes a run of the same check
                if max_per_check is not None and shown > max_per_check:
                    lines.append(f"     ... and {shown - max_per_check} more {f.check} findings")
                lines.append(f"     -> {advice[i]}")
        if not items:
            lines.append("  No problems found.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Findings({list(self._items)!r})"
