"""Health (open to all) and Prometheus metrics."""

from __future__ import annotations

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


async def readiness(runtime: Runtime) -> dict[str, str]:
    """Failed checks by name (empty when ready): shutdown, and the prediction log.

    The log is ready when a row can be committed now: a commit within the last second
    says so, or else a test commit that leaves no prediction row (see
    :meth:`~logitkit.serve.log.PredictionLog.check_commit`), waited for at most 2 s.
    """
    failed: dict[str, str] = {}
    if runtime.draining:
        failed["shutdown"] = "draining after SIGTERM"
    reason = await runtime.log.check_commit()
    if reason is not None:
        failed["log"] = reason
    return failed


@router.get("/health/live", response_model=Health, summary="The process is up")
async def live() -> Response:
    """Always 200 while the process serves HTTP."""
    return json_response({"status": "live", "checks": {}})


@router.get(
    "/health/ready",
    response_model=Health,
    summary="Ready: model loaded and a row can be committed to the prediction log",
    responses={503: {"model": Health, "description": "Not ready; the checks say why."}},
)
async def ready(runtime: RuntimeDep) -> Response:
    """200 when a prediction's row can be committed now; 503 (with the reason) if not."""
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
