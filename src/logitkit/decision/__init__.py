"""Decisions from probabilities: thresholds, risk bands and multiclass cost rules.

Everything here works on labels and probabilities only (never on a model), so a
decision rule can be chosen, audited and re-chosen from any labelled predictions. The
probabilities should be out-of-fold (cross-validated) predictions on the training data
(``LogisticModelCV.oof_proba_``): choosing a threshold on a test set leaks that test set
into the decision.

Decision rule: predict the positive label when ``proba >= threshold``, written once, in
:func:`decide`; every other part of logitkit decides through it.

How a threshold is chosen. The distinct scores ``s_1 > s_2 > ... > s_m`` split the
thresholds into operating points: every ``t`` in ``(s_{k+1}, s_k]`` flags exactly the
rows scored ``>= s_k``. A rule (a cost, or a constraint) picks the operating point; the
threshold reported for it is the **midpoint** ``(s_k + s_{k+1}) / 2`` (``s_m / 2`` for the
point that flags every row, ``(s_1 + 1) / 2`` for the one that flags none), so that a
new row scored a little either side of a training score is treated like its neighbours.

How sure a threshold is. A fitted policy records the counts behind it, exact
(Clopper-Pearson) intervals of its rates, how many rows set its threshold (``rests_on``)
and whether those rows can show a constraint's target at all (``verification``); with
``at_confidence`` a constraint is met by its exact one-sided bound rather than by the
point estimate. ``policy.describe()`` and ``policy.caveats()`` say it in words.

Modules: :mod:`.threshold` (:class:`ThresholdPolicy`), :mod:`.bands` (:class:`RiskBands`),
:mod:`.multiclass` (:class:`MulticlassPolicy`), :mod:`.exact` (Clopper-Pearson bounds),
:mod:`._rules` (the decision rule, the metric vocabulary, rule checks and the
operating-point numerics), :mod:`._evidence` (what a threshold rests on, verification) and
:mod:`._words` (descriptions and caveats).
"""

from __future__ import annotations

from logitkit._validation import Label
from logitkit.decision._evidence import Verification
from logitkit.decision._rules import POLICY_METRICS, decide
from logitkit.decision.bands import RiskBands
from logitkit.decision.exact import clopper_pearson, rows_needed
from logitkit.decision.multiclass import MulticlassPolicy
from logitkit.decision.threshold import ThresholdPolicy

__all__ = [
    "POLICY_METRICS",
    "Label",
    "MulticlassPolicy",
    "RiskBands",
    "ThresholdPolicy",
    "Verification",
    "clopper_pearson",
    "decide",
    "rows_needed",
]
