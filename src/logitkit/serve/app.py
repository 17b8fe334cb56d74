"""The app factory: ``create_app(settings)`` builds one FastAPI app around one model.

Routers are mounted per resource. Every request passes one guard (overload, timeout,
shutdown, and the key check of :func:`logitkit.serve.deps.access`: an API key for the
API, an admin key for ``/admin``, health open, docs and metrics as configured) and every
error gets one JSON mapping, whatever route raised it. Middleware added later with
``app.add_middleware`` wraps them all. The OpenAPI schema is generated from the model
being served, so it names the real features and their types, and it lists which key
each operation needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from logitkit import __version__
from logitkit.serve.deps import SCHEME_OF, SECURITY_SCHEMES, access
from logitkit.serve.errors import install_handlers
from logitkit.serve.log import PredictionLog
from logitkit.serve.metrics import Metrics
from logitkit.serve.middleware import Guard
from logitkit.serve.routes import (
    admin,
    docs,
    drift,
    explain,
    feedback,
    health,
    model,
    predict,
    v2,
)
from logitkit.serve.runtime import Runtime, configured_predictor
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


def _telemetry(on: bool) -> dict[str, Any]:
    """FastAPI's native OpenTelemetry switches (FastAPI releases that have them)."""
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    return {"telemetry": {"tracing": on, "metrics": on, "logs": on}}


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
    predictor = configured_predictor(settings)
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

    app = FastAPI(
        title="logitkit",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by routes.docs
        redoc_url=None,
        **_telemetry(settings.otel),
    )
    app.state.runtime = runtime
    install_handlers(app)
    app.add_middleware(Guard, runtime=runtime)
    # The hot endpoint is a plain route, matched first (see routes.predict): FastAPI's
    # dependency resolution took over a quarter of each prediction's time.
    app.router.routes.insert(0, predict.route)
    app.router.routes.append(docs.assets)
    # Each router's routes go into the app's own list, not behind an included router:
    # the guard finds the route a refused request was addressed to by the routes' own
    # matching, and the router reaches a route in one step.
    for router in (
        health.router,
        health.metrics_router,
        docs.router,
        model.router,
        explain.router,
        drift.router,
        feedback.router,
        v2.health_router,
        v2.router,
        admin.router,
    ):
        app.router.routes.extend(router.routes)
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
            # Draining: nothing to reload, and SIGHUP's default action would kill us.
            signal.signal(signal.SIGHUP, signal.SIG_IGN)

    return restore


def _customise_openapi(app: FastAPI, runtime: Runtime) -> None:
    """Generate the OpenAPI schema from the model serving now (regenerated after a reload)."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        current = runtime.predictor
        if current.schema_key in cache:
            return cache[current.schema_key]
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=[*app.routes, predict.documented],
        )
        _document_keys(schema, runtime)
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


def _document_keys(schema: dict[str, Any], runtime: Runtime) -> None:
    """Mark each operation with the key :func:`~logitkit.serve.deps.access` asks of it."""
    used = set()
    for path, item in schema.get("paths", {}).items():
        rule = access(runtime.settings, path)
        for operation in item.values():
            if rule != "open":
                operation["security"] = [{SCHEME_OF[rule]: []}]
                used.add(SCHEME_OF[rule])
    if used:
        schemes = {name: SECURITY_SCHEMES[name] for name in sorted(used)}
        schema.setdefault("components", {})["securitySchemes"] = schemes
