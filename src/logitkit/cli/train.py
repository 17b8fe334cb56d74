"""``logitkit train``: the library pipeline (:func:`logitkit.train`) from the command line.

Reads the rows (a file, or the built-in demo), hands every option to the pipeline, and
writes ``model.json`` and the HTML report. An option that cannot take effect exits 2
saying why. ``--stream`` and ``--dask`` run the same pipeline in passes over the file
(folds by row hash, :mod:`logitkit.workflow._scaled`; grouped data with ``--trials``,
:mod:`logitkit.workflow._grouped`); the one thing that cannot run there, stratified
folds, is refused by name and with the reason.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from logitkit.cli import _reading as reading
from logitkit.cli._common import console, echo, one_line_errors, steps
from logitkit.cli._policy import (
    ConfidenceOption,
    CostFnOption,
    CostFpOption,
    MaxFprOption,
    MinPrecisionOption,
    MinRecallOption,
)
from logitkit.cli._scale import should_stream, train_streamed
from logitkit.cli._train_output import print_result
from logitkit.data.arrow import read_table
from logitkit.data.demo import DEMO_POSITIVE, DEMO_TARGET, load_demo
from logitkit.exceptions import DataError
from logitkit.workflow import TrainingSpec, run

__all__ = ["train"]


def train(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV or Parquet file; omit for the built-in breast-cancer demo."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column (demo: diagnosis).")] = None,
    positive: Annotated[
        str | None,
        typer.Option(
            help="The label that must not be missed; coefficients, odds ratios and "
            "probabilities speak of it (demo: malignant; default: the label that sorts last)."
        ),
    ] = None,
    formula: Annotated[
        str | None,
        typer.Option(
            help='R-style formula, e.g. "outcome ~ age + C(region) + age:income + bs(debt, 4)".'
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Columns to leave out (ids); repeat the option.")
    ] = None,
    weight: Annotated[
        str | None, typer.Option(help="A column of non-negative row weights.")
    ] = None,
    offset: Annotated[
        str | None,
        typer.Option(
            help="A column holding a known log-odds term per row (R's glm offset, e.g. a "
            "case-control correction), taken out of the features; predict reads it too."
        ),
    ] = None,
    lower_bound: Annotated[
        list[str] | None,
        typer.Option(
            "--lower-bound",
            metavar="FEATURE=VALUE",
            help="Smallest allowed coefficient of a model column, in original units "
            "(e.g. income=0 for a non-negative effect); repeat the option.",
        ),
    ] = None,
    upper_bound: Annotated[
        list[str] | None,
        typer.Option(
            "--upper-bound",
            metavar="FEATURE=VALUE",
            help="Largest allowed coefficient of a model column (income=0: non-positive).",
        ),
    ] = None,
    penalty_factor: Annotated[
        list[str] | None,
        typer.Option(
            "--penalty-factor",
            metavar="FEATURE=VALUE",
            help="Multiplier of a model column's penalty (glmnet's penalty.factor; 0 leaves "
            "it unpenalised); repeat the option.",
        ),
    ] = None,
    trials: Annotated[
        str | None,
        typer.Option(
            help="Grouped data: a column of trials per row, the target counting successes "
            "(R's glm(cbind(s, n - s) ~ ...)); deviance and AIC are those of the groups."
        ),
    ] = None,
    impute: Annotated[
        str | None,
        typer.Option(help="Fill missing values: median or most_frequent (default: refuse them)."),
    ] = None,
    na_values: reading.NaValuesOption = None,
    sep: reading.SepOption = None,
    decimal: reading.DecimalOption = None,
    normalize_labels: reading.NormalizeLabelsOption = False,
    reference: reading.ReferenceOption = None,
    penalty: Annotated[str, typer.Option(help="l2, l1, elasticnet, firth or none.")] = "l2",
    C: Annotated[float, typer.Option("--C", "-C", help="Inverse penalty strength.")] = 1.0,
    l1_ratio: Annotated[float | None, typer.Option(help="L1 share for elasticnet.")] = None,
    class_weight: Annotated[
        str | None,
        typer.Option(help="balanced: weight each class by n / (classes x its rows)."),
    ] = None,
    max_iter: Annotated[int, typer.Option(help="Most solver iterations.")] = 100,
    tol: Annotated[
        float, typer.Option(help="Stop when the optimality (KKT) violation is below this.")
    ] = 1e-10,
    cv: Annotated[
        bool, typer.Option("--cv", help="Choose C by cross-validation (--folds folds).")
    ] = False,
    cs: Annotated[int, typer.Option("--cs", help="With --cv: number of C values tried.")] = 10,
    cv_rows: Annotated[
        int | None,
        typer.Option(
            "--cv-rows",
            help="With --cv on hash folds (--stream, --dask, --folds-by hash): search C on a "
            "hash sample of about this many fitting rows (default 250000, fewer for wide "
            "data; 0: every row), then fit the chosen C on every row.",
        ),
    ] = None,
    scoring: Annotated[
        str, typer.Option(help="With --cv: log_loss, roc_auc or brier.")
    ] = "log_loss",
    min_recall: MinRecallOption = None,
    min_precision: MinPrecisionOption = None,
    max_fpr: MaxFprOption = None,
    cost_fp: CostFpOption = None,
    cost_fn: CostFnOption = None,
    threshold: Annotated[float | None, typer.Option(help="Policy: a fixed threshold.")] = None,
    confidence: ConfidenceOption = None,
    folds: Annotated[
        int,
        typer.Option(
            help="Folds of every cross-validation (C, out-of-fold probabilities, performance)."
        ),
    ] = 5,
    test_size: Annotated[
        float,
        typer.Option(
            help="Share of rows held out before fitting, only to report on. Default 0: the "
            "model fits every row and its performance comes from cross-validating the "
            "whole procedure."
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the split and the folds.")] = 0,
    folds_by: Annotated[
        str | None,
        typer.Option(
            "--folds-by",
            help="stratified (shuffled, in memory; the default there) or hash (each row's "
            "fold a hash of its values; the default and only scheme with --stream/--dask): "
            "hash runs the pipeline in passes, as at scale, with performance out of fold.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the model artifact.")] = Path(
        "model.json"
    ),
    report: Annotated[
        Path | None, typer.Option(help="Where to write the HTML report (default report.html).")
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write the HTML report.")
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Fit out of core: read DATA in batches on every pass (automatic when DATA "
            "would not fit in memory).",
        ),
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Fit on a Dask cluster: 'local' or tcp://HOST:PORT."),
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="With --stream: rows per record batch.")] = 65_536,
    spill: Annotated[
        bool | None,
        typer.Option(
            "--spill/--no-spill",
            help="With --stream: keep the encoded rows in a scratch file in TMPDIR after "
            "the first pass (8 bytes per row and encoded feature, deleted after) and read "
            "later passes from it (default: on where TMPDIR has the room).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary for scripts.")
    ] = False,
) -> None:
    """Train a logistic model, choose its decision rule, report it, and write the artifact.

    By default the model is fitted on every row; its performance is estimated by
    cross-validating the whole procedure, and the threshold is chosen on out-of-fold
    probabilities. --test-size also holds rows out, only to report on.
    """
    say = echo(quiet or as_json)
    with one_line_errors():
        if report is not None and no_report:
            msg = "--report and --no-report contradict each other; give one."
            raise DataError(msg)
        rules = (min_recall, min_precision, max_fpr, cost_fp, cost_fn, threshold)
        if data is None:  # the demo: a screen that must not miss malignant tumours
            target = target or DEMO_TARGET
            positive = positive or (DEMO_POSITIVE if target == DEMO_TARGET else None)
            if target == DEMO_TARGET and all(v is None for v in rules):
                min_recall = 0.995
        spec = TrainingSpec(
            target=target,
            positive=positive,
            formula=formula,
            drop=tuple(drop or ()),
            weight=weight,
            trials=trials,
            impute=impute,
            normalize_labels=normalize_labels,
            reference=reading.parse_reference(reference or []),
            penalty=None if penalty == "none" else penalty,
            C=C,
            l1_ratio=l1_ratio,
            class_weight=class_weight,
            max_iter=max_iter,
            tol=tol,
            cv=cv,
            Cs=cs,
            cv_rows=cv_rows,
            scoring=scoring,
            folds=folds,
            min_recall=min_recall,
            min_precision=min_precision,
            max_fpr=max_fpr,
            cost_fp=cost_fp,
            cost_fn=cost_fn,
            threshold=threshold,
            confidence=confidence,
            test_size=test_size,
            seed=seed,
            fold_scheme=folds_by,
            lower_bounds=_per_feature(lower_bound, "--lower-bound"),
            upper_bounds=_per_feature(upper_bound, "--upper-bound"),
            penalty_factor=_per_feature(penalty_factor, "--penalty-factor"),
            offset=offset,
        )
        given = reading.read_options(na_values, sep, decimal)
        explicit = stream or dask is not None
        streamed = data is not None and (explicit or (data.exists() and should_stream(data)))
        if spill is not None and (not streamed or dask is not None):
            msg = (
                f"--{'' if spill else 'no-'}spill applies to a file streamed from this "
                "machine (--stream, or a file too big for memory); "
                + (
                    "--dask reads the file on its workers."
                    if dask
                    else "these rows are read into memory."
                )
                + " Leave it out."
            )
            raise DataError(msg)
        with steps(quiet or as_json) as step:
            start = time.perf_counter()
            if streamed and data is not None:
                step("Fitting on hash folds in passes over the data")
                source = str(data)
                result = train_streamed(
                    data,
                    spec,
                    batch_rows=batch_rows,
                    dask=dask,
                    spill=spill is not False,
                    progress=False,
                    explicit=explicit,
                    reading=given,
                )
            else:
                step("Reading the data")
                if data is None:
                    frame, source = load_demo(), "breast-cancer demo"
                else:
                    frame, source = read_table(data, **given), str(data)
                step("Fitting, choosing the threshold and cross-validating the procedure")
                result = run(frame, spec, source=source)
            elapsed = time.perf_counter() - start
            step("Writing the model")
            result.save(out)
            report_path = None
            if trials is not None and report is not None:
                msg = (
                    "--report cannot be combined with --trials: the report shows decisions "
                    "on rows, and grouped data have none (the summary holds the fit)."
                )
                raise DataError(msg)
            if not no_report and trials is None:
                step("Writing the report")
                report_path = report or Path("report.html")
                _write(report_path, result.report(title=f"logitkit · {source}"))
    if as_json and not quiet:
        record = result.to_dict()
        record.update(
            fit_seconds=elapsed,
            model_path=str(out),
            report_path=None if report_path is None else str(report_path),
        )
        console.print_json(json.dumps(record, default=_plain))
        return
    print_result(say, result, out, report_path, elapsed)


def _per_feature(items: list[str] | None, flag: str) -> dict[str, float]:
    """``FEATURE=VALUE`` items as ``{feature: value}`` (``inf``/``-inf`` allowed).

    Raises
    ------
    DataError
        An item without ``=``, with an empty name, or a value that is not a number.

    Examples
    --------
    >>> _per_feature(["income=0", "age = -0.5"], "--upper-bound")
    {'income': 0.0, 'age': -0.5}
    """
    out: dict[str, float] = {}
    for item in items or ():
        name, eq, text = (part.strip() for part in item.rpartition("="))
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not eq or not name or math.isnan(value):
            msg = f"{flag} takes FEATURE=VALUE, a number (e.g. {flag} income=0); got {item!r}."
            raise DataError(msg, column=name or None)
        out[name] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        msg = f"Cannot write the report to {path}: {exc.strerror or exc}."
        raise DataError(msg) from None
