"""Declarative parameter checks with one message shape.

"The 'C' parameter of LogisticModel must be a float in (0, inf). Got -1 instead."
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

__all__ = ["InstanceOf", "Interval", "OneOf", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """A real (or integer) number between ``low`` and ``high``; ``closed`` says which ends count."""

    kind: type
    low: Any
    high: Any
    closed: str = "both"  # "both", "left", "right" or "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        lo_ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        hi_ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return bool(lo_ok and hi_ok)

    def describe(self) -> str:
        name = "an int" if self.kind is Integral else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"

        def fmt(v: float) -> str:
            return "inf" if v == math.inf else ("-inf" if v == -math.inf else f"{v:g}")

        return f"{name} in {left}{fmt(self.low)}, {fmt(self.high)}{right}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (strings, None, booleans)."""

    options: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(value is o or (type(value) is type(o) and value == o) for o in self.options)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of the given type(s)."""

    kind: type | tuple[type, ...]
    name: str

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.kind) and not isinstance(value, bool)

    def describe(self) -> str:
        return self.name


Constraint = Interval | OneOf | InstanceOf


def validate_params(
    owner: str, params: Mapping[str, Any], constraints: Mapping[str, Sequence[Constraint]]
) -> None:
    """Raise ``ValueError`` for the first parameter that meets none of its constraints.

    The values last found valid for ``constraints`` are remembered: loops of small fits
    (cross-validation, bootstrap) check the same values thousands of times.
    """
    values = tuple(params[name] for name in constraints)
    last = _LAST_VALID.get(id(constraints))
    if last is not None and last[0] is constraints and _same(last[1], values):
        return
    for name, options in constraints.items():
        value = params[name]
        if any(c.accepts(value) for c in options):
            continue
        wanted = " or ".join(c.describe() for c in options)
        msg = f"The '{name}' parameter of {owner} must be {wanted}. Got {value!r} instead."
        raise ValueError(msg)
    _LAST_VALID[id(constraints)] = (constraints, values)


#: ``id(constraints) -> (constraints, values last found valid)``.
_LAST_VALID: dict[int, tuple[Mapping[str, Sequence[Constraint]], tuple[Any, ...]]] = {}


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Equal values of equal types (``True == 1`` and ``1.0 == 1``, but they validate apart)."""
    return all(type(x) is type(y) and (x is y or _equal(x, y)) for x, y in zip(a, b, strict=True))


def _equal(x: Any, y: Any) -> bool:
    try:
        return bool(x == y)
    except Exception:  # noqa: BLE001 - values whose comparison fails are simply re-checked
        return False
