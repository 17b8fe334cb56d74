"""Exact order statistics of a column too large to hold, found in passes over its batches.

No sketch and no error bound: the values at the wanted ranks are found exactly, so a
median or a quantile equals numpy's on the whole column bit for bit
(:func:`numpy_median`, :func:`numpy_quantile` repeat numpy's arithmetic on them).

How: every wanted rank starts with the bracket ``[min, max]`` (from a first pass). A
histogram pass splits each open bracket into :data:`BINS` equal bins, counting the values
in each bin and keeping each bin's smallest and largest value; a rank's new bracket is
the smallest and largest value of the bin that holds it, so ties close a bracket at once
(``lo == hi``) and spread values shrink it about :data:`BINS`-fold per pass. When a
bracket holds at most :data:`COLLECT` values, one more pass collects them and sorts. A
column of ``n`` spread values takes about ``log(n / COLLECT) / log(BINS) + 1`` passes
(two for a billion rows), holding ``O(BINS + COLLECT)`` numbers per rank.

Several columns share each pass. A pass is the caller's: ``run(fn, merge)`` applies
``fn`` to every batch's values (per column, a 1-D float64 array) and merges the results (in a loop, or in a tree on a cluster), so
``fn`` and ``merge`` are module-level functions (picklable for Dask workers).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
#: A pass over the values: ``run(fn, merge)`` -> ``fn`` of every batch, merged.
Run = Callable[[Callable[[Any], Any], Callable[[Any, Any], Any]], Any]
K = TypeVar("K", bound=Hashable)

__all__ = ["BINS", "COLLECT", "exact_ranks", "numpy_median", "numpy_quantile", "quantile_ranks"]

#: Bins per bracket in a histogram pass.
BINS = 2048
#: A bracket with at most this many values is collected and sorted.
COLLECT = 1 << 17

#: One open bracket: the key of its column, and its smallest and largest value.
Bracket = tuple[Hashable, float, float]


def _histogram(
    values: Mapping[Hashable, FloatArray], brackets: tuple[Bracket, ...], bins: int
) -> list[Any]:
    """Per bracket: the counts, smallest and largest value of each of ``bins`` bins."""
    out = []
    for key, lo, hi in brackets:
        x = values[key]
        x = x[(x >= lo) & (x <= hi)]
        edges = np.linspace(lo, hi, bins + 1)
        index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
        counts = np.bincount(index, minlength=bins)
        low = np.full(bins, np.inf)
        high = np.full(bins, -np.inf)
        np.minimum.at(low, index, x)
        np.maximum.at(high, index, x)
        out.append((counts, low, high))
    return out


def _merge_histograms(a: list[Any], b: list[Any]) -> list[Any]:
    return [
        (ca + cb, np.minimum(la, lb), np.maximum(ha, hb))
        for (ca, la, ha), (cb, lb, hb) in zip(a, b, strict=True)
    ]


def _collect(values: Mapping[Hashable, FloatArray], brackets: tuple[Bracket, ...]) -> list[Any]:
    out = []
    for key, lo, hi in brackets:
        x = values[key]
        out.append(x[(x >= lo) & (x <= hi)])
    return out


def _merge_collected(a: list[FloatArray], b: list[FloatArray]) -> list[FloatArray]:
    return [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]


def exact_ranks(
    run: Run,
    columns: Mapping[K, tuple[int, float, float, Sequence[int]]],
    *,
    bins: int = BINS,
    collect: int = COLLECT,
) -> dict[K, dict[int, float]]:
    """The values at 0-based ranks of each sorted column, exactly, in shared passes.

    Parameters
    ----------
    run : callable
        ``run(fn, merge)``: one pass applying ``fn`` to each batch's values, a mapping
        of each column's key to its finite values in the batch (a 1-D float64 array).
    columns : mapping
        Per column key: the number of values, the smallest and the largest, and the
        wanted ranks (in ``0 .. n - 1``).
    bins, collect : int
        Bins per histogram pass; the most values collected in one bracket.

    Returns
    -------
    dict
        Per column key, each wanted rank's value.

    Examples
    --------
    >>> import numpy as np
    >>> batches = [{"a": np.array([5.0, 1.0, 3.0])}, {"a": np.array([2.0, 4.0])}]
    >>> def run(fn, merge):
    ...     parts = [fn(b) for b in batches]
    ...     out = parts[0]
    ...     for p in parts[1:]:
    ...         out = merge(out, p)
    ...     return out
    >>> exact_ranks(run, {"a": (5, 1.0, 5.0, [0, 2, 4])}, collect=1)
    {'a': {0: 1.0, 2: 3.0, 4: 5.0}}
    """
    # Each open (column, rank): its bracket, the values below it and inside it.
    state: dict[tuple[K, int], tuple[Bracket, int, int]] = {
        (key, r): ((key, low, high), 0, n)
        for key, (n, low, high, ranks) in columns.items()
        for r in set(ranks)
    }
    found: dict[tuple[K, int], float] = {}
    while state:
        for item, ((_, lo, hi), _, _) in list(state.items()):
            if lo == hi:
                found[item] = lo
                del state[item]
        if not state:
            break
        inside = {b: k for b, _, k in state.values()}
        brackets = tuple(sorted(inside, key=repr))
        if all(k <= collect for k in inside.values()):
            parts = run(partial(_collect, brackets=brackets), _merge_collected)
            ordered = {b: np.sort(p) for b, p in zip(brackets, parts, strict=True)}
            for item, (b, below, _) in state.items():
                found[item] = float(ordered[b][item[1] - below])
            break
        parts = run(partial(_histogram, brackets=brackets, bins=bins), _merge_histograms)
        by_bracket = dict(zip(brackets, parts, strict=True))
        for item, (b, below, _) in list(state.items()):
            counts, lows, highs = by_bracket[b]
            cum = np.cumsum(counts)
            k = int(np.searchsorted(cum, item[1] - below, side="right"))
            before = int(cum[k - 1]) if k else 0
            bracket = (b[0], float(lows[k]), float(highs[k]))
            state[item] = (bracket, below + before, int(counts[k]))
    return {key: {r: found[key, r] for r in ranks} for key, (_, _, _, ranks) in columns.items()}


def numpy_median(n: int, value_at: Callable[[int], float]) -> float:
    """``np.median`` of ``n`` values from the values at its middle rank(s).

    Examples
    --------
    >>> values = sorted([4.0, 1.0, 3.0, 2.0])
    >>> numpy_median(4, values.__getitem__) == float(np.median(values))
    True
    """
    if n % 2:
        return float(value_at(n // 2))
    a, b = np.float64(value_at(n // 2 - 1)), np.float64(value_at(n // 2))
    return float((a + b) / 2)


def quantile_ranks(n: int, q: float) -> tuple[int, int]:
    """The ranks that numpy's linear quantile ``q`` of ``n`` values reads."""
    virtual = np.float64(n - 1) * np.float64(q)
    if virtual >= n - 1:
        return n - 1, n - 1
    if virtual < 0:
        return 0, 0
    previous = int(np.floor(virtual))
    return previous, min(previous + 1, n - 1)


def numpy_quantile(n: int, q: float, value_at: Callable[[int], float]) -> float:
    """``np.quantile(values, q)`` (method "linear") from the values at its ranks.

    Repeats numpy's steps: the virtual index ``(n - 1) * q``, its floor and the next
    rank, and numpy's two-sided linear interpolation.

    Examples
    --------
    >>> values = sorted([0.3, 1.7, 2.2, 9.1, 4.0])
    >>> numpy_quantile(5, 0.35, values.__getitem__) == float(np.quantile(values, 0.35))
    True
    """
    virtual = np.float64(n - 1) * np.float64(q)
    previous, following = quantile_ranks(n, q)
    a, b = np.float64(value_at(previous)), np.float64(value_at(following))
    if virtual >= n - 1 or virtual < 0:
        return float(a)
    gamma = virtual - np.floor(virtual)
    diff = b - a
    if gamma >= 0.5:
        return float(b - diff * (1 - gamma))
    return float(a + diff * gamma)
