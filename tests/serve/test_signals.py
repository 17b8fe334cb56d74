"""Kill tests under load: no acknowledged prediction is ever missing from the log.

A real ``logitkit serve`` in a child process takes bounded load (a few thousand
requests, 16 connections) and gets SIGTERM, two SIGTERMs, or SIGKILL at a random
moment; then every request answered 200 must be in the log, no request id twice, the
database sound, and (for SIGTERM) the exit clean and within the grace period. The
50,000-request version is ``python -m benchmarks.serve --kill-only``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from benchmarks.serve_checks import kill_under_load

from tests.serve.conftest import Db

PLANS = {
    "SIGTERM": [signal.SIGTERM],
    "SIGTERM+SIGTERM": [signal.SIGTERM, signal.SIGTERM],
    "SIGKILL": [signal.SIGKILL],
}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("plan", list(PLANS))
def test_kill_under_load_on_sqlite(
    plan, seed, demo_model: Path, demo_rows, sqlite_db: Db, tmp_path
):
    names, rows = demo_rows
    result = kill_under_load(
        demo_model,
        sqlite_db.url,
        PLANS[plan],
        names=names,
        rows=rows[:50],
        total=3000,
        concurrency=16,
        seed=seed,
        grace_s=5.0,
        max_seconds=20,
        log=tmp_path / "server.log",
    )
    assert result.ok, (result, (tmp_path / "server.log").read_text()[-3000:])
    assert result.acknowledged > 0
    assert result.missing == 0
    # Every request was answered, or refused before the server read it (connection
    # closed or refused): nothing was left half-answered.
    assert set(result.outcomes) <= {"200", "503", "closed", "refused"}, result.outcomes
    if plan == "SIGTERM":
        # A drain cuts no keep-alive connection under a client: each got Connection: close
        # with its last answer, and the client's next connection was refused.
        assert "closed" not in result.outcomes, result.outcomes


@pytest.mark.parametrize("plan", ["SIGTERM", "SIGKILL"])
def test_kill_under_load_on_postgresql(
    plan, demo_model: Path, demo_rows, postgres_db: Db, tmp_path
):
    names, rows = demo_rows
    result = kill_under_load(
        demo_model,
        postgres_db.url,
        PLANS[plan],
        names=names,
        rows=rows[:50],
        total=2000,
        concurrency=16,
        seed=3,
        grace_s=5.0,
        max_seconds=20,
        prefix=postgres_db.prefix,
        log=tmp_path / "server.log",
    )
    assert result.ok, (result, (tmp_path / "server.log").read_text()[-3000:])
    assert result.missing == 0
