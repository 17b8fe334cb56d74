"""What a solver returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.objective import Curvature
from logitkit.solver.statistics import Stats
from logitkit.solver.stopping import Convergence

__all__ = ["SolverResult"]


@dataclass
class SolverResult:
    """The outcome of one fit.

    Attributes
    ----------
    theta : ndarray of shape (M, p + 1)
        Standardised parameters: column 0 the intercepts, then the coefficients.
    objective : float
        Final value of the normalised objective (see :mod:`logitkit.solver.objective`).
    n_passes : int
        Statistics passes over the data.
    method : str
        Which algorithm ran: "newton", "prox-newton", "lbfgs" or "firth".
    stats : Stats
        Statistics at ``theta``; ``stats.hess`` is the exact Hessian of the loss when
        the method formed one at the solution.
    convergence : Convergence
        Why the solver stopped (``convergence.reason``), the optimality violation at
        ``theta`` and whether it counts as converged; decided by the one
        :class:`~logitkit.solver.stopping.StoppingRule` every method applies.
    curvature : Curvature or None
        The last loss Hessian used: pass it to the next solve of a nearby problem
        (the next penalty on a path, a bootstrap resample) to skip forming one.
    n_sweeps : int
        Coordinate-descent sweeps over the working set, summed over the model solves
        of proximal Newton (glmnet's ``npasses``); 0 for the other methods.
    """

    theta: NDArray[np.float64]
    objective: float
    n_passes: int
    method: str
    stats: Stats
    convergence: Convergence
    curvature: Curvature | None = None
    n_sweeps: int = 0

    @property
    def converged(self) -> bool:
        """Whether the solution counts as optimal (see :class:`Convergence`)."""
        return self.convergence.converged

    @property
    def kkt(self) -> float:
        """Largest violation of the optimality conditions at ``theta``."""
        return self.convergence.kkt

    @property
    def n_iter(self) -> int:
        """Outer iterations (Newton, L-BFGS or Firth steps)."""
        return self.convergence.n_iter

    @property
    def message(self) -> str:
        """Why the solver stopped, in words."""
        return self.convergence.message
