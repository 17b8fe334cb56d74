"""The app factory: ``create_app(settings)`` builds one FastAPI app around one model.

Routers are mounted per resource; prediction, explanation, drift, feedback, metrics and
model routes require an API key when keys are configured, ``/admin`` an admin key, and
health is open. The OpenAPI schema is generated from the model being served, so it names
the real features and their types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter
from starlette.types import Receive, Scope, Send

from logitkit import __version__
from logitkit.serve.deps import require_admin_key, require_api_key
from logitkit.serve.errors import install_handlers
from logitkit.serve.log import PredictionLog
from logitkit.serve.metrics import Metrics
from logitkit.serve.middleware import Guard
from logitkit.serve.predictor import load_predictor
from logitkit.serve.routes import admin, drift, explain, feedback, health, model, predict, v2
from logitkit.serve.runtime import Runtime
from logitkit.serve.schemas import FeedbackRequest
from logitkit.serve.settings import Settings

__all__ = ["create_app"]

logger = logging.getLogger("logitkit.serve")

#: Request bodies read by hand (for the limits), documented as components.
_BODY_MODELS: dict[str, type[BaseModel]] = {
    "FeedbackRequest": FeedbackRequest,
    "InferenceRequest": v2.InferenceRequest,
}

_DESCRIPTION = """Auditable logistic-regression decisions.

Every prediction is committed to the prediction log before it is answered. Errors are
JSON naming the field and the problem. Send keys as `Authorization: Bearer <key>`.
The Open Inference Protocol (v2) is served under `/v2`.
"""


class GuardedApp(FastAPI):
    """A FastAPI app whose HTTP requests pass the :class:`Guard` before anything else.

    The guard is the outermost layer, so the hot endpoints it answers directly skip
    FastAPI's own middleware (error pages, telemetry hooks, body limits) as well as its
    routing; every other request goes on through the whole FastAPI app.
    """

    guard: Guard | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.guard is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await self.guard(scope, receive, send)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    """Build the app: load and verify the model now, open the log when it starts.

    Parameters
    ----------
    settings : Settings
        Model, log, keys and limits.

    Returns
    -------
    FastAPI
        Serve it with uvicorn (``logitkit serve`` does, with signal handling).

    Raises
    ------
    ArtifactError
        The model (or policy) file cannot be trusted or used.

    Examples
    --------
    >>> import logitkit, os, tempfile
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> tmp = tempfile.mkdtemp()
    >>> path = logitkit.LogisticModel().fit(X, y).save(os.path.join(tmp, "model.json"))
    >>> app = create_app(Settings(model_path=path, db_url=f"sqlite:///{tmp}/log.db"))
    >>> sorted(app.openapi()["components"]["schemas"]["Instance"]["properties"])[:2]
    ['area error', 'compactness error']
    """
    predictor = load_predictor(
        settings.model_path,
        name=settings.name,
        policy_path=settings.policy_path,
        max_batch=settings.max_batch,
    )
    metrics = Metrics()
    log = PredictionLog(
        settings.db_url,
        settings.db_table_prefix,
        synchronous=settings.db_synchronous,
        max_pending_rows=settings.max_pending_rows,
        metrics=metrics,
    )
    runtime = Runtime(settings, predictor, log, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.loop = asyncio.get_running_loop()
        await asyncio.to_thread(log.open)
        restore = _on_sighup(runtime)
        try:
            yield
        finally:
            restore()
            await asyncio.to_thread(log.close, max(settings.grace_period_s / 4, 1.0))

    app = GuardedApp(
        title="logitkit",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_handlers(app)
    # POST /v1/predict is served by the guard directly: routing and dependency resolution
    # took over half of each request's CPU time (measured in-process, with auth and the
    # log: about 190 us per request through FastAPI's route, 90 us through the guard).
    app.guard = Guard(app._inner, runtime=runtime, fast={("POST", "/v1/predict"): predict.handle})
    keyed = [Depends(require_api_key)] if settings.auth_enabled else []
    admin_keyed = [Depends(require_admin_key)] if settings.auth_enabled else []
    app.include_router(health.router)
    app.include_router(v2.health_router)
    app.include_router(health.metrics_router, dependencies=keyed)
    for router in (
        model.router,
        predict.router,
        explain.router,
        drift.router,
        feedback.router,
        v2.router,
    ):
        app.include_router(router, dependencies=keyed)
    app.include_router(admin.router, dependencies=admin_keyed)
    _customise_openapi(app, runtime)
    return app


def _on_sighup(runtime: Runtime) -> Any:
    """Reload on SIGHUP (main thread only); return the function that removes the handler."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def reload() -> None:
        task = loop.create_task(runtime.reload_quietly())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (tests)
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)

    return restore


def _customise_openapi(app: FastAPI, runtime: Runtime) -> None:
    """Generate the OpenAPI schema from the model serving now (regenerated after a reload)."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        current = runtime.predictor
        if current.schema_key in cache:
            return cache[current.schema_key]
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        request = dict(current.request_schema)
        components.update(request.pop("$defs", {}))
        components["PredictRequest"] = request
        # /v1/explain takes the instances only (no "interval"); same instance schema.
        components["ExplainRequest"] = {
            k: v for k, v in current.inputs.explain_schema.items() if k != "$defs"
        }
        for name, body in _BODY_MODELS.items():
            part = TypeAdapter(body).json_schema(ref_template="#/components/schemas/{model}")
            components.update(part.pop("$defs", {}))
            components[name] = part
        components["FeedbackItem"]["properties"]["label"] = {
            "description": "The true class: one of the model's classes.",
            "enum": list(current.classes),
        }
        cache.clear()
        cache[current.schema_key] = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
