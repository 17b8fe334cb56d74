"""``logitkit threshold``: re-choose a model's decision rule on labelled rows, without refitting.

The model's probabilities on DATA go to :meth:`ThresholdPolicy.fit` with the rule the
options name (the same options as ``train``), or, without one, the model's stored rule
is applied again (:meth:`ThresholdPolicy.refit`). The coefficients do not change; the
artifact is written again with the new policy (re-hashed and, with
``LOGITKIT_SIGNING_KEY`` set, re-signed) to ``--out``, and over MODEL only with
``--in-place``. The rows should be ones the model never saw: probabilities on its own
training rows are optimistic, and a threshold chosen on them is too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from logitkit.artifact import data_fingerprint, write_content, write_policy
from logitkit.cli._common import echo, one_line_errors
from logitkit.cli._data import positive_label, read_labelled, read_model, stored_policy
from logitkit.cli._policy import (
    CostFnOption,
    CostFpOption,
    MaxFprOption,
    MinPrecisionOption,
    MinRecallOption,
    choose_policy,
    policy_rule,
)
from logitkit.cli._reading import DecimalOption, NaValuesOption, SepOption, read_options
from logitkit.exceptions import DataError
from logitkit.workflow import row_origin

__all__ = ["threshold"]


def _target_path(model_path: Path, out: Path | None, in_place: bool) -> Path:
    if in_place:
        if out is not None and out.resolve() != model_path.resolve():
            msg = "Give either --out or --in-place, not both."
            raise DataError(msg)
        return model_path
    if out is None:
        msg = "Name the updated model file with --out (or overwrite MODEL with --in-place)."
        raise DataError(msg)
    if out.resolve() == model_path.resolve():
        msg = f"--out {out} is the input model file; pass --in-place to overwrite it."
        raise DataError(msg)
    return out


def threshold(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="The model file.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with labelled rows.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the updated model.")] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Overwrite MODEL with the updated model.")
    ] = False,
    policy_out: Annotated[
        Path | None,
        typer.Option(
            help="Also (or only) write the policy alone, hashed and signed with "
            "LOGITKIT_SIGNING_KEY, for `logitkit serve --policy`."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column (default: the one the model was trained on).")
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="The label that must not be missed (default: the policy's).")
    ] = None,
    min_recall: MinRecallOption = None,
    min_precision: MinPrecisionOption = None,
    max_fpr: MaxFprOption = None,
    cost_fp: CostFpOption = None,
    cost_fn: CostFnOption = None,
    fixed: Annotated[
        float | None, typer.Option("--threshold", help="Policy: a fixed threshold.")
    ] = None,
    na_values: NaValuesOption = None,
    sep: SepOption = None,
    decimal: DecimalOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Re-choose the decision threshold of MODEL on the labelled rows of DATA (no refit)."""
    say = echo(quiet or as_json)
    with one_line_errors():
        alone = policy_out is not None and out is None and not in_place
        destination = None if alone else _target_path(model_path, out, in_place)
        rule = policy_rule(
            {
                "min_recall": min_recall,
                "min_precision": min_precision,
                "max_fpr": max_fpr,
                "cost_fp": cost_fp,
                "cost_fn": cost_fn,
                "threshold": fixed,
            }
        )
        model = read_model(model_path)
        if len(model.classes_) != 2:
            msg = "Threshold policies are for binary models; this model has more classes."
            raise DataError(msg)
        old = stored_policy(model)
        pos = positive_label(
            model.classes_, positive, old.positive if old is not None else model.positive_class_
        )
        if model.positive_class is not None and pos != model.positive_class_:
            msg = (
                f"The model was trained with {model.positive_class_!r} as its positive class "
                f"(its coefficients and probabilities speak of it); a policy for {pos!r} would "
                "contradict them. Retrain with --positive to change it."
            )
            raise DataError(msg)
        X, y, _ = read_labelled(model, data, target, read_options(na_values, sep, decimal))
        origin = row_origin(model, X)
        left_out = origin.n_seen
        if origin.seen is not None and origin.seen.all():
            msg = (
                f"All {len(y)} rows of {data} trained the model: their probabilities are "
                "in-sample, so a threshold chosen on them would be optimistic. Give labelled "
                "rows the model never saw (logitkit train chooses on out-of-fold probabilities)."
            )
            raise DataError(msg)
        if origin.seen is not None and left_out:
            keep = ~origin.seen
            X, y = (X.iloc[keep] if hasattr(X, "iloc") else X[keep]), y[keep]
        column = int(np.flatnonzero(model.classes_ == pos)[0])
        proba = model.predict_proba(X)[:, column]
        if rule is None and old is None:
            msg = (
                "The model has no stored policy to apply again: give a rule (--min-recall, "
                "--min-precision, --max-fpr, --cost-fp/--cost-fn or --threshold)."
            )
            raise DataError(msg)
        if rule is None and old is not None and old.positive != pos:
            msg = (
                f"The stored policy decides {old.positive!r}, not {pos!r}: give a rule for "
                f"{pos!r} (--min-recall, --min-precision, --max-fpr, --cost-fp/--cost-fn or "
                "--threshold)."
            )
            raise DataError(msg)
        if rule is None and old is not None:
            policy = old.refit(y, proba)
        else:
            policy = choose_policy(rule, y, proba, pos)
        content: dict[str, Any] = dict(model.artifact_)
        content["policy"] = policy.to_dict()
        content["training"] = {
            **content["training"],
            "policy_chosen_on": (
                f"{data} ({len(y)} labelled rows"
                + (
                    "; the model file keeps no fingerprint of its training rows"
                    if origin.seen is None
                    else ", none used in training"
                )
                + (f"; {left_out} training rows left out" if left_out else "")
                + f"), by logitkit threshold at {datetime.now(UTC).isoformat(timespec='seconds')}"
            ),
            "policy_scores_fingerprint": data_fingerprint(proba[:, None], y),
        }
        if destination is not None:
            write_content(content, destination)
        if policy_out is not None:
            write_policy(policy, policy_out)
    record = {
        "model": None if destination is None else str(destination),
        "policy_file": None if policy_out is None else str(policy_out),
        "previous_threshold": None if old is None else old.threshold,
        "policy": policy.to_dict(),
    }
    if as_json and not quiet:
        typer.echo(json.dumps(record, indent=2))
        return
    rule_text = ", ".join(f"{k}={v}" for k, v in policy.to_dict()["rule"].items())
    before = "none" if old is None else f"{old.threshold:.6g}"
    skipped = f" ({left_out} training rows left out)" if left_out else ""
    say(
        f"Policy for {pos!s} ({rule_text}) on {len(y)} rows of {data}{skipped}: threshold "
        f"{before} -> {policy.threshold:.6g}"
    )
    if policy.metrics is not None and policy.confusion is not None:
        shown = {k: v for k, v in policy.metrics.items() if v is not None}
        say("  " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
        say("  confusion: " + ", ".join(f"{k} {v}" for k, v in policy.confusion.items()))
    if destination is not None:
        say(f"Model written to [bold]{destination}[/] (coefficients unchanged)")
    if policy_out is not None:
        say(f"Policy written to [bold]{policy_out}[/] (for logitkit serve --policy)")
