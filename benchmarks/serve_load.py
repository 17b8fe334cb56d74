"""A bounded HTTP/1.1 load generator and server-process helpers, for loopback only.

Written on asyncio streams (uvloop when installed) with one keep-alive connection per
concurrent client: on two cores it drives 64 connections at well over 10,000 requests
a second, far more than the servers it measures, so the numbers are the server's.
Every run is bounded in requests and in seconds. Each request carries its own
``X-Request-ID``, so a kill test can check that every acknowledged prediction is in
the log. Nothing here imports logitkit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = [
    "LoadReport",
    "Outcome",
    "ServerProcess",
    "drive",
    "free_port",
    "http_request",
    "percentile",
    "run_load",
]

#: Outcome kinds other than an HTTP status.
REFUSED = "refused"  # the connection was refused: the request was never sent
CLOSED = "closed"  # the connection closed before any byte of the answer
CUT = "cut"  # the connection closed in the middle of the answer
TIMEOUT = "timeout"  # no answer within the client's timeout


@dataclass(frozen=True)
class Outcome:
    """What became of one request."""

    request_id: str
    status: int  # 0 when there was no HTTP answer
    latency_s: float
    error: str | None = None
    body: bytes = b""


@dataclass
class LoadReport:
    """All outcomes of one run, and its wall time."""

    concurrency: int
    elapsed_s: float
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answered(self) -> list[Outcome]:
        """Requests that got an HTTP answer."""
        return [o for o in self.outcomes if o.status]

    @property
    def acknowledged(self) -> list[str]:
        """Request ids answered 200."""
        return [o.request_id for o in self.outcomes if o.status == 200]

    @property
    def statuses(self) -> Counter[str]:
        """Count of each status, and of each error kind."""
        return Counter(str(o.status) if o.status else str(o.error) for o in self.outcomes)

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return len(self.answered) / self.elapsed_s if self.elapsed_s else 0.0

    def latency(self, q: float) -> float:
        """The ``q`` quantile of the latencies of 200 answers, in seconds."""
        return percentile([o.latency_s for o in self.outcomes if o.status == 200], q)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def http_request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server closes the connection after this answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def drive(
    port: int,
    make: Callable[[int], tuple[str, bytes]],
    *,
    total: int,
    concurrency: int,
    max_seconds: float,
    timeout_s: float = 10.0,
    keep_bodies: bool = False,
    stop_on_refused: bool = True,
) -> LoadReport:
    """Send up to ``total`` requests over ``concurrency`` connections for at most ``max_seconds``.

    ``make(i)`` gives request ``i``'s id and bytes. A worker whose connection breaks
    reconnects; when a connection is refused (the server is gone) it stops if
    ``stop_on_refused``. Requests not sent before the deadline are not counted.
    """
    report = LoadReport(concurrency, 0.0)
    state = {"next": 0}
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while state["next"] < total and time.perf_counter() < deadline:
            i = state["next"]
            state["next"] += 1
            request_id, data = make(i)
            start = time.perf_counter()
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    report.outcomes.append(Outcome(request_id, 0, 0.0, REFUSED))
                    if stop_on_refused:
                        return
                    await asyncio.sleep(0.01)
                    continue
            assert reader is not None
            got_bytes = False
            close = False
            try:
                writer.write(data)
                status, body, close = await asyncio.wait_for(_read_answer(reader), timeout_s)
                got_bytes = True
                report.outcomes.append(
                    Outcome(
                        request_id,
                        status,
                        time.perf_counter() - start,
                        None,
                        body if keep_bodies else b"",
                    )
                )
            except TimeoutError:
                report.outcomes.append(Outcome(request_id, 0, time.perf_counter() - start, TIMEOUT))
            except asyncio.IncompleteReadError as exc:
                kind = CUT if exc.partial else CLOSED
                report.outcomes.append(Outcome(request_id, 0, time.perf_counter() - start, kind))
            except (OSError, asyncio.LimitOverrunError):
                kind = CUT if got_bytes else CLOSED
                report.outcomes.append(Outcome(request_id, 0, time.perf_counter() - start, kind))
            if not got_bytes or close:  # as HTTP/1.1 clients do on Connection: close
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                reader = writer = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    report.elapsed_s = time.perf_counter() - start
    return report


def run_load(port: int, make: Callable[[int], tuple[str, bytes]], **kwargs: object) -> LoadReport:
    """:func:`drive` in a fresh event loop (uvloop if installed)."""
    try:
        import uvloop

        return uvloop.run(drive(port, make, **kwargs))  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(drive(port, make, **kwargs))  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """A server in a child process: start, wait until ready, signal, wait for its exit."""

    def __init__(
        self,
        args: Sequence[str],
        port: int,
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        ready_path: str = "/health/ready",
    ) -> None:
        self.args = list(args)
        self.port = port
        self.ready_path = ready_path
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    @classmethod
    def logitkit(
        cls,
        model: Path,
        port: int,
        *extra: str,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> ServerProcess:
        """``logitkit serve MODEL --port PORT ...`` with this Python."""
        code = "from logitkit.cli import main; main()"
        args = [sys.executable, "-c", code, "serve", str(model), "--port", str(port), *extra]
        return cls(args, port, env=env, log=log)

    def start(self, timeout_s: float = 30.0) -> Self:
        """Start it and wait until its ready path answers 200."""
        out = subprocess.DEVNULL
        if self.log is not None:
            self._log_file = self.log.open("ab")
            out = self._log_file  # type: ignore[assignment]
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"The server exited with {self.process.returncode} before it was ready: {self.args}"
                raise RuntimeError(msg)
            try:
                with urllib.request.urlopen(url, timeout=1.0) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        msg = f"The server was not ready within {timeout_s} s: {self.args}"
        raise RuntimeError(msg)

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            msg = "not started"
            raise RuntimeError(msg)
        return self.process.pid

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child."""
        os.kill(self.pid, sig)

    def wait(self, timeout_s: float) -> int | None:
        """The exit status, or None if still running after ``timeout_s``."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the child if it runs, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.kill()
