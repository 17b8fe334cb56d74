"""Running the app under uvicorn, with the shutdown a prediction log needs.

* **SIGTERM** (or Ctrl-C): stop accepting connections, report not ready, let in-flight
  requests finish (their rows commit before they are answered), flush the log and exit
  0 -- all within ``grace_period_s``; past it, what is left is cancelled unanswered.
  Open keep-alive connections are not cut under a client that may be sending on them:
  each is answered once more, with ``Connection: close``, and the server waits (a
  short window) for the clients to close them before it closes what is left.
* **A second SIGTERM**: hurry -- requests whose rows are not yet committing are answered
  503 at once (nothing unlogged is ever acknowledged), then exit.
* **SIGHUP**: reload the model file and policy (see :meth:`Runtime.reload`).
* **SIGKILL** needs nothing: every acknowledged prediction is already committed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from logitkit.serve.app import create_app
from logitkit.serve.runtime import Runtime
from logitkit.serve.settings import Settings

__all__ = ["run"]

logger = logging.getLogger("logitkit.serve")

_SWITCH_INTERVAL_S = 0.0005
#: After SIGTERM, how long open keep-alive connections get to close from the client side.
_CLOSE_WINDOW_S = 1.0


class _Server(uvicorn.Server):
    """uvicorn's server with logitkit's SIGTERM semantics (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime, early: list[int]) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.early = early  # SIGTERMs that arrived before uvicorn took the signals over

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
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

    Raises
    ------
    ValueError
        Serving a non-loopback host without keys (see :meth:`Settings.check_exposure`).
    ArtifactError
        The model cannot be loaded.
    ValueError
        The prediction log's database cannot be reached or holds another layout.
    """
    settings.check_exposure()
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    runtime.log.prepare()  # a database that cannot hold the log stops us here, in one line
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
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
    server = _Server(config, runtime, early)
    server.run()
    # Drained and flushed: a SIGTERM during the interpreter's own shutdown (which resets
    # Python-level handlers) must not turn this clean exit into death by signal.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not server.started:
        msg = "The server did not start (see the log above); nothing was served."
        raise SystemExit(msg)
