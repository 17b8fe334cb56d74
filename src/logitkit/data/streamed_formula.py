"""A formula's learned state from passes over batches of rows, equal to formulaic's on all rows.

formulaic learns a stateful transform from all the rows it is given at once. Here each
transform's state is computed from aggregates of passes instead, then handed to
:meth:`FormulaTerms.from_state <logitkit.data.formula.FormulaTerms.from_state>`:

* ``center(x)``: the mean, from one pass (sum and count);
* ``scale(x)``, ``standardize(x)``: the mean and the standard deviation, from two
  (the sum; the squares about the mean), with their ``center``, ``scale`` and ``ddof``;
* ``bs(x, df=...)``: the bounds (one pass: min and max) and the knots, quantiles of
  ``x`` found exactly by :mod:`logitkit.data.quantiles` (usually two more);
* ``poly(x, d)``: the three-term recurrence's ``alpha`` and ``norms2``, from ``d + 1``
  passes (the sums of ``P_k^2`` and ``x P_k^2``);
* ``C(...)`` and other categorical factors: their levels, from the last pass;
* ``Q(...)``, ``poly(x, d, raw=True)``: nothing is learned.

Bounds, knots and levels are exact (bit for bit formulaic's). Means, standard deviations
and the polynomial sums add each batch's numpy sum with :func:`math.fsum`, where numpy
adds all rows pairwise: they agree to rounding (a few units in the last place), and
exactly where the sums are exact. A transform argument may hold other stateful
transforms (``bs(center(x), 4)``): the inner ones are learned first. ``cr``, ``cs`` and
``cc`` (knots at quantiles of the distinct values, a centring constraint from the mean
of their basis) are refused by name, as is any argument that is not a literal.

A last pass applies the learned state to every batch: it collects the levels of
categorical factors and raises formulaic's errors (a value beyond a spline's bounds with
``extrapolation="raise"``, NaN from ``log`` of a negative value, ...) naming the row.
"""

from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.data.formula import (
    FormulaTerms,
    _check_finite,
    _materialize,
    _parse,
    _spec,
    _values,
    encode_state,
)
from logitkit.data.quantiles import exact_ranks, numpy_quantile, quantile_ranks
from logitkit.exceptions import DataError

FloatArray = NDArray[np.float64]
#: A pass over typed batches: ``run(fn, merge)``, ``fn(frame, first_row)``.
TypedRun = Callable[[Callable[[pd.DataFrame, int], Any], Callable[[Any, Any], Any]], Any]

__all__ = ["LEARNED", "learn_formula"]

#: Stateful transforms learned in passes.
LEARNED = frozenset({"center", "scale", "standardize", "bs", "poly"})
#: Stateful transforms that cannot be.
_REFUSED = frozenset({"cr", "cs", "cc"})


def _bs_signature(
    x: Any,
    df: int | None = None,
    knots: Any = None,
    degree: int = 3,
    include_intercept: bool = False,
    lower_bound: float | None = None,
    upper_bound: float | None = None,
    extrapolation: str = "clip",  # logitkit's default (see formula._context)
) -> None:
    """The signature of ``bs`` in a logitkit formula."""


def _signature(name: str) -> inspect.Signature:
    from formulaic.transforms import poly, scale  # noqa: PLC0415
    from formulaic.transforms.patsy_compat import standardize  # noqa: PLC0415
    from formulaic.transforms.scale import center  # noqa: PLC0415

    funcs: dict[str, Callable[..., Any]] = {
        "center": center,
        "scale": scale,
        "standardize": standardize,
        "poly": poly,
        "bs": _bs_signature,
    }
    return inspect.signature(funcs[name])


@dataclass(frozen=True)
class _Call:
    """One stateful transform call of the formula."""

    key: str  # formulaic's key of its state
    name: str
    argument: str  # the expression of its data argument
    params: dict[str, Any]  # its other arguments, bound with their defaults
    inner: frozenset[str]  # keys of the stateful calls inside its argument
    term: str


def _refuse(term: str, why: str) -> DataError:
    msg = (
        f"The formula term {term!r} cannot be learned in passes over the data: {why}. "
        "Fit it in memory, or write the term another way."
    )
    return DataError(msg)


