"""The prediction log: group commit, one writer, retries stay one row, feedback."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import orjson
import pytest

from logitkit.serve.log import (
    LogUnavailableError,
    OverloadedError,
    PredictionLog,
    instances_of,
)
from logitkit.serve.metrics import Metrics
from tests.serve.conftest import Db


def _row(log: PredictionLog, request_id: str, instances: int = 1, inputs: str = "") -> tuple:
    """A logged request of ``instances`` instances (in ``COLUMNS`` order)."""
    return (
        request_id,
        log.now(),
        "v" * 64,
        instances,
        '["a","b"]',
        inputs or "[" + ",".join(["[1.0]"] * instances) + "]",
        "[" + ",".join(["0.25"] * instances) + "]",
        "[" + ",".join(["[0.75,0.25]"] * instances) + "]",
        "[" + ",".join(['"a"'] * instances) + "]",
        "[" + ",".join(['"b"'] * instances) + "]",
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
        await asyncio.gather(*(log.record(_row(log, f"c{i}")) for i in range(300)))

    asyncio.run(main())
    assert log.count() == 300
    rows = log.metrics.commit_rows.collect()[0].samples
    commits = next(s.value for s in rows if s.name.endswith("_count"))
    assert commits < 300  # group commit: many rows per transaction


def test_a_retried_id_stays_one_row_and_returns_the_logged_row(log):
    async def main():
        # The first time there is nothing else logged: None, or (where the driver cannot
        # count inserted rows, as psycopg in pipeline mode) the row just written.
        first = await log.record(_row(log, "same", 2), check=True)
        assert first is None or first["instances"] == 2
        stored = await log.record(_row(log, "same", 2), check=True)
        concurrent = await asyncio.gather(
            log.record(_row(log, "twin"), check=True), log.record(_row(log, "twin"), check=True)
        )
        return stored, concurrent

    stored, concurrent = asyncio.run(main())
    assert stored["request_id"] == "same"
    assert [x["instance"] for x in instances_of(stored)] == [0, 1]
    assert log.count() == 3
    # The twin rows may share a commit: then both requests get the one logged row back.
    assert all(c is None or c["request_id"] == "twin" for c in concurrent)


def test_feedback_is_all_or_none(log):
    async def main():
        await log.record(_row(log, "f1"))
        await log.record(_row(log, "f2", 2))
        missing = await log.feedback(
            [
                {"request_id": "f1", "instance": 0, "label": "a"},
                {"request_id": "nope", "instance": 0, "label": "b"},
                {"request_id": "f2", "instance": 2, "label": "b"},  # f2 has instances 0 and 1
            ]
        )
        assert missing == [("f2", 2), ("nope", 0)]
        assert await log.feedback([{"request_id": "f1", "instance": 0, "label": "b"}]) == []
        assert await log.feedback([{"request_id": "f1", "instance": 0, "label": "a"}]) == []

    asyncio.run(main())
    window = log.window(None, 10)
    # Newest first; f1 labelled (the later label replaced the earlier), f2 not.
    assert [(r["request_id"], r["instance"], r["truth"]) for r in window] == [
        ("f2", 1, None),
        ("f2", 0, None),
        ("f1", 0, "a"),
    ]
    assert [r["request_id"] for r in log.window(None, 2)] == ["f2", "f2"]


def test_pending_rows_are_bounded(db: Db):
    log = PredictionLog(db.url, db.prefix, max_pending_rows=5)
    log.open()
    try:

        async def main():
            first = asyncio.ensure_future(log.record(_row(log, "b", 5)))
            await asyncio.sleep(0)  # queued (the writer may take it at once)
            with contextlib.suppress(OverloadedError):  # refused unless the writer took the 5
                await log.record(_row(log, "x", 6))
            await first

        asyncio.run(main())
    finally:
        log.close()


def test_closed_log_refuses(db: Db):
    log = PredictionLog(db.url, db.prefix)
    log.open()
    log.close()
    with pytest.raises(LogUnavailableError):
        asyncio.run(log.record(_row(log, "late")))


def test_two_writers_on_one_sqlite_file_never_see_database_is_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    logs = [PredictionLog(url), PredictionLog(url)]
    for log in logs:
        log.open()
    errors: list[BaseException] = []

    def write(log: PredictionLog, tag: str) -> None:
        async def main():
            for k in range(40):
                await asyncio.gather(*(log.record(_row(log, f"{tag}-{k}-{i}")) for i in range(10)))

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


def test_sqlite_checkpoints_in_the_background(tmp_path):
    """Rows reach the database file within a second, not when a commit checkpoints (16 MB)."""
    path = tmp_path / "log.db"
    log = PredictionLog(f"sqlite:///{path}")
    log.open()
    try:
        empty = path.stat().st_size
        inputs = "[" + ",".join(["[1.0]"] * 20_000) + "]"

        async def main():
            for k in range(5):  # about 0.5 MB of WAL
                await log.record(_row(log, f"big-{k}", 20_000, inputs))

        asyncio.run(main())
        for _ in range(100):
            if path.stat().st_size > empty + 400_000:
                break
            threading.Event().wait(0.05)
        assert path.stat().st_size > empty + 400_000
    finally:
        log.close()
    assert log._checkpointer is None  # stopped with the log


def test_memory_sqlite_and_other_databases_are_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        PredictionLog("sqlite://")
    with pytest.raises(ValueError, match="SQLite and PostgreSQL"):
        PredictionLog("mysql://u@h/db")


def test_the_view_shows_one_row_per_instance_with_exact_numbers(log, db: Db):
    from sqlalchemy import create_engine, text

    probability = [0.1, 1 / 3, 0.9999999999999999]
    row = (
        "three",
        log.now(),
        "v" * 64,
        3,
        '["a","b"]',
        "[[1.5,-2.0],[1e-300,3.0],[0.1,0.2]]",
        orjson.dumps(probability).decode(),
        orjson.dumps([[1 - p, p] for p in probability]).decode(),
        '["a","a","b"]',
        '["a","b","b"]',
        0.25,
    )
    asyncio.run(log.record(row))
    engine = create_engine(db.url)
    try:
        with engine.connect() as conn:
            got = conn.execute(
                text(
                    "SELECT request_id, instance, inputs, probability, classes, probabilities, "
                    f"label, decision, threshold FROM {db.prefix}predictions ORDER BY instance"
                )
            ).all()
    finally:
        engine.dispose()
    assert [g.instance for g in got] == [0, 1, 2]
    assert [g.request_id for g in got] == ["three"] * 3
    assert [orjson.loads(g.inputs) for g in got] == [[1.5, -2.0], [1e-300, 3.0], [0.1, 0.2]]
    assert [g.probability for g in got] == probability  # the same doubles
    assert [orjson.loads(g.probabilities) for g in got] == [[1 - p, p] for p in probability]
    assert [(g.label, g.decision) for g in got] == [("a", "a"), ("a", "b"), ("b", "b")]
    assert {(g.classes, g.threshold) for g in got} == {('["a","b"]', 0.25)}
    assert [r["probability"] for r in log.window(None, 5)] == probability[::-1]


def test_a_log_of_the_earlier_layout_is_refused_untouched(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE logitkit_predictions (id INTEGER PRIMARY KEY, inputs TEXT)")
        conn.execute("INSERT INTO logitkit_predictions (inputs) VALUES ('[1.0]')")
    log = PredictionLog(f"sqlite:///{path}")
    with pytest.raises(ValueError, match=r"earlier version of logitkit.*--db-table-prefix"):
        log.open()
    log.close()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"logitkit_predictions"}
        assert conn.execute("SELECT inputs FROM logitkit_predictions").fetchall() == [("[1.0]",)]


def test_an_unreachable_database_is_one_clear_error():
    log = PredictionLog("postgresql+psycopg://nobody@127.0.0.1:9/test")
    with pytest.raises(ValueError, match=r"Cannot reach .* at postgresql.*is up.*--db"):
        log.prepare()
    log.close()
