"""Fixtures of the service tests: a trained demo model, log databases, live servers.

Servers are real: uvicorn on 127.0.0.1 on a free port, in a thread of the test process
(:class:`LiveServer`) or, for signals, in a child process. The log is a SQLite file,
or the PostgreSQL database named by ``LOGITKIT_TEST_POSTGRES_URL`` (tables with a
unique prefix per test, dropped afterwards); without that variable the PostgreSQL
cases are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from logitkit.cli import app as cli
from logitkit.data.demo import DEMO_TARGET, load_demo
from logitkit.serve.log import make_tables

POSTGRES_ENV = "LOGITKIT_TEST_POSTGRES_URL"
API_KEY = "test-api-key-0123456789"
ADMIN_KEY = "test-admin-key-0123456789"


@dataclass(frozen=True)
class Db:
    """A prediction log location: URL and table prefix."""

    url: str
    prefix: str
    kind: str


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast-cancer demo artifact (policy: recall >= 0.995 for malignant)."""
    out = tmp_path_factory.mktemp("model") / "model.json"
    result = CliRunner().invoke(cli, ["train", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def demo_rows() -> tuple[list[str], list[list[float]]]:
    """Feature names and the demo's rows (as plain floats)."""
    frame = load_demo().drop(columns=[DEMO_TARGET])
    return [str(c) for c in frame.columns], frame.to_numpy(dtype=float).tolist()


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    return url


def _drop(url: str, prefix: str) -> None:
    engine = create_engine(url)
    try:
        make_tables(prefix).metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh prediction log: a SQLite file, or unique tables on PostgreSQL."""
    if request.param == "sqlite":
        yield Db(f"sqlite:///{tmp_path / 'log.db'}", "logitkit_", "sqlite")
        return
    url = _postgres_url()
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield Db(url, prefix, "postgresql")
    _drop(url, prefix)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Db:
    """A fresh SQLite prediction log."""
    return Db(f"sqlite:///{tmp_path / 'log.db'}", "logitkit_", "sqlite")


@pytest.fixture
def postgres_db() -> Iterator[Db]:
    """Unique tables on the test PostgreSQL (skipped without it)."""
    url = _postgres_url()
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield Db(url, prefix, "postgresql")
    _drop(url, prefix)
