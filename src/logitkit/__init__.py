"""logitkit: auditable logistic-regression decisions, from data to a running service."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
