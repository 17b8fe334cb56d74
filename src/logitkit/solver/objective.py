"""The penalised objective on flat parameter vectors, evaluated by statistics passes.

The problem solved is, on the standardised scale and divided by the total weight ``W``
so that tolerances do not depend on the number of rows::

    F(theta) = (1/W) sum_i w_i loss_i(theta)
               + sum_j v_j (l2/2 * beta_j^2 + l1 * |beta_j|),  l1 = a/(C W), l2 = (1-a)/(C W)

    subject to  lower_j <= beta_j <= upper_j

where ``beta`` are the coefficients (the intercepts are never penalised nor bounded),
``a`` is the l1 ratio, ``v_j`` the per-feature penalty factor (1 by default; 0 leaves
feature ``j`` unpenalised, as glmnet's ``penalty.factor`` and glum's ``P1``/``P2``)
and the bounds are those of the problem mapped to the standardised scale. Each row's
loss is at the linear predictor plus its offset. Minimising ``F`` is minimising
scikit-learn's ``C * sum w_i loss_i + penalty``. Parameters are flattened row-major
from ``theta`` of shape ``(M, p + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, partial

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.line_search import l1_slope_along, loss_derivatives_along, minimise_along
from logitkit.solver.statistics import (
    Chunk,
    ChunkSource,
    Scaling,
    Stats,
    block_statistics,
    chunk_statistics,
    standardised_block,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = [
    "Curvature",
    "Objective",
    "Point",
    "Problem",
    "box_violation",
    "coordinate_minimum",
]

#: Rows used for approximate Hessians: at least this many ...
_MIN_SAMPLE_ROWS = 20_000
#: ... and at least this many per parameter; sampling only pays when the data are
#: several times larger than the sample.
_SAMPLE_ROWS_PER_PARAMETER = 400
_SAMPLE_FRACTION = 0.25
#: Form the Hessian exactly, even on large data, when it has at most sqrt(20 p) rows.
_EXACT_HESSIAN_RATIO = 20
#: Data up to this many values (2 MiB) are standardised once and kept: small fits are
#: dominated by per-pass overhead, and cross-validation runs thousands of them.
_SMALL_VALUES = 2**18


@dataclass(frozen=True)
class Problem:
    """What to fit.

    Attributes
    ----------
    source : ChunkSource
        Where the rows are and how a pass over them runs.
    scaling : Scaling
        Feature centre and scale (identity when not standardising).
    n_outputs : int
        1 for a binary model, the number of classes for a multinomial one.
    C : float
        Inverse regularisation strength; ``inf`` means no penalty.
    l1_ratio : float
        Share of the L1 part of the penalty, in [0, 1].
    fit_intercept : bool
        Whether the intercepts are free (else held at zero).
    fixed_features : ndarray of bool, shape (p,)
        Features whose coefficients are held at zero (e.g. zero variance after centring).
    total_weight : float
        Sum of row weights, ``W``.
    n_rows : int
        Number of rows.
    lower_bounds, upper_bounds : ndarray of shape (p,) or None
        Bounds on each coefficient in *original* units (``-inf``/``inf`` for none;
        every class of a multinomial model alike); None means unbounded. On the
        standardised scale they are ``bound * scale``, the exact image of the box,
        since ``coef = beta / scale`` with ``scale > 0``.
    penalty_factor : ndarray of shape (p,) or None
        Non-negative multiplier of each feature's penalty (None: all 1).
    """

    source: ChunkSource
    scaling: Scaling
    n_outputs: int
    C: float
    l1_ratio: float
    fit_intercept: bool
    fixed_features: BoolArray
    total_weight: float
    n_rows: int
    lower_bounds: FloatArray | None = None
    upper_bounds: FloatArray | None = None
    penalty_factor: FloatArray | None = None

    @cached_property
    def n_features(self) -> int:
        """Number of features ``p``."""
        return int(self.scaling.mean.shape[0])

    @cached_property
    def shape(self) -> tuple[int, int]:
        """Shape ``(M, p + 1)`` of ``theta``."""
        return (self.n_outputs, self.n_features + 1)

    @cached_property
    def l1(self) -> float:
        """Normalised L1 strength ``a / (C W)``."""
        return 0.0 if np.isinf(self.C) else self.l1_ratio / (self.C * self.total_weight)

    @cached_property
    def l2(self) -> float:
        """Normalised L2 strength ``(1 - a) / (C W)``."""
        return 0.0 if np.isinf(self.C) else (1.0 - self.l1_ratio) / (self.C * self.total_weight)

    @property
    def bounded(self) -> bool:
        """Whether any coefficient has a finite bound."""
        return any(
            b is not None and bool(np.isfinite(b).any())
            for b in (self.lower_bounds, self.upper_bounds)
        )

    @property
    def needs_coordinate_descent(self) -> bool:
        """Bounds, or an L1 term with per-feature factors: only proximal Newton takes them."""
        return self.bounded or (self.l1 > 0.0 and self.penalty_factor is not None)

    def masks(self) -> tuple[BoolArray, BoolArray]:
        """Flat masks ``(free, penalised)`` over the parameters."""
        M, q = self.shape
        free = np.ones((M, q), dtype=bool)
        free[:, 0] = self.fit_intercept
        free[:, 1:] = ~self.fixed_features
        penalised = np.zeros((M, q), dtype=bool)
        penalised[:, 1:] = True
        return free.ravel(), penalised.ravel()


@dataclass(frozen=True)
class Curvature:
    """A Hessian of the normalised loss alone (no penalty), reusable at nearby points.

    Attributes
    ----------
    hess : ndarray
        The Hessian over the parameters ``index``.
    index : ndarray of int or None
        Flat parameter indices it covers (None: all of them).
    """

    hess: FloatArray
    index: NDArray[np.intp] | None


@dataclass
class Point:
    """The objective and its derivatives at one parameter vector.

    Attributes
    ----------
    theta : ndarray of shape (M * (p + 1),)
        Flat standardised parameters.
    smooth : float
        Normalised loss plus the L2 part of the penalty.
    l1_norm : float
        ``sum_j v_j |beta_j|``, the L1 norm weighted by the penalty factors (0 when
        the problem has no L1 term: it is not needed).
    grad : ndarray
        Gradient of ``smooth``.
    hess : ndarray or None
        Hessian of ``smooth`` (exact, or estimated on a row sample), over the
        parameters ``hess_index`` (all of them when that is None).
    stats : Stats
        The raw statistics of the pass (unnormalised, without the penalty).
    hess_index : ndarray of int or None
        Flat parameter indices ``hess`` covers (None: all of them).
    curvature : Curvature or None
        The loss Hessian behind ``hess`` (without the penalty), for reuse.
    linear : ndarray of shape (n, M) or None
        The linear predictor over all rows, kept on small data held in memory.
    """

    theta: FloatArray
    smooth: float
    l1_norm: float
    grad: FloatArray
    hess: FloatArray | None
    stats: Stats
    hess_index: NDArray[np.intp] | None = None
    curvature: Curvature | None = None
    linear: FloatArray | None = None

    def value(self, l1: float) -> float:
        """Full objective ``smooth + l1 * ||beta||_1``."""
        return self.smooth + l1 * self.l1_norm


@dataclass(frozen=True)
class _SmallData:
    """All rows of a small problem, standardised once: ``Xa = [1, X_s]``, target, weights."""

    Xa: FloatArray
    y: NDArray[np.float64] | NDArray[np.intp]  # floats for a binary target, else codes
    w: FloatArray
    offset: FloatArray | None = None

    def linear(self, theta: FloatArray, shape: tuple[int, int]) -> FloatArray:
        """The ``(n, M)`` product ``Xa theta^T`` of flat ``theta`` (or of a step along it).

        A binary model's by a matrix-vector product, as an ``(n, 1)`` view.
        """
        if shape[0] == 1:
            return (self.Xa @ theta)[:, None]
        return self.Xa @ theta.reshape(shape).T

    def predictor(self, theta: FloatArray, shape: tuple[int, int]) -> FloatArray:
        """The ``(n, M)`` linear predictor at ``theta``: :meth:`linear` plus the offset."""
        Z = self.linear(theta, shape)
        if self.offset is not None:
            Z = Z + self.offset[:, None]
        return Z


def box_violation(
    grad: FloatArray,
    theta: FloatArray,
    levels: FloatArray,
    lower: FloatArray | None,
    upper: FloatArray | None,
    free: BoolArray,
) -> float:
    """Largest violation of the optimality conditions of ``f + sum levels_j |theta_j|``
    over the box ``lower <= theta <= upper``, on the ``free`` coordinates.

    The distance from zero of the subdifferential plus the normal cone of the box:
    with ``[a, b] = grad + levels * d|theta|`` (``d|0| = [-1, 1]``) it is
    ``max(0, a, -b)`` inside the box, ``max(0, -b)`` at a lower bound and
    ``max(0, a)`` at an upper one (the projected gradient), and 0 where both bounds
    meet. Without bounds and L1 levels it is ``max |grad|``.
    """
    sign = np.sign(theta)
    low = grad + levels * np.where(theta == 0.0, -1.0, sign)
    high = grad + levels * np.where(theta == 0.0, 1.0, sign)
    if lower is not None and upper is not None:
        low[theta <= lower] = -np.inf  # the normal cone there is (-inf, 0]
        high[theta >= upper] = np.inf
    viol = np.maximum(np.maximum(low, -high), 0.0)[free]
    return float(viol.max()) if viol.size else 0.0


def coordinate_minimum(z: float, shrink: float, low: float, high: float) -> float:
    """Minimiser of ``(u - z)^2 / 2 + shrink * |u|`` over ``low <= u <= high``.

    The coordinate update of proximal Newton: soft-thresholding (``shrink`` is the
    coordinate's L1 level over its curvature, 0 when unpenalised), then projection on
    the coordinate's bounds, which is exact for a convex function of one variable.
    """
    new = z - shrink if z > shrink else (z + shrink if z < -shrink else 0.0)
    return max(low, min(new, high))


def _chunk_weight(chunk: Chunk) -> float:
    return float(chunk.w.sum())


def _chunk_rows(chunk: Chunk) -> int:
    return int(chunk.w.shape[0])


class Objective:
    """Evaluate the objective of a :class:`Problem` with one statistics pass per call.

    Parameters
    ----------
    problem : Problem
        The fit to evaluate.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.free, self.penalised = problem.masks()
        self._all_free = bool(self.free.all())
        M, q = problem.shape
        factor = np.zeros((M, q))
        factor[:, 1:] = 1.0 if problem.penalty_factor is None else problem.penalty_factor
        #: Per-parameter penalty factor ``v`` (0 on the intercepts).
        self.factor = factor.ravel()
        self._l2_diagonal = problem.l2 * self.factor
        #: Per-parameter L1 level ``l1 * v`` (0 where unpenalised).
        self.l1_levels = problem.l1 * self.factor
        self.lower, self.upper = self._box(problem)
        self._plain = self.lower is None and problem.l1 == 0.0
        self.n_passes = 0
        n_params = M * q
        sample_rows = min(
            max(_MIN_SAMPLE_ROWS, _SAMPLE_ROWS_PER_PARAMETER * n_params),
            int(_SAMPLE_FRACTION * problem.n_rows),
        )
        self._small: _SmallData | None = None
        whole = getattr(problem.source, "single_chunk", lambda: None)()
        if whole is not None and whole.X.shape[0] * q <= _SMALL_VALUES:
            Xa = standardised_block(whole.X, problem.scaling)
            # A binary target as floats once, not in every pass.
            y = whole.y.astype(np.float64) if M == 1 else whole.y
            self._small = _SmallData(Xa, y, whole.w, whole.offset)
        self._sample: ChunkSource | None = None
        if sample_rows >= _MIN_SAMPLE_ROWS:
            self._sample = problem.source.hessian_sample(sample_rows)
        # The multinomial likelihood is unchanged by adding one vector to every class;
        # a quadratic term on the class-sum of the unpenalised parameters removes that
        # flat direction without moving the optimum (its gradient stays zero there).
        self._sum_zero: FloatArray | None = None
        if M > 1:
            unpenalised = np.zeros(q)
            unpenalised[0] = 1.0
            if problem.l2 == 0.0 and problem.l1 == 0.0:
                unpenalised[1:] = 1.0
            else:
                unpenalised[1:] = self.factor[1:q] == 0.0
            self._sum_zero = np.kron(np.ones((M, M)), np.diag(unpenalised)) / M

    @staticmethod
    def _box(problem: Problem) -> tuple[FloatArray | None, FloatArray | None]:
        """Flat bounds on the standardised parameters (None when unbounded).

        ``coef = beta / scale`` with ``scale > 0``, so ``beta`` lies in
        ``[lower * scale, upper * scale]`` exactly when ``coef`` lies in the box; a bound
        of 0 (a sign constraint) stays 0. Intercepts and features held at zero are free
        of bounds.
        """
        if not problem.bounded:
            return None, None
        M, q = problem.shape
        lower, upper = np.full((M, q), -np.inf), np.full((M, q), np.inf)
        scale = problem.scaling.scale
        fixed = problem.fixed_features
        if problem.lower_bounds is not None:
            lower[:, 1:] = np.where(fixed, -np.inf, problem.lower_bounds * scale)
        if problem.upper_bounds is not None:
            upper[:, 1:] = np.where(fixed, np.inf, problem.upper_bounds * scale)
        return lower.ravel(), upper.ravel()

    @property
    def bounded(self) -> bool:
        """Whether the parameters are confined to a box."""
        return self.lower is not None

    def project(self, theta: FloatArray) -> FloatArray:
        """``theta`` clipped to the bounds (itself when unbounded).

        Steps between feasible points stay feasible up to rounding; clipping makes a
        coefficient that a step sent to its bound equal the bound exactly, so that the
        optimality conditions see it there.
        """
        if self.lower is None or self.upper is None:
            return theta
        return np.clip(theta, self.lower, self.upper)

    def sample_problem(self) -> Problem | None:
        """The same problem on the Hessian's row sample, with the same normalised penalty.

        Its solution is within sampling error of the full one: a cheap warm start.
        """
        if self._sample is None:
            return None
        weight = self._sample.map_reduce(_chunk_weight)
        n_rows = self._sample.map_reduce(_chunk_rows)
        pr = self.problem
        return replace(
            pr,
            source=self._sample,
            C=pr.C * pr.total_weight / weight,
            total_weight=weight,
            n_rows=n_rows,
        )

    @property
    def has_sample(self) -> bool:
        """Whether approximate Hessians from a row sample are available."""
        return self._sample is not None

    def parameter_index(self, columns: NDArray[np.intp]) -> NDArray[np.intp]:
        """Flat parameter indices of the given columns of ``[1, X]``, class by class."""
        M, q = self.problem.shape
        return (np.arange(M)[:, None] * q + columns[None, :]).ravel()

    def _pass(
        self,
        source: ChunkSource,
        theta: FloatArray,
        hessian: bool,
        columns: NDArray[np.intp] | None,
        linear: FloatArray | None = None,
    ) -> Stats:
        th = theta.reshape(self.problem.shape)
        scaling = self.problem.scaling
        self.n_passes += 1
        if self._small is not None and source is self.problem.source:
            small = self._small
            if linear is None and small.offset is not None:
                linear = small.predictor(theta, self.problem.shape)
            return block_statistics(
                small.Xa, small.y, small.w, th, hessian=hessian, columns=columns, linear=linear
            )
        # A partial of a module-level function pickles, so distributed sources can ship it.
        fn = partial(chunk_statistics, theta=th, scaling=scaling, hessian=hessian, columns=columns)
        return source.map_reduce(fn)

    def at(
        self,
        theta: FloatArray,
        hessian: str | None = None,
        columns: NDArray[np.intp] | None = None,
    ) -> Point:
        """Evaluate at ``theta``.

        Parameters
        ----------
        theta : ndarray
            Flat parameters.
        hessian : {None, "full", "sample"}
            No Hessian, the exact one, or one estimated on the row sample (falls back
            to exact when there is no sample).
        columns : ndarray of int, optional
            Restrict the Hessian to these columns of ``[1, X]`` (for every class).
        """
        pr = self.problem
        theta = self.project(theta)
        if hessian == "sample" and not self._sample_pays(columns):
            hessian = "full"
        linear = None if self._small is None else self._small.predictor(theta, pr.shape)
        stats = self._pass(pr.source, theta, hessian == "full", columns, linear)
        W = pr.total_weight
        weighted = self._l2_diagonal * theta
        smooth = stats.loss / W + 0.5 * float(weighted @ theta)
        grad = stats.grad.ravel() / W
        grad += weighted
        # The penalty-factor weighted norm sum_j v_j |beta_j|, so that value(l1) is F.
        l1_norm = float(self.factor @ np.abs(theta)) if pr.l1 > 0.0 else 0.0
        point = Point(theta, smooth, l1_norm, grad, None, stats, linear=linear)
        if hessian == "full":
            assert stats.hess is not None
            self._set_hessian(point, stats.hess / W, columns)
        elif hessian == "sample":
            self.add_hessian(point, "sample", columns)
        return point

    def _sample_pays(self, columns: NDArray[np.intp] | None) -> bool:
        """Whether to estimate this Hessian on the row sample rather than form it exactly.

        An exact Hessian over ``k`` parameters costs about ``n k^2`` multiply-adds in a
        fast matrix product, a gradient pass ``2 n p`` in memory-bound ones (some ten
        times slower each): below ``k^2 = 20 p`` the exact one costs less than the
        extra iterations a sampled one brings.
        """
        if self._sample is None:
            return False
        M, q = self.problem.shape
        k = M * (q if columns is None else columns.size)
        return k * k > _EXACT_HESSIAN_RATIO * M * q

    def add_hessian(self, point: Point, mode: str, columns: NDArray[np.intp] | None) -> None:
        """Give ``point`` a Hessian from a separate pass (exact, or on the row sample)."""
        if mode == "sample" and self._sample_pays(columns):
            assert self._sample is not None
            stats = self._pass(self._sample, point.theta, True, columns)
            norm = stats.weight  # the sample's own total weight
        else:
            stats = self._pass(self.problem.source, point.theta, True, columns)
            norm = self.problem.total_weight
        assert stats.hess is not None
        self._set_hessian(point, stats.hess / norm, columns)

    def _set_hessian(
        self, point: Point, hess: FloatArray, columns: NDArray[np.intp] | None
    ) -> None:
        """Store a normalised loss Hessian on ``point``, with the penalty's curvature added."""
        index = None if columns is None else self.parameter_index(columns)
        self.reuse(point, Curvature(hess, index))

    def reuse(self, point: Point, curvature: Curvature) -> None:
        """Give ``point`` the Hessian ``curvature`` (from here or a nearby point or problem)."""
        hess = curvature.hess.copy()
        index = curvature.index
        if self.problem.l2 > 0.0:
            pen = self._l2_diagonal if index is None else self._l2_diagonal[index]
            hess.flat[:: hess.shape[0] + 1] += pen
        if self._sum_zero is not None:
            extra = self._sum_zero if index is None else self._sum_zero[np.ix_(index, index)]
            hess += extra * float(np.mean(np.diag(hess)))
        point.hess, point.hess_index, point.curvature = hess, index, curvature

    def line_minimum(self, point: Point, d: FloatArray) -> float:
        """A step length near the minimum of the objective from ``point`` along ``d``.

        Only for small data held standardised in memory (see
        :mod:`logitkit.solver.line_search`; an L1 term enters by its slope along the line,
        :func:`~logitkit.solver.line_search.l1_slope_along`); 1.0 (the full step)
        otherwise.
        """
        small = self._small
        if small is None or point.linear is None or self.bounded:
            return 1.0  # (beyond the full step a bounded search would leave the box)
        D = small.linear(d, self.problem.shape)
        loss = loss_derivatives_along(point.linear, D, small.y, small.w)
        W = self.problem.total_weight
        weighted_step = self._l2_diagonal * d
        penalty_slope = float(weighted_step @ point.theta)
        penalty_curvature = float(weighted_step @ d)
        l1_slope = l1_slope_along(point.theta, d, self.l1_levels)

        def derivatives(t: float) -> tuple[float, float]:
            first, second = loss(t)
            return first / W + penalty_slope + t * penalty_curvature + l1_slope(t), (
                second / W + penalty_curvature
            )

        return minimise_along(derivatives, float(point.grad @ d) + l1_slope(0.0))

    def kkt_violation(self, point: Point) -> float:
        """Largest violation of the optimality conditions over the free parameters.

        See :func:`box_violation` (the L1 levels carry the penalty factors).
        """
        g = point.grad
        if self._plain:
            viol = np.abs(g) if self._all_free else np.abs(g[self.free])
            return float(viol.max()) if viol.size else 0.0
        return box_violation(g, point.theta, self.l1_levels, self.lower, self.upper, self.free)
