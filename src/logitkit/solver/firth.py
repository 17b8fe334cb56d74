"""Firth's bias-reduced logistic regression (binary), by passes over row chunks.

Firth (1993) maximises the penalised log-likelihood

.. math::

    \\ell^*(\\theta) = \\ell(\\theta) + \\tfrac12 \\log\\det I(\\theta), \\qquad
    I(\\theta) = X_a^\\top W X_a, \\quad W = \\operatorname{diag}(w_i p_i (1 - p_i))

(the Jeffreys-prior penalty), whose estimate is finite even when the classes are
completely or quasi-completely separated, and whose first-order bias is zero (Heinze
and Schemper, 2002). The penalty is invariant under affine changes of the features, so
the fit runs on the standardised scale and its coefficients in original units are those
of the unstandardised problem. Rows are weighted as frequencies (a row of weight 2 is
the row twice), as in R's ``logistf``.

Steps, in order, each iteration (as ``logistf``'s Newton-Raphson):

1. **Statistics pass** at ``theta``: log-likelihood, gradient and ``I`` (the Hessian of
   the loss); ``l*`` from the Cholesky factor of ``I``.
2. **Leverage pass**: ``h_i = w_i p_i (1 - p_i) x_i^T I^{-1} x_i`` and the modified score
   ``U* = X^T (w (y - p) + h (1/2 - p))``, the exact gradient of ``l*``.
3. **Direction** ``d = I^{-1} U*`` on the moving parameters (Fisher scoring), shortened
   so that no entry exceeds ``MAX_STEP``.
4. **Step halving** until ``l*`` does not decrease.
5. **Stopping** by :class:`~logitkit.solver.stopping.StoppingRule`, with the violation
   ``max |U*| / W``: at ``tol``, when step halving finds no increase at rounding level,
   or at ``max_iter``.

:func:`profile_interval` uses the same iteration with one coefficient held fixed to
give profile penalised-likelihood intervals and likelihood-ratio p-values (``logistf``'s
defaults); with ``firth=False`` it gives ordinary profile-likelihood intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import brentq
from scipy.stats import chi2

from logitkit.solver.loss import sigmoid
from logitkit.solver.objective import Problem
from logitkit.solver.result import SolverResult
from logitkit.solver.statistics import (
    Chunk,
    Scaling,
    Stats,
    block_statistics,
    chunk_statistics,
    standardised_block,
)
from logitkit.solver.stopping import Convergence, StoppingRule

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["MAX_STEP", "FirthSingularError", "Profile", "firth", "profile_interval"]

#: Largest change of one standardised parameter in one step (``logistf``'s ``maxstep``).
MAX_STEP = 5.0
_MAX_HALVINGS = 30
#: Profile bounds farther than this many standard errors are reported as infinite.
_MAX_SE_MULTIPLE = 2.0**12
#: Exact Newton (with the penalty's third-moment tensor) up to this many parameters;
#: Fisher scoring (``logistf``'s iteration) above.
_MAX_NEWTON_PARAMETERS = 200
#: Values per temporary when forming the third-moment tensor.
_THIRD_VALUES = 2**21


class FirthSingularError(LinAlgError):  # type: ignore[misc]
    """Raised when ``X^T W X`` is singular, so ``log det`` and Firth's penalty are undefined."""


@dataclass
class _Penalty:
    """Derivatives of ``1/2 log det I`` from the leverage pass, summed over chunks.

    ``grad`` is ``sum_i h_i (1/2 - p_i) x_i``; the Hessian is ``curv - T / 2`` where
    ``curv = 1/2 sum_i v''_i L_i x_i x_i^T`` and ``T_ab = <C_a, S C_b S>`` with the third
    moment ``C[c, d, a] = sum_i v'_i x_ic x_id x_ia``, ``S = I^{-1}``, ``L_i = x_i^T S x_i``
    and ``v'``, ``v''`` the derivatives of ``v = w p (1 - p)`` in the linear predictor.
    """

    grad: FloatArray
    curv: FloatArray | None
    third: FloatArray | None

    def __add__(self, other: _Penalty) -> _Penalty:
        if self.curv is None or other.curv is None or self.third is None or other.third is None:
            return _Penalty(self.grad + other.grad, None, None)
        return _Penalty(self.grad + other.grad, self.curv + other.curv, self.third + other.third)


