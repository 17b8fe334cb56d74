"""logitkit: auditable logistic-regression decisions, from data to a running service."""

from __future__ import annotations

from logitkit.exceptions import (
    ArtifactError,
    ConstraintError,
    ConvergenceWarning,
    DataError,
    InferenceWarning,
    LogitkitError,
    NotFittedError,
    SeparationError,
)

__version__ = "0.1.0"

from logitkit.artifact import load, save
from logitkit.decision import MulticlassPolicy, RiskBands, ThresholdPolicy
from logitkit.diagnostics import Finding, Findings, diagnose
from logitkit.evaluation import evaluate
from logitkit.inference import Summary
from logitkit.model import LogisticModel
from logitkit.selection import LogisticModelCV
from logitkit.workflow import TrainingResult, train

__all__ = [
    "ArtifactError",
    "ConstraintError",
    "ConvergenceWarning",
    "DataError",
    "Finding",
    "Findings",
    "InferenceWarning",
    "LogisticModel",
    "LogisticModelCV",
    "LogitkitError",
    "MulticlassPolicy",
    "NotFittedError",
    "RiskBands",
    "SeparationError",
    "Summary",
    "ThresholdPolicy",
    "TrainingResult",
    "__version__",
    "diagnose",
    "evaluate",
    "load",
    "save",
    "train",
]
