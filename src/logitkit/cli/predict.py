"""``logitkit predict``: stream a CSV or Parquet file through a model, rows in input order.

Batches are read with pyarrow (typed as the model's raw columns), predicted, and written
before the next one is read, so files larger than memory can be scored. Missing values
are filled as the model's encoder learned at training (``logitkit train --impute``).
Output columns, named after what they hold: any ``--keep`` columns, then for a binary
model ``p_<positive>`` (the probability of the positive class, e.g. ``p_malignant``),
``label`` (the most probable class) and ``decision`` (``positive`` when ``p_<positive> >=
threshold`` of the model's threshold policy, when it has one); for a multiclass model
``p_<class>`` per class and ``label``. With ``--interval LEVEL`` (binary, unpenalised
models) ``p_<positive>_low`` and ``p_<positive>_high`` follow ``p_<positive>``: the
delta-method confidence interval of that probability, formed on the log-odds scale
(see :meth:`logitkit.LogisticModel.predict_interval`). Probabilities are written exactly (shortest
round-trip decimals in CSV and JSON, float64 in Parquet), so they equal
``model.predict_proba`` bit for bit.
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
from logitkit.cli._reading import DecimalOption, NaValuesOption, SepOption, read_options
from logitkit.data.arrow import arrow_types, count_rows, iter_batches
from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.inference import link_covariance, probability_bounds
from logitkit.model import LogisticModel

__all__ = ["interval_columns", "predict", "predictions", "probability_column"]

#: How each policy rule chose its threshold, for the line that explains the columns.
_RULES = {
    "min_recall": "the highest threshold with recall >= {min_recall:g}",
    "min_precision": "the lowest threshold with precision >= {min_precision:g}",
    "max_false_positive_rate": "the lowest threshold with false-positive rate <= "
    "{max_false_positive_rate:g}",
    "cost": "the least expected cost with cost_fp={cost_fp:g}, cost_fn={cost_fn:g}",
    "fixed": "a fixed threshold",
}


def probability_column(label: Any) -> str:
    """The output column holding the probability of class ``label``.

    Examples
    --------
    >>> probability_column("malignant"), probability_column(1)
    ('p_malignant', 'p_1')
    """
    return f"p_{label}"


def interval_columns(label: Any) -> tuple[str, str]:
    """The output columns holding the interval of class ``label``'s probability.

    Examples
    --------
    >>> interval_columns("malignant")
    ('p_malignant_low', 'p_malignant_high')
    """
    column = probability_column(label)
    return f"{column}_low", f"{column}_high"


def predictions(
    model: LogisticModel,
    batch: pa.RecordBatch,
    *,
    keep: list[str],
    positive: Any,
    policy: ThresholdPolicy | None,
    interval: float | None = None,
) -> pa.RecordBatch:
    """The output rows of one input batch (with ``interval``: the bounds at that level)."""
    frame = batch.to_pandas()
    absent = [c for c in keep if c not in frame.columns]
    if absent:
        msg = f"--keep names column(s) not in the data: {', '.join(absent)}."
        raise DataError(msg, column=absent[0])
    offset_column = getattr(model, "offset_column_", None)
    if offset_column is not None and (offset_column not in frame.columns or interval is not None):
        msg = (
            f"The model was fitted with the offset column '{offset_column}' (train --offset), "
            + (
                "and --interval does not take an offset yet; leave --interval out."
                if offset_column in frame.columns
                else "which the data lack: add it (0 for rows with no offset)."
            )
        )
        raise DataError(msg, column=offset_column)
    X = model_input(model, frame, leave_out=keep)
    proba = model.predict_proba(X)  # a model with an offset column reads it from the rows
    classes = model.classes_
    columns: dict[str, Any] = {c: batch.column(c) for c in keep}
    if len(classes) == 2:
        column = int(np.flatnonzero(classes == positive)[0])
        columns[probability_column(positive)] = pa.array(proba[:, column], type=pa.float64())
        if interval is not None:
            table = model.predict_interval(X)
            # The table is for the model's positive class; the other class's log-odds is
            # its negation (exact), so its bounds come from the same standard errors.
            sign = 1.0 if positive == table.attrs["logitkit"]["positive"] else -1.0
            bounds = probability_bounds(
                sign * table["log_odds"].to_numpy(), table["std_err"].to_numpy(), interval
            )
            for name, values in zip(interval_columns(positive), bounds, strict=True):
                columns[name] = pa.array(values, type=pa.float64())
        columns["label"] = pa.array(model.predict(X).tolist())
        if policy is not None:
            decision = policy.decide_labels(proba[:, column], negative=classes[1 - column])
            columns["decision"] = pa.array(decision.tolist())
    else:
        for k, c in enumerate(classes.tolist()):
            columns[probability_column(c)] = pa.array(proba[:, k], type=pa.float64())
        columns["label"] = pa.array(classes[proba.argmax(axis=1)].tolist())
    return pa.RecordBatch.from_pydict(columns)


def _check_keep(
    keep: list[str], model: LogisticModel, positive: Any, interval: float | None = None
) -> None:
    """Refuse a --keep column that an output column would overwrite."""
    classes = model.classes_.tolist()
    probabilities = [positive] if len(classes) == 2 else classes
    outputs = {"label", "decision", *(probability_column(c) for c in probabilities)}
    if interval is not None:
        outputs.update(interval_columns(positive))
    clash = [c for c in keep if c in outputs]
    if clash:
        msg = (
            f"--keep {clash[0]} clashes with an output column of the same name "
            f"(outputs: {', '.join(sorted(outputs))}); keep another column, or rename it."
        )
        raise DataError(msg, column=clash[0])


def _check_interval(model: LogisticModel, level: float) -> None:
    """Refuse --interval before any row is read: a bad level, or a model without intervals."""
    if not 0.0 < level < 1.0:
        msg = f"--interval must be a level in (0, 1), e.g. 0.95; got {level:g}."
        raise DataError(msg)
    try:
        link_covariance(model)
    except ValueError as exc:
        msg = f"--interval: {exc}"
        raise DataError(msg) from None


def _positive(model: LogisticModel, option: str | None, policy: ThresholdPolicy | None) -> Any:
    """The class whose probability a binary model writes: ``--positive``, else the model's
    chosen positive class, else the stored policy's, else ``classes_[1]``."""
    classes = model.classes_
    if option is not None:
        return positive_label(classes, option)
    chosen = getattr(model, "positive_class_", None)
    if getattr(model, "positive_class", None) is not None and chosen is not None:
        return chosen  # set by the user: classes_[1] is only its fallback
    if policy is not None:
        return policy.positive
    return classes[1] if len(classes) == 2 else None


