"""The prediction log: where every answered prediction is committed first.

A request is one row of ``<prefix>requests``, whatever its number of instances: the
instances' inputs, probabilities, labels and decisions are JSON arrays in that row. A
database writes a row in microseconds, and a 1,000-instance batch as 1,000 rows costs
more than everything else the request does; as one row it costs about as much as a
single prediction. The view ``<prefix>predictions`` shows one row per instance (request
id, instance, time, model version, inputs, probability, decision, ...) for SQL.

The parts:

* :mod:`~logitkit.serve.log.tables` -- the tables as this code reads and writes them;
* :mod:`~logitkit.serve.log.schema` -- numbered migrations and ``<prefix>schema_version``,
  applied on start under a lock, so replicas may start together on a fresh database,
  and a log upgraded by a newer logitkit is refused, not misread;
* :mod:`~logitkit.serve.log.writer` -- :class:`PredictionLog`, the group-commit writer,
  and the commit probe readiness uses;
* :mod:`~logitkit.serve.log.reads` -- counts and the recent window (drift).

What is supported
-----------------
* **PostgreSQL**: any number of server processes, on any number of machines, sharing
  one log (one database and table prefix). Each process has one writer connection;
  rows are keyed by request id, so a retry that lands on another replica stays one row.
  Start-up migrations take an advisory lock, so replicas starting together take turns.
* **SQLite**: one machine, the database file on a local disk (not a network file
  system: WAL needs shared memory between the processes). One server process is the
  intended use; several processes on that machine may share the file, as SQLite's
  locks serialise their writers (``BEGIN IMMEDIATE`` with a 30 s busy timeout). The
  suite runs two writers and eight start-ups at once on one file; four processes
  opening a new file together and committing 500 rows each were checked to leave all
  2,000 rows, none refused. Each commit holds the file's one write lock, so writers on
  one file do not commit in parallel: for more throughput, use PostgreSQL.
"""

from logitkit.serve.log.reads import instances_of
from logitkit.serve.log.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    SchemaVersionError,
    migrate,
)
from logitkit.serve.log.tables import COLUMNS, LogTables, make_tables
from logitkit.serve.log.writer import LogUnavailableError, OverloadedError, PredictionLog

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "LogTables",
    "LogUnavailableError",
    "Migration",
    "OverloadedError",
    "PredictionLog",
    "SchemaVersionError",
    "instances_of",
    "make_tables",
    "migrate",
]
