"""Kill and hot-reload checks of ``logitkit serve`` under load, shared by tests and benchmarks.

Each check starts a real server (``logitkit serve`` in a child process on 127.0.0.1),
drives bounded load at it with :mod:`benchmarks.serve_load`, acts (signals, reloads)
at a random moment, and then reads the prediction log to count what the clients were
told against what was committed: every prediction answered 200 must be in the log.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from benchmarks.serve_load import LoadReport, ServerProcess, free_port, http_request, run_load
from logitkit.serve.log import make_tables

__all__ = [
    "SCHEMATHESIS_CONFIG",
    "KillResult",
    "ReloadResult",
    "kill_under_load",
    "logged_ids",
    "predict_maker",
    "reload_under_load",
    "run_schemathesis",
]

API_KEY = "bench-key-0123456789abcdef"
ADMIN_KEY = "bench-admin-0123456789abcdef"


def predict_maker(
    names: Sequence[str], rows: Sequence[Sequence[float]], prefix: str, key: str = API_KEY
) -> Any:
    """``make(i)`` for :func:`run_load`: POST /v1/predict of row ``i % len(rows)``, id ``prefix-i``."""
    bodies = [json.dumps({"instances": [dict(zip(names, r, strict=True))]}).encode() for r in rows]

    def make(i: int) -> tuple[str, bytes]:
        request_id = f"{prefix}-{i}"
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}",
            "X-Request-ID": request_id,
        }
        return request_id, http_request("POST", "/v1/predict", bodies[i % len(bodies)], headers)

    return make


def logged_ids(db_url: str, prefix: str = "logitkit_") -> list[str]:
    """Request ids in the prediction log (one per request row)."""
    engine = create_engine(db_url)
    table = make_tables(prefix).requests
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(select(table.c.request_id))]
    finally:
        engine.dispose()


def integrity(db_url: str, prefix: str = "logitkit_") -> str:
    """SQLite's ``PRAGMA integrity_check`` (``"ok"``), or a row count check on PostgreSQL."""
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            table = make_tables(prefix).requests.name
            total = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            unique = conn.execute(
                text(f"SELECT count(DISTINCT request_id) FROM {table}")
            ).scalar_one()
            return "ok" if total == unique else f"{total} rows but {unique} distinct keys"
    finally:
        engine.dispose()


@dataclass
class KillResult:
    """One kill under load."""

    signals: str
    sent: int
    acknowledged: int
    logged: int
    missing: int  # acknowledged but not in the log: must be 0
    duplicates: int  # request ids logged twice: must be 0
    exit_code: int | None
    exit_s: float  # from the first signal to the exit
    grace_s: float
    integrity: str
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """No acknowledged prediction lost, no duplicate, a sound database, a timely exit."""
        timely = self.signals == "SIGKILL" or (
            self.exit_code is not None and self.exit_s <= self.grace_s
        )
        clean = self.signals == "SIGKILL" or self.exit_code == 0
        return (
            self.missing == 0
            and self.duplicates == 0
            and self.integrity == "ok"
            and timely
            and clean
        )


def kill_under_load(
    model: Path,
    db_url: str,
    signals: Sequence[int],
    *,
    names: Sequence[str],
    rows: Sequence[Sequence[float]],
    total: int,
    concurrency: int,
    seed: int,
    grace_s: float = 10.0,
    max_seconds: float = 60.0,
    prefix: str = "logitkit_",
    extra: Sequence[str] = (),
    log: Path | None = None,
    window_s: tuple[float, float] = (0.3, 1.5),
) -> KillResult:
    """Serve, load, send ``signals`` (0.2 s apart) at a random moment, and audit the log.

    The moment is uniform in ``window_s`` seconds after the load starts.
    """
    rng = random.Random(seed)
    port = free_port()
    server = ServerProcess.logitkit(
        model,
        port,
        "--db",
        db_url,
        "--db-table-prefix",
        prefix,
        "--grace-period",
        str(grace_s),
        *extra,
        env={"LOGITKIT_API_KEYS": API_KEY},
        log=log,
    )
    id_prefix = f"k{seed}-{int(time.time() * 1000) % 10**8}"
    reports: list[LoadReport] = []
    with server:
        make = predict_maker(names, rows, id_prefix)
        thread = threading.Thread(
            target=lambda: reports.append(
                run_load(port, make, total=total, concurrency=concurrency, max_seconds=max_seconds)
            )
        )
        thread.start()
        time.sleep(rng.uniform(*window_s))
        first = time.monotonic()
        for k, sig in enumerate(signals):
            if k:
                time.sleep(0.2)
            server.signal(sig)
        code = server.wait(grace_s + 10)
        exit_s = time.monotonic() - first
        thread.join(max_seconds + 30)
    report = reports[0]
    acknowledged = set(report.acknowledged)
    ids = [i for i in logged_ids(db_url, prefix) if i.startswith(id_prefix + "-")]
    logged = set(ids)
    names_of = {signal.SIGTERM: "SIGTERM", signal.SIGKILL: "SIGKILL", signal.SIGINT: "SIGINT"}
    return KillResult(
        signals="+".join(names_of.get(s, str(s)) for s in signals),
        sent=len(report.outcomes),
        acknowledged=len(acknowledged),
        logged=len(logged),
        missing=len(acknowledged - logged),
        duplicates=len(ids) - len(logged),
        exit_code=code,
        exit_s=exit_s,
        grace_s=grace_s,
        integrity=integrity(db_url, prefix),
        outcomes=report.statuses,
    )


