"""The log's schema: versioned migrations, applied safely by replicas starting together."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from logitkit.cli import app as cli
from logitkit.serve.log import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    PredictionLog,
    SchemaVersionError,
    make_tables,
)
from tests.serve.conftest import Db, _postgres_url
from tests.serve.test_log import _row

# The log as logitkit created it before schema versions were recorded (the DDL that
# SQLAlchemy emitted for the tables of that release, and its view, for each database).
_UNVERSIONED = {
    "sqlite": [
        """CREATE TABLE {p}requests (id INTEGER NOT NULL, request_id VARCHAR(128) NOT NULL,
        created DATETIME NOT NULL, model_version VARCHAR(64) NOT NULL,
        instances INTEGER NOT NULL, classes TEXT NOT NULL, inputs TEXT NOT NULL,
        probability TEXT NOT NULL, probabilities TEXT NOT NULL, label TEXT NOT NULL,
        decision TEXT NOT NULL, threshold DOUBLE, PRIMARY KEY (id),
        CONSTRAINT {p}requests_request_key UNIQUE (request_id))""",
        "CREATE INDEX {p}requests_version ON {p}requests (model_version, id)",
        """CREATE TABLE {p}feedback (request_id VARCHAR(128) NOT NULL,
        instance INTEGER NOT NULL, label TEXT NOT NULL, received DATETIME NOT NULL,
        PRIMARY KEY (request_id, instance))""",
        """CREATE VIEW {p}predictions AS SELECT r.id AS request_row, r.request_id,
        CAST(i.key AS INTEGER) AS instance, r.created, r.model_version, i.value AS inputs,
        json_extract(r.probability, '$[' || i.key || ']') AS probability, r.classes,
        json_extract(r.probabilities, '$[' || i.key || ']') AS probabilities,
        json_extract(r.label, '$[' || i.key || ']') AS label,
        json_extract(r.decision, '$[' || i.key || ']') AS decision, r.threshold
        FROM {p}requests AS r, json_each(r.inputs) AS i""",
    ],
    "postgresql": [
        """CREATE TABLE {p}requests (id SERIAL NOT NULL, request_id VARCHAR(128) NOT NULL,
        created TIMESTAMP WITH TIME ZONE NOT NULL, model_version VARCHAR(64) NOT NULL,
        instances INTEGER NOT NULL, classes TEXT NOT NULL, inputs TEXT NOT NULL,
        probability TEXT NOT NULL, probabilities TEXT NOT NULL, label TEXT NOT NULL,
        decision TEXT NOT NULL, threshold DOUBLE PRECISION, PRIMARY KEY (id),
        CONSTRAINT {p}requests_request_key UNIQUE (request_id))""",
        "CREATE INDEX {p}requests_version ON {p}requests (model_version, id)",
        """CREATE TABLE {p}feedback (request_id VARCHAR(128) NOT NULL,
        instance INTEGER NOT NULL, label TEXT NOT NULL,
        received TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (request_id, instance))""",
        """CREATE VIEW {p}predictions AS SELECT r.id AS request_row, r.request_id,
        (e.k - 1)::integer AS instance, r.created, r.model_version, e.inputs::text AS inputs,
        e.probability::double precision AS probability, r.classes,
        e.probabilities::text AS probabilities, e.label, e.decision, r.threshold
        FROM {p}requests AS r CROSS JOIN LATERAL ROWS FROM (
        json_array_elements(r.inputs::json), json_array_elements_text(r.probability::json),
        json_array_elements(r.probabilities::json), json_array_elements_text(r.label::json),
        json_array_elements_text(r.decision::json)
        ) WITH ORDINALITY AS e(inputs, probability, probabilities, label, decision, k)""",
    ],
}
_OLD_ROW = (
    "INSERT INTO {p}requests (request_id, created, model_version, instances, classes, inputs,"
    " probability, probabilities, label, decision, threshold) VALUES ('old-1',"
    " '2025-01-02 03:04:05', 'v1', 2, '[\"a\",\"b\"]', '[[1.0],[2.0]]', '[0.25,0.5]',"
    ' \'[[0.75,0.25],[0.5,0.5]]\', \'["a","b"]\', \'["a","b"]\', 0.4)'
)


def _add_note(conn, prefix):
    conn.execute(text(f"ALTER TABLE {prefix}requests ADD COLUMN note TEXT"))


def _broken(conn, prefix):
    conn.execute(text(f"ALTER TABLE {prefix}no_such_table ADD COLUMN note TEXT"))


def _versions(db: Db) -> list[int]:
    engine = create_engine(db.url)
    try:
        with engine.connect() as conn:
            query = f"SELECT version FROM {db.prefix}schema_version ORDER BY version"
            return [r[0] for r in conn.execute(text(query))]
    finally:
        engine.dispose()


def _columns(db: Db, table: str) -> list[str]:
    engine = create_engine(db.url)
    try:
        return [c["name"] for c in inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards): what a first deployment sees."""
    url = make_url(_postgres_url())
    name = f"logitkit_schema_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# Each replica: its own process, its own PredictionLog; it says "ready" once imported and
# opens the log when told "go", so all open at the same moment.
_REPLICA = """
import sys
from logitkit.serve.log import PredictionLog
log = PredictionLog(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    log.open()
except ValueError as exc:
    print(exc, flush=True)
    sys.exit(2)
finally:
    log.close()
print("started", flush=True)
"""


