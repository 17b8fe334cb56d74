"""Running the app under uvicorn, with the shutdown a prediction log needs.

* **SIGTERM** (or Ctrl-C): stop accepting connections, report not ready, let in-flight
  requests finish (their rows commit before they are answered), flush the log and exit
  0 -- all within ``grace_period_s``; past it, what is left is cancelled unanswered.
  Open keep-alive connections are not cut under a client that may be sending on them:
  each is answered once more, with ``Connection: close``, and the server waits (a
  short window) for the clients to close them before it closes what is left.
* **A second SIGTERM**: hurry -- requests whose rows are not yet committing are answered
  503 at once (nothing unlogged is ever acknowledged), then exit.
* **SIGHUP**: reload the model file and policy (see :meth:`Runtime.reload`). One that
  arrives while the server is still starting is noted, not fatal, and applied as a
  reload once the server is up.
* **SIGKILL** needs nothing: every acknowledged prediction is already committed.

Connections are limited by :mod:`logitkit.serve.limits` (request-head size and time,
open connections). With ``workers`` > 1, a supervisor process starts that many worker
processes, each listening on the same port (``SO_REUSEPORT``: the kernel spreads new
connections over them) with its own model, limits and connection to the prediction
log, and each with the signal semantics above: the supervisor passes SIGTERM, SIGINT
and SIGHUP on to every worker (SIGHUP only until it is told to stop), restarts a worker
that dies unasked, and exits 0 once all have drained. A worker starts with SIGHUP
blocked (the blocked set survives ``fork`` and ``exec``), so one that arrives during
the new interpreter's imports waits until the worker can note it. The workers share
the prediction log: PostgreSQL, or a SQLite file on a local disk (their commits then
take turns on its write lock).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

import uvicorn

from logitkit.serve.app import create_app
from logitkit.serve.limits import limited_protocol
from logitkit.serve.runtime import Runtime, configured_predictor
from logitkit.serve.settings import Settings

__all__ = ["run"]

logger = logging.getLogger("logitkit.serve")

_SWITCH_INTERVAL_S = 0.0005
#: After SIGTERM, how long open keep-alive connections get to close from the client side.
_CLOSE_WINDOW_S = 1.0
#: A supervisor stops when its workers exit unasked more than this often in the window.
_MAX_RESTARTS = 5
_RESTART_WINDOW_S = 60.0
#: Blocked in a worker from its start until :func:`_serve` takes SIGHUP over: its default
#: action is to terminate, and the new interpreter's imports come first. Every thread
#: started meanwhile (BLAS pools at import) inherits the block, so none can take a SIGHUP
#: to the default action; the main thread takes it once it is unblocked there.
_HELD = frozenset({signal.SIGHUP})


class _Server(uvicorn.Server):
    """uvicorn's server with logitkit's SIGTERM semantics (see the module docstring)."""

    def __init__(
        self, config: uvicorn.Config, runtime: Runtime, early: list[int], hups: list[int]
    ) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.early = early  # SIGTERMs that arrived before uvicorn took the signals over
        self.hups = hups  # SIGHUPs that arrived before the app's reload handler existed

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.hups:
            # The app's lifespan has installed its handler: the noted request is a reload
            # now (one for all of them; each reads the file as it is then).
            signal.raise_signal(signal.SIGHUP)
        if self.early:
            self.handle_exit(signal.SIGTERM, None)

    def _stop_listening(self) -> None:
        # A client told Connection: close reconnects at once; were the socket still
        # listening, the kernel would queue that connection and reset it at close.
        for server in self.servers:
            server.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop accepting at once; then let open connections end on their own terms (their
        # next answer carries Connection: close) before uvicorn closes the idle rest.
        self._stop_listening()
        window = min(_CLOSE_WINDOW_S, 0.25 * self.runtime.settings.grace_period_s)
        deadline = time.monotonic() + window
        while (
            self.server_state.connections
            and not self.runtime.hurry
            and not self.force_exit
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.01)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            if self.should_exit:
                loop = self.runtime.loop
                if loop is not None:  # never touch the log's locks inside a signal handler
                    loop.call_soon_threadsafe(self.runtime.hurry_up)
            else:
                self.runtime.start_draining()
                self.should_exit = True
                loop = self.runtime.loop
                if loop is not None:  # stop listening now, not at uvicorn's next tick
                    loop.call_soon_threadsafe(self._stop_listening)
            return  # not recorded: a clean drain exits 0, not by re-raising SIGTERM
        if sig == signal.SIGINT and not self.should_exit:
            self.runtime.start_draining()
        super().handle_exit(sig, frame)


def run(settings: Settings, *, log_level: str = "info", access_log: bool = False) -> None:
    """Serve ``settings.model_path`` on ``settings.host:settings.port`` until told to stop.

    With ``settings.workers`` > 1, in that many worker processes (see the module
    docstring).

    Raises
    ------
    ValueError
        Serving a non-loopback host without keys (see :meth:`Settings.check_exposure`),
        or several workers on port 0.
    ArtifactError
        The model cannot be loaded or fails its canary prediction.
    ValueError
        The prediction log's database cannot be reached or holds another layout.
    """
    settings.check_exposure()
    if settings.workers > 1:
        _supervise(settings, log_level=log_level, access_log=access_log)
        return
    _serve(settings, log_level=log_level, access_log=access_log)


def _serve(
    settings: Settings, *, log_level: str, access_log: bool, reuse_port: bool = False
) -> None:
    """One worker: the app under uvicorn, with the signal semantics of the module."""
    # Until the app's reload handler is installed, SIGHUP is noted, not fatal, and turned
    # into a reload once the server is up; a worker was started with it blocked until now.
    hups: list[int] = []
    signal.signal(signal.SIGHUP, lambda sig, _frame: hups.append(sig))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    runtime.log.prepare()  # a database that cannot hold the log stops us here, in one line
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=limited_protocol(settings),
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=max(int(settings.grace_period_s * 0.7), 1),
        backlog=2048,
    )
    # The log's writer thread hands each commit back to the event loop: a short GIL switch
    # interval keeps that hand-off from waiting out the default 5 ms.
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    # Until uvicorn installs its handlers (and after it restores this one, while the process
    # winds down), SIGTERM is noted, not fatal: a late second SIGTERM cannot turn a clean
    # drain into death by signal, and an early one still stops the server once it is up.
    early: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, _frame: early.append(sig))
    server = _Server(config, runtime, early, hups)
    server.run(sockets=[_reuse_port_socket(settings)] if reuse_port else None)
    # Drained and flushed: a SIGTERM or SIGHUP during the interpreter's own shutdown
    # (which resets Python-level handlers) must not turn this clean exit into death by
    # signal.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if not server.started:
        msg = "The server did not start (see the log above); nothing was served."
        raise SystemExit(msg)


def _reuse_port_socket(settings: Settings) -> socket.socket:
    """A socket bound to the service's address that other workers may bind as well."""
    family, kind, proto, _, address = socket.getaddrinfo(
        settings.host, settings.port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _worker(settings: Settings, log_level: str, access_log: bool) -> None:
    """A worker process's entry point (see :func:`_supervise`)."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(message)s")
    _serve(settings, log_level=log_level, access_log=access_log, reuse_port=True)


def _supervise(settings: Settings, *, log_level: str, access_log: bool) -> None:
    """Run ``settings.workers`` worker processes on one port until they have all exited."""
    if settings.port == 0:
        msg = "--workers needs a fixed --port: each worker binds the same one."
        raise ValueError(msg)
    # Signals are noted from here on (and passed on once the workers run): a SIGHUP while
    # the model is checked must not kill the supervisor.
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: received.append(number))
    # One line for a bad model before any worker starts (each worker checks it again).
    configured_predictor(settings)
    context = multiprocessing.get_context("spawn")
    arguments = (settings.with_(workers=1), log_level, access_log)

    def start() -> Any:
        process = context.Process(target=_worker, args=arguments, name="logitkit-worker")
        # The child inherits this thread's blocked signals through fork and exec: SIGHUP
        # stays blocked through its imports until _serve notes it instead.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return process

    workers = [start() for _ in range(settings.workers)]
    logger.info("Serving with %d workers: %s", len(workers), [w.pid for w in workers])
    stopping = False
    restarts: list[float] = []
    while any(w.is_alive() for w in workers) or (not stopping and workers):
        while received:
            number = received.pop(0)
            if number == signal.SIGHUP and stopping:
                continue  # nothing to reload in a draining worker
            stopping = stopping or number != signal.SIGHUP
            for w in workers:
                if w.is_alive() and w.pid is not None:
                    os.kill(w.pid, number)
        for i, w in enumerate(workers):
            if not stopping and not w.is_alive():
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < _RESTART_WINDOW_S] + [now]
                if len(restarts) > _MAX_RESTARTS:  # failing at start: stop, do not spin
                    logger.error("Workers keep exiting (last: %s); stopping.", w.exitcode)
                    stopping = True
                    received.append(signal.SIGTERM)
                    break
                logger.error("Worker %s exited with %s; starting another.", w.pid, w.exitcode)
                time.sleep(0.5)
                workers[i] = start()
        time.sleep(0.05)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # as at the end of _serve
        signal.signal(sig, signal.SIG_IGN)
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed or len(restarts) > _MAX_RESTARTS:
        msg = f"Worker(s) exited with status {failed}."
        raise SystemExit(msg)
