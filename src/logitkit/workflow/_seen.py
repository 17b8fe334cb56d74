"""Which rows of new data trained the model: their numbers are optimistic, never held-out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit.data.fingerprint import RowFingerprint
from logitkit.model import LogisticModel

__all__ = ["OPTIMISTIC", "RowOrigin", "row_origin"]

#: How rows that trained the model are named wherever their numbers are shown.
OPTIMISTIC = "training rows (optimistic)"
NEW = "rows not used in training"


@dataclass(frozen=True)
class RowOrigin:
    """Where the rows given to ``evaluate`` or ``report`` stand with respect to training.

    Attributes
    ----------
    seen : ndarray of bool or None
        Whether each row was a training row (None: the model file keeps no fingerprint).
    description : str
        The same in words, for every output.
    """

    seen: NDArray[np.bool_] | None
    description: str

    @property
    def n_seen(self) -> int:
        """Rows that trained the model (0 when unknown)."""
        return 0 if self.seen is None else int(self.seen.sum())


def row_origin(model: LogisticModel, X: Any) -> RowOrigin:
    """Test the rows ``X`` (in the model's input form) against its training fingerprint.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit import LogisticModel
    >>> model = LogisticModel().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    >>> row_origin(model, np.array([[0.0]])).description
    'unknown: the model file keeps no fingerprint of its training rows'
    """
    training = (getattr(model, "artifact_", None) or {}).get("training") or {}
    fingerprint = RowFingerprint.from_dict(training.get("row_fingerprint"))
    if fingerprint is None:
        return RowOrigin(None, "unknown: the model file keeps no fingerprint of its training rows")
    encoder = getattr(model, "encoder_", None)
    E = encoder.encode_input(X) if encoder is not None else X
    seen = fingerprint.contains(np.asarray(E, dtype=np.float64))
    n, k = len(seen), int(seen.sum())
    if k == 0:
        words = f"{n} {NEW} (none is in the model file's fingerprint of its training rows)"
    elif k == n:
        words = f"all {n} rows are {OPTIMISTIC}: the model was fitted on them"
    else:
        words = f"{n - k} {NEW} and {k} {OPTIMISTIC}"
    return RowOrigin(seen, words)
