"""What a solver returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.objective import Curvature
from logitkit.solver.statistics import Stats

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
    kkt : float
        Largest violation of the optimality conditions at ``theta``.
    converged : bool
        Whether ``kkt <= tol`` (or no further progress was numerically possible).
    n_iter : int
        Outer iterations (Newton or L-BFGS steps).
    n_passes : int
        Statistics passes over the data.
    method : str
        Which algorithm ran: "newton", "prox-newton" or "lbfgs".
    stats : Stats
        Statistics at ``theta``; ``stats.hess`` is the exact Hessian of the loss when
        the method formed one at the solution.
    message : str
        Why the solver stopped.
    curvature : Curvature or None
        The last loss Hessian used: pass it to the next solve of a nearby problem
        (the next penalty on a path, a bootstrap resample) to skip forming one.
    """

    theta: NDArray[np.float64]
    objective: float
    kkt: float
    converged: bool
    n_iter: int
    n_passes: int
    method: str
    stats: Stats
    message: str
    curvature: Curvature | None = None
