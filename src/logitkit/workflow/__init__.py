"""The pipeline from rows to a decision, as one library object.

:func:`train` runs the stages in order (rows -> typed and encoded -> fit, with C by
cross-validation -> out-of-fold probabilities -> policy -> evaluation -> diagnostics
-> reference profile) and returns a :class:`TrainingResult` that writes the artifact
and the report. ``logitkit train``, ``evaluate`` and ``report`` are thin wrappers over
it. Invariants every stage keeps: the modelled class of a binary target is the user's
positive label; a requested option takes effect or fails; the decision rule is
``p >= threshold``, written once in :mod:`logitkit.decision`.
"""

from __future__ import annotations

from logitkit.workflow._result import TrainingResult
from logitkit.workflow._seen import OPTIMISTIC, RowOrigin, row_origin
from logitkit.workflow._spec import TrainingSpec, policy_rule
from logitkit.workflow._train import run, train

__all__ = [
    "OPTIMISTIC",
    "RowOrigin",
    "TrainingResult",
    "TrainingSpec",
    "policy_rule",
    "row_origin",
    "run",
    "train",
]
