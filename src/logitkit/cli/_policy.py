"""The decision-rule options shared by the commands that choose a policy."""

from __future__ import annotations

from typing import Annotated

import typer

from logitkit.workflow import policy_rule
from logitkit.workflow._procedure import choose_policy
from logitkit.workflow._spec import PolicyRule

__all__ = ["ConfidenceOption", "PolicyRule", "choose_policy", "policy_rule"]

# The decision-rule options, shared by the commands that choose a policy.
MinRecallOption = Annotated[
    float | None, typer.Option(help="Policy: the highest threshold with recall >= this.")
]
MinPrecisionOption = Annotated[
    float | None, typer.Option(help="Policy: the lowest threshold with precision >= this.")
]
MaxFprOption = Annotated[
    float | None,
    typer.Option(
        "--max-fpr", help="Policy: the lowest threshold with false-positive rate <= this."
    ),
]
CostFpOption = Annotated[
    float | None, typer.Option(help="Policy: cost of a false positive (with --cost-fn).")
]
CostFnOption = Annotated[
    float | None, typer.Option(help="Policy: cost of a false negative (a missed positive).")
]


ConfidenceOption = Annotated[
    float | None,
    typer.Option(
        help="With a constraint: choose the threshold so that it holds at this confidence "
        "(an exact one-sided bound, e.g. 0.95), or fail when the data cannot show it."
    ),
]
