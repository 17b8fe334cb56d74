"""Checks of the options shared by the inference functions, with one message shape."""

from __future__ import annotations

from typing import Any


def check_alpha(alpha: Any) -> None:
    """Refuse an ``alpha`` (one minus the intervals' level) outside (0, 1)."""
    if isinstance(alpha, str) or not 0.0 < alpha < 1.0:
        msg = f"alpha must be a float in (0, 1); got {alpha!r}."
        raise ValueError(msg)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Refuse a ``value`` of the option ``name`` that is not one of ``choices``."""
    if value not in choices:
        msg = f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        raise ValueError(msg)


def check_level(level: Any) -> float:
    """Refuse a confidence ``level`` outside (0, 1); the level as a float."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        msg = f"The 'level' parameter must be a float in (0, 1). Got {level!r} instead."
        raise ValueError(msg)
    return float(level)
