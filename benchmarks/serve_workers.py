"""Throughput of ``logitkit serve --workers N`` at 1, 2 and 4 workers.

One run per worker count: the demo model served by ``logitkit serve --workers N`` on
one port, a warm-up until every worker has answered, then one-instance
``POST /v1/predict`` requests over 32 keep-alive connections (spread over the workers
by the kernel) for a fixed time. Every answer is committed to the prediction log
first, so the log's group commit is part of each number. Run it with::

    python -m benchmarks.serve_workers [--db postgresql+psycopg://...] [--seconds 10]
                                       [--out FILE] [--smoke]

Without ``--db`` (or ``LOGITKIT_TEST_POSTGRES_URL``) the log is a SQLite file. The table
is printed; ``--out`` also writes it into that results file's section. ``--smoke`` runs
1 and 2 workers for 1 s each on a SQLite log (a check that it runs, not a measurement).
The numbers only mean something on a machine with idle cores: each worker is one
process, so more workers than cores measures contention.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import cpu_snapshot, machine_lines, markdown_table, replace_section
from benchmarks.serve_checks import API_KEY, predict_maker
from benchmarks.serve_load import ServerProcess, free_port, run_load

WORKERS = (1, 2, 4)
SMOKE_WORKERS = (1, 2)
SMOKE_SECONDS = 1.0
CONCURRENCY = 32
SECTION = "benchmarks.serve_workers"
_PREDICTED = re.compile(r'^logitkit_predictions_total\{decision="[^"]*"\} (\S+)$', re.MULTILINE)


@dataclass(frozen=True)
class WorkersRow:
    """One worker count's run."""

    workers: int
    requests: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int


def _scrape_counts(port: int, n: int = 30) -> set[float]:
    """Each worker's own count of predictions, seen over fresh connections."""
    counts = set()
    for _ in range(n):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": f"Bearer {API_KEY}", "Connection": "close"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
        counts.add(sum(float(v) for v in _PREDICTED.findall(text)))
    return counts


def run_workers(model: Path, db_url: str, workers: int, seconds: float, work: Path) -> WorkersRow:
    """Serve ``model`` with ``workers`` processes and measure one-instance predictions."""
    from logitkit.data.demo import DEMO_TARGET, load_demo

    frame = load_demo().drop(columns=[DEMO_TARGET])
    names, rows = [str(c) for c in frame.columns], frame.to_numpy(dtype=float).tolist()
    port = free_port()
    prefix = f"w{uuid.uuid4().hex[:10]}_"
    extra = ["--db-table-prefix", prefix] if db_url.startswith("postgresql") else []
    server = ServerProcess.logitkit(
        model,
        port,
        "--workers",
        str(workers),
        "--db",
        db_url,
        *extra,
        "--log-level",
        "warning",
        env={"LOGITKIT_API_KEYS": API_KEY},
        log=work / f"server-{workers}.log",
    )
    server.start(timeout_s=180)
    try:
        # Warm up until every worker has answered (each one starts on its own).
        for round_ in range(60):
            run_load(
                port,
                predict_maker(names, rows[:100], f"warm{round_}"),
                total=200,
                concurrency=CONCURRENCY,
                max_seconds=10,
            )
            if len(_scrape_counts(port)) >= workers:
                break
        report = run_load(
            port,
            predict_maker(names, rows[:100], f"run{workers}"),
            total=10**9,
            concurrency=CONCURRENCY,
            max_seconds=seconds,
        )
    finally:
        server.kill()
        if extra:
            _drop(db_url, prefix)
    ok = [o for o in report.outcomes if o.status == 200]
    return WorkersRow(
        workers,
        len(ok),
        len(ok) / report.elapsed_s,
        report.latency(0.5) * 1e3,
        report.latency(0.99) * 1e3,
        len(report.outcomes) - len(ok),
    )


def _drop(db_url: str, prefix: str) -> None:
    """Remove this run's log tables from the shared PostgreSQL database."""
    from sqlalchemy import create_engine

    from logitkit.serve.log import make_tables

    engine = create_engine(db_url)
    try:
        make_tables(prefix).metadata.drop_all(engine)
    finally:
        engine.dispose()


def table(rows: Sequence[WorkersRow]) -> str:
    """The results as Markdown."""
    base = rows[0].throughput or 1.0
    return markdown_table(
        ["workers", "requests", "req/s", "vs 1 worker", "p50 ms", "p99 ms", "errors"],
        [
            [
                str(r.workers),
                f"{r.requests:,}",
                f"{r.throughput:,.0f}",
                f"{r.throughput / base:.2f}x",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                str(r.errors),
            ]
            for r in rows
        ],
    )


def run(
    workers: Sequence[int] = WORKERS,
    *,
    seconds: float = 10.0,
    db_url: str | None = None,
    smoke: bool = False,
    out: Path | None = None,
    echo: Callable[[str], object] = print,
) -> tuple[list[WorkersRow], str]:
    """Measure each worker count in turn; echo the report and write it to ``out`` if given.

    Parameters
    ----------
    workers : sequence of int
        The worker counts, one run each (smoke: 1 and 2).
    seconds : float
        Measured time per worker count (smoke: 1 s).
    db_url : str, optional
        The prediction log (default: a SQLite file in a temporary folder; smoke always).
    smoke : bool
        Tiny sizes: checks that the benchmark runs, measures nothing.
    out : Path, optional
        A results file whose ``benchmarks.serve_workers`` section gets the report.
    echo : callable
        Where the report goes line by line.

    Returns
    -------
    rows : list of WorkersRow
        One per worker count.
    text : str
        The report (Markdown).
    """
    from typer.testing import CliRunner

    from logitkit.cli import app as cli

    if smoke:
        workers, seconds, db_url = SMOKE_WORKERS, SMOKE_SECONDS, None
    start = cpu_snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.json"
        result = CliRunner().invoke(cli, ["train", "--quiet", "--out", str(model)])
        if result.exit_code != 0:
            raise SystemExit(result.output)
        url = db_url or f"sqlite:///{work / 'log.db'}"
        rows = [run_workers(model, url, n, seconds, work) for n in workers]
    log = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    lines = [
        f"## logitkit serve --workers ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, log: {log})"
        + (" (smoke sizes)" if smoke else ""),
        "",
        (
            f"One-instance POST /v1/predict over {CONCURRENCY} keep-alive connections, "
            f"{seconds:g} s per worker count, each answer committed to the log first."
        ),
        "",
        table(rows),
        "",
        *(f"- {line}" for line in machine_lines(("uvicorn", "fastapi", "sqlalchemy"), start)),
    ]
    text = "\n".join(lines) + "\n"
    for line in lines:
        echo(line)
    if out is not None:
        replace_section(out, SECTION, text)
    return rows, text


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the benchmark and print its table with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("LOGITKIT_TEST_POSTGRES_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    parser.add_argument(
        "--out", type=Path, default=None, help="also write the table into this results file"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="1 and 2 workers, 1 s each, SQLite log"
    )
    args = parser.parse_args(argv)
    run(args.workers, seconds=args.seconds, db_url=args.db, smoke=args.smoke, out=args.out)


if __name__ == "__main__":
    main()
