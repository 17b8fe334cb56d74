"""The prediction log: its tables and the group-commit writer.

A prediction is answered only after it is committed. To make that cheap, one writer
thread commits the rows of all concurrent requests together: while one transaction
commits (with its fsync), the next requests' rows queue, and the next transaction takes
them all. Under load a commit carries many rows; with one request at a time it carries
one, and nobody waits for a timer.

A request is one row of ``<prefix>requests``, whatever its number of instances: the
instances' inputs, probabilities, labels and decisions are JSON arrays in that row. A
database writes a row in microseconds, and a 1,000-instance batch as 1,000 rows costs
more than everything else the request does; as one row it costs about as much as a
single prediction. The view ``<prefix>predictions`` shows one row per instance (request
id, instance, time, model version, inputs, probability, decision, ...) for SQL.

One writer also means SQLite never sees two writers: its transactions are ``BEGIN
IMMEDIATE`` (the write lock is taken up front, so no transaction fails half-way with
"database is locked"); readers (drift, readiness) use their own connections, which WAL
lets run beside the writer. SQLite copies the WAL back into the database file
(a checkpoint) in a thread of its own, every megabyte committed, so no commit waits for
one. On PostgreSQL the same code runs on psycopg.

A retried request id stays one row: rows are keyed by ``request_id`` and inserted with
``ON CONFLICT DO NOTHING``; when a client-chosen id was already logged, the request gets
the logged answer back (or a conflict if its inputs differ).
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

import orjson
from sqlalchemy import (
    DDL,
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
    func,
    inspect,
    select,
    text,
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
    "instances_of",
    "make_tables",
]

#: A logged request, as :meth:`PredictionLog.record` takes it: a tuple in this order.
#: ``instances`` is the number of instances; ``classes`` (the class keys, in the order of
#: each instance's ``probabilities``), ``inputs`` (each instance's raw values in feature
#: order), ``probability``, ``probabilities``, ``label`` and ``decision`` are JSON arrays
#: with one element per instance.
COLUMNS = (
    "request_id",
    "created",
    "model_version",
    "instances",
    "classes",
    "inputs",
    "probability",
    "probabilities",
    "label",
    "decision",
    "threshold",
)
_INSTANCES = COLUMNS.index("instances")

#: SQLite: the checkpoint thread runs once this many bytes were committed since its last
#: run, or this many seconds after a commit; a commit checkpoints by itself past the WAL
#: pages (when the thread has not kept up: a long read held it back, say).
_CHECKPOINT_BYTES = 1_000_000
_CHECKPOINT_AFTER_S = 1.0
_WAL_PAGES_MAX = 4_096

logger = logging.getLogger("logitkit.serve")


class LogUnavailableError(Exception):
    """The row could not be committed (database down, shutting down): answer 503."""


class OverloadedError(LogUnavailableError):
    """Too many rows wait for their commit: refuse new predictions with 503."""


@dataclass(frozen=True)
class LogTables:
    """The log's tables: ``requests`` (one row per request) and ``feedback``.

    ``predictions`` names the view that shows one row per instance.
    """

    metadata: MetaData
    requests: Table
    feedback: Table
    predictions: str


# One row per instance of each logged request: the arrays of a request row, zipped.
# SQLite's json_extract reuses its parse of the same text across rows, so a request's
# 1,000 instances take about 10 ms here; PostgreSQL zips the arrays in one pass.
_SQLITE_VIEW = """\
CREATE VIEW IF NOT EXISTS {view} AS
SELECT r.id AS request_row, r.request_id, CAST(i.key AS INTEGER) AS instance, r.created,
       r.model_version, i.value AS inputs,
       json_extract(r.probability, '$[' || i.key || ']') AS probability,
       r.classes, json_extract(r.probabilities, '$[' || i.key || ']') AS probabilities,
       json_extract(r.label, '$[' || i.key || ']') AS label,
       json_extract(r.decision, '$[' || i.key || ']') AS decision, r.threshold