@pytest.mark.slow
def test_replicas_starting_together_on_a_fresh_postgresql_all_start(fresh_postgres: str):
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", _REPLICA, fresh_postgres],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(5)
    ]
    try:
        for replica in replicas:
            assert replica.stdout is not None
            assert replica.stdout.readline().strip() == "ready"
        for replica in replicas:  # as close together as the pipes allow
            assert replica.stdin is not None
            replica.stdin.write("go\n")
            replica.stdin.flush()
        outcomes = [(r.wait(60), r.communicate()[0].strip()) for r in replicas]
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
    assert outcomes == [(0, "started")] * len(replicas)
    assert _versions(Db(fresh_postgres, "logitkit_", "postgresql")) == list(
        range(1, SCHEMA_VERSION + 1)
    )


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_many_logs_opening_at_once_in_threads_all_open(kind: str, request, tmp_path: Path):
    url = (
        request.getfixturevalue("fresh_postgres")
        if kind == "postgresql"
        else f"sqlite:///{tmp_path / 'log.db'}"
    )
    logs = [PredictionLog(url) for _ in range(8)]
    start = threading.Barrier(len(logs))
    errors: list[BaseException] = []

    def open_log(log: PredictionLog) -> None:
        start.wait()
        try:
            log.prepare()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_log, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for log in logs:
        log.close()
    assert errors == []
    assert _versions(Db(url, "logitkit_", kind)) == list(range(1, SCHEMA_VERSION + 1))


def test_the_migrated_tables_are_the_tables_the_code_uses(db: Db):
    log = PredictionLog(db.url, db.prefix)
    log.prepare()
    log.close()
    tables = make_tables(db.prefix)
    for table in tables.metadata.sorted_tables:
        assert _columns(db, table.name) == [c.name for c in table.columns], table.name
    assert _versions(db) == [m.version for m in MIGRATIONS]


def test_a_log_from_before_schema_versions_is_upgraded_keeping_its_rows(db: Db):
    engine = create_engine(db.url)
    with engine.begin() as conn:
        for statement in _UNVERSIONED[db.kind]:
            conn.execute(text(statement.format(p=db.prefix)))
        conn.execute(text(_OLD_ROW.format(p=db.prefix)))
    engine.dispose()
    log = PredictionLog(db.url, db.prefix)
    log.open()
    try:
        asyncio.run(log.record(_row(log, "new-1")))
        assert log.count() == 3
        old = [r for r in log.window(None, 10) if r["request_id"] == "old-1"]
        assert [(r["instance"], r["probability"], r["label"]) for r in old] == [
            (1, 0.5, "b"),
            (0, 0.25, "a"),
        ]
        assert asyncio.run(log.check_commit()) is None  # the heartbeat table came with v2
    finally:
        log.close()
    assert _versions(db) == list(range(1, SCHEMA_VERSION + 1))


def test_a_migration_adding_a_column_upgrades_a_log_in_use(db: Db, demo_model: Path):
    log = PredictionLog(db.url, db.prefix)
    log.open()
    asyncio.run(log.record(_row(log, "before")))
    log.close()

    newer = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "requests.note", _add_note))
    upgraded = PredictionLog(db.url, db.prefix, migrations=newer)
    upgraded.open()
    try:
        asyncio.run(upgraded.record(_row(upgraded, "after")))  # inserts name their columns
        assert [r["request_id"] for r in upgraded.window(None, 5)] == ["after", "before"]
    finally:
        upgraded.close()
    assert "note" in _columns(db, f"{db.prefix}requests")
    assert _versions(db) == list(range(1, SCHEMA_VERSION + 2))

    # This code knows one version less: it refuses the log instead of misreading it.
    older = PredictionLog(db.url, db.prefix)
    with pytest.raises(SchemaVersionError) as refused:
        older.prepare()
    older.close()
    assert (refused.value.found, refused.value.known) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(refused.value)
    assert f"versions up to {SCHEMA_VERSION}" in str(refused.value)

    # And `logitkit serve` exits 2 saying so, before it serves anything.
    args = ["serve", str(demo_model), "--db", db.url, "--db-table-prefix", db.prefix]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in result.output
    assert "check that the database is up" not in result.output.lower()


def test_a_failing_migration_says_so_and_leaves_the_log_as_it_was(db: Db):
    log = PredictionLog(db.url, db.prefix)
    log.prepare()
    log.close()
    broken = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "broken", _broken))
    log = PredictionLog(db.url, db.prefix, migrations=broken)
    with pytest.raises(ValueError, match="answered, but creating or upgrading") as failed:
        log.prepare()
    log.close()
    assert "database is up" not in str(failed.value)
    assert _versions(db) == list(range(1, SCHEMA_VERSION + 1))


def test_a_missing_sqlite_folder_is_named_not_blamed_on_a_server(tmp_path: Path):
    missing = PredictionLog(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'log.db'}")
    with pytest.raises(ValueError, match=r"SQLite file .*log\.db.*folder exists and is writable"):
        missing.prepare()
    missing.close()


def test_migrations_must_be_numbered_in_order(sqlite_db: Db):
    skipped = (*MIGRATIONS, Migration(SCHEMA_VERSION + 2, "gap", _add_note))
    log = PredictionLog(sqlite_db.url, migrations=skipped)
    with pytest.raises(ValueError, match=f"numbered 1 to {SCHEMA_VERSION + 1} in order"):
        log.prepare()
    log.close()
