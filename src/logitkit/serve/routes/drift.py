"""``GET /v1/drift``: logged inputs against the training distributions."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from logitkit.serve.deps import CurrentModel, RuntimeDep
from logitkit.serve.drift import drift_report
from logitkit.serve.errors import error_responses
from logitkit.serve.schemas import DriftReport

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


@router.get(
    "/v1/drift",
    response_model=DriftReport,
    summary="PSI and KS per feature, positive-rate shift, expected and realised performance",
    responses=error_responses(401, 422, 503),
)
async def drift(
    runtime: RuntimeDep,
    model: CurrentModel,
    window: Annotated[
        int | None, Query(ge=2, le=1_000_000, description="Most recent rows to compare.")
    ] = None,
    alpha: Annotated[
        float, Query(ge=1e-6, lt=0.5, description="Family-wise false-alarm rate of the flags.")
    ] = 0.05,
) -> dict[str, Any]:
    """Compare the latest logged inputs of the served model version with its training data.

    Flags use each statistic's sampling distribution under no drift, so they account for
    the window size (see ``method`` in the answer).
    """
    size = window or runtime.settings.drift_window
    rows = await asyncio.to_thread(runtime.log.window, model.version, size)
    return await asyncio.to_thread(drift_report, model, rows, window=size, alpha=alpha)