def _calls(formula: Any) -> list[_Call]:
    """The stateful calls of every term, inner calls before the calls holding them."""
    from formulaic.parser.types import Factor  # noqa: PLC0415

    found: dict[str, _Call] = {}
    for term in formula:
        for factor in term.factors:
            if factor.eval_method is not Factor.EvalMethod.PYTHON:
                continue
            expr = str(factor.expr)
            if "`" in expr:
                names = {"center", "scale", "standardize", "bs", "poly", *_REFUSED}
                if any(f"{n}(" in expr for n in names):
                    raise _refuse(expr, "a quoted column name inside a stateful transform")
                continue
            for node in ast.walk(ast.parse(expr, mode="eval")):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                name = node.func.id
                if name in _REFUSED:
                    why = (
                        f"{name}() places its knots at quantiles of the distinct values and "
                        "centres its basis by its mean over the rows"
                    )
                    raise _refuse(expr, why)
                if name in LEARNED:
                    call = _bind(node, name, expr)
                    found.setdefault(call.key, call)
    order: list[_Call] = []
    while len(order) < len(found):
        done = {c.key for c in order}
        ready = [c for c in found.values() if c.key not in done and c.inner <= done]
        if not ready:  # inner calls keyed otherwise than found: never guess
            stuck = next(c for c in found.values() if c.key not in done)
            raise _refuse(stuck.term, "its nested transforms could not be ordered")
        order += ready
    return order


def _bind(node: ast.Call, name: str, term: str) -> _Call:
    if not node.args:
        raise _refuse(term, f"{name}() needs the data as its first argument")
    try:
        rest = [ast.literal_eval(a) for a in node.args[1:]]
        keywords = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
    except ValueError:
        raise _refuse(term, f"the arguments of {name}() after the data must be literals") from None
    try:
        bound = _signature(name).bind(None, *rest, **keywords)
    except TypeError as exc:
        msg = f"Cannot evaluate the formula on these rows: {name}(): {exc}"
        raise DataError(msg) from None
    bound.apply_defaults()
    params = dict(list(bound.arguments.items())[1:])
    params.pop("_state", None)
    inner = frozenset(
        ast.unparse(n)
        for n in ast.walk(node.args[0])
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in LEARNED
    )
    return _Call(ast.unparse(node), name, ast.unparse(node.args[0]), params, inner, term)


# ------------------------------------------------------------- on each batch
def _argument(frame: pd.DataFrame, argument: str, state: dict[str, Any]) -> FloatArray:
    """The values of a transform's data argument in one typed batch, as formulaic makes them."""
    formula, _ = _parse(f"I({argument})", [str(c) for c in frame.columns])
    matrix = pd.DataFrame(_materialize(_spec(formula, state), frame))
    columns = [c for c in matrix.columns if c != "Intercept"]
    if len(columns) != 1:
        msg = f"The argument {argument!r} of a formula transform must give one number per row."
        raise DataError(msg)
    return np.asarray(matrix[columns[0]].to_numpy(dtype=np.float64))


def _moments(frame: pd.DataFrame, _: int, argument: str, state: dict[str, Any]) -> Any:
    """Count, sum, min and max of the argument (min and max ignoring NaN)."""
    x = _argument(frame, argument, state)
    kept = x[~np.isnan(x)]
    low = float(np.min(kept)) if kept.size else math.inf
    high = float(np.max(kept)) if kept.size else -math.inf
    return [x.shape[0], [float(np.sum(x))], low, high]


def _merge_moments(a: Any, b: Any) -> Any:
    return [a[0] + b[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3])]


def _squares(frame: pd.DataFrame, _: int, argument: str, state: dict[str, Any], centre: Any) -> Any:
    x = _argument(frame, argument, state)
    data = x - centre if centre is not None else x
    return [float(np.sum(data**2))]


def _concat(a: list[float], b: list[float]) -> list[float]:
    return a + b


def _poly_sums(
    frame: pd.DataFrame,
    _: int,
    argument: str,
    state: dict[str, Any],
    k: int,
    alpha: list[float],
    norms2: list[float],
) -> Any:
    """Sums of ``P_k^2`` and ``x P_k^2`` over the batch (NaN rows left out, as poly does)."""
    x = _argument(frame, argument, state)
    x = x[~np.isnan(x)]
    P = [np.ones(x.shape[0])]
    for i in range(1, k + 1):
        p = (x - alpha[i - 1]) * P[i - 1]
        if i >= 2:
            p = p - (norms2[i - 1] / norms2[i - 2]) * P[i - 2]
        P.append(p)
    square = P[k] ** 2
    return [[float(np.sum(square))], [float(np.sum(x * square))]]


def _merge_pairs(a: Any, b: Any) -> Any:
    return [a[0] + b[0], a[1] + b[1]]


def _values_in(
    frame: pd.DataFrame,
    _: int,
    argument: str,
    state: dict[str, Any],
    low: float,
    high: float,
    fn: Callable[[FloatArray], Any],
) -> Any:
    """``fn`` of the argument's values in ``[low, high]`` (NaN left out)."""
    x = _argument(frame, argument, state)
    return fn(x[(x >= low) & (x <= high)])


