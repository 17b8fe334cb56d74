"""The Open Inference Protocol (v2), so KServe and Seldon tooling can call the model.

Inputs are one ``[N, p]`` tensor or one tensor per feature (see
:mod:`logitkit.serve.tensors`), as JSON or under the binary tensor extension; outputs are
``label``, ``probability`` (of the positive class), ``probabilities`` (``[N, K]``,
columns in class order) and ``decision``, as JSON or as bytes when asked (Triton's and
KServe's clients call it unmodified). Errors are 400 with ``{"error": "..."}`` as the
protocol asks. Every prediction is logged before it is answered, as under ``/v1``.

The request's ``id`` is echoed in the answer and is no more than a label: only an
``X-Request-ID`` header makes a retry safe (answered from the log).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from logitkit import __version__
from logitkit.serve.answers import Answers
from logitkit.serve.body import BINARY_HEADER, json_body_schema, read_inference_body
from logitkit.serve.deps import CurrentModel, RuntimeDep
from logitkit.serve.errors import ApiError, error_responses, json_response, validation_error
from logitkit.serve.logged import predict_logged
from logitkit.serve.predictor import FloatArray, Predictor
from logitkit.serve.routes._common import REQUEST_ID_PARAMETER, request_id_header
from logitkit.serve.routes.health import readiness
from logitkit.serve.runtime import Runtime
from logitkit.serve.tensors import (
    TensorError,
    binary_output,
    datatype_of,
    float_tensor_matrix,
    model_matrix,
    wants_binary,
    with_binary_data,
)

__all__ = ["InferenceRequest", "health_router", "router"]

router = APIRouter(tags=["open inference protocol (v2)"])
health_router = APIRouter(tags=["open inference protocol (v2)"])

_OUTPUTS = ("label", "probability", "probabilities", "decision")


Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class RequestInput(BaseModel):
    """One input tensor: ``data`` in the JSON, or its bytes after it (``binary_data_size``
    in ``parameters``)."""

    name: str = Field(min_length=1)
    shape: list[Annotated[int, Field(ge=0)]] = Field(
        min_length=1, description="[N, p] for one tensor, [N] or [N, 1] per feature."
    )
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class RequestOutput(BaseModel):
    """An output asked for by name."""

    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """The protocol's inference request."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class Tensor(BaseModel):
    """An output tensor (``data`` flattened in row-major order)."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferenceResponse(BaseModel):
    """The protocol's inference response."""

    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[Tensor]


class MetadataTensor(BaseModel):
    """Name, type and shape of a tensor (-1: any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """The protocol's model metadata."""

    name: str
    versions: list[str] | None = None
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class ServerMetadata(BaseModel):
    """The protocol's server metadata."""

    name: str
    version: str
    extensions: list[str]


class Liveness(BaseModel):
    """``{"live": true}``."""

    live: bool


class Readiness(BaseModel):
    """``{"ready": true}`` (with the model's name for model readiness)."""

    name: str | None = None
    ready: bool


def _model(model: Predictor, name: str, version: str | None) -> Predictor:
    if name != model.name:
        msg = f"Unknown model {name!r}; this server serves {model.name!r}."
        raise ApiError(404, "model_not_found", msg)
    if version is not None and version != model.version:
        msg = f"Model {name!r} has no version {version!r}; it serves {model.version!r}."
        raise ApiError(404, "version_not_found", msg)
    return model


@health_router.get("/v2/health/live", response_model=Liveness, summary="Server live (v2)")
async def v2_live() -> dict[str, bool]:
    """200 while the process serves HTTP."""
    return {"live": True}


@health_router.get(
    "/v2/health/ready",
    response_model=Readiness,
    summary="Server ready (v2)",
    responses={400: {"model": Readiness, "description": "Not ready (the protocol's 4xx)."}},
)
async def v2_ready(runtime: RuntimeDep) -> Response:
    """200 when ready; 400 (the protocol's 'false') when not."""
    ready = not await readiness(runtime)
    return json_response({"ready": ready}, 200 if ready else 400)


@router.get(
    "/v2",
    response_model=ServerMetadata,
    summary="Server metadata (v2)",
    responses=error_responses(401),
)
async def v2_server() -> dict[str, Any]:
    """Name, version and extensions of the server."""
    return {"name": "logitkit", "version": __version__, "extensions": []}


def _metadata(model: Predictor) -> dict[str, Any]:
    kinds = {"float": "FP64", "int": "INT64", "bool": "BOOL", "category": "BYTES"}
    label = datatype_of(list(model.classes))
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "logitkit",
        "inputs": [
            {"name": f.name, "datatype": kinds[f.type], "shape": [-1]} for f in model.features
        ],
        "outputs": [
            {"name": "label", "datatype": label, "shape": [-1]},
            {"name": "probability", "datatype": "FP64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(model.classes)]},
            {
                "name": "decision",
                "datatype": label if model.rule.kind != "bands" else "BYTES",
                "shape": [-1],
            },
        ],
    }


@router.get(
    "/v2/models/{model_name}",
    response_model=ModelMetadata,
    summary="Model metadata (v2)",
    responses=error_responses(401, 404),
)
async def v2_model(model_name: str, model: CurrentModel) -> dict[str, Any]:
    """Inputs (one per feature), outputs and the version of the model."""
    return _metadata(_model(model, model_name, None))


@router.get(
    "/v2/models/{model_name}/versions/{model_version}",
    response_model=ModelMetadata,
    summary="Model version metadata (v2)",
    responses=error_responses(401, 404),
)
async def v2_model_version(
    model_name: str, model_version: str, model: CurrentModel
) -> dict[str, Any]:
    """The metadata, if ``model_version`` is the one served."""
    return _metadata(_model(model, model_name, model_version))


