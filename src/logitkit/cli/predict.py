"""``logitkit predict``: stream a CSV or Parquet file through a model, rows in input order.

Batches are read with pyarrow (typed as the model's raw columns), predicted, and written
before the next one is read, so files larger than memory can be scored. Output columns:
any ``--keep`` columns, then for a binary model ``probability`` (of the positive class),
``label`` (the most probable class, the 0.5 rule) and ``decision`` (under the model's
threshold policy, when it has one); for a multiclass model ``proba_<class>`` per class and
``label``. Probabilities are written exactly (shortest round-trip decimals in CSV and
JSON, float64 in Parquet), so they equal ``model.predict_proba`` bit for bit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from logitkit.cli._common import error_console, one_line_errors
from logitkit.cli._data import (
    features_of,
    model_input,
    positive_label,
    read_model,
    stored_policy,
)
from logitkit.data.arrow import arrow_types, count_rows, iter_batches
from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel

__all__ = ["predict", "predictions"]


def predictions(
    model: LogisticModel,
    batch: pa.RecordBatch,
    *,
    keep: list[str],
    positive: Any,
    policy: ThresholdPolicy | None,
) -> pa.RecordBatch:
    """The output rows of one input batch."""
    frame = batch.to_pandas()
    absent = [c for c in keep if c not in frame.columns]
    if absent:
        msg = f"--keep names column(s) not in the data: {', '.join(absent)}."
        raise DataError(msg, column=absent[0])
    X = model_input(model, frame, leave_out=keep)
    proba = model.predict_proba(X)
    classes = model.classes_
    label = classes[proba.argmax(axis=1)] if len(classes) > 2 else model.predict(X)
    columns: dict[str, Any] = {c: batch.column(c) for c in keep}
    if len(classes) == 2:
        column = int(np.flatnonzero(classes == positive)[0])
        columns["probability"] = pa.array(proba[:, column], type=pa.float64())
        columns["label"] = pa.array(label.tolist())
        if policy is not None:
            decision = policy.decide_labels(proba[:, column], negative=classes[1 - column])
            columns["decision"] = pa.array(decision.tolist())
    else:
        for k, c in enumerate(classes.tolist()):
            columns[f"proba_{c}"] = pa.array(proba[:, k], type=pa.float64())
        columns["label"] = pa.array(label.tolist())
    return pa.RecordBatch.from_pydict(columns)


@contextmanager
def _sink(out: Path | None) -> Iterator[BinaryIO]:
    """stdout, or a temporary file renamed to ``out`` only when everything was written."""
    if out is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _write(sink: BinaryIO, kind: str, batches: Iterator[pa.RecordBatch]) -> int:
    """Write the batches as ``kind``; return the number of rows."""
    writer: Any = None
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        if kind == "jsonl":
            sink.write("".join(json.dumps(r) + "\n" for r in batch.to_pylist()).encode())
            continue
        if writer is None:
            make = pq.ParquetWriter if kind == "parquet" else pacsv.CSVWriter
            writer = make(sink, batch.schema)
        writer.write_batch(batch)
    if writer is not None:
        writer.close()
    return rows


def _kind(out: Path | None) -> str:
    if out is None:
        return "csv"
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    msg = f"Cannot tell the output format of {out}: use .csv, .parquet or .jsonl."
    raise DataError(msg)


def _batches(
    data: Path, model: LogisticModel, batch_size: int, quiet: bool
) -> Iterator[pa.RecordBatch]:
    types = arrow_types(features_of(model))
    total = count_rows(data)
    progress = Progress(
        TextColumn("[bold]Predicting[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
        disable=quiet or not error_console.is_terminal,
    )
    with progress:
        task = progress.add_task("predict", total=total)
        for batch in iter_batches(data, batch_size=batch_size, column_types=types):
            yield batch
            progress.advance(task, batch.num_rows)


def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="The model file.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file of rows to score.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Output file (.csv, .parquet or .jsonl); default: CSV on stdout."),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(help="Input column to copy into the output (e.g. an id); repeat."),
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="Class whose probability to write (default: the policy's).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 65_536,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON lines on stdout; with --out, a JSON summary."),
    ] = False,
) -> None:
    """Predict every row of DATA: probability, label and decision, streamed in input order."""
    with one_line_errors():
        if batch_size < 1:
            msg = f"--batch-size must be at least 1; got {batch_size}."
            raise DataError(msg)
        model = read_model(model_path)
        policy = stored_policy(model)
        default = policy.positive if policy is not None else None
        pos = positive_label(model.classes_, positive, default)
        if policy is not None and pos != policy.positive:
            policy = None  # the policy decides another class
        kind = "jsonl" if as_json and out is None else _kind(out)
        batches = (
            predictions(model, batch, keep=keep or [], positive=pos, policy=policy)
            for batch in _batches(data, model, batch_size, quiet)
        )
        with _sink(out) as sink:
            rows = _write(sink, kind, batches)
    if out is not None and as_json and not quiet:
        typer.echo(json.dumps({"rows": rows, "out": str(out), "model": model.artifact_["sha256"]}))
    elif out is not None and not quiet:
        error_console.print(f"Wrote {rows} predictions to [bold]{out}[/]", soft_wrap=True)