def _legend(
    model: LogisticModel,
    model_path: Path,
    positive: Any,
    policy: ThresholdPolicy | None,
    interval: float | None = None,
) -> str:
    """One line saying what the output columns mean."""
    classes = model.classes_.tolist()
    positive = positive.item() if isinstance(positive, np.generic) else positive
    label = "label = the most probable class"
    if len(classes) != 2:
        return f"Columns: p_<class> = the probability of each class; {label}."
    p = probability_column(positive)
    head = f"Columns: {p} = the probability of {positive!r}; {label}"
    if interval is not None:
        low, high = interval_columns(positive)
        head += (
            f"; {low}, {high} = its {100 * interval:g}% confidence interval (delta method "
            "on the log-odds)"
        )
    if policy is None:
        stored = stored_policy(model)
        why = (
            f"the policy stored in {model_path} decides {stored.positive!r}, not {positive!r}"
            if stored is not None
            else f"{model_path} stores no threshold policy"
        )
        return f"{head}; no decision column ({why})."
    negative = next(c for c in classes if c != positive)
    try:
        rule = _RULES[policy.method].format(**policy.params)
    except KeyError:  # a rule this line does not word: its name and parameters
        rule = ", ".join([policy.method, *(f"{k}={v:g}" for k, v in policy.params.items())])
    return (
        f"{head}; decision = {positive!r} if {p} >= {policy.threshold:.6g} else "
        f"{negative!r} (the threshold of the policy stored in {model_path}: {rule})."
    )


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
    try:
        for batch in batches:
            rows += batch.num_rows
            if kind == "jsonl":
                sink.write("".join(json.dumps(r) + "\n" for r in batch.to_pylist()).encode())
                continue
            if writer is None:
                make = pq.ParquetWriter if kind == "parquet" else pacsv.CSVWriter
                writer = make(sink, batch.schema)
            writer.write_batch(batch)
    finally:  # also on an error, while the sink is open (the partial file is removed)
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
    data: Path, model: LogisticModel, batch_size: int, quiet: bool, reading: dict[str, Any]
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Each batch with the data row (0-based) it starts at."""
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
    offset = 0
    with progress:
        task = progress.add_task("predict", total=total)
        for batch in iter_batches(data, batch_size=batch_size, column_types=types, **reading):
            yield offset, batch
            offset += batch.num_rows
            progress.advance(task, batch.num_rows)


def _in_file(exc: DataError, offset: int) -> DataError:
    """An error about a row of a batch, with the row counted in the whole file."""
    if exc.row is None or offset == 0:
        return exc
    row = offset + exc.row
    msg = f"{exc} (In the file that is row {row}, counted from 0 after the header.)"
    return DataError(msg, column=exc.column, row=row, count=exc.count)


def _scored(
    batches: Iterator[tuple[int, pa.RecordBatch]], model: LogisticModel, **options: Any
) -> Iterator[pa.RecordBatch]:
    """The output batches, an error's row counted in the file."""
    for offset, batch in batches:
        try:
            yield predictions(model, batch, **options)
        except DataError as exc:
            raise _in_file(exc, offset) from None


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
        str | None,
        typer.Option(
            help="Class whose probability to write (default: the model's positive class)."
        ),
    ] = None,
    na_values: NaValuesOption = None,
    sep: SepOption = None,
    decimal: DecimalOption = None,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 65_536,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON lines on stdout; with --out, a JSON summary."),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            metavar="LEVEL",
            help="Add p_<positive>_low and p_<positive>_high: the probability's confidence "
            "interval at this level (e.g. 0.95; binary, unpenalised models).",
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            metavar="local|tcp://HOST:PORT",
            help="Score a Parquet file or directory on Dask (a new local cluster, or the "
            "scheduler at the address) into --out DIR: one Parquet file per partition.",
        ),
    ] = None,
) -> None:
    """Predict every row of DATA: p_<class>, label and decision, streamed in input order."""
    with one_line_errors():
        if batch_size < 1:
            msg = f"--batch-size must be at least 1; got {batch_size}."
            raise DataError(msg)
        model = read_model(model_path)
        policy = stored_policy(model)
        pos = _positive(model, positive, policy)
        if policy is not None and pos != policy.positive:
            policy = None  # the policy decides another class
        if interval is not None:
            _check_interval(model, interval)
        _check_keep(keep or [], model, pos, interval)
        reading = read_options(na_values, sep, decimal)
        if dask is not None:
            from logitkit.cli._predict_dask import (  # noqa: PLC0415 - optional extra
                check_dask_options,
                predict_on_dask,
            )

            target = check_dask_options(data, out, reading["sep"], reading["decimal"], as_json)
            options = {"keep": keep or [], "positive": pos, "policy": policy, "interval": interval}
            rows, files = predict_on_dask(
                model,
                data,
                target,
                dask,
                batch_size=batch_size,
                na_values=reading["na_values"],
                options=options,
            )
            _report(model, model_path, pos, policy, interval, quiet, as_json, rows, target, files)
            return
        kind = "jsonl" if as_json and out is None else _kind(out)
        batches = _scored(
            _batches(data, model, batch_size, quiet, reading),
            model,
            keep=keep or [],
            positive=pos,
            policy=policy,
            interval=interval,
        )
        with _sink(out) as sink:
            rows = _write(sink, kind, batches)
    _report(model, model_path, pos, policy, interval, quiet, as_json, rows, out)


def _report(
    model: LogisticModel,
    model_path: Path,
    pos: Any,
    policy: ThresholdPolicy | None,
    interval: float | None,
    quiet: bool,
    as_json: bool,
    rows: int,
    out: Path | None,
    files: int | None = None,
) -> None:
    """The legend and what was written (``files``: the Parquet files of a Dask run)."""
    if quiet:
        return
    legend = _legend(model, model_path, pos, policy, interval)
    error_console.print(legend, soft_wrap=True, markup=False, highlight=False)
    if out is not None and as_json:
        record = {"rows": rows, "out": str(out), "model": model.artifact_["sha256"]}
        if files is not None:
            record["files"] = files
        typer.echo(json.dumps(record))
    elif out is not None:
        where = f" ({files} Parquet files, one per partition)" if files is not None else ""
        error_console.print(f"Wrote {rows} predictions to [bold]{out}[/]{where}", soft_wrap=True)
