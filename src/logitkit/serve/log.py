"""The prediction log: its tables and the group-commit writer.

A prediction is answered only after its row is committed. To make that cheap, one
writer thread commits the rows of all concurrent requests together: while one
transaction commits (with its fsync), the next requests' rows queue, and the next
transaction takes them all. Under load a commit carries many rows; with one request at
a time it carries one, and nobody waits for a timer.

One writer also means SQLite never sees two writers: its transactions are ``BEGIN
IMMEDIATE`` (the write lock is taken up front, so no transaction fails half-way with
"database is locked"); readers (drift, readiness) use their own connections, which WAL
lets run beside the writer. On PostgreSQL the same code runs on psycopg.

A retried request id stays one row: rows are keyed by ``(request_id, instance)`` and
inserted with ``ON CONFLICT DO NOTHING``; when a client-chosen id was already logged, the
request gets the logged answer back (or a conflict if its inputs differ).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from logitkit.serve.metrics import Metrics

__all__ = [
    "COLUMNS",
    "LogTables",
    "LogUnavailableError",
    "OverloadedError",
    "PredictionLog",
    "make_tables",
]

#: A prediction row, as :meth:`PredictionLog.record` takes it: a tuple in this order.
COLUMNS = (
    "request_id",
    "instance",
    "created",
    "model_version",
    "inputs",
    "probability",
    "probabilities",
    "label",
    "decision",
    "threshold",
)

logger = logging.getLogger("logitkit.serve")


class LogUnavailableError(Exception):
    """The row could not be committed (database down, shutting down): answer 503."""


class OverloadedError(LogUnavailableError):
    """Too many rows wait for their commit: refuse new predictions with 503."""


@dataclass(frozen=True)
class LogTables:
    """The log's tables: ``predictions`` (one row per instance) and ``feedback``."""

    metadata: MetaData
    predictions: Table
    feedback: Table


def make_tables(prefix: str = "logitkit_") -> LogTables:
    """The table definitions, named ``<prefix>predictions`` and ``<prefix>feedback``.

    Examples
    --------
    >>> [c.name for c in make_tables().predictions.columns][:4]
    ['id', 'request_id', 'instance', 'created']
    """
    metadata = MetaData()
    predictions = Table(
        f"{prefix}predictions",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("request_id", String(128), nullable=False),
        Column("instance", Integer, nullable=False),
        Column("created", DateTime(timezone=True), nullable=False),
        Column("model_version", String(64), nullable=False),
        Column("inputs", Text, nullable=False, comment="JSON array, the model's feature order"),
        Column("probability", Double, nullable=False),
        Column("probabilities", Text, nullable=False, comment="JSON object: class -> p"),
        Column("label", Text, nullable=False),
        Column("decision", Text, nullable=False),
        Column("threshold", Double, nullable=True),
        UniqueConstraint("request_id", "instance", name=f"{prefix}predictions_request_key"),
        Index(f"{prefix}predictions_version", "model_version", "id"),
    )
    feedback = Table(
        f"{prefix}feedback",
        metadata,
        Column("request_id", String(128), primary_key=True),
        Column("instance", Integer, primary_key=True),
        Column("label", Text, nullable=False),
        Column("received", DateTime(timezone=True), nullable=False),
    )
    return LogTables(metadata, predictions, feedback)


@dataclass
class _Job:
    kind: str  # "predict" or "feedback"
    rows: list[Any]  # prediction tuples, or feedback dicts
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    check: bool = False  # the request id was chosen by the client: look for a logged one
    result: Any = None


