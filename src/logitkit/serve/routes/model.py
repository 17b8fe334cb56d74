"""``GET /v1/model``: the model being served."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from logitkit.serve.deps import CurrentModel
from logitkit.serve.errors import error_responses
from logitkit.serve.schemas import ModelInfo

__all__ = ["router"]

router = APIRouter(tags=["model"])


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    summary="Version hash, features and types, classes, threshold policy",
    responses=error_responses(401, 503),
)
async def model_info(model: CurrentModel) -> dict[str, Any]:
    """What is served: the artifact's SHA-256 (the version), features, classes and policy."""
    return model.describe()
