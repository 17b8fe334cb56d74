"""``logitkit drift``: compare logged inputs with the model's training distributions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from logitkit.cli._common import console, echo, one_line_errors
from logitkit.cli.serve import require_serve_extra

__all__ = ["drift"]

#: Exit status when something drifted and --fail-on-drift was given.
EXIT_DRIFT = 1


def _rows(url: str, prefix: str, version: str | None, window: int) -> list[dict[str, Any]]:
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - optional extra
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from logitkit.serve.log import PredictionLog  # noqa: PLC0415

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        msg = f"No prediction log at {url}: the SQLite file does not exist."
        raise FileNotFoundError(msg)
    log = PredictionLog(url, prefix)
    try:
        return log.window(version, window)
    except SQLAlchemyError as exc:
        msg = (
            f"Cannot read the prediction log {prefix}requests at {parsed!r}: "
            f"{str(exc).splitlines()[0]}. Is --db (and --table-prefix) the one logitkit serve used?"
        )
        raise ValueError(msg) from None
    finally:
        log.close()


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def drift(
    model: Annotated[Path, typer.Argument(help="The model file that served the predictions.")],
    db: Annotated[
        str,
        typer.Option(
            help="The prediction log's URL (as given to logitkit serve).", envvar="LOGITKIT_DB_URL"
        ),
    ] = "sqlite:///predictions.db",
    window: Annotated[int, typer.Option(help="Most recent logged rows to compare.")] = 1000,
    alpha: Annotated[float, typer.Option(help="Family-wise false-alarm rate of the flags.")] = 0.05,
    table_prefix: Annotated[str, typer.Option(help="Prefix of the log's tables.")] = "logitkit_",
    all_versions: Annotated[
        bool,
        typer.Option("--all-versions", help="Use rows of every model version, not only MODEL's."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with status 1 if anything drifted.")
    ] = False,
) -> None:
    """Drift of logged inputs against MODEL's training data: PSI and KS per feature.

    Flags use each statistic's sampling distribution under no drift, so they account for
    the window size; the expected confusion matrix comes from the calibrated probabilities
    and, where feedback labels exist, the realised one is shown beside it.
    """
    require_serve_extra("drift")
    from logitkit.serve.drift import drift_report  # noqa: PLC0415
    from logitkit.serve.predictor import load_predictor  # noqa: PLC0415

    with one_line_errors():
        if window < 2 or not 0 < alpha < 0.5:
            msg = f"--window must be at least 2 and --alpha in (0, 0.5); got {window} and {alpha}."
            raise ValueError(msg)
        predictor = load_predictor(model, name=model.stem)
        rows = _rows(db, table_prefix, None if all_versions else predictor.version, window)
        report = drift_report(predictor, rows, window=window, alpha=alpha)
    if as_json:
        console.print_json(json.dumps(report))
    else:
        _print(echo(False), report)
    if fail_on_drift and report["flagged"]:
        raise typer.Exit(EXIT_DRIFT)


def _print(say: Any, report: dict[str, Any]) -> None:
    say(
        f"[bold]logitkit drift[/] · model {report['model_version'][:12]} · {report['n']} logged "
        f"rows (window {report['window']}), {report['first'] or '-'} to {report['last'] or '-'}"
    )
    for note in report["notes"]:
        say(f"note: {note}")
    table = Table(title=f"Drift per feature (family-wise alpha {report['alpha']:g})")
    for col in ("feature", "mean", "training mean", "PSI", "PSI threshold", "KS", "KS p", "drift"):
        table.add_column(col, justify="left" if col == "feature" else "right")
    items = list(report["features"]) + ([report["score"]] if report["score"] else [])
    for f in items:
        table.add_row(
            f["feature"],
            f"{f['mean']:.4g}",
            f"{f['reference_mean']:.4g}",
            f"{f['psi']['statistic']:.4f}",
            f"{f['psi']['threshold']:.4f}",
            f"{f['ks']['statistic']:.3f}",
            f"{f['ks']['p_value']:.3g}",
            "[bold red]yes[/]" if f["flagged"] else "no",
        )
    if items:
        say(table)
    rate = report["positive_rate"]
    if rate and rate["p_value"] is None:
        say(
            f"Predicted-positive rate {rate['observed']:.3f} vs {rate['expected']:.3f} expected: "
            f"not tested, the window has {rate['n']} rows and the test needs at least "
            f"{rate['rows_needed']} (5 expected rows of each decision)."
        )
    elif rate:
        say(
            f"Predicted-positive rate {rate['observed']:.3f} vs {rate['expected']:.3f} expected "
            f"(difference {rate['difference']:+.3f}, 95% CI [{rate['ci_low']:+.3f}, "
            f"{rate['ci_high']:+.3f}], p = {rate['p_value']:.3g})"
            + (" [bold red]shifted[/]" if rate["flagged"] else "")
        )
    expected = report["expected"]
    if expected:
        say(
            f"Expected on the window (calibrated probabilities): TP {expected['tp']:.1f}, FP "
            f"{expected['fp']:.1f}, FN {expected['fn']:.1f}, TN {expected['tn']:.1f}; precision "
            f"{_fmt(expected['precision'])}, recall {_fmt(expected['recall'])}"
        )
    labelled = report["labelled"]
    if labelled:
        r, e = labelled["realised"], labelled["expected"]
        say(
            f"With feedback ({labelled['n']} rows): realised precision {_fmt(r['precision'])} "
            f"(expected {_fmt(e['precision'])}), recall {_fmt(r['recall'])} "
            f"(expected {_fmt(e['recall'])})"
        )
    say("Drifted: " + (", ".join(report["flagged"]) if report["flagged"] else "nothing"))
