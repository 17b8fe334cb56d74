"""``POST /admin/reload``: swap in the model file (and policy) again, atomically."""

from __future__ import annotations

from fastapi import APIRouter

from logitkit.exceptions import ArtifactError
from logitkit.serve.deps import RuntimeDep
from logitkit.serve.errors import ApiError, error_responses
from logitkit.serve.schemas import ReloadResponse

__all__ = ["router"]

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    summary="Reload the model file and policy (SIGHUP does the same)",
    responses=error_responses(401, 403, 422, 503),
)
async def reload(runtime: RuntimeDep) -> ReloadResponse:
    """Verify the configured artifact again and swap it in; a bad file is refused (422).

    Requests in flight finish on the model they started with; a refused file leaves the
    old model serving.
    """
    try:
        outcome = await runtime.reload()
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
