"""Connection limits of ``logitkit serve`` against real, bounded hostile clients on 127.0.0.1.

Oversized headers are answered 431 before they are read in full (the server's memory
does not grow with them), clients dribbling a header byte at a time are cut off after
the header timeout, and connections beyond the cap are refused at once, while the
service keeps answering.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.serve_load import ServerProcess, free_port


def _peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory so far (freed memory still counts)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    msg = "no VmHWM"
    raise AssertionError(msg)


@pytest.fixture(scope="module")
def server(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: header timeout 1 s, at most 40 connections."""
    tmp_path = tmp_path_factory.mktemp("limits")
    port = free_port()
    process = ServerProcess.logitkit(
        demo_model,
        port,
        "--db",
        f"sqlite:///{tmp_path / 'log.db'}",
        "--log-level",
        "warning",
        env={"LOGITKIT_HEADER_TIMEOUT_S": "1", "LOGITKIT_MAX_CONNECTIONS": "40"},
        log=tmp_path / "server.log",
    )
    with process:
        yield process


def _send_head(port: int, head: bytes, chunk: int = 1 << 16) -> bytes:
    """Send a request head (possibly huge) and return what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # the server may close before all is sent
            for start in range(0, len(head), chunk):
                sock.sendall(head[start : start + chunk])
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(OSError):
        while True:
            part = sock.recv(65536)
            if not part:
                break
            data += part
    return data


def _huge_head(n_bytes: int) -> bytes:
    return (
        b"GET /v1/model HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + b"a" * n_bytes
        + b"\r\n\r\n"
    )


def test_an_oversized_header_is_431_and_memory_stays_flat(server):
    answer = _send_head(server.port, _huge_head(1 << 20))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"headers_too_large" in answer

    before = _peak_rss_bytes(server.pid)
    answers: list[bytes] = []
    senders = [
        threading.Thread(
            target=lambda: answers.append(_send_head(server.port, _huge_head(20 << 20)))
        )
        for _ in range(4)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    grown = _peak_rss_bytes(server.pid) - before
    assert len(answers) == 4
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answers)
    assert grown < 50 << 20, f"peak RSS grew by {grown / 2**20:.0f} MiB for 4 x 20 MB headers"
    assert httpx.get(f"http://127.0.0.1:{server.port}/health/live").status_code == 200
    # A header under the limit is read and answered as usual.
    ok = _send_head(
        server.port,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: "
        + b"p" * 8000
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert ok.startswith(b"HTTP/1.1 200 ")


def test_dribbling_clients_are_cut_off_and_the_service_stays_reachable(server):
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
    try:
        start = time.monotonic()
        closed_after: dict[int, float] = {}
        for sock in socks:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # One byte every 0.3 s: each write alone would keep an idle timer alive forever.
        while len(closed_after) < len(socks) and time.monotonic() - start < 8:
            for i, sock in enumerate(socks):
                if i in closed_after:
                    continue
                try:
                    sock.sendall(b"a")
                except OSError:
                    closed_after[i] = time.monotonic() - start
            assert (
                httpx.get(f"http://127.0.0.1:{server.port}/health/live", timeout=2).status_code
                == 200
            )
            time.sleep(0.3)
        assert len(closed_after) == len(socks), "some dribbling connections were never closed"
        assert max(closed_after.values()) < 4.0  # header timeout 1 s, plus the dribble
        answer = _read_all(socks[0])
        assert answer.startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in socks:
            sock.close()


def _answer(sock: socket.socket) -> bytes:
    """One answer on a keep-alive connection: its head, and the body its length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65_536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65_536)
    return head


def test_a_busy_keep_alive_connection_keeps_its_head_timeout_per_request(server):
    """One head timer per connection, set again as heads begin: requests on a connection
    open past the timeout are answered, and a head started late is cut off a timeout
    after it began, not after the connection opened."""
    request = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        opened = time.monotonic()
        while time.monotonic() - opened < 2.5:  # 2.5 header timeouts
            sock.sendall(request)
            assert _answer(sock).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.05)
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # a head left unfinished
        began = time.monotonic()
        answer = _read_all(sock)
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert 0.9 <= waited < 2.0, waited


def test_connections_beyond_the_cap_are_refused_at_once(server):
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(40)]
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as extra:
            start = time.monotonic()
            answer = _read_all(extra)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
            assert b"connections_exhausted" in answer
            assert time.monotonic() - start < 1.0
        # The held connections send nothing: the header timeout frees their slots.
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                status = httpx.get(
                    f"http://127.0.0.1:{server.port}/health/live", timeout=2
                ).status_code
                if status == 200:
                    break
            time.sleep(0.2)
        assert status == 200
    finally:
        for sock in held:
            sock.close()


def test_limits_are_settings_with_clear_errors(tmp_path, demo_model):
    from typer.testing import CliRunner

    from logitkit.cli import app as cli

    result = CliRunner().invoke(
        cli,
        [
            "serve",
            str(demo_model),
            "--max-header-bytes",
            "10",
            "--db",
            f"sqlite:///{tmp_path}/l.db",
        ],
    )
    assert result.exit_code == 2
    assert "'max_header_bytes' setting must be an int in [1024, inf)" in result.output
