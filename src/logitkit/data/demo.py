"""The built-in demo: scikit-learn's breast-cancer data set (569 tumours x 30 features).

Labels are the words, not scikit-learn's 0/1 codes, so nobody has to remember that
class 0 is "malignant" — the label that a screen must not miss.
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer

__all__ = ["DEMO_POSITIVE", "DEMO_TARGET", "load_demo"]

DEMO_TARGET = "diagnosis"
DEMO_POSITIVE = "malignant"


def load_demo() -> pd.DataFrame:
    """The breast-cancer data as one frame: 30 numeric features and a ``diagnosis`` column.

    Returns
    -------
    pandas.DataFrame
        569 rows; ``diagnosis`` is "malignant" (212 rows) or "benign" (357 rows).

    Examples
    --------
    >>> from logitkit.data.demo import load_demo
    >>> frame = load_demo()
    >>> frame.shape
    (569, 31)
    >>> frame["diagnosis"].value_counts().to_dict()
    {'benign': 357, 'malignant': 212}
    """
    bunch = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = bunch.data.copy()
    names = bunch.target_names
    frame[DEMO_TARGET] = [str(names[code]) for code in bunch.target]
    return frame
