"""The writer: one thread commits the rows of all concurrent requests together.

A prediction is answered only after it is committed. To make that cheap, one writer
thread commits the rows of all concurrent requests together: while one transaction
commits (with its fsync), the next requests' rows queue, and the next transaction takes
them all. Under load a commit carries many rows; with one request at a time it carries
one, and nobody waits for a timer.

One writer also means SQLite never sees two writers from one process: its transactions
are ``BEGIN IMMEDIATE`` (the write lock is taken up front, so no transaction fails
half-way with "database is locked"); readers (drift) use their own connections, which
WAL lets run beside the writer. SQLite copies the WAL back into the database file (a
checkpoint) in a thread of its own, every megabyte committed, so no commit waits for
one. On PostgreSQL the same code runs on psycopg.

A retried request id stays one row: rows are keyed by ``request_id`` and inserted with
``ON CONFLICT DO NOTHING``; when a client-chosen id was already logged, the request gets
the logged answer back (or a conflict if its inputs differ).

Readiness asks the writer whether a row can be committed now
(:meth:`PredictionLog.check_commit`). Each commit the writer makes answers that for a
second; when none was made, a *probe* joins the writer's queue: in one transaction it
inserts a row into ``<prefix>requests`` and rolls that insert back (so it needs the
locks and rights a prediction's row needs, and leaves none), then rewrites the one row
of ``<prefix>heartbeat`` and commits. Only a commit that writes proves that the
database takes writes: a rolled-back insert need not write anything to disk (SQLite
keeps it in its page cache), so it can succeed where the commit of a row would fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from logitkit.serve.log import reads, schema
from logitkit.serve.log.tables import COLUMNS, make_tables
from logitkit.serve.metrics import Metrics

__all__ = ["LogUnavailableError", "OverloadedError", "PredictionLog"]

_INSTANCES = COLUMNS.index("instances")

#: SQLite: the checkpoint thread runs once this many bytes were committed since its last
#: run, or this many seconds after a commit; a commit checkpoints by itself past the WAL
#: pages (when the thread has not kept up: a long read held it back, say).
_CHECKPOINT_BYTES = 1_000_000
_CHECKPOINT_AFTER_S = 1.0
_WAL_PAGES_MAX = 4_096

#: Readiness: how long a commit's outcome answers :meth:`PredictionLog.check_commit`, and
#: how long that waits for a probe's commit before it answers "not ready".
PROOF_TTL_S = 1.0
PROBE_TIMEOUT_S = 2.0
#: The probe's row in ``<prefix>requests``: an id the table's sequence never gives, inserted
#: and rolled back.
_PROBE_ROW_ID = -1

logger = logging.getLogger("logitkit.serve")


class LogUnavailableError(Exception):
    """The row could not be committed (database down, shutting down): answer 503."""


class OverloadedError(LogUnavailableError):
    """Too many rows wait for their commit: refuse new predictions with 503."""


@dataclass
class _Job:
    kind: str  # "predict", "feedback" or "probe"
    rows: list[Any]  # prediction tuples, feedback dicts; none for a probe
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    check: bool = False  # the request id was chosen by the client: look for a logged one
    result: Any = None


@dataclass
class _Queue:
    jobs: list[_Job] = field(default_factory=list)
    rows: int = 0


def _wal_mode(cursor: Any, wait: float = 30.0) -> None:
    """Switch a new SQLite connection's file to write-ahead logging, waiting its turn.

    The switch needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy timeout, while another connection opening the same new file holds
    it (replicas starting together); so it is tried again for up to ``wait`` seconds.
    Once the file is in WAL mode (it stays so), the statement only reads the mode.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class PredictionLog:
    """The database behind the log, with one group-commit writer thread.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: a SQLite file (``sqlite:///predictions.db``) or PostgreSQL
        (``postgresql+psycopg://user@host:5432/db``).
    prefix : str
        Table name prefix.
    synchronous : str
        ``"full"``: every commit reaches the disk before it is acknowledged (SQLite
        ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``), so acknowledged rows
        survive power loss; ``"normal"``: they survive a killed server process but not a
        crash of the machine holding the database (``synchronous=NORMAL`` in WAL mode,
        ``synchronous_commit=off``).
    max_pending_rows : int
        Instances allowed to wait for their commit before :meth:`record` refuses more.
    metrics : Metrics, optional
        Where to count commits and their sizes.
    migrations : sequence of Migration
        The schema this code knows (see :mod:`~logitkit.serve.log.schema`).

    Examples
    --------
    >>> import asyncio, os, tempfile
    >>> log = PredictionLog("sqlite:///" + os.path.join(tempfile.mkdtemp(), "p.db"))
    >>> log.open()
    >>> row = ("r1", log.now(), "v", 1, '["a","b"]', "[[1.0]]", "[0.9]", "[[0.1,0.9]]",
    ...        '["b"]', '["b"]', 0.5)
    >>> asyncio.run(log.record(row))
    >>> log.count()
    1
    >>> log.window(None, 10)[0]["probabilities"]
    {'a': 0.1, 'b': 0.9}
    >>> log.close()
    """

    def __init__(
        self,
        url: str,
        prefix: str = "logitkit_",
        *,
        synchronous: str = "full",
        max_pending_rows: int = 200_000,
        metrics: Metrics | None = None,
        migrations: Sequence[schema.Migration] = schema.MIGRATIONS,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite" and parsed.database in (None, "", ":memory:"):
            msg = "The prediction log needs a SQLite file (sqlite:///path.db), not memory."
            raise ValueError(msg)
        if self.dialect not in ("sqlite", "postgresql"):
            msg = f"The prediction log supports SQLite and PostgreSQL URLs. Got {parsed.drivername!r}."
            raise ValueError(msg)
        self.prefix = prefix
        self.tables = make_tables(prefix)
        self.migrations = tuple(migrations)
        self._prepared = False
        self.synchronous = synchronous
        self.max_pending_rows = max_pending_rows
        self.metrics = metrics
        self.healthy = False
        self._queue = _Queue()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._unchecked_bytes = 0  # committed since the last checkpoint (about)
        self._checkpoint_due = threading.Event()
        self._closing = threading.Event()
        self._conn: Connection | None = None
        # Readiness: (monotonic time, why not) of the writer's last commit or probe, and
        # the probe in flight. Written by the writer thread, read on the event loop.
        self._proof: tuple[float, str | None] = (float("-inf"), None)
        self._probe: asyncio.Future[Any] | None = None
        self._second: tuple[int, str] = (-1, "")  # the last second :meth:`now` printed
        self._write_engine = self._engine(immediate=True, pool_size=1)
        self._read_engine = self._engine(immediate=False, pool_size=4)
        insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        r, f = self.tables.requests, self.tables.feedback
        # Rows go to the driver's executemany as tuples: SQLAlchemy's per-row parameter
        # processing costs more than the database's insert itself.
        mark = self._mark = "?" if self.dialect == "sqlite" else "%s"
        self._insert_sql = (
            f"INSERT INTO {r.name} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))}) "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        upsert = insert(f)
        self._upsert = upsert.on_conflict_do_update(
            index_elements=["request_id", "instance"],
            set_={"label": upsert.excluded.label, "received": upsert.excluded.received},
        )
        columns = ", ".join(("id", *COLUMNS))
        self._probe_sql = (
            f"INSERT INTO {r.name} ({columns}) VALUES ({', '.join([mark] * (len(COLUMNS) + 1))})"
        )
        beat = self.tables.heartbeat.name
        self._beat_sql = (
            f"INSERT INTO {beat} (id, beat, writer) VALUES (1, {mark}, {mark}) "
            "ON CONFLICT (id) DO UPDATE SET beat = excluded.beat, writer = excluded.writer"
        )
        self._writer_name = f"{socket.gethostname()}:{os.getpid()}"[:128]

    def _engine(self, *, immediate: bool, pool_size: int) -> Engine:
        if self.dialect != "sqlite":
            # "normal": the server acknowledges a commit before its WAL reaches disk, so a
            # killed logitkit loses nothing but a crash of the database host may.
            options = "-c synchronous_commit=" + ("on" if self.synchronous == "full" else "off")
            return create_engine(
                self.url, pool_size=pool_size, pool_pre_ping=True, connect_args={"options": options}
            )
        engine = create_engine(
            self.url,
            pool_size=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30.0},
        )
        sync = self.synchronous.upper()

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _wal_mode(cursor)
            cursor.execute(f"PRAGMA synchronous={sync}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES_MAX}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    # -------------------------------------------------------------- lifecycle
    def prepare(self) -> None:
        """Create the tables, or bring them to this code's schema version (once).

        Replicas that start together against one database take turns under the log's
        lock (see :func:`schema.migrate`).

        Raises
        ------
        ValueError
            The database cannot be reached; or it answered but the tables could not be
            created or upgraded; or it holds a log this code does not know: of a newer
            schema version (:class:`schema.SchemaVersionError`), or of the earlier
            one-row-per-instance layout (``<prefix>predictions`` as a table).
        """
        if self._prepared:
            return
        try:
            schema.prepare(self._write_engine, self.prefix, self.migrations)
        except ValueError:
            # The caller may exit without close(): leave no connection for the collector.
            self._write_engine.dispose()
            raise
        self._prepared = True

    def open(self) -> None:
        """Create the tables if needed (see :meth:`prepare`) and start the writer thread."""
        self.prepare()
        self.healthy = True
        self._stopping = False
        self._closing.clear()
        self._thread = threading.Thread(target=self._run, name="logitkit-log-writer", daemon=True)
        self._thread.start()
        if self.dialect == "sqlite":
            self._checkpointer = threading.Thread(
                target=self._checkpoints, name="logitkit-log-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the writer and close the connections."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._closing.set()
        self._checkpoint_due.set()  # wakes the checkpoint thread
        if self._checkpointer is not None:
            self._checkpointer.join(timeout)
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._write_engine.dispose()
        self._read_engine.dispose()
        self.healthy = False

    def abort_pending(self) -> int:
        """Fail every queued (not yet committing) job with 503; return how many."""
        with self._cond:
            jobs, self._queue = self._queue.jobs, _Queue()
        self._settle(jobs, LogUnavailableError("The server is shutting down; retry elsewhere."))
        return len(jobs)

    @property
    def pending_rows(self) -> int:
        """Instances queued for the next commit."""
        return self._queue.rows

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def now(self) -> Any:
        """The current UTC time as a row's ``created`` takes it (SQLite: SQLAlchemy's text form,
        ``2026-01-31 12:00:00.000001``)."""
        if self.dialect != "sqlite":
            return datetime.now(UTC)
        # Formatting a datetime costs a few microseconds per request; the text of the
        # second is kept, and only the microseconds are printed anew.
        second, rest = divmod(time.time_ns(), 1_000_000_000)
        stamp = self._second
        if stamp[0] != second:
            stamp = self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second)))
        return f"{stamp[1]}.{rest // 1000:06d}"

    # -------------------------------------------------------------- writing
    async def record(self, row: tuple[Any, ...], *, check: bool = False) -> Any:
        """Queue a request's row (a tuple in :data:`COLUMNS` order); return once committed.

        Returns
        -------
        None, or (with ``check``) the row already logged under the request id (a dict by
        column name), which the caller answers with instead of its own.

        Raises
        ------
        OverloadedError
            Too many instances are waiting already.
        LogUnavailableError
            The commit failed or the server is shutting down.
        """
        return await self._queue_job("predict", [row], check, row[_INSTANCES])

    async def feedback(self, rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
        """Store true labels (all or none); return the ``(request_id, instance)`` not logged.

        Each row has ``request_id``, ``instance`` and ``label``; the time received is added.
        """
        received = datetime.now(UTC)
        rows = [{**r, "received": received} for r in rows]
        missing: list[tuple[str, int]] = await self._queue_job("feedback", rows, False, len(rows))
        return missing

    def _queue_job(self, kind: str, rows: list[Any], check: bool, size: int) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        job = _Job(kind, rows, loop.create_future(), loop, check)
        with self._cond:
            if self._stopping:
                msg = "The server is shutting down; retry elsewhere."
                raise LogUnavailableError(msg)
            if size and self._queue.rows + size > self.max_pending_rows and self._queue.rows:
                msg = (
                    f"{self._queue.rows} logged instances are waiting for their commit; "
                    "retry shortly."
                )
                raise OverloadedError(msg)
            self._queue.jobs.append(job)
            self._queue.rows += size
            self._cond.notify()
        return job.future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue.jobs and not self._stopping:
                    self._cond.wait()
                if not self._queue.jobs:
                    return
                batch, self._queue = self._queue, _Queue()
            self._commit(batch.jobs, batch.rows)

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._write_engine.connect()
        return self._conn

    def _commit(self, jobs: list[_Job], n_rows: int) -> None:
        """Commit the batch's rows (or, for probes alone, a probe); settle every job."""
        start = time.perf_counter()
        data = [j for j in jobs if j.kind != "probe"]
        error: Exception | None = None
        try:
            conn = self._connection()
            if not data:
                self._commit_probe(conn)
            elif all(j.kind == "predict" for j in data):
                self._insert(conn, data)
            else:
                with conn.begin():
                    self._write(conn, data)
            self.healthy = True
            self._proof = (time.monotonic(), None)
            self._count_unchecked(data)
        except Exception as exc:  # noqa: BLE001 - the writer outlives any failure; the batch fails
            what = f"commit of {n_rows} rows" if data else "test commit (readiness)"
            logger.error("Prediction log %s failed: %r", what, exc)
            self.healthy = False
            why = (
                f"a commit to the prediction log failed ({type(exc).__name__}); "
                "the server's error log says why"
            )
            self._proof = (time.monotonic(), why)
            if self._conn is not None:
                self._conn.invalidate()
                self._conn = None
            error = LogUnavailableError(
                "The prediction log is unavailable, so the prediction was not recorded "
                "and is not answered; retry shortly."
            )
        if self.metrics is not None and data:
            self.metrics.observe_commit(time.perf_counter() - start, n_rows, error is None)
        self._settle(jobs, error)

    def _commit_probe(self, conn: Connection) -> None:
        """Prove that a row can be committed now, leaving none in ``<prefix>requests``.

        The insert, rolled back to its savepoint, needs what a prediction's row needs
        (the table, its locks, the rights to insert); the heartbeat row's commit then
        proves the database takes writes.
        """
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        probe = (_PROBE_ROW_ID, "", self.now(), "", 0, "[]", "[]", "[]", "[]", "[]", "[]", None)
        try:
            if self.dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("SAVEPOINT logitkit_probe")
            cursor.execute(self._probe_sql, probe)
            cursor.execute("ROLLBACK TO SAVEPOINT logitkit_probe")
            cursor.execute(self._beat_sql, (self.now(), self._writer_name))
            if self.dialect == "sqlite":
                cursor.execute("COMMIT")
            else:
                dbapi.commit()  # type: ignore[union-attr]
        finally:
            cursor.close()

    async def check_commit(
        self, timeout: float = PROBE_TIMEOUT_S, max_age: float = PROOF_TTL_S
    ) -> str | None:
        """Why a row could not be committed now, or None when one could (for readiness).

        A commit the writer finished (of rows or of a probe) within ``max_age`` seconds
        answers; otherwise a probe joins the writer's queue (one at a time: callers
        share it), and its commit answers if it comes within ``timeout`` seconds. The
        probe leaves no row in ``<prefix>requests`` (see the module docstring).

        Examples
        --------
        >>> import asyncio, os, tempfile
        >>> log = PredictionLog("sqlite:///" + os.path.join(tempfile.mkdtemp(), "p.db"))
        >>> log.open()
        >>> asyncio.run(log.check_commit()), log.count()
        (None, 0)
        >>> log.close()
        """
        if not self.alive:
            return "the prediction log's writer is not running"
        at, reason = self._proof
        if time.monotonic() - at < max_age:
            return reason
        loop = asyncio.get_running_loop()
        probe = self._probe
        if probe is None or probe.done() or probe.get_loop() is not loop:
            try:
                probe = self._probe = self._queue_job("probe", [], False, 0)
            except LogUnavailableError as exc:
                return str(exc)
            # Retrieved here, so a probe whose callers gave up is not reported unretrieved.
            probe.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.wait_for(asyncio.shield(probe), timeout)
        except TimeoutError:
            return (
                f"a test commit to the prediction log did not finish within {timeout:g} s "
                "(is its database locked, or overloaded?)"
            )
        except LogUnavailableError as exc:
            return self._proof[1] or str(exc)  # the writer's reason; else it was aborted
        return None

    def _insert(self, conn: Connection, jobs: list[_Job]) -> None:
        """Insert the rows of prediction jobs in one transaction, through the driver alone.

        SQLAlchemy's transaction handling costs more than the database's own work for
        one row. On SQLite a lone new row is one statement, its own transaction (the
        connection is in autocommit mode, and an INSERT takes the write lock when it
        starts); otherwise the rows share an immediate transaction. On PostgreSQL the
        driver opens the transaction itself.
        """
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            if self.dialect == "sqlite":
                if len(jobs) == 1 and not jobs[0].check:
                    cursor.execute(self._insert_sql, jobs[0].rows[0])
                    return
                cursor.execute("BEGIN IMMEDIATE")
            self._insert_rows(cursor, jobs)
            if self.dialect == "sqlite":
                cursor.execute("COMMIT")
            else:
                dbapi.commit()  # type: ignore[union-attr]
        finally:
            cursor.close()

    def _insert_rows(self, cursor: Any, jobs: list[_Job]) -> None:
        """Insert the jobs' rows in the open transaction; give each retry its logged row.

        A job with a client-chosen id whose row was logged before gets that row (a dict
        by column name) as its result, read in the same transaction.
        """
        rows = [j.rows[0] for j in jobs]
        cursor.executemany(self._insert_sql, rows)
        if cursor.rowcount == len(rows) or not any(j.check for j in jobs):
            return
        ids = sorted({j.rows[0][0] for j in jobs if j.check})
        marks = ", ".join([self._mark] * len(ids))
        cursor.execute(
            f"SELECT * FROM {self.tables.requests.name} WHERE request_id IN ({marks})", ids
        )
        names = [d[0] for d in cursor.description]
        found = (dict(zip(names, row, strict=True)) for row in cursor.fetchall())
        stored = {row["request_id"]: row for row in found}
        for j in jobs:
            if j.check:
                j.result = stored.get(j.rows[0][0])

    def _count_unchecked(self, jobs: list[_Job]) -> None:
        """Count what a commit added to SQLite's WAL; wake the checkpoint thread past a size."""
        if self._checkpointer is None:
            return
        size = sum(len(v) for j in jobs if j.kind == "predict" for v in j.rows[0] if type(v) is str)
        self._unchecked_bytes += size
        if self._unchecked_bytes >= _CHECKPOINT_BYTES:
            self._checkpoint_due.set()

    def _checkpoints(self) -> None:
        """Copy SQLite's WAL back into the database file, in small steps, off the commit path.

        A passive checkpoint neither waits for nor blocks the writer, and it runs in
        SQLite's C code without the GIL, on the other core if there is one. Done every
        megabyte or so, each is short, so between two commits one often completes, and
        the next commit then writes the WAL from its start again: the file stays small
        and is reused rather than grown (growing it costs each commit more).
        """
        while True:
            due = self._checkpoint_due.wait(_CHECKPOINT_AFTER_S)
            if self._closing.is_set():
                return
            if not due and not self._unchecked_bytes:
                continue
            self._checkpoint_due.clear()
            self._unchecked_bytes = 0
            try:
                with self._read_engine.connect() as conn:
                    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    cursor.close()
            except Exception as exc:  # noqa: BLE001 - commits checkpoint by themselves then
                logger.warning("Checkpoint of the prediction log failed: %r", exc)

    def _write(self, conn: Connection, jobs: list[_Job]) -> None:
        predict = [j for j in jobs if j.kind == "predict"]
        if predict:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                self._insert_rows(cursor, predict)
            finally:
                cursor.close()
        r = self.tables.requests
        for job in (j for j in jobs if j.kind == "feedback"):
            keys = {(f["request_id"], f["instance"]) for f in job.rows}
            query = select(r.c.request_id, r.c.instances).where(
                r.c.request_id.in_(sorted({rid for rid, _ in keys}))
            )
            sizes = {row[0]: row[1] for row in conn.execute(query)}
            job.result = sorted((rid, k) for rid, k in keys if not 0 <= k < sizes.get(rid, 0))
            if not job.result:
                conn.execute(self._upsert, job.rows)

    def _settle(self, jobs: Sequence[_Job], error: Exception | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, group, error)

    # -------------------------------------------------------------- reading
    def count(self) -> int:
        """Instances logged (the rows of the ``<prefix>predictions`` view)."""
        return reads.count(self._read_engine, self.tables)

    def window(self, model_version: str | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recent instances (of one model version), newest first.

        See :func:`reads.window` for what each holds.
        """
        return reads.window(self._read_engine, self.tables, model_version, limit)


def _resolve(jobs: list[_Job], error: Exception | None) -> None:
    for job in jobs:
        if job.future.done():  # the request gave up (timeout) meanwhile
            continue
        if error is None:
            job.future.set_result(job.result)
        else:
            job.future.set_exception(error)
