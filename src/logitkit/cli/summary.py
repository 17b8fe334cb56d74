"""``logitkit summary``: what a model file holds, without any data.

The model, its inputs and training record, the coefficient table and the diagnostics
stored at training time, and the decision policy -- read from the verified artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from logitkit.artifact import stored_diagnostics, stored_summary
from logitkit.cli._common import echo, one_line_errors
from logitkit.cli._data import read_model
from logitkit.decision import ThresholdPolicy

__all__ = ["summary"]


def _inputs_text(features: list[dict[str, Any]]) -> str:
    parts = []
    for f in features[:12]:
        levels = f.get("levels")
        detail = f" {len(levels)} levels" if f["type"] == "category" and levels else ""
        parts.append(f"{f['name']} ({f['type']}{detail})")
    more = f", ... {len(features) - 12} more" if len(features) > 12 else ""
    return ", ".join(parts) + more


def _policy_text(policy: dict[str, Any] | None) -> str:
    if not policy:
        return "Policy: none stored (the 0.5 rule)."
    if policy.get("type") == "ThresholdPolicy":
        words = ThresholdPolicy.from_dict(policy).describe()
        return "Policy:\n" + "\n".join(f"  {sentence}" for sentence in words)
    rule = ", ".join(f"{k}={v}" for k, v in policy.get("rule", {}).items())
    return f"Policy: {policy.get('type')} ({rule})"


def _provenance_text(training: dict[str, Any]) -> str | None:
    """Where each stored number came from, as the training run recorded it."""
    recorded = training.get("provenance") or {}
    lines = [f"  {key}: {text}" for key, text in recorded.items() if text]
    return "Where each number comes from:\n" + "\n".join(lines) if lines else None


def summary(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="The model file.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print what MODEL holds: inputs, training, coefficients, diagnostics and policy."""
    say = echo(quiet or as_json)
    with one_line_errors():
        model = read_model(model_path)
        content = model.artifact_
        table = stored_summary(content)
        findings = stored_diagnostics(content)
    spec, training = content["model"], content["training"]
    if as_json and not quiet:
        record = {
            "model": str(model_path),
            "sha256": content["sha256"],
            "signed": content.get("signature") is not None,
            "created": content["created"],
            "params": spec["params"],
            "classes": spec["classes"],
            "features": spec["features"],
            "encoded_features": spec["encoded_features"],
            "training": training,
            "summary": content.get("inference"),
            "diagnostics": content.get("diagnostics"),
            "policy": content.get("policy"),
        }
        typer.echo(json.dumps(record, indent=2))
        return
    signed = "signed" if content.get("signature") else "unsigned"
    say(
        f"[bold]{model_path}[/] · sha256 {content['sha256'][:16]}... ({signed}), created {content['created']}"
    )
    say(f"Inputs: {_inputs_text(spec['features'])}", markup=False, highlight=False)
    formula = (spec.get("encoding") or {}).get("formula")
    if formula:
        say(f"Formula: {formula['formula']}", markup=False, highlight=False)
    source = training.get("source", "?")
    say(
        f"Trained on {training['n_rows']} rows of {source} ("
        + ", ".join(f"{c}: {n}" for c, n in training["class_counts"].items())
        + ")",
        markup=False,
        highlight=False,
    )
    say("")
    if table is not None:
        say(table.to_text(), markup=False, highlight=False, soft_wrap=True)
    else:
        say("No coefficient table stored (the fit kept no Hessian).")
    if findings is not None:
        say(
            findings.to_text(max_per_check=3, interface="cli"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    say("")
    say(_policy_text(content.get("policy")), markup=False, highlight=False)
    provenance = _provenance_text(training)
    if provenance is not None:
        say(provenance, markup=False, highlight=False)
