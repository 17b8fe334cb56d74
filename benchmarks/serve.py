"""Serving benchmark: ``logitkit serve`` beside a baseline FastAPI service, and its kill tests.

Run ``python -m benchmarks.serve [--smoke] [--out FILE] [--skip-kill] [--schemathesis N]``.

Everything runs on 127.0.0.1 in this run, each server in its own process with one
worker, driven by the same load generator (:mod:`benchmarks.serve_load`, asyncio with
one keep-alive connection per client):

- **Throughput and latency** at concurrency 1, 16 and 64 for the baseline (a synchronous
  FastAPI endpoint, joblib-pickled scikit-learn ``StandardScaler`` and
  ``LogisticRegression``, ``predict`` per request, a list of 30 floats in, nothing
  logged: :mod:`benchmarks.serve_baseline`) and for ``logitkit serve`` on the same
  data, which answers each prediction only after its row is committed to the log:
  SQLite with ``synchronous=FULL`` (an fsync per group commit: survives power loss, the
  default), SQLite with ``synchronous=NORMAL`` (survives a killed process), and
  PostgreSQL when ``LOGITKIT_TEST_POSTGRES_URL`` names one. Errors are answers other
  than 200 and broken connections; log rows are counted in the database.
- **A 1,000-row batch**, as /v1/predict objects and as one Open Inference Protocol
  tensor: the server's own ``Server-Timing`` (read, parse, compute, log: waiting for the
  commit of the request's row, answer, total) and the client's latency.
- **Kill tests**: 50,000 requests at concurrency 16 per run, and at a random moment
  SIGTERM, two SIGTERMs 0.2 s apart, or SIGKILL, three runs each; every prediction
  answered 200 must be in the log, no id twice, ``PRAGMA integrity_check`` "ok", and
  after SIGTERM an exit with status 0 within the grace period.
- **Hot reload**: 20 swaps between two models under load; no failed request, no answer
  mixing two models, no lost row; then a tampered file is refused while the old model
  keeps serving.
- **schemathesis** against the live OpenAPI schema, all checks, N examples per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import (
    RESULTS_PATH,
    cpu_snapshot,
    machine_lines,
    markdown_table,
    replace_section,
)
from benchmarks.serve_checks import (
    API_KEY,
    KillResult,
    ReloadResult,
    SchemathesisResult,
    kill_under_load,
    logged_ids,
    predict_maker,
    reload_under_load,
    run_schemathesis,
)
from benchmarks.serve_load import (
    LoadReport,
    ServerProcess,
    free_port,
    http_request,
    percentile,
    run_load,
)

SECTION = "benchmarks.serve"
PACKAGES = (
    "logitkit",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "psycopg",
    "scikit-learn",
    "numpy",
)
CONCURRENCY = (1, 16, 64)


@dataclass(frozen=True)
class LoadRow:
    """One server at one concurrency."""

    server: str
    concurrency: int
    report: LoadReport
    rows_written: int | None

    @property
    def errors(self) -> int:
        """Answers other than 200, and requests without an answer."""
        return sum(o.status != 200 for o in self.report.outcomes)


def _demo() -> tuple[list[str], list[list[float]], list[str]]:
    from logitkit.data.demo import DEMO_TARGET, load_demo

    frame = load_demo()
    y = frame[DEMO_TARGET].astype(str).tolist()
    X = frame.drop(columns=[DEMO_TARGET])
    return [str(c) for c in X.columns], X.to_numpy(dtype=float).tolist(), y


def _baseline_maker(rows: Sequence[Sequence[float]]) -> Callable[[int], tuple[str, bytes]]:
    bodies = [json.dumps({"features": list(r)}).encode() for r in rows]

    def make(i: int) -> tuple[str, bytes]:
        return f"b-{i}", http_request(
            "POST", "/predict", bodies[i % len(bodies)], {"Content-Type": "application/json"}
        )

    return make


def _count(db_url: str | None, prefix: str) -> int | None:
    return None if db_url is None else len(logged_ids(db_url, prefix))


def load_rows(
    label: str,
    server: ServerProcess,
    maker: Callable[[str], Callable[[int], tuple[str, bytes]]],
    db_url: str | None,
    prefix: str,
    *,
    requests: dict[int, int],
    max_seconds: float,
) -> list[LoadRow]:
    """Warm up, then one bounded run per concurrency (request ids unique to each run)."""
    out = []
    with server:
        run_load(server.port, maker("warm"), total=300, concurrency=8, max_seconds=10)
        for c in CONCURRENCY:
            before = _count(db_url, prefix)
            report = run_load(
                server.port,
                maker(f"c{c}"),
                total=requests[c],
                concurrency=c,
                max_seconds=max_seconds,
            )
            after = _count(db_url, prefix)
            written = None if before is None or after is None else after - before
            out.append(LoadRow(label, c, report, written))
    return out


@dataclass(frozen=True)
class BatchResult:
    """1,000-instance requests in one format: the server's ``Server-Timing`` parts and the client's latency (ms)."""

    label: str
    body_bytes: int
    parts: dict[str, list[float]]
    client_ms: list[float]
    process_medians: list[float] = field(default_factory=list)  # of ``total``, per server


def batch_bodies(
    names: Sequence[str], rows: Sequence[Sequence[float]]
) -> dict[str, tuple[str, bytes]]:
    """The same 1,000 instances as /v1/predict objects and as one Open Inference Protocol tensor."""
    picked = [list(rows[k % len(rows)]) for k in range(1000)]
    v1 = json.dumps({"instances": [dict(zip(names, r, strict=True)) for r in picked]}).encode()
    tensor = {"name": "input", "shape": [1000, len(names)], "datatype": "FP64", "data": picked}
    v2 = json.dumps({"inputs": [tensor]}).encode()
    return {
        "/v1/predict, named-feature objects": ("/v1/predict", v1),
        "/v2 infer, one FP64 tensor [1000, 30]": ("/v2/models/model/infer", v2),
    }


def batch_timing(
    model: Path,
    work: Path,
    names: Sequence[str],
    rows: Sequence[Sequence[float]],
    repeats: int,
    processes: int = 3,
) -> list[BatchResult]:
    """Time 1,000-instance predictions in each body format: sequential, after 3 untimed.

    Each of ``processes`` fresh servers (logging to its own SQLite file in ``work``) takes
    ``repeats`` requests per format: on a shared VM one process can run its threads
    slower than the next for its whole life, so one server's median is not the machine's.
    """
    bodies = batch_bodies(names, rows)
    out = {label: BatchResult(label, len(body), {}, []) for label, (_, body) in bodies.items()}
    for process in range(processes):
        port = free_port()
        db_url = f"sqlite:///{work / f'batch-{process}.db'}"
        env = {"LOGITKIT_API_KEYS": API_KEY}
        with ServerProcess.logitkit(model, port, "--db", db_url, env=env):
            for label, (path, body) in bodies.items():
                result = out[label]
                totals = []
                for k in range(repeats + 3):
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}{path}",
                        data=body,
                        method="POST",
                        headers={
                            "Content-Type": "application/json",
                            "Authorization": f"Bearer {API_KEY}",
                        },
                    )
                    start = time.perf_counter()
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        answer.read()
                        timing = answer.headers["Server-Timing"]
                    elapsed = (time.perf_counter() - start) * 1e3
                    if k < 3:  # warm-up
                        continue
                    result.client_ms.append(elapsed)
                    for part in timing.split(","):
                        name, value = part.strip().split(";dur=")
                        result.parts.setdefault(name, []).append(float(value))
                    totals.append(result.parts["total"][-1])
                result.process_medians.append(statistics.median(totals))
    return list(out.values())


def batch_table(results: Sequence[BatchResult]) -> str:
    """Median (p99) milliseconds of each part of the server's time, and the client's."""
    names = ("read", "parse", "compute", "log", "answer", "total")
    header = ["request", "body", *names, "total p90", "client", "total per server"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r.label, f"{r.body_bytes / 1e3:,.0f} KB"]
        cells += [
            f"{statistics.median(r.parts[n]):.2f} ({percentile(r.parts[n], 0.99):.2f})"
            for n in names
        ]
        cells.append(f"{percentile(r.parts['total'], 0.90):.2f}")
        cells.append(f"{statistics.median(r.client_ms):.2f} ({percentile(r.client_ms, 0.99):.2f})")
        cells.append(", ".join(f"{m:.2f}" for m in r.process_medians))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def load_table(rows: Sequence[LoadRow]) -> str:
    headers = [
        "server",
        "concurrency",
        "requests",
        "throughput",
        "p50",
        "p99",
        "errors",
        "log rows written",
    ]
    body = [
        [
            r.server,
            str(r.concurrency),
            str(len(r.report.outcomes)),
            f"{r.report.throughput:,.0f} req/s",
            _ms(r.report.latency(0.5)),
            _ms(r.report.latency(0.99)),
            str(r.errors),
            "-" if r.rows_written is None else f"{r.rows_written:,}",
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def load_summary(rows: Sequence[LoadRow]) -> list[str]:
    by = {(r.server, r.concurrency): r for r in rows}
    base = by.get((BASELINE, 16))
    lines = []
    for server in dict.fromkeys(r.server for r in rows):
        if server == BASELINE or base is None:
            continue
        r16, r1, r64 = by[(server, 16)], by[(server, 1)], by[(server, 64)]
        ratio = r16.report.throughput / base.report.throughput if base.report.throughput else 0.0
        lines.append(
            f"- {server}: at concurrency 16 **{ratio:.2f}x** the baseline's throughput (target >= 3x: "
            f"{'met' if ratio >= 3 else 'not met'}); p99 at concurrency 1 {_ms(r1.report.latency(0.99))} "
            f"(target < 10 ms: {'met' if r1.report.latency(0.99) < 0.010 else 'not met'}); errors at 64: "
            f"{r64.errors} (target 0); every answered prediction logged: "
            f"{'yes' if all(r.rows_written is not None and r.rows_written >= len(r.report.acknowledged) for r in (r1, r16, r64)) else 'no'}."
        )
    return lines


def kill_table(results: Sequence[KillResult]) -> str:
    headers = [
        "signals",
        "sent",
        "answered 200",
        "in the log",
        "missing",
        "duplicates",
        "exit",
        "exit after",
        "integrity",
        "other outcomes",
    ]
    body = []
    for r in results:
        other = ", ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items()) if k != "200") or "-"
        body.append(
            [
                r.signals,
                f"{r.sent:,}",
                f"{r.acknowledged:,}",
                f"{r.logged:,}",
                str(r.missing),
                str(r.duplicates),
                str(r.exit_code),
                f"{r.exit_s:.2f} s",
                r.integrity,
                other,
            ]
        )
    return markdown_table(headers, body)


BASELINE = "baseline (FastAPI + joblib scikit-learn, nothing logged)"


def run(
    *,
    smoke: bool,
    out: Path | None,
    kill: bool = True,
    schemathesis_examples: int = 300,
    echo: Callable[[str], None] = print,
) -> str:
    """Run everything, print the report, and (with ``out``) write its section."""
    start = cpu_snapshot()
    names, rows, y = _demo()
    postgres = None if smoke else os.environ.get("LOGITKIT_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="logitkit-serve-bench-") as tmp:
        work = Path(tmp)
        model = work / "model.json"
        from typer.testing import CliRunner

        from benchmarks.serve_baseline import fit_and_dump
        from logitkit.cli import app

        result = CliRunner().invoke(app, ["train", "--quiet", "--out", str(model)])
        if result.exit_code != 0:
            raise RuntimeError(result.output)
        baseline_env = fit_and_dump(rows, y, work)
        requests = {1: 100, 16: 400, 64: 400} if smoke else {1: 3000, 16: 20000, 64: 20000}
        max_seconds = 5.0 if smoke else 20.0

        def make(tag: str) -> Callable[[int], tuple[str, bytes]]:
            return predict_maker(names, rows[:100], f"bench-{tag}")

        echo("throughput: baseline ...")
        port = free_port()
        baseline = ServerProcess(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.serve_baseline:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            port,
            env=baseline_env,
            ready_path="/docs",
        )
        loads = load_rows(
            BASELINE,
            baseline,
            lambda _tag: _baseline_maker(rows[:100]),
            None,
            "",
            requests=requests,
            max_seconds=max_seconds,
        )
        variants = [
            ("logitkit, SQLite synchronous=FULL (default)", f"sqlite:///{work / 'full.db'}", []),
            (
                "logitkit, SQLite synchronous=NORMAL",
                f"sqlite:///{work / 'normal.db'}",
                ["--db-sync", "normal"],
            ),
        ]
        if postgres:
            stamp = int(time.time())
            variants += [
                (
                    "logitkit, PostgreSQL synchronous_commit=on",
                    postgres,
                    ["--db-table-prefix", f"b{stamp}a_"],
                ),
                (
                    "logitkit, PostgreSQL synchronous_commit=off",
                    postgres,
                    ["--db-table-prefix", f"b{stamp}b_", "--db-sync", "normal"],
                ),
            ]
        for label, db, extra in variants:
            echo(f"throughput: {label} ...")
            port = free_port()
            prefix = extra[1] if extra[:1] == ["--db-table-prefix"] else "logitkit_"
            server = ServerProcess.logitkit(
                model,
                port,
                "--db",
                db,
                *extra,
                "--log-level",
                "warning",
                env={"LOGITKIT_API_KEYS": API_KEY},
            )
            loads += load_rows(
                label, server, make, db, prefix, requests=requests, max_seconds=max_seconds
            )
            if prefix != "logitkit_":
                _drop(db, prefix)
        echo("1,000-row batch ...")
        batch = batch_timing(
            model, work, names, rows, 3 if smoke else 200, processes=1 if smoke else 3
        )
        kills: list[KillResult] = []
        reload_result: ReloadResult | None = None
        if kill:
            plans = {
                "SIGTERM": [signal.SIGTERM],
                "SIGTERM+SIGTERM": [signal.SIGTERM, signal.SIGTERM],
                "SIGKILL": [signal.SIGKILL],
            }
            for name, plan in plans.items():
                for seed in range(1 if smoke else 3):
                    echo(f"kill test {name} #{seed + 1} ...")
                    db = work / f"kill-{name}-{seed}.db"
                    kills.append(
                        kill_under_load(
                            model,
                            f"sqlite:///{db}",
                            plan,
                            names=names,
                            rows=rows[:100],
                            total=2000 if smoke else 50_000,
                            concurrency=16,
                            seed=seed + 11,
                            grace_s=10.0,
                            max_seconds=30 if smoke else 120,
                            window_s=(0.3, 1.5) if smoke else (1.0, 12.0),
                        )
                    )
            echo("hot reload ...")
            reload_result = _reload(
                work,
                model,
                names,
                rows,
                y,
                swaps=3 if smoke else 20,
                total=1500 if smoke else 20_000,
            )
        st: SchemathesisResult | None = None
        if schemathesis_examples:
            echo(f"schemathesis, {schemathesis_examples} examples per operation ...")
            st = _schemathesis(model, work, schemathesis_examples)
    text = report(loads, batch, kills, reload_result, st, smoke=smoke, start=start)
    echo(text)
    if out is not None:
        replace_section(out, SECTION, text)
        echo(f"wrote the {SECTION} section of {out}")
    return text


def _drop(url: str, prefix: str) -> None:
    from sqlalchemy import create_engine

    from logitkit.serve.log import make_tables

    engine = create_engine(url)
    make_tables(prefix).metadata.drop_all(engine)
    engine.dispose()


def _reload(
    work: Path,
    model: Path,
    names: list[str],
    rows: list[list[float]],
    y: list[str],
    *,
    swaps: int,
    total: int,
) -> ReloadResult:
    import pandas as pd

    import logitkit
    from logitkit.serve.predictor import load_predictor

    other = work / "other.json"
    content = json.loads(model.read_text())
    logitkit.save(
        logitkit.LogisticModel(C=0.05).fit(pd.DataFrame(rows, columns=names), y),
        other,
        policy=content["policy"],
    )
    sample = rows[:100]
    expected = {}
    for path in (model, other):
        predictor = load_predictor(path, name="m")
        proba = predictor.predict(
            predictor.inputs.matrix([dict(zip(names, r, strict=True)) for r in sample])
        ).probability
        expected[predictor.version] = {
            json.dumps(r): float(p) for r, p in zip(sample, proba, strict=True)
        }
    return reload_under_load(
        [model, other],
        expected,
        work,
        f"sqlite:///{work / 'reload.db'}",
        names=names,
        rows=sample,
        swaps=swaps,
        total=total,
        concurrency=16,
        max_seconds=60,
    )


def _schemathesis(model: Path, work: Path, examples: int) -> SchemathesisResult:
    port = free_port()
    key = API_KEY
    server = ServerProcess.logitkit(
        model,
        port,
        "--db",
        f"sqlite:///{work / 'st.db'}",
        "--max-batch",
        "100",
        env={"LOGITKIT_API_KEYS": key, "LOGITKIT_ADMIN_KEYS": key},
    )
    with server:
        return run_schemathesis(f"http://127.0.0.1:{port}", key, work, examples)


def report(
    loads: Sequence[LoadRow],
    batch: Sequence[BatchResult],
    kills: Sequence[KillResult],
    reload_result: ReloadResult | None,
    st: SchemathesisResult | None,
    *,
    smoke: bool,
    start: object,
) -> str:
    """The Markdown section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Serving: `python -m benchmarks.serve`" + (" (smoke sizes)" if smoke else ""),
        "",
        f"Run {when}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES, start)),  # type: ignore[arg-type]
        "",
        (
            "Loopback, one worker per server, the same load generator (asyncio, one keep-alive "
            "connection per client, sharing the machine with the server), single-instance "
            "requests; logitkit answers only after the prediction's row is committed "
            "(group commit); the baseline logs nothing. Latencies are of 200 answers."
        ),
        "",
        "### Throughput and latency",
        "",
        load_table(loads),
        "",
        *load_summary(loads),
        "",
        "### A 1,000-row batch",
        "",
        (
            f"Server time from the request's first byte to its answer encoded (Server-Timing "
            f"`total`), which includes waiting for the commit of the request's log row "
            f"(`log`): median (p99) ms over {len(batch[0].client_ms)} sequential requests, "
            f"{len(batch[0].process_medians)} fresh server processes taking an equal share "
            "(their medians of `total` are in the last column). "
            "`compute`: print the log row (inputs, probabilities, decisions); "
            "`answer`: predict, then build and encode the answer; the client's latency adds sending the "
            "body and reading the answer."
        ),
        "",
        batch_table(batch),
        "",
        *(
            f"- {b.label}: median server time {statistics.median(b.parts['total']):.2f} ms, "
            f"p90 {percentile(b.parts['total'], 0.90):.2f} ms (target < 5 ms: "
            f"{'met' if statistics.median(b.parts['total']) < 5 else 'not met'})."
            for b in batch
        ),
    ]
    if kills:
        ok = all(k.ok for k in kills)
        lines += [
            "",
            "### Kill tests under load",
            "",
            (
                f"{kills[0].sent if smoke else 50_000:,} requests per run at concurrency 16 (bounded), signal at a "
                'random moment. "closed"/"refused": requests sent on a connection the server was '
                "closing, or after it stopped listening (not read by it: never answered, never logged)."
            ),
            "",
            kill_table(kills),
            "",
            f"All runs: {'no acknowledged prediction missing, no duplicate, integrity ok, clean exits within the grace period' if ok else 'FAILED, see the table'}.",
        ]
    if reload_result is not None:
        r = reload_result
        versions = ", ".join(f"{v}: {n:,}" for v, n in r.versions.items())
        lines += [
            "",
            "### Hot reload under load",
            "",
            (
                f"{r.swaps} swaps during {r.sent:,} requests (answers by version: {versions}): {r.failed} failed, "
                f"{r.mixed} mixing two models, {r.missing} acknowledged but not logged; a tampered artifact "
                f"{'was refused (422)' if r.refused_tampered else 'was NOT refused'} and the previous model "
                f"{'kept serving' if r.served_after_tamper else 'did NOT keep serving'}."
            ),
        ]
    if st is not None:
        lines += [
            "",
            "### schemathesis",
            "",
            (
                f"{st.operations} operations, all checks, {st.generated:,} test cases generated: "
                f"{st.failures} failures (exit status {st.returncode})."
            ),
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.serve [--smoke] [--out FILE] [--skip-kill] [--schemathesis N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, well under a minute")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS_PATH} for a full run; smoke runs write nothing unless given)",
    )
    parser.add_argument("--skip-kill", action="store_true", help="no kill or reload tests")
    parser.add_argument(
        "--schemathesis",
        type=int,
        default=None,
        help="examples per operation (default 300; 0 skips; smoke default 0)",
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None or args.smoke else RESULTS_PATH
    examples = args.schemathesis if args.schemathesis is not None else (0 if args.smoke else 300)
    run(smoke=args.smoke, out=out, kill=not args.skip_kill, schemathesis_examples=examples)


if __name__ == "__main__":
    main()
