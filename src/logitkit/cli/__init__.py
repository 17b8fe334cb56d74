"""The ``logitkit`` command line: one module per command, assembled here."""

from __future__ import annotations

import typer

from logitkit.cli import drift, evaluate, predict, report, serve, summary, threshold, train

app = typer.Typer(
    name="logitkit",
    help="Auditable logistic-regression decisions: train, explain, decide, ship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="train")(train.train)
app.command(name="evaluate")(evaluate.evaluate_command)
app.command(name="predict")(predict.predict)
app.command(name="threshold")(threshold.threshold)
app.command(name="summary")(summary.summary)
app.command(name="serve")(serve.serve)
app.command(name="drift")(drift.drift)
app.command(name="report")(report.report)


@app.callback()
def _root() -> None:
    """Auditable logistic-regression decisions: train, explain, decide, ship."""


def main() -> None:
    """Entry point of the ``logitkit`` script."""
    app()
