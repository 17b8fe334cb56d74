"""Regularisation by cross-validation: a warm-started path over C (and l1_ratio) per fold.

Each fold is prepared once (checks, moments, chunk source over its training rows only,
so its standardisation never sees the held-out rows); the whole grid of penalties is
then solved on it from the strongest penalty to the weakest, each fit starting from the
previous solution, and scored on the held-out rows. Folds run in parallel (joblib
workers, one BLAS thread each: small fits are fastest single-threaded). The chosen
penalty is refitted on all rows as a :class:`~logitkit.model.LogisticModel`, and the
out-of-fold probabilities at that penalty are kept for choosing decision thresholds.

Modules: :mod:`._path` (one fold's path, the default grid, the held-out scores) and
:mod:`._estimator` (:class:`LogisticModelCV`: folds, selection, refit); and
:mod:`._hash_folds` (:class:`HashKFold`: folds by a hash of each row, for data at
scale, and :func:`cross_val_proba`).
"""

from __future__ import annotations

from logitkit.selection._estimator import CV_RESULTS_COLUMNS, LogisticModelCV
from logitkit.selection._hash_folds import HashKFold, cross_val_proba
from logitkit.selection._path import SCORINGS

__all__ = ["CV_RESULTS_COLUMNS", "SCORINGS", "HashKFold", "LogisticModelCV", "cross_val_proba"]
