"""Fold models fitted in lockstep: one pass over the rows per step serves every fold.

The pipeline on hash folds fits one model per fold, each on the other folds' rows.
Fitted one after another, each would read every row on every solver pass (and hash
every row again to find its fold). Here all of them step together:

* **One moments pass** (:func:`fold_data`, or :func:`group_moments` on a scan the
  caller makes anyway) gathers :class:`~logitkit.solver.moments.Moments` per fold;
  fold ``j``'s training rows are all folds but ``j``, so its moments (hence its
  standardisation, class weights and total weight, exactly those its own fit would
  compute) are the sum of the other folds'.
* **One pass per step** (:func:`lockstep_block`, a scan of :mod:`._rows`): each block's
  folds are hashed once; every model's linear predictor comes from one product
  ``X [coef_1 ... coef_m]``, and each model's loss and gradient sum its rows outside its
  fold, in its own class weights. When asked, the same pass forms the loss Hessian of
  each fold's rows at one *shared point* (the mean of the models' coefficients): ``K``
  Hessians that together cost one.
* **Steps.** Model ``j`` steps along ``-(B_j + penalty)^{-1} g_j``. ``B_j`` starts as
  ``H_{-j}``, the shared point's Hessian of the other folds' rows mapped to model
  ``j``'s own standardisation, and is updated by BFGS from each step and the change of
  the exact gradient, which carries it to model ``j``'s own point. The fold models sit
  close to the shared point (they differ by one fold's rows), so this is nearly
  Newton's step; each step is checked by the Armijo rule of
  :mod:`logitkit.solver.damped` (halved until accepted, one pass per trial), and the
  shared Hessians are formed again when a step slows down. Along a path of C, each
  model starts from its solution at the previous C moved by one Newton step of the new
  objective (whose gradient there is known without a pass).
* **Stopping.** Each model's objective, gradient and optimality violation are computed
  exactly from its pass statistics by its own :class:`~logitkit.solver.objective.
  Objective` (the problem its separate fit would solve), and each stops by the one
  :class:`~logitkit.solver.stopping.StoppingRule`; a model that stops leaves the
  later passes. The answers are therefore those of separate fits, to the tolerance.

Smooth problems only (no penalty, or L2) with a Hessian small enough for Newton's
method; L1, elastic net, bounds and penalty factors are fitted fold by fold.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial, reduce
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit._fitting import build_problem
from logitkit._fitting_sources import class_weighted
from logitkit.data.row_filters import RowFilter
from logitkit.exceptions import ConvergenceWarning
from logitkit.model import LogisticModel
from logitkit.selection import HashKFold
from logitkit.solver import MAX_HESSIAN_PARAMETERS, NEWTON_MAX_PARAMETERS, initial_theta
from logitkit.solver.damped import MIN_STEP, accepts_step
from logitkit.solver.loss import log1pexp, sigmoid, softmax
from logitkit.solver.moments import Moments, chunk_moments
from logitkit.solver.newton import newton_direction
from logitkit.solver.objective import Curvature, Objective, Point
from logitkit.solver.statistics import (
    Chunk,
    Scaling,
    Stats,
    block_statistics,
    original_units,
    standardised_block,
)
from logitkit.solver.stopping import Convergence, StoppingRule
from logitkit.workflow._rows import PassRows

__all__ = [
    "FoldData",
    "FoldFit",
    "Groups",
    "fit_in_lockstep",
    "fold_data",
    "group_moments",
    "lockstep_applies",
    "lockstep_block",
]

FloatArray = NDArray[np.float64]

#: The shared Hessians are formed again (at the models' mean) when a step leaves a model's
#: optimality violation above this share of the last: a pass that forms them costs under
#: twice one without and brings back Newton's speed, where a stale Hessian gaining little
#: more than a digit a pass needs several more passes (along a path of 10 C from a cold
#: start, 200,000 rows: 19 steps per fold at 0.05, 22 at 0.1).
_SLOW_SHARED_STEP = 0.05


# ------------------------------------------------------------------ the moments pass
@dataclass
class Groups:
    """Moments of each fold's rows (a scan's result; blocks add up fold by fold)."""

    moments: list[Moments]

    def __add__(self, other: Groups) -> Groups:
        return Groups([a + b for a, b in zip(self.moments, other.moments, strict=True)])


def group_moments(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.int8],
    *,
    n_splits: int,
    n_classes: int,
    offsets: FloatArray | None = None,  # noqa: ARG001 - the features' moments only
) -> Groups:
    """Moments (unit class weights, as a fit's first pass) of each fold's rows (a fold
    scan's block: the kept rows and their folds)."""
    out = []
    for k in range(n_splits):
        rows = folds == k
        out.append(chunk_moments(Chunk(X[rows], codes[rows], sw[rows], sw[rows]), n_classes))
    return Groups(out)


@dataclass(frozen=True)
class FoldData:
    """What the fold models' fits need of the rows beyond the passes: moments per fold.

    Attributes
    ----------
    folds : HashKFold
        The folds.
    classes : ndarray
        The sorted class labels.
    groups : list of Moments
        Moments of each fold's rows (unit class weights).
    keep : RowFilter or None
        The fitting rows (None: all).
    """

    folds: HashKFold
    classes: NDArray[Any]
    groups: list[Moments]
    keep: RowFilter | None

    def moments(self, fold: int) -> Moments:
        """Moments of fold ``fold``'s training rows (every other fold; -1: every row)."""
        return reduce(operator.add, [m for k, m in enumerate(self.groups) if k != fold])


def fold_data(rows: PassRows, folds: HashKFold, keep: RowFilter | None) -> FoldData:
    """One pass: the moments of every fold's rows."""
    fn = partial(group_moments, n_splits=folds.n_splits, n_classes=int(rows.classes.size))
    groups: Groups = reduce(operator.add, rows.scan_folds(fn, folds, keep))
    return FoldData(folds, rows.classes, groups.moments, keep)


# ------------------------------------------------------------------ the step pass
@dataclass
class _PassSums:
    """Per model: weighted loss, weight, rows and gradient ``[sum r, X^T r]`` (original
    units); per fold, the loss Hessian at the shared point (standardised), if asked."""

    loss: FloatArray  # (A,)
    weight: FloatArray  # (A,)
    n_rows: NDArray[np.int64]  # (A,)
    grad: FloatArray  # (A, M, p + 1)
    hess: FloatArray | None  # (K, M q, M q)

    def __add__(self, other: _PassSums) -> _PassSums:
        hess = None if self.hess is None or other.hess is None else self.hess + other.hess
        return _PassSums(
            self.loss + other.loss,
            self.weight + other.weight,
            self.n_rows + other.n_rows,
            self.grad + other.grad,
            hess,
        )


@dataclass(frozen=True)
class SharedPoint:
    """Where a pass forms the folds' Hessians: parameters on the reference scaling."""

    theta: FloatArray  # (M, q)
    scaling: Scaling
    class_weights: FloatArray  # (n_classes,)


def lockstep_block(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.int8],
    *,
    coef: FloatArray,
    intercept: FloatArray,
    excluded: NDArray[np.intp],
    class_weights: FloatArray,
    n_splits: int,
    shared: SharedPoint | None,
    offsets: FloatArray | None = None,
) -> _PassSums:
    """One block's statistics for every model at once (see the module notes).

    Parameters
    ----------
    X, codes, sw, folds : ndarray
        The block's fitting rows and their folds (a fold scan's arguments).
    coef, intercept : ndarray of shape (A, M, p) and (A, M)
        Each model's parameters in original units.
    excluded : ndarray of int of shape (A,)
        The fold each model leaves out (-1: none).
    class_weights : ndarray of shape (A, n_classes)
        Each model's class weights.
    n_splits : int
        The number of folds.
    shared : SharedPoint or None
        Where to form each fold's loss Hessian (None: no Hessian).
    offsets : ndarray of shape (n,), optional
        The rows' offsets (a binary model's), added to every linear predictor.
    """
    A, M, p = coef.shape
    n = X.shape[0]
    outside = folds[:, None] != excluded[None, :]  # (n, A): the model's training rows
    if (class_weights == 1.0).all():
        W = outside * sw[:, None]
    else:
        W = class_weights.T[codes]
        W *= outside
        W *= sw[:, None]
    Z = X @ coef.reshape(A * M, p).T
    Z += intercept.reshape(-1)
    if offsets is not None:
        Z += offsets[:, None]
    if M == 1:
        y = codes.astype(np.float64)[:, None]
        terms = log1pexp(Z)
        terms -= y * Z
        loss = np.einsum("na,na->a", W, terms)
        R = sigmoid(Z)
        R -= y
        R *= W
    else:
        P, lse = softmax(Z.reshape(n * A, M))
        Z3, P3 = Z.reshape(n, A, M), P.reshape(n, A, M)
        rows = np.arange(n)
        loss = np.einsum("na,na->a", W, lse.reshape(n, A) - Z3[rows, :, codes])
        P3[rows, :, codes] -= 1.0
        P3 *= W[:, :, None]
        R = P3.reshape(n, A * M)
    grad = np.empty((A, M, p + 1))
    grad[:, :, 0] = (np.ones(n) @ R).reshape(A, M)
    grad[:, :, 1:] = (X.T @ R).T.reshape(A, M, p)
    hess = None
    if shared is not None:
        hess = _fold_hessians(X, codes, sw, folds, n_splits, shared, offsets)
    return _PassSums(loss, W.sum(axis=0), outside.sum(axis=0), grad, hess)


def _fold_hessians(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.integer[Any]],
    n_splits: int,
    shared: SharedPoint,
    offsets: FloatArray | None = None,
) -> FloatArray:
    """The loss Hessian of each fold's rows at the shared point, ``(K, M q, M q)``.

    The rows are ordered by fold once, so that each fold's Hessian is formed on a
    contiguous slice: ``K`` Hessians at the cost of one.
    """
    groups = [np.flatnonzero(folds == k) for k in range(n_splits)]
    order = np.concatenate(groups)
    bounds = np.concatenate([[0], np.cumsum([g.size for g in groups])])
    Xa = standardised_block(X[order], shared.scaling)
    y = codes[order]
    w = sw[order] * shared.class_weights[y]
    linear = None
    if offsets is not None:  # a binary model's linear predictor at its rows' offsets
        linear = Xa @ shared.theta.T
        linear += offsets[order][:, None]
    size = shared.theta.size
    out = np.zeros((n_splits, size, size))
    for k in range(n_splits):
        rows = slice(int(bounds[k]), int(bounds[k + 1]))
        if bounds[k + 1] > bounds[k]:
            stats = block_statistics(
                Xa[rows],
                y[rows],
                w[rows],
                shared.theta,
                hessian=True,
                linear=None if linear is None else linear[rows],
            )
            assert stats.hess is not None
            out[k] = stats.hess
    return out


