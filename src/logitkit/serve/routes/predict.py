"""``POST /v1/predict``: answers only after the rows are committed to the log.

:func:`handle` is the whole endpoint, served by :data:`route`, a plain Starlette route
inside the app: the app's middleware (the guard's key check, user middleware such as
CORS) and error handlers apply to it as to every route, but FastAPI's per-request
dependency resolution and response validation, which cost more than the prediction
itself, do not run (it reads and checks its body itself). :data:`documented` describes
the same endpoint to the OpenAPI schema and is never routed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from logitkit.serve.answers import Answers
from logitkit.serve.body import json_body_schema, read_json_body
from logitkit.serve.errors import ApiError, error_responses, validation_error
from logitkit.serve.logged import predict_logged
from logitkit.serve.predictor import FloatArray, Predictor
from logitkit.serve.routes._common import REQUEST_ID_PARAMETER, request_id_header
from logitkit.serve.runtime import Runtime
from logitkit.serve.schemas import FieldError, PredictResponse

__all__ = ["documented", "handle", "route"]


async def handle(request: Request) -> Response:
    """Label, probabilities and the decision under the threshold policy, per instance.

    Every prediction is committed to the prediction log before it is answered. Send your
    own ``X-Request-ID`` to make retries safe: a retried id is answered from the log.
    With ``"interval": 0.95`` beside ``"instances"`` (binary, unpenalised models) each
    prediction also has ``probability_interval``: ``[low, high]`` of its probability.
    """
    started = time.perf_counter()
    runtime: Runtime = request.app.state.runtime
    client_id = request_id_header(request)
    model = runtime.predictor  # read once: a reload cannot mix two models in one answer
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    read = time.perf_counter()
    instances, X, level = _read(model, body)

    def render(request_id: str, version: str, answers: Answers) -> bytes:
        if level is not None:
            answers = answers.with_interval(_interval(model, X, level, version))
        head = {"model_version": version, "request_id": request_id, "predictions": None}
        return orjson.dumps(head)[:-5] + answers.predictions_json() + b"}"

    logged = await predict_logged(runtime, model, X, instances, client_id, render)
    request.state.request_id = logged.request_id
    return logged.response(started, read)


def _read(model: Predictor, body: bytes) -> tuple[list[dict[str, Any]], FloatArray, float | None]:
    """Instances, model matrix and the optional interval level, or a 422 naming the field."""
    try:
        instances, X, level = model.inputs.read_predict(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if level is not None and model.interval_refusal is not None:
        error = FieldError(
            field="interval",
            loc=["body", "interval"],
            type="interval_unavailable",
            message=model.interval_refusal,
        )
        raise ApiError(422, "validation_error", f"interval: {error.message}", errors=[error])
    return instances, X, level


def _interval(model: Predictor, X: FloatArray, level: float, version: str) -> FloatArray:
    """The intervals of the answered probabilities; a retry answered from the log gets
    them only from the model that answered it."""
    if version != model.version:
        raise ApiError(
            409,
            "request_id_reused",
            f"This request id was answered by model {version}, which is no longer served, so "
            "its probability intervals cannot be given again; send it with a new "
            "X-Request-ID.",
        )
    return model.probability_interval(X, level)


class _Endpoint:
    """:func:`handle` as a plain ASGI app: Starlette's request/response wrapper would add a
    second exception-handling layer inside the app's own (which maps errors here too)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await handle(Request(scope, receive))
        await response(scope, receive, send)


class _LabelledRoute(Route):
    """A Starlette route that puts itself in ``scope["route"]``, as FastAPI's routes do
    (the guard labels its metrics by it)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match != Match.NONE:
            child["route"] = self
        return match, child


route = _LabelledRoute("/v1/predict", _Endpoint(), methods=["POST"])

documented = APIRoute(
    "/v1/predict",
    handle,
    methods=["POST"],
    tags=["predictions"],
    response_model=PredictResponse,
    summary="Predict one instance or a batch; answered once logged",
    responses=error_responses(401, 409, 413, 415, 422, 503),
    openapi_extra={
        **json_body_schema(
            "PredictRequest", "Instances as objects of named features (see GET /v1/model)."
        ),
        "parameters": [REQUEST_ID_PARAMETER],
    },
)
