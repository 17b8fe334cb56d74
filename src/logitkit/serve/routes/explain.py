"""``POST /v1/explain``: each feature's exact contribution to the log-odds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from logitkit.serve.body import json_body_schema, read_json_body
from logitkit.serve.deps import CurrentModel, RuntimeDep
from logitkit.serve.errors import error_responses, json_response
from logitkit.serve.logged import new_request_id
from logitkit.serve.routes._common import (
    REQUEST_ID_PARAMETER,
    read_instances,
    request_id_header,
)
from logitkit.serve.schemas import ExplainResponse

__all__ = ["router"]

router = APIRouter(tags=["predictions"])


@router.post(
    "/v1/explain",
    response_model=ExplainResponse,
    summary="Explain predictions: contributions to the log-odds, largest first",
    responses=error_responses(401, 413, 415, 422, 503),
    openapi_extra={
        **json_body_schema(
            "ExplainRequest", "The instances, as for /v1/predict (without 'interval')."
        ),
        "parameters": [REQUEST_ID_PARAMETER],
    },
)
async def explain(request: Request, runtime: RuntimeDep, model: CurrentModel) -> Response:
    """``log_odds = baseline + sum(contributions)``, with ``contribution = coef * (x - mean)``.

    The baseline is the log-odds at the training mean; for a linear model this split is
    exact (it equals the SHAP values under independent features). Explanations are not
    logged: they decide nothing.
    """
    client_id = request_id_header(request)
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    _, X = read_instances(model, body)
    request_id = client_id or new_request_id()
    request.state.request_id = request_id
    explanations = model.explain(X)
    return json_response(
        {"model_version": model.version, "request_id": request_id, "explanations": explanations},
        headers={"X-Request-ID": request_id},
    )
