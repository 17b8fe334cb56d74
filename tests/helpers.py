"""Test helpers: seeded data and an objective written independently of logitkit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np


def make_logistic(
    n: int = 300, p: int = 5, n_classes: int = 2, seed: int = 0, scale_spread: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Features on different scales, labels drawn from a true logistic model (overlapping)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    B = rng.standard_normal((p, n_classes)) * 0.8
    logits = X @ B
    logits -= logits.max(axis=1, keepdims=True)
    P = np.exp(logits)
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=row) for row in P])
    scales = 10.0 ** rng.uniform(-scale_spread, scale_spread, p)
    offsets = rng.uniform(-5, 5, p) * scales
    return X * scales + offsets, y


def objective(
    coef: np.ndarray,
    intercept: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    C: float,
    l1_ratio: float,
    sample_weight: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> float:
    """scikit-learn's objective, written out independently of logitkit.

    ``C * sum_i w_i loss_i + l1_ratio ||b||_1 + (1 - l1_ratio)/2 ||b||^2`` where ``b`` are
    the coefficients on the standardised scale (``coef * scale``).
    """
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    Z = X @ np.atleast_2d(coef).T + intercept
    classes = np.unique(y)
    if Z.shape[1] == 1:
        z = Z[:, 0]
        t = (y == classes[1]).astype(float)
        loss = np.logaddexp(0, z) - t * z
    else:
        codes = np.searchsorted(classes, y)
        zmax = Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(Z - zmax).sum(axis=1)) + zmax[:, 0]
        loss = lse - Z[np.arange(len(y)), codes]
    b = np.atleast_2d(coef) * (1.0 if scale is None else scale)
    penalty = l1_ratio * np.abs(b).sum() + 0.5 * (1 - l1_ratio) * (b**2).sum()
    return float(C * (w @ loss) + (0.0 if np.isinf(C) else penalty))


@contextlib.contextmanager
def two_worker_cluster() -> Iterator[Any]:
    """A real ``distributed.LocalCluster`` of two single-threaded worker processes on
    127.0.0.1, no dashboards; yields a client once both workers are up."""
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        yield client
