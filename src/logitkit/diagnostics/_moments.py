"""The checks of :func:`~logitkit.diagnostics.diagnose` from what passes over the rows gather.

For rows read in passes (a streamed file, Dask partitions, or the pipeline on hash
folds in memory), the model matrix is never held, so each check runs on a summary that
a pass computes exactly:

* collinearity and VIF: the weighted correlation matrix, from the features' moments;
* constant features and scale: the moments and each feature's minimum and maximum;
* saturation: the fitted and the out-of-fold class probabilities (row vectors);
* imbalance and events per parameter: the class codes and weights (row vectors);
* no signal: the DeLong interval of the out-of-fold ROC-AUC (the likelihood-ratio
  refit needs the rows, as on large data in memory);
* convergence and the policy's caveats: the model and the policy.

Not run: separation (a linear program over the rows), identical columns (they show as
exact collinearity) and near-constant features (a value count per feature). The checks
run and not run are listed by :data:`CHECKS_RUN` and :data:`CHECKS_NOT_RUN`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from logitkit.diagnostics._features import collinearity, constant, scale
from logitkit.diagnostics._findings import CHECKS, Findings
from logitkit.diagnostics._fit import convergence, imbalance, saturation
from logitkit.diagnostics._rows import OutOfFold, Rows
from logitkit.diagnostics._signal import no_signal, policy_findings
from logitkit.inference._common import TrainingRows

if TYPE_CHECKING:
    from logitkit.decision import ThresholdPolicy
    from logitkit.evaluation import AUCInterval
    from logitkit.model import LogisticModel

__all__ = ["CHECKS_NOT_RUN", "CHECKS_RUN", "diagnose_summaries"]

FloatArray = NDArray[np.float64]

#: The checks that need the rows in memory, with the reason.
CHECKS_NOT_RUN = {
    "separation": "a linear program over the rows",
    "duplicate": "identical columns show as exact collinearity",
    "near_constant": "a count of every value of every feature",
}
#: The checks run from the summaries of passes: every check but those.
CHECKS_RUN = tuple(check for check in CHECKS if check not in CHECKS_NOT_RUN)


def diagnose_summaries(
    model: LogisticModel,
    *,
    labels: NDArray[Any],
    codes: NDArray[np.intp],
    sw: FloatArray,
    mean: FloatArray,
    sd: FloatArray,
    constant_features: NDArray[np.bool_],
    correlation: FloatArray,
    fitted: FloatArray,
    oof: FloatArray,
    policy: ThresholdPolicy | None,
    oof_auc: AUCInterval | None = None,
) -> Findings:
    """The findings of :func:`~logitkit.diagnostics.diagnose` that summaries allow.

    Parameters
    ----------
    model : LogisticModel
        The fitted model.
    labels, codes, sw : ndarray of shape (n,)
        The rows' labels, class codes and sample weights (memmaps are fine).
    mean, sd : ndarray of shape (p,)
        Weighted feature means and standard deviations.
    constant_features : ndarray of bool of shape (p,)
        Features with one value in every row.
    correlation : ndarray of shape (p, p)
        Weighted correlation matrix of the features.
    fitted, oof : ndarray of shape (n, K)
        Fitted and out-of-fold class probabilities.
    policy : ThresholdPolicy or None
        The decision rule.
    oof_auc : AUCInterval, optional
        The out-of-fold ROC-AUC of a binary model's positive class with its 95% DeLong
        interval, when already computed (the run's evaluation): not computed again.

    Returns
    -------
    Findings

    Examples
    --------
    >>> sorted(CHECKS_NOT_RUN)
    ['duplicate', 'near_constant', 'separation']
    """
    rows = TrainingRows(None, labels, codes, sw, sw)
    d = Rows(
        rows,
        model._feature_names(),
        None,
        mean,
        sd,
        constant_features,
        len(model.classes_) == 2,
        correlation,
    )
    # The rows' own class codes: the labels need no check against the classes.
    held_out = OutOfFold(labels, codes, np.asarray(oof, dtype=np.float64))
    found = [
        *no_signal(model, d, held_out, testable=False, own=None, oof_auc=oof_auc),
        *convergence(model, d.binary),
        *saturation(model, d, held_out, False, proba=fitted),
        *policy_findings(policy),
        *imbalance(model, d),
        *collinearity(d, set()),
        *constant(d),
        *scale(d, bool(model.standardize)),
    ]
    return Findings(found)
