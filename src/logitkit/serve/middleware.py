"""One pure-ASGI guard for every request: overload, keys, timeout, shutdown, metrics.

It refuses early (503 with ``Retry-After``) when too many requests are in flight or a
second SIGTERM asked to hurry, checks the caller's key against the one rule of who may
call what (:func:`logitkit.serve.deps.access`), answers 503 when a request outlives its
timeout, closes each keep-alive connection after its next answer once SIGTERM started
the drain, and counts every answer by route. Health and metrics endpoints are never
refused, so a load balancer keeps seeing the truth under overload.

A request without the key its path needs is refused only if a route matches its path
(with any method): a path no route matches is answered 404 whatever key it carries, as
FastAPI and Starlette apps answer it, so the key check guards every route and an
unknown path is not told apart by the key sent. A refusal is counted under the route it
was addressed to, found by the app's own route matching (which runs for refusals only:
a request let through is matched once, by the router).

It is the app's own innermost middleware (``create_app`` adds it first), so middleware
a user adds with ``app.add_middleware`` (CORS, tracing) wraps it and sees every answer,
refusals included. Its answers come from the one error mapping,
:func:`logitkit.serve.errors.error_answer`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logitkit.serve.deps import access, check_key
from logitkit.serve.errors import ApiError, error_answer
from logitkit.serve.runtime import Runtime

logger = logging.getLogger("logitkit.serve")

__all__ = ["EXEMPT_PATHS", "Guard"]

#: Paths that are never refused or timed out.
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
        Its runtime (settings, keys, limits, shutdown flags, metrics).
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        start = time.perf_counter()
        path = scope["path"]
        exempt = path in EXEMPT_PATHS
        if runtime.draining:
            send = _closing(send)
        refusal = None if exempt else self._refusal()
        if refusal is None:
            refusal = self._unauthorised(scope)
        if refusal is not None:
            route = _route(scope)
            answer: Exception = refusal
            status = refusal.status
            if status == 503:
                runtime.metrics.rejected.labels(refusal.code).inc()
            elif route is None:  # no route takes this path: 404, whatever the key
                answer, status = HTTPException(404), 404
            await error_answer(answer, scope["method"], path)(scope, receive, send)
            self._count(scope, status, start, route)
            return
        state: dict[str, Any] = {"status": 0}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        runtime.in_flight += 1
        try:
            if exempt:
                await self.app(scope, receive, send_and_note)
            else:
                async with asyncio.timeout(runtime.settings.request_timeout_s):
                    await self.app(scope, receive, send_and_note)
        except TimeoutError:
            runtime.metrics.rejected.labels("timeout").inc()
            if not state["status"]:
                timeout = ApiError(
                    503,
                    "timeout",
                    f"No answer within {runtime.settings.request_timeout_s:g} s. If this was a "
                    "prediction, retry with the same X-Request-ID: it is answered from the log "
                    "if its row was committed meanwhile.",
                    headers={"Retry-After": "1"},
                )
                await error_answer(timeout, scope["method"], path)(scope, receive, send_and_note)
        finally:
            runtime.in_flight -= 1
            self._count(scope, state["status"] or 500, start)

    def _unauthorised(self, scope: Scope) -> ApiError | None:
        """The 401/403 for a request without the key its path needs, or None."""
        rule = access(self.runtime.settings, scope["path"])
        if rule == "open":
            return None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            check_key(self.runtime, authorization, admin=rule == "admin")
        except ApiError as exc:
            return exc
        return None

    def _refusal(self) -> ApiError | None:
        """The 503 when the server takes no more requests now, or None."""
        runtime = self.runtime
        retry = {"Retry-After": "1"}
        if runtime.hurry:
            message = "The server is shutting down; retry on another instance."
            return ApiError(503, "shutting_down", message, headers=retry)
        if runtime.in_flight >= runtime.settings.max_in_flight:
            message = (
                f"{runtime.in_flight} requests are in flight, the most this server takes; "
                "retry after the time in Retry-After."
            )
            return ApiError(503, "overloaded", message, headers=retry)
        return None

    def _count(self, scope: Scope, status: int, start: float, route: Any = None) -> None:
        """Count an answer under its route's path (``route``, else the one routed to)."""
        label = getattr(route or scope.get("route"), "path", None) or "unmatched"
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


def _route(scope: Scope) -> BaseRoute | None:
    """The route the app's router would pick for ``scope`` (one of another method, if
    none takes this one), or None when no route matches its path.

    Each route matches as it does for the router, on a copy of the scope (matching may
    note what it found in the scope it is given; the router matches again if it runs).
    """
    router = getattr(scope.get("app"), "router", None)
    if router is None:
        return None
    probe = dict(scope)
    partial = None
    for route in router.routes:
        match, child = route.matches(probe)
        if match is Match.FULL:
            return child.get("route", route)  # type: ignore[no-any-return]
        if match is Match.PARTIAL and partial is None:
            partial = child.get("route", route)
    return partial
