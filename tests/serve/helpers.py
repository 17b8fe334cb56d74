"""Test helpers: a real uvicorn server in a thread, and request builders."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Self

import httpx
import uvicorn
from benchmarks.serve_load import free_port

from logitkit.serve import Settings, create_app
from logitkit.serve.runtime import Runtime


class LiveServer:
    """``create_app(settings)`` served by uvicorn on 127.0.0.1 in a background thread.

    Examples
    --------
    >>> with LiveServer(settings) as server:  # doctest: +SKIP
    ...     server.client().get("/health/live").status_code
    200
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            loop="asyncio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._clients: list[httpx.Client] = []

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def runtime(self) -> Runtime:
        """The app's runtime (model, log, metrics)."""
        runtime: Runtime = self.app.state.runtime
        return runtime

    def client(self, key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Client:
        """An httpx client for this server (closed on exit), sending ``key`` if given."""
        sent = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers={**sent, **(headers or {})}, timeout=30.0)
        self._clients.append(client)
        return client

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                msg = "the test server did not start"
                raise RuntimeError(msg)
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(20)


def instances(names: list[str], rows: list[list[float]]) -> dict[str, Any]:
    """A /v1/predict body."""
    return {"instances": [dict(zip(names, row, strict=True)) for row in rows]}


def artifact(path: Path) -> dict[str, Any]:
    """The JSON content of a model file."""
    content: dict[str, Any] = json.loads(path.read_text())
    return content
