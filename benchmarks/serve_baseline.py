"""The baseline service, written the common way: a joblib-pickled scaler and model.

A synchronous FastAPI endpoint takes a list of 30 floats, scales them with a pickled
scikit-learn ``StandardScaler`` and calls the pickled ``LogisticRegression``'s
``predict`` (and ``predict_proba``) per request. It logs nothing. Serve it with
``uvicorn benchmarks.serve_baseline:app`` after :func:`fit_and_dump`, with the pickles
named by ``BASELINE_SCALER`` and ``BASELINE_MODEL``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

__all__ = ["app", "fit_and_dump"]


def fit_and_dump(X: Any, y: Any, directory: Path) -> dict[str, str]:
    """Fit the scaler and model on ``X, y``, pickle them; return the environment to serve them."""
    scaler = StandardScaler().fit(X)
    model = LogisticRegression().fit(scaler.transform(X), y)
    paths = {
        "BASELINE_SCALER": directory / "scaler.joblib",
        "BASELINE_MODEL": directory / "model.joblib",
    }
    joblib.dump(scaler, paths["BASELINE_SCALER"])
    joblib.dump(model, paths["BASELINE_MODEL"])
    return {k: str(v) for k, v in paths.items()}


app = FastAPI()
_scaler = joblib.load(os.environ["BASELINE_SCALER"]) if "BASELINE_SCALER" in os.environ else None
_model = joblib.load(os.environ["BASELINE_MODEL"]) if "BASELINE_MODEL" in os.environ else None


class Features(BaseModel):
    """The request: the 30 features in training order."""

    features: list[float]


@app.post("/predict")
def predict(request: Features) -> dict[str, Any]:
    """Scale, predict, answer."""
    X = _scaler.transform(np.array([request.features]))  # type: ignore[union-attr]
    label = _model.predict(X)[0]  # type: ignore[union-attr]
    probability = _model.predict_proba(X)[0, 1]  # type: ignore[union-attr]
    return {"label": str(label), "probability": float(probability)}
