"""``logitkit report``: write the HTML report of a model file, optionally evaluated on data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from logitkit.artifact import load
from logitkit.cli._common import echo, one_line_errors
from logitkit.cli._reading import DecimalOption, NaValuesOption, SepOption, read_options
from logitkit.data.arrow import read_table
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel
from logitkit.report import build_report
from logitkit.workflow import OPTIMISTIC, row_origin

__all__ = ["report"]


def _inputs(model: LogisticModel, frame: pd.DataFrame, target: str) -> Any:
    """The rows in the model's input form: its columns, when it knows their names."""
    features = frame.drop(columns=[target])
    if getattr(model, "encoder_", None) is not None:
        return features  # the encoder picks and encodes its raw columns
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return features.to_numpy()
    missing = [str(n) for n in names if n not in features.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        msg = f"The data lack {len(missing)} of the model's feature column(s): {shown}."
        raise DataError(msg, column=missing[0])
    return features[list(names)]


def _evaluation_rows(
    model: LogisticModel, data: Path, target: str | None, reading: dict[str, Any]
) -> tuple[Any, np.ndarray]:
    frame = read_table(data, **reading)
    artifact = getattr(model, "artifact_", None) or {}
    column = target or (artifact.get("training") or {}).get("target")
    if column is None:
        msg = f"Name the target column of {data} with --target."
        raise DataError(msg)
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:10]))
        msg = f"Target column '{column}' is not in {data}; name it with --target (columns: {shown}...)."
        raise DataError(msg, column=str(column))
    labelled = frame[frame[column].notna()]
    if labelled.empty:
        msg = f"{data} has no labelled rows (column '{column}' is empty)."
        raise DataError(msg, column=str(column))
    return _inputs(model, labelled, str(column)), labelled[column].to_numpy()


def report(
    model: Annotated[Path, typer.Argument(help="The model file (model.json).")],
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Labelled CSV or Parquet rows to evaluate on (held out from training); "
            "omit to report what the model file holds."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column of DATA (default: the training target).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
    na_values: NaValuesOption = None,
    sep: SepOption = None,
    decimal: DecimalOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Write a self-contained HTML report of MODEL, optionally evaluated on DATA.

    Decision rule, curves, calibration, confusion matrices, coefficients,
    diagnostics and an interactive threshold explorer, in one offline page.

    Without DATA: what the model file holds (policy, coefficients, diagnostics).
    """
    say = echo(quiet)
    with one_line_errors():
        fitted = load(model)
        X, y = (
            (None, None)
            if data is None
            else _evaluation_rows(fitted, data, target, read_options(na_values, sep, decimal))
        )
        label, origin = "held-out rows", None
        if X is not None and y is not None:
            origin = row_origin(fitted, X)
            if origin.seen is not None and origin.seen.all():
                label = OPTIMISTIC
            elif origin.seen is not None:
                keep = ~origin.seen
                X = X.iloc[keep] if hasattr(X, "iloc") else X[keep]
                y, label = y[keep], "rows not used in training"
            else:
                label = "given rows (the model file keeps no fingerprint of its training rows)"
        page = build_report(
            fitted, X=X, y=y, title=title or f"Report on {model.name}", rows_label=label
        )
        try:
            out.write_text(page, encoding="utf-8")
        except OSError as exc:
            msg = f"Cannot write the report to {out}: {exc.strerror or exc}."
            raise ValueError(msg) from None
    rows = "" if y is None else f" evaluated on {len(y)} {label} of {data}"
    if origin is not None and origin.n_seen and label != OPTIMISTIC:
        rows += f" ({origin.n_seen} training rows left out)"
    say(f"Report{rows} written to [bold]{out}[/]")
