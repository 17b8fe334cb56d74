"""``POST /v1/feedback``: the true labels of logged predictions, for realised performance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from logitkit.serve.body import json_body_schema, read_json_body
from logitkit.serve.deps import CurrentModel, RuntimeDep
from logitkit.serve.errors import ApiError, error_responses, validation_error
from logitkit.serve.log import LogUnavailableError
from logitkit.serve.schemas import FeedbackRequest, FeedbackResponse, FieldError

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    summary="Record true labels of logged predictions (all or none)",
    responses=error_responses(401, 404, 413, 415, 422, 503),
    openapi_extra=json_body_schema("FeedbackRequest", "True labels by request id and instance."),
)
async def feedback(request: Request, runtime: RuntimeDep, model: CurrentModel) -> FeedbackResponse:
    """Store each label against its logged prediction; a later label replaces an earlier one.

    All items are stored or none: an unknown request id answers 404 naming it.
    """
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    try:
        items = FeedbackRequest.model_validate_json(body).feedback
    except ValidationError as exc:
        raise validation_error(exc) from None
    classes = dict(zip(model.class_keys, model.classes, strict=True))
    bad = [
        FieldError(
            field=f"feedback[{i}].label",
            loc=["feedback", i, "label"],
            type="unknown_class",
            message=f"{item.label!r} is not a class of the model; use one of {list(model.classes)!r}",
        )
        for i, item in enumerate(items)
        if str(item.label) not in classes
    ]
    if bad:
        raise ApiError(422, "validation_error", f"{bad[0].field}: {bad[0].message}.", errors=bad)
    latest = {
        (i.request_id, i.instance): {
            "request_id": i.request_id,
            "instance": i.instance,
            "label": str(i.label),
        }
        for i in items
    }
    rows = list(latest.values())
    try:
        missing = await runtime.log.feedback(rows)
    except LogUnavailableError as exc:
        raise ApiError(503, "log_unavailable", str(exc), headers={"Retry-After": "1"}) from None
    if missing:
        shown = ", ".join(f"{rid!r} instance {k}" for rid, k in missing[:5])
        raise ApiError(
            404,
            "prediction_not_found",
            f"No logged prediction for {shown}; nothing was stored. Send the request_id "
            "(and instance) from a /v1/predict answer.",
        )
    return FeedbackResponse(accepted=len(rows))
