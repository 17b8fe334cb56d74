"""Connection-level limits: request-head size, request-head timeout, open connections.

uvicorn's httptools protocol reads a request head of any size and waits for it as long
as the client likes, and accepts connections until the process runs out of file
descriptors. :func:`limited_protocol` makes a subclass of it that, per connection:

* answers **431** and closes once the request head (request line and headers) passes
  ``max_header_bytes`` without ending, having buffered at most that plus one read
  (256 KiB) of it;
* answers **408** and closes when a request head is not complete ``header_timeout_s``
  after the connection opened or the request began (a client dribbling a byte at a
  time cannot hold the connection);
* answers **503** and closes at once a connection opened while ``max_connections`` are
  open in this worker, so the process keeps file descriptors for its log and its
  clients (keep it below ``ulimit -n`` less about 100).

Idle keep-alive connections are closed by uvicorn after its keep-alive timeout (5 s).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from logitkit.serve.settings import Settings

__all__ = ["limited_protocol"]

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class _LimitedProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with the limits of the module docstring."""

    max_header_bytes = 16_384
    header_timeout_s = 10.0
    max_connections = 900

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_began = 0.0  # loop time the request head being read began
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(
                503,
                "connections_exhausted",
                f"The server has its limit of {self.max_connections} open connections; "
                "retry shortly.",
            )
            return
        self._head_began = self.loop.time()
        self._head_timer = self.loop.call_at(
            self._head_began + self.header_timeout_s, self._check_head
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes:
            self._refuse(
                431,
                "headers_too_large",
                f"The request line and headers exceed {self.max_header_bytes} bytes.",
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_began = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _check_head(self) -> None:
        """The connection's one head timer: 408 if the head being read is overdue, else
        set again for when the current (or a next) head would be.

        A request only notes when its head began; the timer, set when the connection
        opened, fires at most once per ``header_timeout_s`` on a busy keep-alive
        connection rather than being set and cancelled for every request.
        """
        self._head_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        due = (self._head_began if self._in_head else now) + self.header_timeout_s
        if due <= now:
            self._refuse(
                408,
                "header_timeout",
                f"The request headers did not arrive within {self.header_timeout_s:g} s.",
            )
            return
        self._head_timer = self.loop.call_at(due, self._check_head)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` with the service's JSON error body and close the connection."""
        self._in_head = False
        self._disarm_head_timer()
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": message, "code": code})
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))
        )
        self.transport.write(head + body)
        self.transport.close()


def limited_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The uvicorn HTTP protocol class enforcing ``settings``' connection limits.

    Examples
    --------
    >>> from pathlib import Path
    >>> protocol = limited_protocol(Settings(model_path=Path("m.json"), max_header_bytes=8192))
    >>> protocol.max_header_bytes, protocol.header_timeout_s
    (8192, 10.0)
    """
    return type(
        "LimitedHttpToolsProtocol",
        (_LimitedProtocol,),
        {
            "max_header_bytes": settings.max_header_bytes,
            "header_timeout_s": settings.header_timeout_s,
            "max_connections": settings.max_connections,
        },
    )
