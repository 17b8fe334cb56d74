"""One pure-ASGI guard around every request: overload, timeout, shutdown, metrics.

It refuses early (503 with ``Retry-After``) when too many requests are in flight or a
second SIGTERM asked to hurry, answers 503 when a request outlives its timeout, closes
each keep-alive connection after its next answer once SIGTERM started the drain, and
counts every answer by route. Health and metrics endpoints are never refused, so a
load balancer keeps seeing the truth under overload.

The hot endpoints (``fast``: method and path to a ``Request -> Response`` handler that
does its own key check) are called directly, without FastAPI's middleware, router and
per-request dependency resolution (the guard is the app's outermost layer, see
``app.GuardedApp``); errors they raise get the same JSON answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logitkit.serve.errors import ApiError, error_response
from logitkit.serve.runtime import Runtime

Handler = Callable[[Request], Awaitable[Response]]
logger = logging.getLogger("logitkit.serve")

__all__ = ["EXEMPT_PATHS", "Guard"]

#: Paths that are never refused, timed out or authenticated.
EXEMPT_PATHS = frozenset(
    {"/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready", "/metrics"}
)


class Guard:
    """ASGI middleware: see the module docstring.

    Parameters
    ----------
    app : ASGI app
        The app to guard.
    runtime : Runtime
        Its runtime (limits, shutdown flags, metrics).
    """

    def __init__(
        self, app: ASGIApp, runtime: Runtime, fast: Mapping[tuple[str, str], Handler] | None = None
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.fast = dict(fast or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        start = time.perf_counter()
        exempt = scope["path"] in EXEMPT_PATHS
        if runtime.draining:
            send = _closing(send)
        if not exempt:
            refusal = self._refusal()
            if refusal is not None:
                reason, message = refusal
                runtime.metrics.rejected.labels(reason).inc()
                response = error_response(503, reason, message, headers={"Retry-After": "1"})
                await response(scope, receive, send)
                self._count(scope, 503, start)
                return
        state: dict[str, Any] = {"status": 0}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        handler = self.fast.get((scope["method"], scope["path"]))
        app = self.app if handler is None else _direct(handler, scope["path"])
        runtime.in_flight += 1
        try:
            if exempt:
                await app(scope, receive, send_and_note)
            else:
                async with asyncio.timeout(runtime.settings.request_timeout_s):
                    await app(scope, receive, send_and_note)
        except TimeoutError:
            runtime.metrics.rejected.labels("timeout").inc()
            if not state["status"]:
                response = error_response(
                    503,
                    "timeout",
                    f"No answer within {runtime.settings.request_timeout_s:g} s. If this was a "
                    "prediction, retry with the same X-Request-ID: it is answered from the log "
                    "if its row was committed meanwhile.",
                    headers={"Retry-After": "1"},
                )
                await response(scope, receive, send_and_note)
        finally:
            runtime.in_flight -= 1
            self._count(scope, state["status"] or 500, start)

    def _refusal(self) -> tuple[str, str] | None:
        runtime = self.runtime
        if runtime.hurry:
            return "shutting_down", "The server is shutting down; retry on another instance."
        if runtime.in_flight >= runtime.settings.max_in_flight:
            message = (
                f"{runtime.in_flight} requests are in flight, the most this server takes; "
                "retry after the time in Retry-After."
            )
            return "overloaded", message
        return None

    def _count(self, scope: Scope, status: int, start: float) -> None:
        route = scope.get("route")
        label = getattr(route, "path", None) or "unmatched"
        self.runtime.metrics.observe_request(
            label, scope["method"], status, time.perf_counter() - start
        )


def _closing(send: Send) -> Send:
    """``send`` with ``Connection: close`` on the answer: after SIGTERM every keep-alive
    connection ends with its next answer, so no client sends on a connection the server
    is about to close (HTTP/1.1 clients open a new one, which is refused, and move on)."""

    async def send_closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return send_closing


def _direct(handler: Handler, path: str) -> ASGIApp:
    """An ASGI app calling ``handler`` with the error answers the exception handlers give."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        scope["route"] = _Label(path)
        try:
            response = await handler(request)
        except ApiError as exc:
            request_id = getattr(request.state, "request_id", None)
            response = error_response(
                exc.status,
                exc.code,
                exc.message,
                errors=exc.errors,
                headers=exc.headers,
                request_id=request_id,
            )
        except Exception:
            logger.exception("Unhandled error serving %s %s", scope["method"], path)
            response = error_response(
                500,
                "internal_error",
                "The server failed on this request; it was logged. Retry, and report it if it "
                "persists.",
            )
        await response(scope, receive, send)

    return app


class _Label:
    """Stands in for a route in ``scope["route"]`` (the metrics label)."""

    def __init__(self, path: str) -> None:
        self.path = path
