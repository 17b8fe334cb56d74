"""``logitkit train``: the library pipeline (:func:`logitkit.train`) from the command line.

Reads the rows (a file, or the built-in demo), hands every option to the pipeline, and
writes ``model.json`` and the HTML report. An option that cannot take effect exits 2
saying why. ``--stream`` and ``--dask`` fit the coefficients out of core; what needs the
rows in memory (a policy, cross-validation, the report, ...) is refused there, by name.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from logitkit.artifact import save
from logitkit.cli._common import console, echo, one_line_errors, steps
from logitkit.cli._policy import (
    ConfidenceOption,
    CostFnOption,
    CostFpOption,
    MaxFprOption,
    MinPrecisionOption,
    MinRecallOption,
)
from logitkit.cli._reading import (
    DecimalOption,
    NaValuesOption,
    NormalizeLabelsOption,
    ReferenceOption,
    SepOption,
    parse_reference,
    read_options,
)
from logitkit.cli._scale import fit_streamed, should_stream
from logitkit.cli._train_output import print_result
from logitkit.data.arrow import read_table
from logitkit.data.demo import DEMO_POSITIVE, DEMO_TARGET, load_demo
from logitkit.exceptions import DataError
from logitkit.workflow import TrainingResult
from logitkit.workflow import train as train_pipeline

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
    impute: Annotated[
        str | None,
        typer.Option(help="Fill missing values: median or most_frequent (default: refuse them)."),
    ] = None,
    na_values: NaValuesOption = None,
    sep: SepOption = None,
    decimal: DecimalOption = None,
    normalize_labels: NormalizeLabelsOption = False,
    reference: ReferenceOption = None,
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
        rule_options = {
            "min_recall": min_recall,
            "min_precision": min_precision,
            "max_fpr": max_fpr,
            "cost_fp": cost_fp,
            "cost_fn": cost_fn,
            "threshold": threshold,
        }
        if (
            data is None
            and target is None
            and not any(v is not None for v in rule_options.values())
        ):
            rule_options["min_recall"] = 0.995  # the demo's screen must not miss malignant
        streamed_fit = stream or dask is not None
        if data is not None and not streamed_fit and data.exists():
            streamed_fit = should_stream(data)
        if streamed_fit:
            if data is None:
                msg = "--stream and --dask fit a file: name the data file."
                raise DataError(msg)
            asked = {
                "--formula": formula is not None,
                "--impute": impute is not None,
                "--cv": cv,
                "a decision rule (--min-recall, ...)": any(
                    v is not None for v in rule_options.values()
                ),
                "--confidence": confidence is not None,
                "--test-size": test_size > 0,
                "--report": report is not None,
                "--reference": bool(reference),
                "--normalize-labels": normalize_labels,
                "--na-values/--sep/--decimal": bool(na_values)
                or sep is not None
                or decimal is not None,
            }
            _train_streamed(
                data,
                target,
                positive,
                asked,
                drop or [],
                weight,
                batch_rows,
                dask,
                out,
                {
                    "penalty": None if penalty == "none" else penalty,
                    "C": C,
                    "l1_ratio": l1_ratio,
                    "class_weight": class_weight,
                    "max_iter": max_iter,
                    "tol": tol,
                },
                say,
                quiet,
                as_json,
                explicit_stream=stream or dask is not None,
            )
            return
        with steps(quiet or as_json) as step:
            step("Reading the data")
            if data is None:
                frame, source = load_demo(), "breast-cancer demo"
                target = target or DEMO_TARGET
                positive = positive or (DEMO_POSITIVE if target == DEMO_TARGET else None)
            else:
                frame = read_table(data, **read_options(na_values, sep, decimal))
                source = str(data)
            step("Fitting, choosing the threshold and cross-validating the procedure")
            start = time.perf_counter()
            result = train_pipeline(
                frame,
                target=target,
                positive=positive,
                formula=formula,
                drop=drop or (),
                weight=weight,
                impute=impute,
                normalize_labels=normalize_labels,
                reference=parse_reference(reference or []),
                penalty=None if penalty == "none" else penalty,
                C=C,
                l1_ratio=l1_ratio,
                class_weight=class_weight,
                max_iter=max_iter,
                tol=tol,
                cv=cv,
                Cs=cs,
                scoring=scoring,
                folds=folds,
                confidence=confidence,
                test_size=test_size,
                seed=seed,
                source=source,
                **rule_options,
            )
            elapsed = time.perf_counter() - start
            step("Writing the model")
            result.save(out)
            report_path = None
            if not no_report:
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


def _train_streamed(
    data: Path,
    target: str | None,
    positive: str | None,
    asked: dict[str, bool],
    drop: list[str],
    weight: str | None,
    batch_rows: int,
    dask: str | None,
    out: Path,
    params: dict[str, Any],
    say: Any,
    quiet: bool,
    as_json: bool,
    *,
    explicit_stream: bool,
) -> TrainingResult | None:
    """A coefficient fit out of core; what needs the rows in memory is refused by name."""
    refused = [name for name, given in asked.items() if given]
    if refused:
        why = (
            "--stream/--dask"
            if explicit_stream
            else f"{data} is too large to read into memory, so it"
        )
        msg = (
            f"{', '.join(refused)} cannot be combined with a streamed fit: {why} fits the "
            "coefficients out of core, and these need the rows in memory. Leave them out, "
            "or train on a sample that fits in memory."
        )
        raise DataError(msg)
    if target is None:
        msg = f"Name the target column of {data} with --target."
        raise DataError(msg)
    start = time.perf_counter()
    model = fit_streamed(
        data,
        target,
        {**params, "positive_class": positive},
        weight=weight,
        drop=drop,
        batch_rows=batch_rows,
        dask=dask,
        progress=not (quiet or as_json),
    )
    elapsed = time.perf_counter() - start
    fit = "streamed" if dask is None else f"dask ({dask})"
    save(
        model,
        out,
        training={
            "source": str(data),
            "target": target,
            "positive": None if model.positive_class_ is None else str(model.positive_class_),
            "fit": fit,
            "provenance": {
                "model": f"fitted {fit} on every row of {data}",
                "performance": None,
                "policy": None,
            },
        },
        summary=model.summary(),
    )
    record = {
        "source": str(data),
        "rows": int(np.sum(model.class_counts_)),
        "classes": [str(c) for c in model.classes_],
        "positive": None if model.positive_class_ is None else str(model.positive_class_),
        "iterations": int(model.n_iter_[0]),
        "passes": int(model.solver_result_.n_passes),
        "fit_seconds": elapsed,
        "model_path": str(out),
    }
    if as_json and not quiet:
        console.print_json(json.dumps(record, default=_plain))
        return None
    say(model.summary())
    say(
        f"Fitted {record['rows']} rows in {record['iterations']} iterations "
        f"({record['passes']} passes, {elapsed:.1f} s). Model written to [bold]{out}[/]. "
        "No policy, performance estimate or report: a streamed fit gives the coefficients."
    )
    return None
