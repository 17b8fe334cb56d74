"""What ``logitkit train`` shows and writes besides the model: held-out numbers, the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from logitkit.decision import ThresholdPolicy
from logitkit.diagnostics import Findings
from logitkit.inference import Summary
from logitkit.model import LogisticModel
from logitkit.selection import LogisticModelCV

__all__ = ["held_out_report", "print_summary", "write_report"]


def held_out_report(
    model: LogisticModel,
    n_columns: int,
    y_test: np.ndarray,
    proba: np.ndarray,
    pos: Any,
    column: int,
    policy: ThresholdPolicy | None,
) -> dict[str, Any]:
    """Held-out metrics, and the 0.5 rule beside the chosen policy."""
    binary = len(model.classes_) == 2
    report: dict[str, Any] = {
        "features": int(n_columns),
        "test_rows": len(y_test),
        "classes": [str(c) for c in model.classes_],
        "positive": str(pos),
        "iterations": int(model.n_iter_[0]),
        "test_accuracy": float(accuracy_score(y_test, model.classes_[proba.argmax(axis=1)])),
        "test_roc_auc": float(
            roc_auc_score(y_test == pos, proba[:, column])
            if binary
            else roc_auc_score(y_test, proba, multi_class="ovr", labels=model.classes_)
        ),
        "test_log_loss": float(log_loss(y_test, proba, labels=model.classes_)),
    }
    if policy is not None:
        truth = y_test == pos
        rows = {}
        for name, t in (("default 0.5", 0.5), ("policy", policy.threshold)):
            flagged = proba[:, column] >= t
            tp = int((flagged & truth).sum())
            fp = int((flagged & ~truth).sum())
            fn = int((~flagged & truth).sum())
            rows[name] = {
                "threshold": float(t),
                "missed_positives": fn,
                "false_alarms": fp,
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
            }
        report["policy"] = {"rule": policy.to_dict()["rule"], "threshold": policy.threshold}
        report["test_decisions"] = rows
    return report


def write_report(
    path: Path,
    model: LogisticModel,
    *,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    policy: ThresholdPolicy | None,
    oof: tuple[np.ndarray, np.ndarray] | None,
    search: LogisticModelCV | None,
    findings: Findings,
    summary: Summary | None,
    title: str,
) -> str:
    """Render the HTML report (:func:`logitkit.report.build_report`) to ``path``."""
    from logitkit.report import build_report  # noqa: PLC0415 - the report sits above the CLI

    html = build_report(
        model,
        X=X_test,
        y=y_test,
        policy=policy,
        oof=oof,
        cv_results=None if search is None else search.cv_results_,
        findings=findings,
        summary=summary,
        title=f"logitkit · {title}",
    )
    path.write_text(html, encoding="utf-8")
    return str(path)


def print_summary(
    say: Callable[..., None],
    model: LogisticModel,
    report: dict[str, Any],
    summary: Summary | None,
    findings: Findings,
) -> None:
    """The readable output of ``train``: data, fit, held-out numbers, table, diagnostics."""
    say(
        f"[bold]logitkit[/] · {report['source']}: {report['rows']} rows x {report['features']} "
        f"features, classes {', '.join(report['classes'])}; positive class "
        f"[bold]{report['positive']}[/]"
    )
    encoded = report["encoded_features"]
    columns = f" ({encoded} model columns)" if encoded != report["features"] else ""
    chosen = (
        f"; C={report['cv']['C']:.4g} chosen by {report['cv']['folds']}-fold CV"
        if "cv" in report
        else ""
    )
    say(
        f"Fitted {model!r}{columns} on {report['train_rows']} rows in {report['iterations']} "
        f"iterations ({report['fit_seconds'] * 1000:.1f} ms){chosen}."
    )
    say(
        f"Held-out test ({report['test_rows']} rows, used only to report): accuracy "
        f"{report['test_accuracy']:.3f}, ROC-AUC {report['test_roc_auc']:.3f}, "
        f"log-loss {report['test_log_loss']:.3f}"
    )
    say("")
    if summary is not None:
        say(summary.to_text(), markup=False, highlight=False, soft_wrap=True)
    say(findings.to_text(max_per_check=3), markup=False, highlight=False, soft_wrap=True)
    say("")
    if "test_decisions" in report:
        say(_decisions_table(report))
    say(f"Model written to [bold]{report['model_path']}[/]")
    if report.get("report_path"):
        say(f"Report written to [bold]{report['report_path']}[/]")


def _decisions_table(report: dict[str, Any]) -> Table:
    rule = ", ".join(f"{k}={v}" for k, v in report["policy"]["rule"].items())
    decisions = Table(
        title=f"Decisions on the held-out test rows: 0.5 beside the policy ({rule}, "
        "chosen on out-of-fold probabilities)"
    )
    for col in (
        "rule",
        "threshold",
        f"missed {report['positive']}",
        "false alarms",
        "precision",
        "recall",
    ):
        decisions.add_column(col, justify="left" if col == "rule" else "right")
    for name, row in report["test_decisions"].items():
        decisions.add_row(
            name,
            f"{row['threshold']:.4f}",
            str(row["missed_positives"]),
            str(row["false_alarms"]),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
        )
    return decisions
