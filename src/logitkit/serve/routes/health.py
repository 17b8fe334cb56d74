"""Health (open to all) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from starlette.responses import Response

from logitkit.serve.deps import RuntimeDep
from logitkit.serve.errors import error_responses, json_response
from logitkit.serve.metrics import CONTENT_TYPE
from logitkit.serve.runtime import Runtime
from logitkit.serve.schemas import Health

__all__ = ["metrics_router", "readiness", "router"]

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

_PING_TTL_S = 1.0


async def readiness(runtime: Runtime) -> dict[str, str]:
    """Failed checks by name (empty when ready): shutdown, model, log writer, database."""
    failed: dict[str, str] = {}
    if runtime.draining:
        failed["shutdown"] = "draining after SIGTERM"
    log = runtime.log
    if not log.alive:
        failed["log"] = "the log writer is not running"
    elif not log.healthy:
        failed["log"] = "the last commit to the prediction log failed"
    else:
        now = time.monotonic()
        if now - runtime.last_ping[0] > _PING_TTL_S:
            try:
                ok = await asyncio.wait_for(asyncio.to_thread(log.ping), timeout=2.0)
            except TimeoutError:
                ok = False
            runtime.last_ping = (now, ok)
        if not runtime.last_ping[1]:
            failed["log"] = "the prediction log's database does not answer"
    return failed


@router.get("/health/live", response_model=Health, summary="The process is up")
async def live() -> Response:
    """Always 200 while the process serves HTTP."""
    return json_response({"status": "live", "checks": {}})


@router.get(
    "/health/ready",
    response_model=Health,
    summary="Ready: model loaded and prediction log reachable",
    responses={503: {"model": Health, "description": "Not ready; the checks say why."}},
)
async def ready(runtime: RuntimeDep) -> Response:
    """200 when the model is loaded and the log is reachable; 503 (with the reason) if not."""
    failed = await readiness(runtime)
    if failed:
        return json_response({"status": "not ready", "checks": failed}, 503, {"Retry-After": "1"})
    return json_response({"status": "ready", "checks": {"model": runtime.predictor.version}})


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}},
        **error_responses(401),
    },
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Requests, latencies, decisions, log commits (latency, rows per commit), reloads."""
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE)
