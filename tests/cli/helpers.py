"""Data and models for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import logitkit
from logitkit import LogisticModel, ThresholdPolicy
from logitkit.data.encoding import TableEncoder


def loan_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Loans with an id, numbers, a text category, a boolean and a text outcome."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.normal(45, 12, n).round(1),
            "income": rng.lognormal(3, 0.4, n),
            "debt": rng.uniform(0.5, 10, n),
            "region": rng.choice(["east", "north", "south", "west"], n),
            "member": rng.random(n) < 0.4,
        }
    )
    z = (
        0.04 * (frame["age"] - 45)
        - 0.25 * frame["debt"]
        + 0.9 * (frame["region"] == "south")
        + 0.5 * frame["member"]
        + 1.0
    )
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "repaid", "default")
    return frame


def save_loan_model(path: Path, frame: pd.DataFrame, formula: str | None = None) -> Path:
    """A model of ``outcome`` on the raw loan columns, with a policy, written to ``path``."""
    X = frame.drop(columns=["id", "outcome"])
    y = frame["outcome"].to_numpy()
    encoder = TableEncoder(formula=formula).fit(X)
    model = LogisticModel().fit(encoder.transform(X), y)
    model.encoder_ = encoder
    proba = model.predict_proba(X)[:, 0]
    policy = ThresholdPolicy.fit(y, proba, positive="default", min_recall=0.9, n_boot=0)
    return logitkit.save(
        model, path, training={"target": "outcome", "source": "loans"}, policy=policy
    )
