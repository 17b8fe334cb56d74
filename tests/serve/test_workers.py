"""``logitkit serve --workers N``: several processes on one port sharing one log.

Each worker keeps its own metrics, so scraping ``/metrics`` over fresh connections shows
each worker's own count of predictions: two different counts that add up to what was
sent prove that both workers served, and the log holds every answered row.

SIGHUP sent to the supervisor and to its workers while they start (a worker's new
interpreter is still importing the service) is held until each worker is up and then
applied as a reload: no worker dies of it, so none is restarted. A SIGHUP to the
supervisor while its workers drain is not passed on, and they still exit cleanly.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
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
_RELOADS = re.compile(r'^logitkit_model_reloads_total\{outcome="(\w+)"\} (\S+)$', re.MULTILINE)


def _fresh(port: int, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a connection of its own (the kernel picks the worker per connection)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        return client.request(method, path, headers={"Connection": "close"}, **kwargs)


def _workers_of(supervisor: int) -> set[int]:
    """The running worker processes of a supervisor: its children started by ``spawn``."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        if int(fields[1]) == supervisor and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def _serve_in_rounds(port: int, names: list[str], rows: list[list[float]]) -> tuple[int, list[str]]:
    """Predict on fresh connections until two workers have served: (predictions, scrapes).

    Both workers may not be up when the first answers: the rounds go on until the scrapes
    show two workers that have each served (a worker still starting shows 0).
    """
    sent = 0
    counts: set[float] = set()
    scraped: list[str] = []
    deadline = time.monotonic() + 90
    while not (len(counts) == 2 and min(counts) > 0) and time.monotonic() < deadline:
        for _ in range(20):
            row = rows[sent % len(rows)]
            answer = _fresh(port, "POST", "/v1/predict", json=instances(names, [row]))
            assert answer.status_code == 200, answer.text
            sent += 1
        scraped = [_fresh(port, "GET", "/metrics").text for _ in range(30)]
        counts = {sum(float(v) for v in _PREDICTED.findall(page)) for page in scraped}
    assert len(counts) == 2, counts  # two workers, each with its own share
    assert sum(counts) == sent
    return sent, scraped


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
    server.start(timeout_s=120)  # two processes importing the service on a busy machine
    try:
        sent, _ = _serve_in_rounds(port, names, rows)
        server.signal(signal.SIGTERM)
        assert server.wait(20) == 0  # every worker drained and exited cleanly
    finally:
        server.kill()
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


@pytest.mark.slow
def test_sighup_as_workers_start_and_drain_kills_none(demo_model: Path, demo_rows, tmp_path: Path):
    names, rows = demo_rows
    port = free_port()
    log = tmp_path / "server.log"
    server = ServerProcess.logitkit(
        demo_model,
        port,
        "--workers",
        "2",
        "--db",
        f"sqlite:///{tmp_path / 'log.db'}",
        "--log-level",
        "warning",
        log=log,
    )
    seen: set[int] = set()
    stop = threading.Event()

    def hang_up() -> None:
        # From the moment the first worker exists (the supervisor noted its signals before
        # starting any), SIGHUP the supervisor and every worker every 50 ms.
        while not stop.wait(0.05):
            if server.process is None or server.process.poll() is not None:
                continue
            workers = _workers_of(server.pid)
            seen.update(workers)
            for pid in [server.pid, *workers] if workers else []:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        server.start(timeout_s=120)
        time.sleep(1.0)  # the other worker may still be starting: keep hanging up on it
        stop.set()
        thread.join(10)
        _, scraped = _serve_in_rounds(port, names, rows)
        running = _workers_of(server.pid)
        server.signal(signal.SIGTERM)
        # Hang up on the supervisor while its workers drain, until it has exited.
        deadline = time.monotonic() + 20
        while server.wait(0.01) is None and time.monotonic() < deadline:
            server.signal(signal.SIGHUP)
        assert server.wait(1) == 0, log.read_text()[-3000:]
    finally:
        stop.set()
        server.kill()
    output = log.read_text()
    # The first two workers are the only ones: none died of a SIGHUP and was replaced.
    assert len(seen) == 2, (seen, output[-3000:])
    assert running == seen, (running, seen)
    assert "exited with" not in output, output[-3000:]
    # Each worker applied the SIGHUPs it was sent as reloads of the (unchanged) model.
    for page in scraped:
        reloads = {outcome: float(n) for outcome, n in _RELOADS.findall(page)}
        assert reloads.get("ok", 0) >= 1, page
        assert reloads.get("refused", 0) == 0, page
