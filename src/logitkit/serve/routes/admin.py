"""``POST /admin/reload``: swap in the model file (and policy) again, atomically."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from logitkit.exceptions import ArtifactError
from logitkit.serve.deps import RuntimeDep
from logitkit.serve.errors import ApiError, error_responses
from logitkit.serve.runtime import SchemaChangeError
from logitkit.serve.schemas import ReloadResponse

__all__ = ["router"]

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    summary="Reload the model file and policy (SIGHUP does the same)",
    responses={
        **error_responses(401, 403, 422, 503),
        409: {
            **error_responses(409)[409],
            "description": "The new model changes the request schema; repeat with "
            "allow_schema_change=true to swap it in anyway.",
        },
    },
)
async def reload(
    runtime: RuntimeDep,
    allow_schema_change: Annotated[
        bool | None,
        Query(
            description="Swap in a model whose features differ from the serving one's "
            "(default: the service's LOGITKIT_ALLOW_SCHEMA_CHANGE setting)."
        ),
    ] = None,
) -> ReloadResponse:
    """Verify the configured artifact again and swap it in; a bad file is refused (422).

    The new model must answer a canary prediction (one instance made from its own
    schema) within the configured time and memory budget. A model whose request schema
    differs from the serving one's is refused (409) unless ``allow_schema_change``.
    Requests in flight finish on the model they started with; a refused file leaves the
    old model serving.
    """
    try:
        outcome = await runtime.reload(allow_schema_change=allow_schema_change)
    except SchemaChangeError as exc:
        raise ApiError(
            409,
            "schema_changed",
            f"The new model was refused and the previous one ({runtime.predictor.version}) "
            f"keeps serving: {exc}",
        ) from None
    except ArtifactError as exc:
        raise ApiError(
            422,
            "model_refused",
            f"The new model was refused and the previous one ({runtime.predictor.version}) "
            f"keeps serving: {exc}",
        ) from None
    return ReloadResponse(
        previous_version=outcome.previous,
        version=outcome.current,
        changed=outcome.previous != outcome.current,
    )