@dataclass
class _Queue:
    jobs: list[_Job] = field(default_factory=list)
    rows: int = 0


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
        Rows allowed to wait for a commit before :meth:`record` refuses more.
    metrics : Metrics, optional
        Where to count commits and their sizes.

    Examples
    --------
    >>> import asyncio, os, tempfile
    >>> log = PredictionLog("sqlite:///" + os.path.join(tempfile.mkdtemp(), "p.db"))
    >>> log.open()
    >>> row = ("r1", 0, log.now(), "v", "[1.0]", 0.9, '{"a":0.1,"b":0.9}', "b", "b", 0.5)
    >>> asyncio.run(log.record([row]))
    >>> log.count()
    1
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
        self.tables = make_tables(prefix)
        self.synchronous = synchronous
        self.max_pending_rows = max_pending_rows
        self.metrics = metrics
        self.healthy = False
        self._queue = _Queue()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._write_engine = self._engine(immediate=True, pool_size=1)
        self._read_engine = self._engine(immediate=False, pool_size=4)
        insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        p, f = self.tables.predictions, self.tables.feedback
        # Rows go to the driver's executemany as tuples: SQLAlchemy's per-row parameter
        # processing cost more than SQLite's insert itself (4 of 6 ms per 1,000 rows).
        mark = "?" if self.dialect == "sqlite" else "%s"
        self._insert_sql = (
            f"INSERT INTO {p.name} ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))}) "
            "ON CONFLICT (request_id, instance) DO NOTHING"
        )
        upsert = insert(f)
        self._upsert = upsert.on_conflict_do_update(
            index_elements=["request_id", "instance"],
            set_={"label": upsert.excluded.label, "received": upsert.excluded.received},
        )

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
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sync}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    # -------------------------------------------------------------- lifecycle
    def open(self) -> None:
        """Create the tables if needed and start the writer thread."""
        self.tables.metadata.create_all(self._write_engine)
        self.healthy = True
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="logitkit-log-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the writer and close the connections."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
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
        """Rows queued for the next commit."""
        return self._queue.rows

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def now(self) -> Any:
        """The current UTC time as a row's ``created`` takes it (SQLite: SQLAlchemy's text form)."""
        moment = datetime.now(UTC)
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return moment

    # -------------------------------------------------------------- writing
    async def record(self, rows: list[tuple[Any, ...]], *, check: bool = False) -> Any:
        """Queue prediction rows (tuples in :data:`COLUMNS` order); return once committed.

        Returns
        -------
        None, or (with ``check``) the rows already logged under the request id, which
        the caller answers with instead of its own.

        Raises
        ------
        OverloadedError
            Too many rows are waiting already.
        LogUnavailableError
            The commit failed or the server is shutting down.
        """
        return await self._submit("predict", rows, check)

    async def feedback(self, rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
        """Store true labels (all or none); return the ``(request_id, instance)`` not logged.

        Each row has ``request_id``, ``instance`` and ``label``; the time received is added.
        """
        received = datetime.now(UTC)
        rows = [{**r, "received": received} for r in rows]
        missing: list[tuple[str, int]] = await self._submit("feedback", rows, False)
        return missing

    async def _submit(self, kind: str, rows: list[Any], check: bool) -> Any:
        loop = asyncio.get_running_loop()
        job = _Job(kind, rows, loop.create_future(), loop, check)
        with self._cond:
            if self._stopping:
                msg = "The server is shutting down; retry elsewhere."
                raise LogUnavailableError(msg)
            if self._queue.rows + len(rows) > self.max_pending_rows and self._queue.rows:
                msg = f"{self._queue.rows} log rows are waiting for their commit; retry shortly."
                raise OverloadedError(msg)
            self._queue.jobs.append(job)
            self._queue.rows += len(rows)
            self._cond.notify()
        return await job.future

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
        start = time.perf_counter()
        error: Exception | None = None
        try:
            conn = self._connection()
            with conn.begin():
                self._write(conn, jobs)
            self.healthy = True
        except Exception as exc:  # noqa: BLE001 - the writer outlives any failure; the batch fails
            logger.error("Prediction log commit of %d rows failed: %r", n_rows, exc)
            self.healthy = False
            if self._conn is not None:
                self._conn.invalidate()
                self._conn = None
            error = LogUnavailableError(
                "The prediction log is unavailable, so the prediction was not recorded "
                "and is not answered; retry shortly."
            )
        if self.metrics is not None:
            self.metrics.observe_commit(time.perf_counter() - start, n_rows, error is None)
        self._settle(jobs, error)

    def _write(self, conn: Connection, jobs: list[_Job]) -> None:
        predict = [j for j in jobs if j.kind == "predict"]
        rows = [r for j in predict for r in j.rows]
        if rows:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(self._insert_sql, rows)
                inserted = cursor.rowcount
            finally:
                cursor.close()
            if inserted != len(rows) and any(j.check for j in predict):
                ids = {j.rows[0][0] for j in predict if j.check}
                stored = self._stored(conn, ids)
                for j in predict:
                    if j.check:
                        j.result = stored.get(j.rows[0][0])
        p = self.tables.predictions
        for job in (j for j in jobs if j.kind == "feedback"):
            keys = {(r["request_id"], r["instance"]) for r in job.rows}
            query = select(p.c.request_id, p.c.instance).where(
                tuple_(p.c.request_id, p.c.instance).in_(sorted(keys))
            )
            found = {(row[0], row[1]) for row in conn.execute(query)}
            job.result = sorted(keys - found)
            if not job.result:
                conn.execute(self._upsert, job.rows)

    def _stored(self, conn: Connection, ids: set[str]) -> dict[str, list[dict[str, Any]]]:
        p = self.tables.predictions
        query = (
            select(p).where(p.c.request_id.in_(sorted(ids))).order_by(p.c.request_id, p.c.instance)
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for row in conn.execute(query).mappings():
            out.setdefault(row["request_id"], []).append(dict(row))
        return out

    def _settle(self, jobs: Sequence[_Job], error: Exception | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, group, error)

    # -------------------------------------------------------------- reading
    def ping(self) -> bool:
        """Whether the database answers a query now."""
        try:
            with self._read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    def count(self) -> int:
        """Rows in the predictions table."""
        from sqlalchemy import func  # noqa: PLC0415

        with self._read_engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(self.tables.predictions)).scalar_one()
            )

    def window(self, model_version: str | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recent rows (of one model version), with any feedback label."""
        p, f = self.tables.predictions, self.tables.feedback
        query = (
            select(
                p.c.id,
                p.c.created,
                p.c.inputs,
                p.c.probability,
                p.c.probabilities,
                p.c.decision,
                p.c.threshold,
                p.c.model_version,
                f.c.label.label("truth"),
            )
            .select_from(
                p.outerjoin(f, (f.c.request_id == p.c.request_id) & (f.c.instance == p.c.instance))
            )
            .order_by(p.c.id.desc())
            .limit(limit)
        )
        if model_version is not None:
            query = query.where(p.c.model_version == model_version)
        with self._read_engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


def _resolve(jobs: list[_Job], error: Exception | None) -> None:
    for job in jobs:
        if job.future.done():  # the request gave up (timeout) meanwhile
            continue
        if error is None:
            job.future.set_result(job.result)
        else:
            job.future.set_exception(error)