# ------------------------------------------------------------------ one model's track
class _Given:
    """A chunk source whose pass returns the statistics the lockstep pass computed.

    It lets each model's own :class:`Objective` turn them into its objective, gradient
    and optimality violation by the solver's code.
    """

    def __init__(self, n_features: int, n_outputs: int) -> None:
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.stats: Stats | None = None

    def map_reduce(self, fn: Any) -> Any:  # noqa: ARG002 - the statistics are given
        return self.stats

    def hessian_sample(self, max_rows: int) -> None:  # noqa: ARG002 - no sample
        return None


@dataclass
class FoldFit:
    """A fold model fitted in lockstep: coefficients in original units, and its stop.

    ``theta``, ``loss_grad`` and ``curvature`` (standardised parameters, the normalised
    loss's gradient and Hessian estimate there) start the same rows' fit at another
    penalty (see :func:`fit_in_lockstep`).
    """

    coef: FloatArray  # (M, p)
    intercept: FloatArray  # (M,)
    convergence: Convergence
    theta: FloatArray
    loss_grad: FloatArray
    curvature: FloatArray | None


class _Track:
    """One model's damped quasi-Newton iterations, advanced one pass at a time."""

    def __init__(
        self,
        fold: int,
        objective: Objective,
        given: _Given,
        class_weights: FloatArray,
        theta0: FloatArray,
        rule: StoppingRule,
    ) -> None:
        self.fold = fold
        self.objective = objective
        self.given = given
        self.class_weights = class_weights
        self.rule = rule
        self.trial = theta0
        self.point: Point | None = None
        self.kkt = math.inf
        self.d = np.zeros_like(theta0)
        self.delta = 0.0
        self.t = 1.0
        self.n_iter = 0
        self.ready = False  # an accepted point awaiting its next direction
        self.stop: Convergence | None = None
        self.previous: Point | None = None  # the accepted point before this one
        self.curvature: FloatArray | None = None  # normalised loss Hessian, own scaling

    @property
    def scaling(self) -> Scaling:
        return self.objective.problem.scaling

    def original(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(coef, intercept)`` of flat standardised ``theta``."""
        return original_units(theta.reshape(self.objective.problem.shape), self.scaling)

    def take(self, stats: Stats) -> bool:
        """Take the pass statistics at the trial point; True when the step was slow."""
        self.given.stats = stats
        point = self.objective.at(self.trial)
        kkt = self.objective.kkt_violation(point)
        if self.point is None:
            self.point, self.kkt, self.ready = point, kkt, True
            return False
        value, new_value = self.point.value(0.0), point.value(0.0)
        if accepts_step(value, new_value, self.t, self.delta, self.kkt, kkt):
            slow = self.t < 1.0 or kkt > _SLOW_SHARED_STEP * self.kkt
            self.previous = self.point
            self.point, self.kkt, self.ready = point, kkt, True
            return slow
        self.t *= 0.5
        if self.t < MIN_STEP:
            self.stop = self.rule.stalled(self.kkt, self.n_iter)
        else:
            self.trial = self.point.theta + self.t * self.d
        return True

    def step(self, fresh: FloatArray | None) -> None:
        """Stop, or set the next trial along a quasi-Newton step.

        ``fresh`` is the normalised loss Hessian of this model's rows at the shared
        point, on this model's scaling, when the pass formed one; otherwise the last
        one is updated by BFGS from the step and the change in the exact gradient (the
        secant condition), which brings it to the model's own point as it moves. The
        objective adds the penalty's curvature (and, multinomial, the class-sum term).
        """
        assert self.point is not None
        self.ready = False
        self.stop = self.rule.check(self.kkt, self.n_iter)
        if self.stop is not None:
            return
        if fresh is not None:
            self.curvature = fresh
        elif self.previous is not None and self.curvature is not None:
            self.curvature = self._secant(self.curvature, self.previous, self.point)
        assert self.curvature is not None
        loss_hessian = self.curvature
        self.n_iter += 1
        point = self.point
        self.objective.reuse(point, Curvature(loss_hessian, None))
        assert point.hess is not None
        free = self.objective.free
        d = np.zeros_like(point.theta)
        d[free] = newton_direction(point.hess[np.ix_(free, free)], point.grad[free])
        delta = float(point.grad @ d)
        if not delta < 0.0:  # (rounding at a flat point): plain gradient descent
            d = np.where(free, -point.grad, 0.0)
            delta = float(point.grad @ d)
        self.d, self.delta, self.t = d, delta, 1.0
        self.trial = point.theta + d

    def _secant(self, B: FloatArray, before: Point, after: Point) -> FloatArray:
        """BFGS update of the loss Hessian ``B`` by the step between two points."""
        free = self.objective.free
        s = np.where(free, after.theta - before.theta, 0.0)
        # The loss's gradient change: the L2 term's (l2 v s) taken out.
        penalty = self.objective.problem.l2 * self.objective.factor
        y = np.where(free, after.grad - before.grad - penalty * s, 0.0)
        Bs = B @ s
        ys, sBs = float(y @ s), float(s @ Bs)
        if not (ys > 1e-12 * float(np.linalg.norm(y) * np.linalg.norm(s)) and sBs > 0.0):
            return B  # no curvature information along this step (rounding)
        return np.asarray(B - np.outer(Bs, Bs) / sBs + np.outer(y, y) / ys)

    def result(self) -> FoldFit:
        assert self.point is not None
        assert self.stop is not None
        point = self.point
        coef, intercept = self.original(point.theta)
        loss_grad = point.grad - self._l2_gradient(point.theta)
        return FoldFit(coef, intercept, self.stop, point.theta, loss_grad, self.curvature)

    def _l2_gradient(self, theta: FloatArray) -> FloatArray:
        """The L2 term's gradient ``l2 v theta``."""
        return self.objective.problem.l2 * self.objective.factor * theta

    def predict(self, start: FoldFit) -> None:
        """Start from ``start``, the same rows' solution at another penalty, moved by one
        Newton step of this penalty's objective on its curvature.

        At ``start`` the gradient of this objective is known without a pass (the loss
        gradient plus this penalty's term), so the step along the path costs no pass.
        """
        theta, B = start.theta, start.curvature
        if B is None:
            self.trial = theta
            return
        grad = start.loss_grad + self._l2_gradient(theta)
        stats = Stats(0.0, 0.0, grad.reshape(self.objective.problem.shape), None, 0)
        point = Point(theta, 0.0, 0.0, grad, None, stats)
        self.objective.reuse(point, Curvature(B, None))
        assert point.hess is not None
        free = self.objective.free
        d = np.zeros_like(theta)
        d[free] = newton_direction(point.hess[np.ix_(free, free)], grad[free])
        self.trial = theta + d
        self.curvature = B


# ------------------------------------------------------------------ the driver
def _penalty(model: LogisticModel) -> float:
    """C of a smooth model (inf without a penalty)."""
    return math.inf if model.penalty is None else float(model.C)


def lockstep_applies(model: LogisticModel, n_outputs: int, n_features: int) -> bool:
    """Whether fold models like ``model`` are fitted in lockstep.

    Smooth (no penalty, or L2), without bounds or penalty factors, and small enough
    for Newton's method by the solver's own size rule.
    """
    n_params = n_outputs * (n_features + 1)
    limit = MAX_HESSIAN_PARAMETERS if model.penalty is None else NEWTON_MAX_PARAMETERS
    return (
        model.penalty in (None, "l2")
        and model.lower_bounds is None
        and model.upper_bounds is None
        and model.penalty_factor is None
        and n_params <= limit
    )


def _standardised(coef: FloatArray, intercept: FloatArray, objective: Objective) -> FloatArray:
    """Flat standardised parameters of ``coef`` and ``intercept`` for this problem
    (the inverse of :func:`~logitkit.solver.statistics.original_units`)."""
    problem = objective.problem
    theta = np.empty(problem.shape)
    theta[:, 1:] = coef * problem.scaling.scale
    theta[:, 0] = intercept + coef @ problem.scaling.mean
    theta[:, 1:][:, problem.fixed_features] = 0.0
    if not problem.fit_intercept:
        theta[:, 0] = 0.0
    return theta.ravel()


def _to_fold(reference: Scaling, own: Scaling, n_outputs: int) -> FloatArray:
    """``U`` with ``[1, X_own] = [1, X_reference] U`` (one block per class): a Hessian on
    the reference scaling maps to ``U^T H U`` on the model's own."""
    q = reference.mean.shape[0] + 1
    U = np.zeros((q, q))
    U[0, 0] = 1.0
    U[0, 1:] = (reference.mean - own.mean) / own.scale
    U[1:, 1:] = np.diag(reference.scale / own.scale)
    return np.asarray(np.kron(np.eye(n_outputs), U)) if n_outputs > 1 else U


def fit_in_lockstep(
    rows: PassRows,
    data: FoldData,
    models: list[LogisticModel],
    excluded: list[int],
    starts: Sequence[tuple[FloatArray, FloatArray] | FoldFit | None],
) -> list[FoldFit]:
    """Fit ``models`` (each on the fitting rows outside fold ``excluded[i]``) together.

    Parameters
    ----------
    rows : PassRows
        The rows.
    data : FoldData
        The moments of each fold (:func:`fold_data`).
    models : list of LogisticModel
        Unfitted models that :func:`lockstep_applies` to (their penalty, class weight,
        tolerance and iteration limit are used).
    excluded : list of int
        The fold each model leaves out (-1: none).
    starts : list of (coef, intercept), FoldFit or None
        Warm starts: coefficients in original units, or the fit of the same rows at
        another penalty (the previous C of a path: its solution moved by one Newton
        step of the new objective, with its curvature), or None (the null model).

    Returns
    -------
    list of FoldFit
        In the order of ``models``; a model that did not converge warns, as its fit would.
    """
    classes = data.classes
    M = 1 if classes.size == 2 else int(classes.size)
    p = int(data.groups[0].mean.shape[0])
    template = models[0]
    center, scale = bool(template.fit_intercept), bool(template.standardize)
    everything, reference_weights = class_weighted(data.moments(-1), classes, template.class_weight)
    reference = everything.scaling(center=center, scale=scale)
    tracks: list[_Track] = []
    maps: list[FloatArray] = []
    for model, fold, start in zip(models, excluded, starts, strict=True):
        moments, cw = class_weighted(data.moments(fold), classes, model.class_weight)
        given = _Given(p, M)
        problem = build_problem(
            given,
            moments,
            n_outputs=M,
            n_features=p,
            total_weight=float(moments.class_weight_sums.sum()),
            n_rows=int(moments.n_rows),
            C=_penalty(model),
            l1_ratio=0.0,
            fit_intercept=center,
            standardize=scale,
        )
        objective = Objective(problem)
        if start is None:
            theta0 = initial_theta(problem, moments.class_weight_sums)
        elif isinstance(start, FoldFit):
            theta0 = start.theta
        else:
            theta0 = _standardised(start[0], start[1], objective)
        rule = StoppingRule(float(model.tol), int(model.max_iter))
        track = _Track(fold, objective, given, cw, theta0, rule)
        if isinstance(start, FoldFit):
            track.predict(start)
        tracks.append(track)
        maps.append(_to_fold(reference, problem.scaling, M))
    hess: FloatArray | None = None
    refresh = any(t.curvature is None for t in tracks)
    while active := [t for t in tracks if t.stop is None]:
        shared = _shared_point(active, reference, reference_weights) if refresh else None
        originals = [t.original(t.trial) for t in active]
        fn = partial(
            lockstep_block,
            coef=np.stack([c for c, _ in originals]),
            intercept=np.stack([b for _, b in originals]),
            excluded=np.array([t.fold for t in active], dtype=np.intp),
            class_weights=np.stack([t.class_weights for t in active]),
            n_splits=data.folds.n_splits,
            shared=shared,
        )
        sums: _PassSums = reduce(operator.add, rows.scan_folds(fn, data.folds, data.keep))
        if sums.hess is not None:
            hess = sums.hess
        refresh = False
        for i, track in enumerate(active):
            grad = sums.grad[i].copy()
            scaling = track.scaling
            grad[:, 1:] -= np.outer(grad[:, 0], scaling.mean)
            grad[:, 1:] /= scaling.scale
            stats = Stats(
                float(sums.loss[i]), float(sums.weight[i]), grad, None, int(sums.n_rows[i])
            )
            refresh |= track.take(stats)
        total = None if hess is None else hess.sum(axis=0)
        for track in active:
            if not track.ready:
                continue
            fresh = None
            if sums.hess is not None or track.curvature is None:
                assert hess is not None
                assert total is not None
                inside = total if track.fold < 0 else total - hess[track.fold]
                U = maps[tracks.index(track)]
                fresh = U.T @ inside @ U / track.objective.problem.total_weight
            track.step(fresh)
    fits = [t.result() for t in tracks]
    for fit, fold in zip(fits, excluded, strict=True):
        if not fit.convergence.converged:
            warnings.warn(
                f"The model without fold {fold} did not converge: "
                f"{fit.convergence.message} after {fit.convergence.n_iter} iterations.",
                ConvergenceWarning,
                stacklevel=2,
            )
    return fits


def _shared_point(
    tracks: list[_Track], reference: Scaling, class_weights: FloatArray
) -> SharedPoint:
    """The mean of the tracks' trial coefficients, on the reference scaling."""
    originals = [t.original(t.trial) for t in tracks]
    coef = np.mean([c for c, _ in originals], axis=0)
    intercept = np.mean([b for _, b in originals], axis=0)
    theta = np.empty((coef.shape[0], coef.shape[1] + 1))
    theta[:, 1:] = coef * reference.scale
    theta[:, 0] = intercept + coef @ reference.mean
    return SharedPoint(theta, reference, class_weights)
