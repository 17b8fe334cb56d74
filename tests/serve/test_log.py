"""The prediction log: group commit, one writer, retries stay one row, feedback."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from logitkit.serve.log import LogUnavailableError, OverloadedError, PredictionLog
from logitkit.serve.metrics import Metrics
from tests.serve.conftest import Db


def _row(log: PredictionLog, request_id: str, instance: int = 0, inputs: str = "[1.0]") -> tuple:
    return (
        request_id,
        instance,
        log.now(),
        "v" * 64,
        inputs,
        0.25,
        '{"a":0.75,"b":0.25}',
        "a",
        "b",
        0.2,
    )


@pytest.fixture
def log(db: Db):
    log = PredictionLog(db.url, db.prefix, metrics=Metrics())
    log.open()
    yield log
    log.close()


def test_concurrent_rows_share_commits(log):
    async def main():
        await asyncio.gather(*(log.record([_row(log, f"c{i}")]) for i in range(300)))

    asyncio.run(main())
    assert log.count() == 300
    rows = log.metrics.commit_rows.collect()[0].samples
    commits = next(s.value for s in rows if s.name.endswith("_count"))
    assert commits < 300  # group commit: many rows per transaction


def test_a_retried_id_stays_one_row_and_returns_the_logged_rows(log):
    async def main():
        # The first time there is nothing else logged: None, or (where the driver cannot
        # count inserted rows, as psycopg in pipeline mode) the rows just written.
        first = await log.record([_row(log, "same", 0), _row(log, "same", 1)], check=True)
        assert first is None or [r["instance"] for r in first] == [0, 1]
        stored = await log.record([_row(log, "same", 0), _row(log, "same", 1)], check=True)
        concurrent = await asyncio.gather(
            log.record([_row(log, "twin")], check=True), log.record([_row(log, "twin")], check=True)
        )
        return stored, concurrent

    stored, concurrent = asyncio.run(main())
    assert [r["instance"] for r in stored] == [0, 1]
    assert all(r["request_id"] == "same" for r in stored)
    assert log.count() == 3
    # The twin rows may share a commit: then both requests get the one logged row back.
    assert all(c is None or [r["request_id"] for r in c] == ["twin"] for c in concurrent)


def test_feedback_is_all_or_none(log):
    async def main():
        await log.record([_row(log, "f1"), _row(log, "f2")])
        missing = await log.feedback(
            [
                {"request_id": "f1", "instance": 0, "label": "a"},
                {"request_id": "nope", "instance": 0, "label": "b"},
            ]
        )
        assert missing == [("nope", 0)]
        assert await log.feedback([{"request_id": "f1", "instance": 0, "label": "b"}]) == []
        assert await log.feedback([{"request_id": "f1", "instance": 0, "label": "a"}]) == []

    asyncio.run(main())
    window = {r["id"]: r for r in log.window(None, 10)}
    truths = sorted((r["truth"] for r in window.values()), key=str)
    assert truths == [None, "a"]  # f1 labelled (the later label replaced the earlier), f2 not


def test_pending_rows_are_bounded(db: Db):
    log = PredictionLog(db.url, db.prefix, max_pending_rows=5)
    log.open()
    try:

        async def main():
            first = asyncio.ensure_future(log.record([_row(log, f"b{i}") for i in range(5)]))
            await asyncio.sleep(0)  # queued (the writer may take it at once)
            with contextlib.suppress(OverloadedError):  # refused unless the writer took the 5
                await log.record([_row(log, f"x{i}") for i in range(6)])
            await first

        asyncio.run(main())
    finally:
        log.close()


def test_closed_log_refuses(db: Db):
    log = PredictionLog(db.url, db.prefix)
    log.open()
    log.close()
    with pytest.raises(LogUnavailableError):
        asyncio.run(log.record([_row(log, "late")]))


def test_two_writers_on_one_sqlite_file_never_see_database_is_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    logs = [PredictionLog(url), PredictionLog(url)]
    for log in logs:
        log.open()
    errors: list[BaseException] = []

    def write(log: PredictionLog, tag: str) -> None:
        async def main():
            for k in range(40):
                await asyncio.gather(
                    *(log.record([_row(log, f"{tag}-{k}-{i}")]) for i in range(10))
                )

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(log, str(n))) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert logs[0].count() == 800
    finally:
        for log in logs:
            log.close()


def test_memory_sqlite_and_other_databases_are_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        PredictionLog("sqlite://")
    with pytest.raises(ValueError, match="SQLite and PostgreSQL"):
        PredictionLog("mysql://u@h/db")
