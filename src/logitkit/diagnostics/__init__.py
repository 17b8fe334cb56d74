"""Findings: what in a model and its data can make its numbers misleading, and what to do.

:func:`diagnose` runs every check on a fitted model and its training rows (and, when
given, its out-of-fold probabilities and decision policy) and returns :class:`Findings`,
which print as a readable list and convert to plain data (``to_list()``,
JSON-serialisable) for the report and the artifact. Each :class:`Finding` has a severity
("error": the numbers are not meaningful; "warning": they are fragile; "info": worth
knowing), the check that raised it, the features involved, a message saying what was
found, and advice saying what to do, once for the Python API (``advice``) and once for
the command line (``cli_advice``).

The checks, in the order findings are listed within a severity (:data:`CHECKS`):

* ``no_signal``: the model does not beat chance (likelihood-ratio test against the
  intercept-only model; DeLong interval of the out-of-fold ROC-AUC);
* ``separation``: complete or quasi-complete separation, with the separating features;
* ``convergence``: the solver stopped early;
* ``saturation``: near-certain predictions that the outcomes contradict, or that cover
  every class (a leaking feature);
* ``unverifiable_policy``, ``unstable_threshold``: caveats of the decision policy;
* ``imbalance``, ``events_per_parameter``: too few rows of a class;
* ``duplicate``, ``collinearity``, ``constant``, ``near_constant``, ``scale``: features
  that leave coefficients unidentified or ill-conditioned;
* ``vif``: variance inflation, one finding naming every inflated feature.

Modules: :mod:`._findings` (the result types), :mod:`._rows` (the rows as the checks see
them), :mod:`._signal` (signal and policy), :mod:`._fit` (separation, convergence,
saturation, balance), :mod:`._features` (the feature checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.utils.validation import check_is_fitted

from logitkit.diagnostics._features import collinearity, constant, duplicates, scale
from logitkit.diagnostics._findings import CHECKS, INTERFACES, SEVERITIES, Finding, Findings
from logitkit.diagnostics._fit import convergence, imbalance, saturation, separation
from logitkit.diagnostics._rows import out_of_fold, rows_of
from logitkit.diagnostics._signal import no_signal, policy_findings

if TYPE_CHECKING:
    from logitkit.decision import ThresholdPolicy
    from logitkit.model import LogisticModel

__all__ = ["CHECKS", "INTERFACES", "SEVERITIES", "Finding", "Findings", "diagnose"]


def diagnose(
    model: LogisticModel,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    oof: tuple[Any, Any] | None = None,
    policy: ThresholdPolicy | None = None,
) -> Findings:
    """Check a fitted model and its training rows for what can make its numbers misleading.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The training features.
    y : array-like of shape (n_samples,)
        The training labels.
    sample_weight : array-like of shape (n_samples,), optional
        The training sample weights.
    oof : (y_true, proba), optional
        Out-of-fold labels and probabilities of the training rows: for two classes the
        probability of ``model.classes_[1]`` as a 1-D array, or an (n, K) matrix of
        every class's probability. Used to judge whether the model beats chance on rows
        it has not seen, and whether its extreme probabilities hold.
    policy : ThresholdPolicy, optional
        The decision rule; each of its ``caveats()`` becomes a finding.

    Returns
    -------
    Findings
        Ranked (see :class:`Findings`); empty when nothing was found. Separation and
        collinearity checks are skipped on data of more than 20 million values.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit import LogisticModel, diagnose
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 2))
    >>> X = np.column_stack([X, X[:, 0]])  # a duplicated column
    >>> y = (X[:, 0] + rng.standard_normal(200) > 0).astype(int)
    >>> findings = diagnose(LogisticModel().fit(X, y), X, y)
    >>> [f.check for f in findings]
    ['duplicate']
    >>> findings[0].features
    ('x0', 'x2')
    >>> noise = rng.integers(0, 2, 200)
    >>> [f.check for f in diagnose(LogisticModel().fit(X, noise), X, noise)]
    ['no_signal', 'duplicate']
    """
    check_is_fitted(model)
    d = rows_of(model, X, y, sample_weight)
    held_out = out_of_fold(model, oof)
    dups, dropped = duplicates(d)
    collinear = collinearity(d, dropped)
    separated = separation(model, d)
    stopped = convergence(model, d.binary)
    unpenalised = (
        model.penalty is None
        and model.class_weight is None
        and bool(model.fit_intercept)
        and not stopped
        and not dups
        and not any(f.check == "collinearity" for f in collinear)
    )
    found = [
        *no_signal(
            model,
            d,
            held_out,
            testable=not separated,
            own=(X, y, sample_weight) if unpenalised else None,
        ),
        *separated,
        *stopped,
        *saturation(model, d, held_out, bool(separated)),
        *policy_findings(policy),
        *imbalance(model, d),
        *dups,
        *collinear,
        *constant(d),
        *scale(d, bool(model.standardize)),
    ]
    return Findings(found)
