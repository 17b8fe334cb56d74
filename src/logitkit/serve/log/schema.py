"""Creating and upgrading the log's tables: numbered migrations, applied under a lock.

``<prefix>schema_version`` records each migration applied (its number, what it did and
when). On start, every replica runs :func:`migrate` in one transaction that first takes
the log's lock -- on PostgreSQL an advisory lock keyed by the table prefix
(``pg_advisory_xact_lock``), on SQLite the database's write lock (``BEGIN IMMEDIATE``) --
then reads the version and applies the missing migrations in order. Replicas starting
together therefore queue on the lock: the first creates the tables, the others find
them made. Both databases run DDL inside transactions, so a migration that fails leaves
the log as it was.

A log whose version is newer than the code knows (a newer logitkit upgraded it) is
refused with :class:`SchemaVersionError`; a log created before versions were recorded
(the tables of version 1, no ``schema_version`` table) is taken as version 1.

To change the schema, append a :class:`Migration` to :data:`MIGRATIONS` (its DDL, in
its own function) and describe the result in :func:`~logitkit.serve.log.tables.make_tables`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from logitkit import __version__
from logitkit.serve.log.tables import (
    feedback_table,
    heartbeat_table,
    requests_table,
    versions_table,
    view_sql,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "SchemaVersionError", "migrate", "prepare"]

logger = logging.getLogger("logitkit.serve")


@dataclass(frozen=True)
class Migration:
    """One step of the schema: ``apply(connection, prefix)`` runs its DDL.

    Examples
    --------
    >>> from sqlalchemy import text
    >>> def add_note(conn, prefix):
    ...     conn.execute(text(f"ALTER TABLE {prefix}requests ADD COLUMN note TEXT"))
    >>> Migration(3, "requests.note: a free-text note", add_note).version
    3
    """

    version: int
    description: str
    apply: Callable[[Connection, str], None]


class SchemaVersionError(ValueError):
    """The log's schema is newer than this code knows: it neither reads nor writes it.

    Attributes
    ----------
    found, known : int
        The log's schema version, and the newest this code knows.
    """

    def __init__(self, message: str, found: int, known: int) -> None:
        super().__init__(message)
        self.found = found
        self.known = known


def _create_v1(conn: Connection, prefix: str) -> None:
    metadata = MetaData()
    requests_table(metadata, prefix)
    feedback_table(metadata, prefix)
    metadata.create_all(conn, checkfirst=False)
    conn.exec_driver_sql(view_sql(conn.dialect.name, prefix))


def _create_heartbeat(conn: Connection, prefix: str) -> None:
    heartbeat_table(MetaData(), prefix).create(conn, checkfirst=False)


#: Every schema change, in order; a log at version ``n`` has had the first ``n`` applied.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests and feedback tables, predictions view", _create_v1),
    Migration(2, "heartbeat table: readiness proves a commit there", _create_heartbeat),
)
#: The schema version this code reads and writes.
SCHEMA_VERSION = MIGRATIONS[-1].version


def lock_key(prefix: str) -> int:
    """The PostgreSQL advisory lock of the log with this table prefix (a signed 64-bit key)."""
    digest = hashlib.sha256(f"logitkit prediction log {prefix}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _found_version(conn: Connection, prefix: str) -> tuple[int, bool]:
    """The log's version (0: no log; 1: a log from before versions) and whether it is recorded."""
    names = set(inspect(conn).get_table_names())
    if f"{prefix}predictions" in names:
        where = conn.engine.url.render_as_string(hide_password=True)
        msg = (
            f"{where} holds a table '{prefix}predictions' written by an earlier version of "
            "logitkit (one row per instance). Log to a new database, or choose another "
            "--db-table-prefix; the old table is left as it is."
        )
        raise ValueError(msg)
    versions = versions_table(MetaData(), prefix)
    if versions.name in names:
        found = conn.execute(select(func.coalesce(func.max(versions.c.version), 0))).scalar_one()
        return int(found), True
    return (1 if f"{prefix}requests" in names else 0), False


def migrate(
    conn: Connection, prefix: str, migrations: Sequence[Migration] = MIGRATIONS
) -> tuple[int, int]:
    """Bring the log to the last of ``migrations``, in the caller's transaction.

    The caller's transaction holds SQLite's write lock (``BEGIN IMMEDIATE``); on
    PostgreSQL this takes the log's advisory lock first, released at commit.

    Parameters
    ----------
    conn : Connection
        In a transaction, which the caller commits.
    prefix : str
        The log's table prefix.
    migrations : sequence of Migration
        Numbered 1, 2, ... in order (default: :data:`MIGRATIONS`).

    Returns
    -------
    tuple of int
        The schema version found, and the version now.

    Raises
    ------
    SchemaVersionError
        The log is at a version past the last of ``migrations``.
    ValueError
        The log holds tables of the earlier, unversioned layout.
    """
    known = len(migrations)
    if [m.version for m in migrations] != list(range(1, known + 1)):
        msg = f"Migrations must be numbered 1 to {known} in order."
        raise ValueError(msg)
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(prefix))))
    found, recorded = _found_version(conn, prefix)
    if found > known:
        where = conn.engine.url.render_as_string(hide_password=True)
        msg = (
            f"The prediction log at {where} (tables {prefix}*) has schema version {found}; "
            f"logitkit {__version__} knows versions up to {known}. A newer logitkit upgraded "
            "it: run that version here too (all replicas sharing a log must know its "
            "schema), or log to another database or --db-table-prefix."
        )
        raise SchemaVersionError(msg, found, known)
    versions = versions_table(MetaData(), prefix)
    now = datetime.now(UTC)
    if not recorded:
        versions.create(conn, checkfirst=False)
        if found:  # created before versions were recorded: the tables of version 1
            row = {"version": 1, "description": "found (created unversioned)", "applied": now}
            conn.execute(versions.insert(), [row])
    for step in migrations[found:]:
        step.apply(conn, prefix)
        row = {"version": step.version, "description": step.description, "applied": now}
        conn.execute(versions.insert(), [row])
    if found < known:
        logger.info("Prediction log %s*: schema version %d -> %d.", prefix, found, known)
    return found, known


def _cause(exc: SQLAlchemyError) -> str:
    """The driver's message (first line), without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).splitlines()[0]


def prepare(engine: Engine, prefix: str, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Connect and :func:`migrate` in one transaction; fail with a message that says which step.

    Raises
    ------
    ValueError
        The database cannot be reached (or the SQLite file opened); or it answered but
        the tables could not be created or upgraded; or :func:`migrate` refused the log.
    """
    where = engine.url.render_as_string(hide_password=True)
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        cause = _cause(exc)
        if engine.dialect.name == "sqlite":
            msg = (
                f"Cannot open the prediction log's SQLite file {engine.url.database}: {cause}. "
                "Check that its folder exists and is writable (--db)."
            )
        else:
            msg = (
                f"Cannot reach the prediction log's database at {where}: {cause}. "
                "Check that the database is up and the URL (--db) is right."
            )
        raise ValueError(msg) from exc
    try:
        with conn, conn.begin():
            migrate(conn, prefix, migrations)
    except SQLAlchemyError as exc:
        cause = _cause(exc)
        msg = (
            f"The prediction log's database at {where} answered, but creating or upgrading "
            f"its tables ({prefix}*) to schema version {len(migrations)} failed: {cause}. "
            "Check that the database user may create and alter tables there."
        )
        raise ValueError(msg) from exc
