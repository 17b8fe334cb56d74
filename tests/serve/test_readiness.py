"""Readiness tells whether a prediction's row can be committed now, and writes none itself.

Each not-ready case is made for real against a live server: the SQLite log's folder
made read-only, SQLite's write lock held by another connection, a PostgreSQL lock on
the requests table held by another session.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from logitkit.serve import Settings
from logitkit.serve.log import PredictionLog
from logitkit.serve.log.writer import PROOF_TTL_S
from tests.serve.conftest import Db
from tests.serve.helpers import LiveServer, instances


def _ready_becomes(client: httpx.Client, status: int, within_s: float = 12.0) -> httpx.Response:
    """Poll /health/ready until it answers ``status``; fail if it does not in time."""
    deadline = time.monotonic() + within_s
    while True:
        answer = client.get("/health/ready")
        if answer.status_code == status or time.monotonic() > deadline:
            assert answer.status_code == status, answer.text
            return answer
        time.sleep(0.2)


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make ``folder``, the database file and its WAL unwritable, even through open files.

    ``chmod`` binds neither root nor files already open for writing; the immutable
    attribute binds both, so it is what this uses (as root). The ``-shm`` index is left
    alone: SQLite maps it into memory, and an immutable mapping kills the process with
    SIGBUS at its next write, which no real read-only disk does.
    """
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("making open files read-only needs root and chattr")
    paths = [str(folder), *(str(p) for p in folder.iterdir() if not p.name.endswith("-shm"))]
    made = subprocess.run(["chattr", "+i", *paths], capture_output=True, check=False)
    if made.returncode:
        subprocess.run(["chattr", "-i", *paths], capture_output=True, check=False)
        pytest.skip(f"this file system has no immutable attribute: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *paths], check=True)


def _rows(url: str, prefix: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {prefix}requests")).scalar_one())
    finally:
        engine.dispose()


def test_a_read_only_sqlite_log_is_not_ready(demo_model: Path, demo_rows, tmp_path: Path):
    names, rows = demo_rows
    folder = tmp_path / "log"
    folder.mkdir()
    url = f"sqlite:///{folder / 'log.db'}"
    with LiveServer(Settings(model_path=demo_model, db_url=url)) as live:
        client = live.client()
        assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
        assert client.get("/health/ready").status_code == 200
        with _read_only(folder):
            answer = _ready_becomes(client, 503)
            assert answer.json()["status"] == "not ready"
            assert "commit to the prediction log failed" in answer.json()["checks"]["log"]
            assert answer.headers["Retry-After"] == "1"
            refused = client.post("/v1/predict", json=instances(names, rows[:1]))
            assert refused.status_code == 503
        _ready_becomes(client, 200)
        assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
    assert _rows(url, "logitkit_") == 2  # the answered predictions; readiness wrote none


def test_a_held_sqlite_write_lock_is_not_ready(demo_model: Path, tmp_path: Path):
    path = tmp_path / "log.db"
    with LiveServer(Settings(model_path=demo_model, db_url=f"sqlite:///{path}")) as live:
        client = live.client()
        assert client.get("/health/ready").status_code == 200
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process's long write transaction
        try:
            started = time.monotonic()
            answer = _ready_becomes(client, 503)
            assert time.monotonic() - started < 8.0  # the probe's wait is bounded
            assert "did not finish within 2 s" in answer.json()["checks"]["log"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        _ready_becomes(client, 200)


def test_a_locked_postgresql_table_is_not_ready(demo_model: Path, postgres_db: Db):
    settings = Settings(
        model_path=demo_model, db_url=postgres_db.url, db_table_prefix=postgres_db.prefix
    )
    with LiveServer(settings) as live:
        client = live.client()
        assert client.get("/health/ready").status_code == 200
        engine = create_engine(postgres_db.url)
        conn = engine.connect()
        transaction = conn.begin()
        table = f"{postgres_db.prefix}requests"
        conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        try:
            answer = _ready_becomes(client, 503)
            assert "did not finish within 2 s" in answer.json()["checks"]["log"]
        finally:
            transaction.rollback()
            conn.close()
            engine.dispose()
        _ready_becomes(client, 200)
    assert _rows(postgres_db.url, postgres_db.prefix) == 0


def test_readiness_probes_are_shared_cached_and_leave_no_row(db: Db):
    log = PredictionLog(db.url, db.prefix)
    log.open()
    probes = []
    probe = log._commit_probe

    def counted(conn):
        probes.append(time.monotonic())
        probe(conn)

    log._commit_probe = counted
    try:

        async def main():
            together = await asyncio.gather(*(log.check_commit() for _ in range(50)))
            assert together == [None] * 50
            assert len(probes) == 1  # fifty readiness checks, one test commit
            assert await log.check_commit() is None
            assert len(probes) == 1  # its outcome stands for a second
            await asyncio.sleep(PROOF_TTL_S + 0.1)
            assert await log.check_commit() is None
            assert len(probes) == 2
            await asyncio.sleep(PROOF_TTL_S + 0.1)
            row = (
                "r1", log.now(), "v", 1, '["a","b"]', "[[1.0]]", "[0.5]", "[[0.5,0.5]]",
                '["a"]', '["a"]', 0.5,
            )  # fmt: skip
            await log.record(row)
            assert await log.check_commit() is None
            assert len(probes) == 2  # a commit of rows proves as much as a probe

        asyncio.run(main())
        assert log.count() == 1  # the predictions' row; the probes left none
    finally:
        log.close()
    engine = create_engine(db.url)
    try:
        with engine.connect() as conn:
            beats = conn.execute(text(f"SELECT id, writer FROM {db.prefix}heartbeat")).all()
    finally:
        engine.dispose()
    assert [b.id for b in beats] == [1]  # one row, rewritten


def test_a_closed_log_is_not_ready(sqlite_db: Db):
    log = PredictionLog(sqlite_db.url)
    log.open()
    log.close()
    assert asyncio.run(log.check_commit()) == "the prediction log's writer is not running"
