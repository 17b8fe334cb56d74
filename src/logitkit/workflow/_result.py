"""What a training run produced, with where each number came from."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.artifact import save
from logitkit.data.fingerprint import RowFingerprint
from logitkit.decision import ThresholdPolicy
from logitkit.diagnostics import Findings
from logitkit.evaluation import BinaryEvaluation
from logitkit.exceptions import InferenceWarning
from logitkit.inference import Summary
from logitkit.model import LogisticModel
from logitkit.selection import LogisticModelCV
from logitkit.workflow._hash_search import HashSearch

__all__ = ["TrainingResult", "summary_or_none"]


@dataclass
class TrainingResult:
    """The outcome of :func:`logitkit.train`: the model, its decision rule and evidence.

    Attributes
    ----------
    model : LogisticModel
        The shipped model, fitted on the fitting rows (every row unless ``test_size``
        held some out), with its ``encoder_``; ``model.positive_class_`` is the class
        whose log-odds its summary, odds ratios and probabilities speak of.
    policy : ThresholdPolicy or None
        The decision rule, chosen on out-of-fold probabilities of the fitting rows
        (binary targets); its ``describe()`` says what the data can and cannot show.
    performance : dict
        Cross-validation of the whole procedure on the fitting rows: ``rows``,
        ``procedure``, ``metrics`` (:func:`logitkit.evaluate`'s record) and, with a
        policy, ``decisions`` (counts and exact intervals of the decisions made).
    held_out : dict or None
        The same record for the held-out rows (``test_size > 0``).
    findings : Findings
        :func:`logitkit.diagnose` on the fitting rows, ranked.
    summary : Summary or None
        The coefficient table of the shipped model.
    search : LogisticModelCV, HashSearch or None
        The cross-validation that chose C (``cv=True``; on hash folds a HashSearch).
    oof : tuple of (ndarray, ndarray)
        Labels and out-of-fold class probabilities of the fitting rows that the
        policy was chosen on.
    provenance : dict
        For each reported number, the rows and procedure behind it (in words).
    fingerprint : RowFingerprint
        The fitting rows, to tell them apart in data given later.
    reference : dict
        Reference distributions of the fitting rows, for drift checks.
    """

    model: LogisticModel
    policy: ThresholdPolicy | None
    performance: dict[str, Any]
    held_out: dict[str, Any] | None
    findings: Findings
    summary: Summary | None
    search: LogisticModelCV | HashSearch | None
    oof: tuple[NDArray[Any], NDArray[np.float64]]
    provenance: dict[str, Any]
    fingerprint: RowFingerprint
    reference: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    held_out_rows: tuple[pd.DataFrame, NDArray[Any]] | None = None
    #: :func:`logitkit.evaluate` of ``oof`` when the run computed it (binary), so that
    #: the report shows it without sorting every row again.
    oof_evaluation: BinaryEvaluation | None = None

    @property
    def positive(self) -> Any:
        """The modelled (positive) class of a binary target; None for several classes."""
        return self.model.positive_class_

    def artifact_training(self) -> dict[str, Any]:
        """The artifact's ``training`` section: metadata, provenance and performance."""
        return {
            **self.training,
            "positive": None if self.positive is None else str(self.positive),
            "row_fingerprint": self.fingerprint.to_dict(),
            "provenance": self.provenance,
            "performance": {"cross_validated": self.performance, "held_out": self.held_out},
            "cross_validation": _cv_record(self.search),
        }

    def save(self, path: str | Path, *, key: str | bytes | None = None) -> Path:
        """Write the model file (hashed, signed with a key): see :func:`logitkit.save`."""
        return save(
            self.model,
            path,
            training=self.artifact_training(),
            policy=self.policy,
            reference=self.reference,
            summary=self.summary,
            diagnostics=self.findings,
            key=key,
        )

    def report(self, title: str | None = None) -> str:
        """The self-contained HTML report of this run (see :func:`logitkit.report.build_report`)."""
        from logitkit.report import build_report  # noqa: PLC0415 - the report sits above

        X, y = self.held_out_rows if self.held_out_rows is not None else (None, None)
        return build_report(
            self.model,
            X=X,
            y=y,
            policy=self.policy,
            oof=self.oof,
            oof_evaluation=self.oof_evaluation,
            cv_results=None if self.search is None else self.search.cv_results_,
            findings=self.findings,
            summary=self.summary,
            title=title,
            training=self.artifact_training(),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready digest for scripts (``logitkit train --json``)."""
        model = self.model
        return {
            "source": self.training.get("source"),
            "rows": self.training.get("n_rows_read"),
            "fitting_rows": int(np.sum(model.class_counts_)),
            "held_out_rows": 0 if self.held_out is None else self.held_out["n_rows"],
            "classes": [str(c) for c in model.classes_],
            "positive": None if self.positive is None else str(self.positive),
            "features": len(model.encoder_.input_names) if model.encoder_ is not None else None,
            "encoded_features": int(model.n_features_in_),
            "iterations": int(model.n_iter_[0]),
            "C": None if self.search is None else float(self.search.C_),
            "policy": None if self.policy is None else self.policy.to_dict(),
            "performance": self.performance,
            "held_out": self.held_out,
            "findings": self.findings.to_list(),
            "provenance": self.provenance,
        }


def _cv_record(search: LogisticModelCV | HashSearch | None) -> dict[str, Any] | None:
    """The cross-validation behind C, for the artifact (the grid and its scores)."""
    if search is None:
        return None
    return {
        "C": float(search.C_),
        "l1_ratio": float(search.l1_ratio_),
        "folds": int(search.cv.get_n_splits()) if hasattr(search.cv, "get_n_splits") else None,
        "scoring": search.scoring,
        # The rows behind the grid's scores (on hash folds: every row, or a hash sample).
        "rows": search.rows if isinstance(search, HashSearch) else "every fitting row",
        "results": search.cv_results_.to_dict(orient="records"),
    }


def summary_or_none(model: LogisticModel) -> Summary | None:
    """The coefficient table, or None where the fit kept no Hessian (L-BFGS)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InferenceWarning)
            return model.summary()
    except ValueError:
        return None
