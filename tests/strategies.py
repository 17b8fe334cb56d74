"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tests.helpers import make_logistic


@st.composite
def logistic_data(draw: st.DrawFn, max_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classification data with features on different scales."""
    n_classes = draw(st.integers(2, max_classes))
    n = draw(st.integers(60, 200))
    p = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    X, y = make_logistic(n=n, p=p, n_classes=n_classes, seed=seed, scale_spread=1.5)
    # Make sure every class is present (tiny samples can miss one).
    y[:n_classes] = np.arange(n_classes)
    return X, y


penalties = st.sampled_from([("l2", None), ("l1", None), ("elasticnet", 0.5)])