@router.get(
    "/v2/models/{model_name}/ready",
    response_model=Readiness,
    summary="Model ready (v2)",
    responses=error_responses(401, 404),
)
async def v2_model_ready(model_name: str, model: CurrentModel) -> dict[str, Any]:
    """Ready once loaded (a served model always is)."""
    return {"name": _model(model, model_name, None).name, "ready": True}


@router.get(
    "/v2/models/{model_name}/versions/{model_version}/ready",
    response_model=Readiness,
    summary="Model version ready (v2)",
    responses=error_responses(401, 404),
)
async def v2_model_version_ready(
    model_name: str, model_version: str, model: CurrentModel
) -> dict[str, Any]:
    """Ready if ``model_version`` is the one served."""
    return {"name": _model(model, model_name, model_version).name, "ready": True}


def _read(
    model: Predictor, body: bytes, blob: bytes, max_batch: int
) -> tuple[Any, FloatArray, list[dict[str, Any]]]:
    """The request (id, outputs), its model matrix and, for encoded models, its instances.

    ``body`` is the JSON request and ``blob`` the bytes of its binary inputs (if any).

    Raises
    ------
    ApiError
        400 naming what is wrong.
    """
    fast = None if blob else float_tensor_matrix(model, body, max_batch)
    request: Any
    if fast is not None:
        request, X = fast
        instances: list[dict[str, Any]] = []
    else:
        try:
            request = InferenceRequest.model_validate_json(body)
        except ValidationError as exc:
            error = validation_error(exc)
            raise ApiError(400, "bad_request", error.message, errors=error.errors) from None
    unknown = [o.name for o in request.outputs or () if o.name not in _OUTPUTS]
    try:
        if unknown:
            msg = f"Unknown outputs {unknown}; this model gives {list(_OUTPUTS)}."
            raise TensorError(msg)
        if fast is None:
            X, instances = model_matrix(model, with_binary_data(request.inputs, blob))
        if X.shape[0] > max_batch:
            msg = f"{X.shape[0]} rows exceed the limit of {max_batch} per request."
            raise TensorError(msg)
    except TensorError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return request, X, instances


async def _infer(request: Request, runtime: Runtime, model: Predictor) -> Response:
    started = time.perf_counter()
    header_id = request_id_header(request)
    body, blob = await read_inference_body(request, runtime.settings.max_body_bytes)
    read = time.perf_counter()
    parsed, X, instances = _read(model, body, blob, runtime.settings.max_batch)
    asked = (
        [(o.name, o.parameters) for o in parsed.outputs]
        if parsed.outputs
        else [(name, None) for name in _OUTPUTS]
    )
    names = [name for name, _ in asked]
    binary = [wants_binary(parsed.parameters, parameters) for _, parameters in asked]
    n, k = X.shape[0], len(model.classes)
    json_length = [0]  # of the last answer rendered (a retry renders twice)

    def render(request_id: str, version: str, answers: Answers) -> bytes:
        tensors = {
            "label": ([n], datatype_of(answers.labels), answers.labels),
            "probability": ([n], "FP64", np.ascontiguousarray(answers.probability)),
            "probabilities": ([n, k], "FP64", answers.proba.ravel()),
            "decision": ([n], datatype_of(answers.decisions), answers.decisions),
        }
        outputs: list[dict[str, Any]] = []
        blobs: list[bytes] = []
        for name, as_bytes in zip(names, binary, strict=True):
            shape, datatype, data = tensors[name]
            output: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
            if as_bytes:
                blobs.append(binary_output(data, datatype))
                output["parameters"] = {"binary_data_size": len(blobs[-1])}
            else:
                output["data"] = data
            outputs.append(output)
        answer = {
            "model_name": model.name,
            "model_version": version,
            "id": parsed.id if parsed.id is not None else request_id,
            "parameters": {"threshold": model.rule.threshold, "request_id": request_id},
            "outputs": outputs,
        }
        head = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
        json_length[0] = len(head)
        return head + b"".join(blobs)

    logged = await predict_logged(runtime, model, X, instances, header_id, render)
    request.state.request_id = logged.request_id
    response = logged.response(started, read)
    if any(binary):
        response.headers[BINARY_HEADER] = str(json_length[0])
        response.headers["content-type"] = "application/octet-stream"
    return response


_INFER_RESPONSES = error_responses(400, 401, 404, 409, 413, 415, 422, 503)
_INFER_BODY = {
    **json_body_schema(
        "InferenceRequest",
        "The protocol's inference request (no Content-Type is taken as JSON). Under the "
        "binary tensor extension, send 'Inference-Header-Content-Length: <bytes of the "
        "JSON>' and the inputs' bytes after the JSON.",
    ),
    "parameters": [REQUEST_ID_PARAMETER],
}


@router.post(
    "/v2/models/{model_name}/infer",
    summary="Inference (v2)",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    openapi_extra=_INFER_BODY,
)
async def v2_infer(
    request: Request,
    model_name: str,
    runtime: RuntimeDep,
    model: CurrentModel,
) -> Response:
    """Predict and log, then answer with the label, probabilities and decision tensors."""
    return await _infer(request, runtime, _model(model, model_name, None))


@router.post(
    "/v2/models/{model_name}/versions/{model_version}/infer",
    summary="Inference on a version (v2)",
    response_model=InferenceResponse,
    responses=_INFER_RESPONSES,
    openapi_extra=_INFER_BODY,
)
async def v2_infer_version(
    request: Request,
    model_name: str,
    model_version: str,
    runtime: RuntimeDep,
    model: CurrentModel,
) -> Response:
    """Inference, if ``model_version`` is the one served."""
    return await _infer(request, runtime, _model(model, model_name, model_version))