def _penalty_block(
    Xa: FloatArray,
    w: FloatArray,
    theta: FloatArray,
    pen: BoolArray,
    info_inv: FloatArray,
    hessian: bool,
) -> _Penalty:
    """The penalty's derivatives from one standardised block, over the columns ``pen``."""
    A = Xa[:, pen]
    p = sigmoid(Xa @ theta)
    v = w * p * (1.0 - p)
    d1 = v * (1.0 - 2.0 * p)
    lev = np.einsum("ij,ij->i", A @ info_inv, A)
    grad = A.T @ (0.5 * d1 * lev)
    if not hessian:
        return _Penalty(grad, None, None)
    d2 = v * ((1.0 - 2.0 * p) ** 2 - 2.0 * p * (1.0 - p))
    curv = (A * (0.5 * d2 * lev)[:, None]).T @ A
    k = A.shape[1]
    third = np.zeros((k, k, k))
    step = max(1, _THIRD_VALUES // (k * k))
    for i in range(0, A.shape[0], step):
        B = A[i : i + step]
        pairs = (B[:, :, None] * B[:, None, :]).reshape(B.shape[0], k * k)
        third += ((B * d1[i : i + step, None]).T @ pairs).T.reshape(k, k, k)
    return _Penalty(grad, curv, third)


def _penalty_chunk(
    chunk: Chunk,
    theta: FloatArray,
    scaling: Scaling,
    pen: BoolArray,
    info_inv: FloatArray,
    hessian: bool,
) -> _Penalty:
    Xa = standardised_block(chunk.X, scaling)
    return _penalty_block(Xa, chunk.w, theta, pen, info_inv, hessian)


class _Design:
    """The rows: one dense block ``(Xa, y, w)`` kept in memory, or a problem's chunk source."""

    def __init__(
        self,
        block: tuple[FloatArray, NDArray[np.intp], FloatArray] | None,
        problem: Problem | None = None,
    ) -> None:
        self.block = block
        self.problem = problem
        self.n_passes = 0

    def stats(self, theta: FloatArray) -> Stats:
        self.n_passes += 1
        if self.block is not None:
            Xa, y, w = self.block
            return block_statistics(Xa, y, w, theta[None, :], hessian=True)
        assert self.problem is not None
        fn = partial(
            chunk_statistics, theta=theta[None, :], scaling=self.problem.scaling, hessian=True
        )
        return self.problem.source.map_reduce(fn)

    def penalty(
        self, theta: FloatArray, pen: BoolArray, info_inv: FloatArray, hessian: bool
    ) -> _Penalty:
        self.n_passes += 1
        if self.block is not None:
            Xa, _, w = self.block
            return _penalty_block(Xa, w, theta, pen, info_inv, hessian)
        assert self.problem is not None
        fn = partial(
            _penalty_chunk,
            theta=theta,
            scaling=self.problem.scaling,
            pen=pen,
            info_inv=info_inv,
            hessian=hessian,
        )
        return self.problem.source.map_reduce(fn)


@dataclass
class _Point:
    theta: FloatArray
    value: float  # l* (or l when firth is off)
    stats: Stats
    info: FloatArray  # I over the penalised columns
    info_inv: FloatArray


def _evaluate(design: _Design, theta: FloatArray, pen: BoolArray, firth: bool) -> _Point:
    stats = design.stats(theta)
    assert stats.hess is not None
    info = stats.hess[np.ix_(pen, pen)]
    try:
        factor = cho_factor(info, lower=False, check_finite=True)
    except (LinAlgError, ValueError):
        msg = "X^T W X is singular: the features are collinear (see logitkit.diagnose)."
        raise FirthSingularError(msg) from None
    info_inv = cho_solve(factor, np.eye(info.shape[0]))
    logdet = 2.0 * float(np.log(np.diag(factor[0])).sum())
    value = -stats.loss + (0.5 * logdet if firth else 0.0)
    return _Point(theta, value, stats, info, info_inv)


def _derivatives(
    design: _Design, point: _Point, pen: BoolArray, firth: bool, newton: bool
) -> tuple[FloatArray, FloatArray]:
    """Gradient of ``l*`` (of ``l`` when firth is off) and ``-Hessian`` over ``pen``.

    Without ``newton`` the second matrix is ``I`` (Fisher scoring).
    """
    score = -point.stats.grad.ravel()
    neg_hess = point.info
    if firth:
        third = newton and int(pen.sum()) <= _MAX_NEWTON_PARAMETERS
        penalty = design.penalty(point.theta, pen, point.info_inv, third)
        score = score.copy()
        score[pen] += penalty.grad
        if penalty.curv is not None and penalty.third is not None:
            S, C = point.info_inv, penalty.third
            SCS = np.einsum("ce,efb,fd->cdb", S, C, S, optimize=True)
            T = np.einsum("cda,cdb->ab", C, SCS, optimize=True)
            neg_hess = point.info - penalty.curv + 0.5 * T
    return score, neg_hess


@dataclass
class _Outcome:
    point: _Point
    convergence: Convergence


def _maximise(
    design: _Design,
    theta0: FloatArray,
    *,
    move: BoolArray,
    pen: BoolArray,
    firth: bool,
    total_weight: float,
    tol: float,
    max_iter: int,
) -> _Outcome:
    """Fisher scoring with step halving on ``l*`` over the parameters in ``move``."""
    point = _evaluate(design, theta0, pen, firth)
    sub = move[pen]  # the moving parameters among the penalised columns
    rule = StoppingRule(tol, max_iter)
    n_iter = 0
    while True:
        score, neg_hess = _derivatives(design, point, pen, firth, newton=True)
        violation = float(np.abs(score[move]).max(initial=0.0)) / total_weight
        stop = rule.check(violation, n_iter)
        if stop is not None:
            return _Outcome(point, stop)
        n_iter += 1
        d = np.zeros_like(point.theta)
        d[move] = _ascent(neg_hess[np.ix_(sub, sub)], point.info[np.ix_(sub, sub)], score[move])
        largest = float(np.abs(d).max())
        if largest > MAX_STEP:
            d *= MAX_STEP / largest
        t = 1.0
        for _ in range(_MAX_HALVINGS):
            try:
                trial = _evaluate(design, point.theta + t * d, pen, firth)
            except FirthSingularError:
                trial = None
            if trial is not None and trial.value >= point.value - 1e-13 * abs(point.value):
                break
            t *= 0.5
        else:
            return _Outcome(point, rule.stalled(violation, n_iter))
        point = trial


def _ascent(neg_hess: FloatArray, info: FloatArray, score: FloatArray) -> FloatArray:
    """Newton direction where ``-Hessian`` is positive definite, else Fisher scoring."""
    try:
        factor = cho_factor(neg_hess, lower=False)
    except (LinAlgError, ValueError):
        factor = cho_factor(info, lower=False)
    return np.asarray(cho_solve(factor, score))


def firth(problem: Problem, theta0: FloatArray, *, tol: float, max_iter: int) -> SolverResult:
    """Fit Firth's bias-reduced binary logistic regression.

    Parameters
    ----------
    problem : Problem
        A binary problem (``n_outputs == 1``); ``C`` and ``l1_ratio`` are ignored.
    theta0 : ndarray of shape (p + 1,)
        Flat starting parameters on the standardised scale.
    tol : float
        Stop when the largest entry of the modified score divided by the total weight
        is at most ``tol``.
    max_iter : int
        Largest number of iterations.

    Returns
    -------
    SolverResult
        ``stats.hess`` is ``X^T W X`` at the estimate (Firth's Wald covariance is its
        inverse, as in ``logistf``); ``objective`` is ``-l* / W``.

    Raises
    ------
    ValueError
        For a multinomial problem.
    FirthSingularError
        When ``X^T W X`` is singular (collinear features).

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit import LogisticModel
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])  # completely separated
    >>> model = LogisticModel(penalty="firth").fit(X, y)
    >>> bool(np.isfinite(model.coef_).all())
    True
    """
    if problem.n_outputs != 1:
        msg = (
            "penalty='firth' supports binary targets only; this target has "
            f"{problem.n_outputs} classes. Use penalty='l2' for a multinomial model."
        )
        raise ValueError(msg)
    free = problem.masks()[0]
    whole = getattr(problem.source, "single_chunk", lambda: None)()
    block = None
    if whole is not None:
        block = (standardised_block(whole.X, problem.scaling), whole.y, whole.w)
    design = _Design(block, problem)
    out = _maximise(
        design,
        np.asarray(theta0, dtype=np.float64).copy(),
        move=free,
        pen=free,
        firth=True,
        total_weight=problem.total_weight,
        tol=tol,
        max_iter=max_iter,
    )
    return SolverResult(
        theta=out.point.theta.reshape(problem.shape),
        objective=-out.point.value / problem.total_weight,
        n_passes=design.n_passes,
        method="firth",
        stats=out.point.stats,
        convergence=out.convergence,
    )


@dataclass(frozen=True)
class Profile:
    """A profile (penalised) likelihood interval for one coefficient.

    Attributes
    ----------
    lower, upper : float
        Interval bounds (``-inf`` or ``inf`` where the profile never falls far enough).
    lr_zero : float
        Likelihood-ratio statistic ``2 (l*(hat) - l*_profile(0))`` for the coefficient
        being zero (chi-squared with one degree of freedom under the null).
    """

    lower: float
    upper: float
    lr_zero: float


def profile_interval(
    A: FloatArray,
    y: NDArray[np.intp],
    w: FloatArray,
    theta_hat: FloatArray,
    j: int,
    *,
    level: float = 0.95,
    firth: bool = True,
    tol: float = 1e-11,
    max_iter: int = 200,
) -> Profile:
    """Profile (penalised) likelihood interval of coefficient ``j`` of a binary model.

    The bounds are where ``2 (l*(hat) - max_{theta_j = b} l*(theta))`` equals the
    ``level`` quantile of chi-squared with one degree of freedom; the penalty always
    uses the full model's information matrix (as ``logistf`` does).

    Parameters
    ----------
    A : ndarray of shape (n, q)
        Dense design (a column of ones for the intercept, if any, then the features in
        the units the interval is wanted in).
    y : ndarray of shape (n,)
        Class codes 0 or 1.
    w : ndarray of shape (n,)
        Row weights.
    theta_hat : ndarray of shape (q,)
        The maximiser of ``l*`` (refined here to full precision).
    j : int
        The coefficient to profile.
    level : float
        Confidence level.
    firth : bool
        Whether to include Firth's penalty (False gives ordinary profile likelihood).
    tol, max_iter : float, int
        Convergence of the inner fits (see :func:`firth`).

    Returns
    -------
    Profile

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.solver.firth import profile_interval
    >>> A = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> prof = profile_interval(A, y, np.ones(4), np.zeros(2), 1)
    >>> bool(prof.lower < 0.0 < prof.upper)
    True
    """
    q = A.shape[1]
    design = _Design((A, y, w))
    W = float(w.sum())
    every = np.ones(q, dtype=bool)
    move = every.copy()
    move[j] = False
    full = _maximise(
        design,
        theta_hat.copy(),
        move=every,
        pen=every,
        firth=firth,
        total_weight=W,
        tol=tol,
        max_iter=max_iter,
    )
    best = full.point
    cutoff = float(chi2.ppf(level, 1))
    last = [best.theta.copy()]

    def deviance(b: float) -> float:
        # l* need not be concave, so the constrained fit may have several local maxima:
        # start from the last solution and from the estimate, and keep the better.
        values = []
        for start in (last[0], best.theta):
            theta = start.copy()
            theta[j] = b
            try:
                out = _maximise(
                    design,
                    theta,
                    move=move,
                    pen=every,
                    firth=firth,
                    total_weight=W,
                    tol=tol,
                    max_iter=max_iter,
                )
            except FirthSingularError:
                continue
            values.append((out.point.value, out.point.theta))
        if not values:  # X'WX singular: fitted probabilities at 0 or 1, l* flat
            return 0.0
        value, last[0] = max(values, key=lambda v: v[0])
        return 2.0 * (best.value - value)

    se = math.sqrt(max(float(best.info_inv[j, j]), 1e-300))
    centre = float(best.theta[j])
    bounds = []
    for sign in (-1.0, 1.0):
        last[0] = best.theta.copy()
        inner, step = centre, se
        bound = sign * math.inf
        while step <= _MAX_SE_MULTIPLE * se:
            outer = centre + sign * step
            if deviance(outer) > cutoff:
                lo, hi = min(inner, outer), max(inner, outer)
                try:
                    bound = float(
                        brentq(lambda b: deviance(b) - cutoff, lo, hi, xtol=1e-10 * se, rtol=1e-13)
                    )
                except ValueError:  # the profile is not monotone here: keep the wider end
                    bound = outer
                break
            inner, step = outer, 2.0 * step
        bounds.append(bound)
    last[0] = best.theta.copy()
    return Profile(lower=bounds[0], upper=bounds[1], lr_zero=max(deviance(0.0), 0.0))
