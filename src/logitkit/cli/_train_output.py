"""What ``logitkit train`` prints: the findings first, then each number with its source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from logitkit.workflow import TrainingResult

__all__ = ["performance_lines", "print_result"]


def _ci(entry: dict[str, Any]) -> str:
    if entry.get("value") is None:
        return "n/a"
    k, n = entry["count"]
    return f"{entry['value']:.3f} ({k}/{n}; 95% CI {entry['ci_low']:.3f} to {entry['ci_high']:.3f})"


def performance_lines(record: dict[str, Any], positive: Any) -> list[str]:
    """The metrics of one evaluation record (see :mod:`logitkit.workflow`), in words."""
    lines = [f"  rows: {record['rows']}"]
    if "problem" in record:
        return [*lines, f"  no metrics: {record['problem']}"]
    metrics = record["metrics"]
    auc = metrics.get("roc_auc")
    if isinstance(auc, dict):
        lines.append(
            f"  ROC-AUC {auc['auc']:.3f} (95% CI {auc['ci_low']:.3f} to {auc['ci_high']:.3f}), "
            f"log-loss {metrics['log_loss']:.3f}, Brier {metrics['brier_score']:.3f}"
        )
    elif "accuracy" in metrics:
        lines.append(
            f"  accuracy {metrics['accuracy']:.3f}, log-loss {metrics['log_loss']:.3f}, Brier "
            f"{metrics['brier_score']:.3f}"
        )
    decisions = record.get("decisions")
    if decisions:
        used = decisions["thresholds_used"]
        at = (
            f"threshold {used['min']:.4g}"
            if used["min"] == used["max"]
            else f"each fold's own threshold ({used['min']:.4g} to {used['max']:.4g})"
        )
        lines.append(
            f"  decisions at {at}: recall of {positive} {_ci(decisions['recall'])}, precision "
            f"{_ci(decisions['precision'])}, false-positive rate "
            f"{_ci(decisions['false_positive_rate'])}"
        )
    return lines


def print_result(
    say: Callable[..., None],
    result: TrainingResult,
    out: Path,
    report_path: Path | None,
    elapsed: float,
) -> None:
    """The readable output of ``train``: what matters first, every number with its source."""
    model, training = result.model, result.training
    counts = ", ".join(
        f"{c!s} ({int(n)})" for c, n in zip(model.classes_, model.class_counts_, strict=True)
    )
    say(
        f"[bold]logitkit[/] · {training['source']}: {training['n_rows_read']} rows; "
        f"classes {counts}",
        highlight=False,
    )
    if result.positive is not None and "trials_column" not in training:
        named = bool(result.training.get("positive_named"))
        say(
            f"Positive class [bold]{result.positive!s}[/]"
            + ("" if named else " (the label that sorts last; name another with --positive)")
            + f": coefficients, odds ratios, probabilities and decisions are about "
            f"{result.positive!s}.",
            highlight=False,
        )
    say("")
    say(result.findings.to_text(interface="cli"), markup=False, highlight=False, soft_wrap=True)
    provenance = result.provenance
    say(
        f"[bold]Model[/]: {model!r}, {provenance['model']} ({model.n_features_in_} model "
        f"columns, {int(model.n_iter_[0])} iterations, {elapsed:.1f} s in all)"
        + (f"; {provenance['C']}." if provenance.get("C") else "."),
        highlight=False,
    )
    if result.policy is not None:
        say(f"[bold]Policy[/] (chosen on {provenance['policy']}):", highlight=False)
        for sentence in result.policy.describe():
            say(f"  {sentence}", markup=False, highlight=False)
    say(
        f"[bold]Performance[/], {result.performance['procedure']}:",
        highlight=False,
    )
    for line in performance_lines(result.performance, result.positive):
        say(line, markup=False, highlight=False)
    if result.held_out is not None:
        say(f"[bold]Held-out rows[/] ({result.held_out['procedure']}):", highlight=False)
        for line in performance_lines(result.held_out, result.positive):
            say(line, markup=False, highlight=False)
    say("")
    if result.summary is not None:
        say(result.summary.to_text(), markup=False, highlight=False, soft_wrap=True)
    say(f"Model written to [bold]{out}[/]")
    if report_path is not None:
        say(f"Report written to [bold]{report_path}[/]")
