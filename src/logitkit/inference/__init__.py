"""Inference for a fitted :class:`~logitkit.LogisticModel`: covariance, summary, LR tests.

**Parametrisation.** A binary model reports its one linear predictor (the log-odds of
``classes_[1]``). A multinomial model reports, as statsmodels' ``MNLogit`` and R's
``nnet::multinom`` do, each class ``k >= 1`` against the reference ``classes_[0]``:
``gamma_k = theta_k - theta_0``. The likelihood depends on ``theta`` only through these
contrasts (the K-class Hessian is singular along ``theta_k += c``), so their Hessian is
the block of the K-class Hessian for classes ``1 .. K-1``.

**Covariance.** On the standardised scale, model-based ``H^{-1}`` ("nonrobust"), or the
sandwich ``H^{-1} B H^{-1}`` with ``B`` the outer product of per-row scores ("HC0"),
times ``n / (n - k)`` ("HC1", MacKinnon and White; R's ``sandwich::vcovHC``), or of
per-cluster score sums times ``G / (G - 1) (n - 1) / (n - k)`` ("cluster", statsmodels'
CRV1). Then ``J Cov J^T`` in original units, with ``J`` the Jacobian of
``(b, beta) -> (b - mean . beta / scale, beta / scale)``. Sample weights count as
frequencies (a row of weight 2 is the row twice); class weights make the loss a weighted
pseudo-likelihood, for which only the sandwich covariances are valid.

**Penalised fits** get no Wald intervals by default (they would be centred on a shrunk
estimate and too narrow); ``method="bootstrap"`` refits on resampled rows with warm
starts and reports percentile intervals.
"""

from __future__ import annotations

from logitkit.inference._common import (
    COV_TYPES,
    FIT_STATISTICS,
    METHODS,
    SUMMARY_COLUMNS,
    TrainingRows,
    training_rows,
)
from logitkit.inference.covariance import covariance
from logitkit.inference.hypotheses import ANOVA_COLUMNS, WaldTest, anova, wald_test
from logitkit.inference.margins import MARGINS_COLUMNS, MarginalEffects, marginal_effects
from logitkit.inference.prediction import (
    PREDICTION_COLUMNS,
    LinkCovariance,
    link_covariance,
    prediction_interval,
    probability_bounds,
)
from logitkit.inference.statistics import fit_statistics, lr_test
from logitkit.inference.summary import Summary, summary

__all__ = [
    "ANOVA_COLUMNS",
    "COV_TYPES",
    "FIT_STATISTICS",
    "MARGINS_COLUMNS",
    "METHODS",
    "PREDICTION_COLUMNS",
    "SUMMARY_COLUMNS",
    "LinkCovariance",
    "MarginalEffects",
    "Summary",
    "TrainingRows",
    "WaldTest",
    "anova",
    "covariance",
    "fit_statistics",
    "link_covariance",
    "lr_test",
    "marginal_effects",
    "prediction_interval",
    "probability_bounds",
    "summary",
    "training_rows",
    "wald_test",
]