FROM {table} AS r, json_each(r.inputs) AS i"""
_POSTGRESQL_VIEW = """\
CREATE OR REPLACE VIEW {view} AS
SELECT r.id AS request_row, r.request_id, (e.k - 1)::integer AS instance, r.created,
       r.model_version, e.inputs::text AS inputs, e.probability::double precision AS probability,
       r.classes, e.probabilities::text AS probabilities, e.label, e.decision, r.threshold
FROM {table} AS r CROSS JOIN LATERAL ROWS FROM (
    json_array_elements(r.inputs::json), json_array_elements_text(r.probability::json),
    json_array_elements(r.probabilities::json), json_array_elements_text(r.label::json),
    json_array_elements_text(r.decision::json)
) WITH ORDINALITY AS e(inputs, probability, probabilities, label, decision, k)"""


def _ddl(statement: str) -> Any:
    return DDL(statement)  # type: ignore[no-untyped-call]


def make_tables(prefix: str = "logitkit_") -> LogTables:
    """The table definitions, ``<prefix>requests`` and ``<prefix>feedback``, and the view.

    Creating the tables (``metadata.create_all``) also creates the view
    ``<prefix>predictions``; dropping them drops it.

    Examples
    --------
    >>> tables = make_tables()
    >>> [c.name for c in tables.requests.columns][:5]
    ['id', 'request_id', 'created', 'model_version', 'instances']
    >>> tables.predictions
    'logitkit_predictions'
    """
    metadata = MetaData()
    requests = Table(
        f"{prefix}requests",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("request_id", String(128), nullable=False),
        Column("created", DateTime(timezone=True), nullable=False),
        Column("model_version", String(64), nullable=False),
        Column("instances", Integer, nullable=False, comment="number of instances"),
        Column("classes", Text, nullable=False, comment="JSON array: the order of probabilities"),
        Column("inputs", Text, nullable=False, comment="JSON array per instance, feature order"),
        Column("probability", Text, nullable=False, comment="JSON array, one per instance"),
        Column("probabilities", Text, nullable=False, comment="JSON array of arrays"),
        Column("label", Text, nullable=False, comment="JSON array, one per instance"),
        Column("decision", Text, nullable=False, comment="JSON array, one per instance"),
        Column("threshold", Double, nullable=True),
        UniqueConstraint("request_id", name=f"{prefix}requests_request_key"),
        Index(f"{prefix}requests_version", "model_version", "id"),
    )
    feedback = Table(
        f"{prefix}feedback",
        metadata,
        Column("request_id", String(128), primary_key=True),
        Column("instance", Integer, primary_key=True),
        Column("label", Text, nullable=False),
        Column("received", DateTime(timezone=True), nullable=False),
    )
    view = f"{prefix}predictions"
    names = {"view": view, "table": requests.name}
    event.listen(
        metadata, "after_create", _ddl(_SQLITE_VIEW.format(**names)).execute_if(dialect="sqlite")
    )
    event.listen(
        metadata,
        "after_create",
        _ddl(_POSTGRESQL_VIEW.format(**names)).execute_if(dialect="postgresql"),
    )
    event.listen(metadata, "before_drop", _ddl(f"DROP VIEW IF EXISTS {view}"))
    return LogTables(metadata, requests, feedback, view)


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
        Instances allowed to wait for their commit before :meth:`record` refuses more.
    metrics : Metrics, optional
        Where to count commits and their sizes.

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
        self._checkpointer: threading.Thread | None = None
        self._unchecked_bytes = 0  # committed since the last checkpoint (about)
        self._checkpoint_due = threading.Event()
        self._closing = threading.Event()
        self._conn: Connection | None = None
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
            cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES_MAX}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    # -------------------------------------------------------------- lifecycle
    def prepare(self) -> None:
        """Create the tables and the view if needed.

        Raises
        ------
        ValueError
            The database cannot be reached, or holds ``<prefix>predictions`` as a table: a
            log of an earlier layout (one row per instance), which this version neither
            reads nor extends.
        """
        view = self.tables.predictions
        where = make_url(self.url).render_as_string(hide_password=True)
        try:
            old = view in inspect(self._write_engine).get_table_names()
            if not old:
                self.tables.metadata.create_all(self._write_engine)
        except SQLAlchemyError as exc:
            msg = (
                f"Cannot open the prediction log at {where}: {str(exc).splitlines()[0]}. "
                "Check that the database is up and the URL (--db) is right."
            )
            raise ValueError(msg) from exc
        if old:
            msg = (
                f"{where} holds a table {view!r} written by an earlier version of logitkit "
                "(one row per instance). Log to a new database, or choose another "
                "--db-table-prefix; the old table is left as it is."
            )
            raise ValueError(msg)

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
        """The current UTC time as a row's ``created`` takes it (SQLite: SQLAlchemy's text form)."""
        moment = datetime.now(UTC)
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return moment

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
            if self._queue.rows + size > self.max_pending_rows and self._queue.rows:
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
        start = time.perf_counter()
        error: Exception | None = None
        try:
            conn = self._connection()
            if all(j.kind == "predict" for j in jobs):
                self._insert(conn, jobs)
            else:
                with conn.begin():
                    self._write(conn, jobs)
            self.healthy = True
            self._count_unchecked(jobs)
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
    def ping(self) -> bool:
        """Whether the database answers a query now."""
        try:
            with self._read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    def count(self) -> int:
        """Instances logged (the rows of the ``<prefix>predictions`` view)."""
        r = self.tables.requests
        with self._read_engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(r.c.instances), 0))).scalar_one())

    def window(self, model_version: str | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recent instances (of one model version), newest first.

        Each is a dict: ``request_id``, ``instance``, ``created``, ``model_version``,
        ``inputs`` (the raw values in feature order), ``probability``, ``probabilities``
        (class key -> probability), ``label``, ``decision``, ``threshold``, and ``truth``:
        the label given as feedback, or None.
        """
        r, f = self.tables.requests, self.tables.feedback
        query = select(r).order_by(r.c.id.desc())
        if model_version is not None:
            query = query.where(r.c.model_version == model_version)
        out: list[dict[str, Any]] = []
        with self._read_engine.connect() as conn:
            result = conn.execution_options(yield_per=256).execute(query).mappings()
            for row in result:
                out.extend(reversed(instances_of(row)))
                if len(out) >= limit:
                    break
            result.close()
            del out[limit:]
            if out:
                oldest = min(x["request_row"] for x in out)
                labels = (
                    select(f.c.request_id, f.c.instance, f.c.label)
                    .join(r, r.c.request_id == f.c.request_id)
                    .where(r.c.id >= oldest)
                )
                truth = {(t[0], t[1]): t[2] for t in conn.execute(labels)}
                for x in out:
                    x["truth"] = truth.get((x["request_id"], x["instance"]))
        return out


def instances_of(row: Any) -> list[dict[str, Any]]:
    """One dict per instance of a logged request row (a mapping by column name)."""
    classes = orjson.loads(row["classes"])
    columns = zip(
        orjson.loads(row["inputs"]),
        orjson.loads(row["probability"]),
        orjson.loads(row["probabilities"]),
        orjson.loads(row["label"]),
        orjson.loads(row["decision"]),
        strict=True,
    )
    return [
        {
            "request_row": row["id"],
            "request_id": row["request_id"],
            "instance": k,
            "created": row["created"],
            "model_version": row["model_version"],
            "inputs": inputs,
            "probability": probability,
            "probabilities": dict(zip(classes, proba, strict=True)),
            "label": label,
            "decision": decision,
            "threshold": row["threshold"],
        }
        for k, (inputs, probability, proba, label, decision) in enumerate(columns)
    ]


def _resolve(jobs: list[_Job], error: Exception | None) -> None:
    for job in jobs:
        if job.future.done():  # the request gave up (timeout) meanwhile
            continue
        if error is None:
            job.future.set_result(job.result)
        else:
            job.future.set_exception(error)