def _apply(
    frame: pd.DataFrame, offset: int, rhs: str, state: dict[str, Any]
) -> dict[str, list[Any]]:
    """Apply the learned state to a batch: formulaic's errors naming the row; the levels
    of each categorical factor."""
    from formulaic.parser.types import Factor  # noqa: PLC0415

    formula, _ = _parse(rhs, [str(c) for c in frame.columns])
    matrix = _materialize(_spec(formula, state), frame)
    names = tuple(str(c) for c in matrix.columns if c != "Intercept")
    try:
        _check_finite(_values(matrix, names), names)
    except DataError as exc:
        row = offset + int(exc.row or 0)
        msg = f"{exc} (In the data that is row {row}.)" if offset else str(exc)
        raise DataError(msg, column=exc.column, row=row) from None
    levels: dict[str, list[Any]] = {}
    for key, (kind, factor_state) in matrix.model_spec.encoder_state.items():
        if kind is Factor.Kind.CATEGORICAL:
            levels[str(key)] = list(factor_state.get("categories", []))
    return levels


def _merge_levels(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> dict[str, list[Any]]:
    out = dict(a)
    for key, values in b.items():
        mine = out.get(key)
        out[key] = values if mine is None or mine == values else sorted({*mine, *values})
    return out


# ------------------------------------------------------------- on the client
def _fsum(parts: list[float]) -> np.float64:
    return np.float64(math.fsum(parts))


def _learn_scale(call: _Call, run: TypedRun, state: dict[str, Any]) -> dict[str, Any]:
    params = call.params
    if call.name == "center":  # scale(x, scale=False)
        params = {"center": True, "scale": False, "ddof": 1}
    centre = params["center"]
    rescale = params["scale" if "scale" in params else "rescale"]
    out: dict[str, Any] = {"ddof": params["ddof"]}
    moments = None
    if centre is True or rescale is True:
        moments = run(partial(_moments, argument=call.argument, state=state), _merge_moments)
    n = moments[0] if moments is not None else 0
    if isinstance(centre, bool):
        with np.errstate(all="ignore"):  # no rows: NaN, refused by the last pass
            out["center"] = _fsum(moments[1]) / np.float64(n) if centre and moments else None
    else:
        out["center"] = np.array(centre)
    if isinstance(rescale, bool) and rescale:
        fn = partial(_squares, argument=call.argument, state=state, centre=out["center"])
        total = _fsum(run(fn, _concat))
        with np.errstate(all="ignore"):  # n == ddof: as formulaic, inf or NaN, refused later
            out["scale"] = np.sqrt(total / np.float64(n - out["ddof"]))
    else:
        out["scale"] = None if isinstance(rescale, bool) else np.array(rescale)
    return out


def _learn_bs(call: _Call, run: TypedRun, state: dict[str, Any]) -> dict[str, Any]:
    from formulaic.transforms import basis_spline  # noqa: PLC0415

    p = dict(call.params)
    moments = run(partial(_moments, argument=call.argument, state=state), _merge_moments)
    low = p["lower_bound"] if p["lower_bound"] is not None else moments[2]
    high = p["upper_bound"] if p["upper_bound"] is not None else moments[3]
    out: dict[str, Any] = {"lower_bound": low, "upper_bound": high}
    degree, df, knots = p["degree"], p["df"], p["knots"]
    # formulaic fills in the state (and raises its errors) from these: the knots found
    # here, the bounds, and a value within them (no value: no data for the knots).
    x = np.array([low], dtype=np.float64)
    if df and knots is None:
        n_knots = df - degree - (1 if p["include_intercept"] else 0)
        if n_knots >= 0:
            # formulaic's knots: quantiles of the values within the bounds when values
            # beyond them are clipped (or dropped), else of all values; NaN left out.
            within = (low, high) if p["extrapolation"] in ("clip", "na", "zero") else None
            found = _quantiles(call, run, state, within, np.linspace(0, 1, n_knots + 2))
            if found is None:
                x = np.empty(0)
            else:
                knots, df = found[1:-1], None
    try:
        with np.errstate(all="ignore"):
            basis_spline(
                x,
                df=df,
                knots=knots,
                degree=degree,
                include_intercept=p["include_intercept"],
                extrapolation=p["extrapolation"],
                _state=out,
            )
    except (ValueError, TypeError) as exc:
        msg = f"Cannot evaluate the formula on these rows: {exc}"
        raise DataError(msg) from None
    return out


def _quantiles(
    call: _Call,
    run: TypedRun,
    state: dict[str, Any],
    within: tuple[float, float] | None,
    qs: NDArray[np.float64],
) -> list[float] | None:
    """numpy's ``nanquantile`` of the argument's values (those ``within``), exactly;
    None without values (formulaic's own error follows)."""
    lo, hi = within if within is not None else (-math.inf, math.inf)
    values = partial(_values_in, argument=call.argument, state=state, low=lo, high=hi)
    n, low, high = run(partial(values, fn=_extremes), _merge_extremes)
    if n == 0:
        return None

    def values_run(fn: Callable[[Any], Any], merge: Callable[[Any, Any], Any]) -> Any:
        return run(partial(values, fn=partial(_keyed, fn=fn)), merge)

    ranks = sorted({r for q in qs.tolist() for r in quantile_ranks(n, q)})
    found = exact_ranks(values_run, {0: (n, low, high, ranks)})[0]
    return [numpy_quantile(n, q, found.__getitem__) for q in qs.tolist()]


def _keyed(x: FloatArray, fn: Callable[[Mapping[int, FloatArray]], Any]) -> Any:
    return fn({0: x})


def _extremes(x: FloatArray) -> tuple[int, float, float]:
    if x.size == 0:
        return 0, math.inf, -math.inf
    return int(x.size), float(np.min(x)), float(np.max(x))


def _merge_extremes(
    a: tuple[int, float, float], b: tuple[int, float, float]
) -> tuple[int, float, float]:
    return a[0] + b[0], min(a[1], b[1]), max(a[2], b[2])


def _learn_poly(call: _Call, run: TypedRun, state: dict[str, Any]) -> dict[str, Any]:
    degree, raw = call.params["degree"], call.params["raw"]
    if raw:
        return {}
    alpha: list[np.float64] = []
    norms2: list[np.float64] = []
    for k in range(degree + 1):
        fn = partial(
            _poly_sums,
            argument=call.argument,
            state=state,
            k=k,
            alpha=[float(a) for a in alpha],
            norms2=[float(v) for v in norms2],
        )
        squares, weighted = run(fn, _merge_pairs)
        norms2.append(_fsum(squares))
        if k < degree:
            alpha.append(_fsum(weighted) / norms2[k])
    # formulaic's dicts, keys in the order its recurrence first reads them.
    order: list[int] = []
    for i in range(2, degree + 1):
        order += [i - 1, i - 2]
    order += list(range(degree + 1))
    return {
        "alpha": {k: alpha[k] for k in range(degree)},
        "norms2": {k: norms2[k] for k in dict.fromkeys(order)},
    }


_LEARNERS: Mapping[str, Callable[[_Call, TypedRun, dict[str, Any]], dict[str, Any]]] = {
    "center": _learn_scale,
    "scale": _learn_scale,
    "standardize": _learn_scale,
    "bs": _learn_bs,
    "poly": _learn_poly,
}


def learn_formula(rhs: str, run: TypedRun, sample: pd.DataFrame, max_levels: int) -> FormulaTerms:
    """The formula's terms with their state learned in passes.

    Parameters
    ----------
    rhs : str
        The right-hand side.
    run : callable
        ``run(fn, merge)``: one pass of ``fn(typed_batch, first_row)`` over the rows, the
        results merged (in order, or in a tree).
    sample : DataFrame
        A few typed rows (no values are learned from them).
    max_levels : int
        A categorical factor with more levels is refused.

    Raises
    ------
    DataError
        For a term that cannot be learned in passes (naming it), and for formulaic's
        errors on the rows.
    """
    formula, _ = _parse(rhs, [str(c) for c in sample.columns])
    state: dict[str, Any] = {}
    for call in _calls(formula):
        state[call.key] = _LEARNERS[call.name](call, run, encode_state(state))
    encoded = encode_state(state)
    levels = run(partial(_apply, rhs=rhs, state=encoded), _merge_levels)
    too_many = [k for k, v in levels.items() if len(v) > max_levels]
    if too_many:
        msg = (
            f"The formula factor {too_many[0]!r} has {len(levels[too_many[0]])} levels (more "
            f"than {max_levels}); group its values or leave it out."
        )
        raise DataError(msg)
    spec = _materialize(_spec(formula, encoded), sample).model_spec
    unlearned = [k for k, v in spec.transform_state.items() if k not in state and v]
    if unlearned:
        raise _refuse(str(unlearned[0]), "logitkit does not learn its state in passes")
    for key, value in spec.transform_state.items():
        state.setdefault(str(key), value)
    return FormulaTerms.from_state(rhs, sample, state, levels)
