"""When a solver stops and why: one rule for every algorithm.

Every solver (Newton, proximal Newton, L-BFGS-B, Firth) measures optimality the same
way, as the largest violation of the optimality (KKT) conditions of the objective
divided by the total weight (:func:`~logitkit.solver.objective.box_violation`), and ends for one of the reasons in
:class:`StopReason`. A :class:`StoppingRule` makes that decision and returns it as a
:class:`Convergence`, which the fit keeps in ``solver_result_.convergence``:

- ``kkt``: the violation is at most ``tol``; converged.
- ``no_progress_at_rounding``: no step lowers the objective any more, because its
  differences have reached rounding level. Converged when the violation is within
  :data:`ROUNDING_SLACK` times ``tol`` (the gradient's own rounding can sit just above a
  tight ``tol``), not converged otherwise.
- ``max_iter``: the iteration limit came first; not converged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ROUNDING_SLACK", "Convergence", "StopReason", "StoppingRule"]

#: A stop at rounding level counts as converged while the violation is at most this
#: multiple of ``tol``.
ROUNDING_SLACK = 1e3


class StopReason(StrEnum):
    """Why a solver stopped."""

    #: The optimality violation fell to ``tol``.
    KKT = "kkt"
    #: No step could lower the objective beyond rounding.
    NO_PROGRESS_AT_ROUNDING = "no_progress_at_rounding"
    #: The iteration limit was reached first.
    MAX_ITER = "max_iter"


@dataclass(frozen=True)
class Convergence:
    """The outcome of a :class:`StoppingRule`: why a solve ended, and whether that is success.

    Attributes
    ----------
    reason : StopReason
        Why the solver stopped.
    converged : bool
        Whether the solution counts as optimal (decided by :class:`StoppingRule`).
    kkt : float
        Largest optimality violation at the end.
    tol : float
        The tolerance the rule applied.
    n_iter : int
        Iterations taken.
    detail : str
        What the underlying routine said, when it has its own words (L-BFGS-B's message);
        empty otherwise.

    Examples
    --------
    >>> rule = StoppingRule(tol=1e-10, max_iter=50)
    >>> outcome = rule.stalled(kkt=4e-9, n_iter=12)
    >>> outcome.reason.value, outcome.converged
    ('no_progress_at_rounding', True)
    """

    reason: StopReason
    converged: bool
    kkt: float
    tol: float
    n_iter: int
    detail: str = ""

    @property
    def message(self) -> str:
        """Why the solver stopped, in words."""
        if self.reason is StopReason.KKT:
            text = f"converged: optimality violation {self.kkt:.1e} at most tol={self.tol:g}"
        elif self.reason is StopReason.MAX_ITER:
            text = f"stopped at max_iter={self.n_iter}"
        else:
            state = "converged" if self.converged else "stopped"
            text = f"{state}: no further decrease at rounding level"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class StoppingRule:
    """The one stopping rule every solver applies.

    Parameters
    ----------
    tol : float
        Largest optimality violation accepted as converged.
    max_iter : int
        Largest number of iterations.

    Examples
    --------
    >>> rule = StoppingRule(tol=1e-10, max_iter=3)
    >>> rule.check(kkt=1e-4, n_iter=1) is None  # go on
    True
    >>> rule.check(kkt=1e-11, n_iter=2).reason.value
    'kkt'
    >>> rule.check(kkt=1e-4, n_iter=3).converged
    False
    """

    tol: float
    max_iter: int

    def check(self, kkt: float, n_iter: int) -> Convergence | None:
        """Stop with ``kkt`` or ``max_iter`` if either applies, else None (go on)."""
        if kkt <= self.tol:
            return Convergence(StopReason.KKT, True, kkt, self.tol, n_iter)
        if n_iter >= self.max_iter:
            return Convergence(StopReason.MAX_ITER, False, kkt, self.tol, n_iter)
        return None

    def stalled(self, kkt: float, n_iter: int, detail: str = "") -> Convergence:
        """Stop because no step lowers the objective beyond rounding.

        Still a success when the violation is at most ``tol`` or within
        :data:`ROUNDING_SLACK` times it.
        """
        if kkt <= self.tol:
            return Convergence(StopReason.KKT, True, kkt, self.tol, n_iter, detail)
        converged = kkt <= ROUNDING_SLACK * self.tol
        return Convergence(
            StopReason.NO_PROGRESS_AT_ROUNDING, converged, kkt, self.tol, n_iter, detail
        )
