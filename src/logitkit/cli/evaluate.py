"""``logitkit evaluate``: how a model does on labelled rows it never saw.

Rows the model was fitted on (found by the model file's fingerprint of its training
rows) are left out when there are others; when every row trained the model, the numbers
are shown as "training rows (optimistic)", never as a held-out estimate.

Discrimination (ROC-AUC with its DeLong interval, average precision), probability
quality (log-loss, Brier score, calibration error, Hosmer-Lemeshow) and the decisions at
0.5 beside the model's threshold policy (confusion matrices, precision and recall per
class), all from :func:`logitkit.evaluation.evaluate`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from logitkit.cli._common import echo, one_line_errors
from logitkit.cli._data import positive_label, read_labelled, read_model, stored_policy
from logitkit.cli._reading import DecimalOption, NaValuesOption, SepOption, read_options
from logitkit.evaluation import BinaryEvaluation, evaluate, evaluate_multiclass
from logitkit.workflow import OPTIMISTIC, RowOrigin, row_origin

__all__ = ["evaluate_command"]


def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return format(value, spec)


def _frame_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="left" if col in ("name", "label") else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(v if isinstance(v, str) else _fmt(v, ".4g") for v in row))
    return table


def _binary_text(say: Any, ev: BinaryEvaluation, source: str, rows: str) -> None:
    auc = ev.roc_auc
    say(
        f"[bold]logitkit evaluate[/] · {source}: {ev.n_samples} rows evaluated ({rows}), "
        f"{ev.n_positive} {ev.positive!s} (positive)",
        highlight=False,
    )
    metrics = Table(title="Discrimination and probability quality")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    level = f"{100 * auc.confidence:g}%"
    metrics.add_row(
        "ROC-AUC", f"{_fmt(auc.auc)} ({level} CI {_fmt(auc.ci_low)} - {_fmt(auc.ci_high)})"
    )
    metrics.add_row("average precision", _fmt(ev.average_precision))
    metrics.add_row("log-loss", _fmt(ev.log_loss))
    metrics.add_row("Brier score", _fmt(ev.brier_score))
    metrics.add_row("calibration error (ECE)", _fmt(ev.ece["uniform"]))
    hl = ev.hosmer_lemeshow
    if hl is not None:
        metrics.add_row(
            "Hosmer-Lemeshow",
            f"chi2({hl.df}) = {_fmt(hl.statistic, '.2f')}, p = {_fmt(hl.p_value, '.3g')}",
        )
    say(metrics)
    say(_frame_table(ev.confusion, f"Confusion ({ev.positive!s} is positive)"))
    say(_frame_table(ev.classes, "Per class"))


def _rows_to_evaluate(X: Any, y: np.ndarray, origin: RowOrigin) -> tuple[Any, np.ndarray, str]:
    """The rows not used in training when there are any, else all (named optimistic)."""
    if origin.seen is None:
        return X, y, "rows of unknown origin"
    if origin.seen.all():
        return X, y, OPTIMISTIC
    keep = ~origin.seen
    subset = X.iloc[keep] if hasattr(X, "iloc") else X[keep]
    return subset, y[keep], "rows not used in training"


def evaluate_command(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="The model file.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with labelled rows.")],
    target: Annotated[
        str | None, typer.Option(help="Target column (default: the one the model was trained on).")
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="Positive class (default: the policy's).")
    ] = None,
    bins: Annotated[int, typer.Option(help="Bins of the calibration error.")] = 10,
    na_values: NaValuesOption = None,
    sep: SepOption = None,
    decimal: DecimalOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Evaluate MODEL on the labelled rows of DATA: metrics, calibration, decisions.

    The rows should be ones the model never saw (a held-out or a later sample).
    """
    say = echo(quiet or as_json)
    with one_line_errors():
        model = read_model(model_path)
        X, y, _ = read_labelled(model, data, target, read_options(na_values, sep, decimal))
        origin = row_origin(model, X)
        X, y, evaluated_on = _rows_to_evaluate(X, y, origin)
        proba = model.predict_proba(X)
        classes = model.classes_
        if len(classes) == 2:
            policy = stored_policy(model)
            default = policy.positive if policy is not None else model.positive_class_
            if model.positive_class is not None:
                default = model.positive_class_
            pos = positive_label(classes, positive, default)
            column = int(np.flatnonzero(classes == pos)[0])
            chosen = policy if policy is not None and policy.positive == pos else None
            ev = evaluate(y, proba[:, column], positive=pos, threshold=chosen, n_bins=bins)
            record = ev.to_dict()
        else:
            multi = evaluate_multiclass(y, proba, classes=list(classes.tolist()))
            record = multi.to_dict()
        record["model"] = model.artifact_["sha256"]
        record["data"] = str(data)
        record["rows"] = {"evaluated_on": evaluated_on, "origin": origin.description}
    if as_json and not quiet:
        typer.echo(json.dumps(record, indent=2))
        return
    if evaluated_on == OPTIMISTIC:
        say(
            f"[bold yellow]Optimistic:[/] {origin.description}; these numbers do not "
            "measure performance on new rows (the model file's training record does).",
            highlight=False,
        )
    elif origin.n_seen:
        say(
            f"{origin.n_seen} of the rows trained the model and are left out: the numbers "
            f"below are on the {len(y)} {evaluated_on}.",
            highlight=False,
        )
    if len(classes) == 2:
        _binary_text(say, ev, str(data), evaluated_on)
        return
    say(
        f"[bold]logitkit evaluate[/] · {data}: {multi.n_samples} rows ({evaluated_on}), "
        f"{len(classes)} classes; "
        f"accuracy {multi.accuracy:.4f}, log-loss {multi.log_loss:.4f}, Brier "
        f"{multi.brier_score:.4f}, macro one-vs-rest ROC-AUC {_fmt(multi.roc_auc_ovr_macro)}"
    )
    say(_frame_table(multi.per_class, "Per class"))
