"""The log's tables as the code reads and writes them now (the current schema version).

:func:`make_tables` describes the tables; :mod:`~logitkit.serve.log.schema` creates and
upgrades them, one numbered migration at a time, so the shape described here is what
the last migration leaves. Each ``*_table`` function is a table as the migration that
creates it made it, and stays so: a later migration that changes a table does it in its
own DDL, and :func:`make_tables` follows (``requests.append_column(...)``, say). A test
checks that the migrated tables have exactly the columns :func:`make_tables` describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DDL,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

__all__ = ["COLUMNS", "LogTables", "make_tables", "view_sql"]

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


@dataclass(frozen=True)
class LogTables:
    """The log's tables and the name of its view.

    Attributes
    ----------
    metadata : MetaData
        All of them; ``metadata.drop_all(engine)`` removes the log (view first).
    requests : Table
        One row per logged request.
    feedback : Table
        True labels, one row per (request, instance).
    heartbeat : Table
        One row, rewritten by readiness checks to prove that a commit goes through.
    versions : Table
        The schema migrations applied, one row each.
    predictions : str
        The view that shows one row per instance.
    """

    metadata: MetaData
    requests: Table
    feedback: Table
    heartbeat: Table
    versions: Table
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


def view_sql(dialect: str, prefix: str) -> str:
    """The statement that creates the view ``<prefix>predictions`` on ``dialect``."""
    template = _SQLITE_VIEW if dialect == "sqlite" else _POSTGRESQL_VIEW
    return template.format(view=f"{prefix}predictions", table=f"{prefix}requests")


def requests_table(metadata: MetaData, prefix: str) -> Table:
    """``<prefix>requests``: one row per request, its instances as JSON arrays."""
    return Table(
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


def feedback_table(metadata: MetaData, prefix: str) -> Table:
    """``<prefix>feedback``: the true label of an instance, as last received."""
    return Table(
        f"{prefix}feedback",
        metadata,
        Column("request_id", String(128), primary_key=True),
        Column("instance", Integer, primary_key=True),
        Column("label", Text, nullable=False),
        Column("received", DateTime(timezone=True), nullable=False),
    )


def heartbeat_table(metadata: MetaData, prefix: str) -> Table:
    """``<prefix>heartbeat``: one row (``id`` 1), the last commit a readiness check made."""
    return Table(
        f"{prefix}heartbeat",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("beat", DateTime(timezone=True), nullable=False),
        Column("writer", String(128), nullable=False, comment="host and process id"),
    )


def versions_table(metadata: MetaData, prefix: str) -> Table:
    """``<prefix>schema_version``: one row per migration applied to this log."""
    return Table(
        f"{prefix}schema_version",
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("description", String(200), nullable=False),
        Column("applied", DateTime(timezone=True), nullable=False),
    )


def make_tables(prefix: str = "logitkit_") -> LogTables:
    """The log's tables as the current schema version has them, and its view's name.

    The tables are created and upgraded by :func:`~logitkit.serve.log.schema.migrate`,
    not by ``metadata.create_all``; ``metadata.drop_all`` drops the view first, then the
    tables.

    Examples
    --------
    >>> tables = make_tables()
    >>> [c.name for c in tables.requests.columns][:5]
    ['id', 'request_id', 'created', 'model_version', 'instances']
    >>> tables.predictions, tables.versions.name
    ('logitkit_predictions', 'logitkit_schema_version')
    """
    metadata = MetaData()
    requests = requests_table(metadata, prefix)
    feedback = feedback_table(metadata, prefix)
    heartbeat = heartbeat_table(metadata, prefix)
    versions = versions_table(metadata, prefix)
    view = f"{prefix}predictions"
    drop: Any = DDL(f"DROP VIEW IF EXISTS {view}")  # type: ignore[no-untyped-call]
    event.listen(metadata, "before_drop", drop)
    return LogTables(metadata, requests, feedback, heartbeat, versions, view)