@dataclass
class ReloadResult:
    """Hot reloads under load."""

    swaps: int
    sent: int
    failed: int  # answers other than 200: must be 0
    mixed: int  # answers whose probability is not their model version's: must be 0
    missing: int  # acknowledged but not logged: must be 0
    refused_tampered: bool  # a tampered artifact was refused with 422
    served_after_tamper: bool  # and the old model kept serving
    versions: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """Every request answered by exactly one model, logged, and the tampered file refused."""
        return (
            not (self.failed or self.mixed or self.missing)
            and self.refused_tampered
            and self.served_after_tamper
        )


def _post(port: int, path: str, key: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def reload_under_load(
    models: Sequence[Path],
    expected: dict[str, dict[str, float]],
    workdir: Path,
    db_url: str,
    *,
    names: Sequence[str],
    rows: Sequence[Sequence[float]],
    swaps: int,
    total: int,
    concurrency: int,
    max_seconds: float = 60.0,
    log: Path | None = None,
) -> ReloadResult:
    """Swap between ``models`` ``swaps`` times under load; then try a tampered file.

    ``expected[version][request row key]`` is each version's probability for each row
    (keyed by ``json.dumps(row)``): an answer that matches neither its own version's
    probability mixed two models.
    """
    served = workdir / "served-model.json"
    shutil.copyfile(models[0], served)
    port = free_port()
    server = ServerProcess.logitkit(
        served,
        port,
        "--db",
        db_url,
        env={"LOGITKIT_API_KEYS": API_KEY, "LOGITKIT_ADMIN_KEYS": ADMIN_KEY},
        log=log,
    )
    reports: list[LoadReport] = []
    with server:
        make = predict_maker(names, rows, f"r{int(time.time() * 1000) % 10**8}")
        thread = threading.Thread(
            target=lambda: reports.append(
                run_load(
                    port,
                    make,
                    total=total,
                    concurrency=concurrency,
                    max_seconds=max_seconds,
                    keep_bodies=True,
                )
            )
        )
        thread.start()
        done = 0
        for k in range(swaps):
            time.sleep(0.05)
            staged = workdir / "staged-model.json"
            shutil.copyfile(models[(k + 1) % len(models)], staged)
            staged.replace(served)  # atomic, as a deployment would do it
            status, _ = _post(port, "/admin/reload", ADMIN_KEY)
            done += status == 200
        thread.join(max_seconds + 30)
        before = _post(
            port,
            "/v1/predict",
            API_KEY,
            json.dumps({"instances": [dict(zip(names, rows[0], strict=True))]}).encode(),
        )
        tampered = json.loads(served.read_text())
        tampered["model"]["intercept"][0] += (
            1.0  # edited after it was written: the hash no longer fits
        )
        staged = workdir / "staged-model.json"
        staged.write_text(json.dumps(tampered))
        staged.replace(served)
        status, _ = _post(port, "/admin/reload", ADMIN_KEY)
        after = _post(
            port,
            "/v1/predict",
            API_KEY,
            json.dumps({"instances": [dict(zip(names, rows[0], strict=True))]}).encode(),
        )
    report = reports[0]
    failed = sum(o.status != 200 for o in report.outcomes)
    mixed, versions = 0, Counter[str]()
    for o in report.outcomes:
        if o.status != 200:
            continue
        answer = json.loads(o.body)
        version = answer["model_version"]
        versions[version[:12]] += 1
        row = rows[int(o.request_id.rsplit("-", 1)[1]) % len(rows)]
        mixed += (
            abs(expected[version][json.dumps(list(row))] - answer["predictions"][0]["probability"])
            > 1e-12
        )
    acknowledged = set(report.acknowledged)
    missing = len(acknowledged - set(logged_ids(db_url)))
    return ReloadResult(
        swaps=done,
        sent=len(report.outcomes),
        failed=failed,
        mixed=mixed,
        missing=missing,
        refused_tampered=status == 422,
        served_after_tamper=after[0] == 200
        and after[1]["model_version"] == before[1]["model_version"],
        versions=versions,
    )


#: Two statuses schemathesis's defaults do not list: 413 rejects a body over the size
#: limit (its negative examples of big batches are megabytes), and the Open Inference
#: Protocol answers schema-valid tensors that do not fit the model with 400, as it asks.
SCHEMATHESIS_CONFIG = """\
[checks.negative_data_rejection]
# A body over the size limit is refused with 413 (RFC 9110, 15.5.14) before it is parsed.
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]

[[operations]]
include-path-regex = "^/v2/models/.+/infer$"
# The protocol answers tensors that do not fit the model with 400 and an error.
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 404, 409]
"""


@dataclass(frozen=True)
class SchemathesisResult:
    """A schemathesis run: exit status, test cases generated, failures, and its output."""

    returncode: int
    generated: int
    failures: int
    operations: int
    output: str


def run_schemathesis(
    url: str, key: str, workdir: Path, examples: int, seed: int = 1
) -> SchemathesisResult:
    """``schemathesis run`` with every check against ``url``'s live OpenAPI schema."""
    config = workdir / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--header",
        f"Authorization: Bearer {key}",
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--output-truncate",
        "true",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False, cwd=workdir
    )
    out = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", out)
    found = re.search(r"found (\d+) unique failure", out)
    tested = re.search(r"Tested: (\d+)", out)
    return SchemathesisResult(
        done.returncode,
        int(generated.group(1)) if generated else 0,
        int(found.group(1)) if found else 0,
        int(tested.group(1)) if tested else 0,
        out,
    )
