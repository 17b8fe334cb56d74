"""``logitkit serve --workers N``: several processes on one port sharing one log.

Each worker keeps its own metrics, so scraping ``/metrics`` over fresh connections shows
each worker's own count of predictions: two different counts that add up to what was
sent prove that both workers served, and the log holds every answered row.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from benchmarks.serve_load import ServerProcess, free_port
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from logitkit.cli import app as cli
from tests.serve.conftest import Db
from tests.serve.helpers import instances

_PREDICTED = re.compile(r'^logitkit_predictions_total\{decision="[^"]*"\} (\S+)$', re.MULTILINE)


def _fresh(port: int, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a connection of its own (the kernel picks the worker per connection)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        return client.request(method, path, headers={"Connection": "close"}, **kwargs)


@pytest.mark.slow
def test_two_workers_serve_one_port_and_share_the_log(
    demo_model: Path, demo_rows, db: Db, tmp_path: Path
):
    names, rows = demo_rows
    port = free_port()
    server = ServerProcess.logitkit(
        demo_model,
        port,
        "--workers",
        "2",
        "--db",
        db.url,
        "--db-table-prefix",
        db.prefix,
        "--log-level",
        "warning",
        log=tmp_path / "server.log",
    )
    sent = 0
    counts: set[float] = set()
    server.start(timeout_s=120)  # two processes importing the service on a busy machine
    try:
        # Both workers may not be up when the first answers: predict in rounds until the
        # scrapes show two workers that have each served (a worker still starting shows 0).
        deadline = time.monotonic() + 90
        while not (len(counts) == 2 and min(counts) > 0) and time.monotonic() < deadline:
            for _ in range(20):
                row = rows[sent % len(rows)]
                answer = _fresh(port, "POST", "/v1/predict", json=instances(names, [row]))
                assert answer.status_code == 200, answer.text
                sent += 1
            counts = set()
            for _ in range(30):
                scraped = _fresh(port, "GET", "/metrics").text
                counts.add(sum(float(v) for v in _PREDICTED.findall(scraped)))
        server.signal(signal.SIGTERM)
        assert server.wait(20) == 0  # every worker drained and exited cleanly
    finally:
        server.kill()
    assert len(counts) == 2, counts  # two workers, each with its own share
    assert sum(counts) == sent
    assert min(counts) > 0
    engine = create_engine(db.url)
    try:
        with engine.connect() as conn:
            logged = conn.execute(text(f"SELECT count(*) FROM {db.prefix}predictions")).scalar_one()
    finally:
        engine.dispose()
    assert logged == sent


def test_several_workers_need_a_fixed_port(demo_model: Path, tmp_path: Path):
    result = CliRunner().invoke(
        cli,
        [
            "serve",
            str(demo_model),
            "--workers",
            "2",
            "--port",
            "0",
            "--db",
            f"sqlite:///{tmp_path}/l.db",
        ],
    )
    assert result.exit_code == 2
    assert "--workers needs a fixed --port" in " ".join(result.output.split())
