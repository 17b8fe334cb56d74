"""logitkit: auditable logistic-regression decisions, from data to a running service."""

from __future__ import annotations

from logitkit.exceptions import (
    ArtifactError,
    ConstraintError,
    ConvergenceWarning,
    DataError,
    LogitkitError,
    NotFittedError,
    SeparationError,
)

__version__ = "0.1.0"

from logitkit.artifact import load, save
from logitkit.model import LogisticModel

__all__ = [
    "ArtifactError",
    "ConstraintError",
    "ConvergenceWarning",
    "DataError",
    "LogisticModel",
    "LogitkitError",
    "NotFittedError",
    "SeparationError",
    "__version__",
    "load",
    "save",
]
