"""Solver benchmark: logitkit's ``LogisticModel.fit`` against its peers on the same data.

Run ``python -m benchmarks.solver [--smoke] [--cases a,b,c,d] [--out benchmarks/RESULTS.md]``;
``python -m benchmarks.solver --stress [--cells a,b,...] [--smoke]`` runs the stress matrix
of `benchmarks.solver_stress` instead.

Cases (``--smoke`` sizes in brackets): (a) 1,000,000 x 100 [20,000 x 20] dense, L2, C=1,
columns on scales 1e-3..1e3, also peak memory during fit; (b) breast cancer 569 x 30, L2,
C=1, BLAS on one thread, median of 200 [3] fits; (c) 100,000 x 200 [5,000 x 30] dense,
L1, C = 1 / (2 sqrt(n)), about 30% nonzero; (d) 200,000 x 50 [5,000 x 10] dense, no
penalty (where statsmodels joins). Data come from a seeded true logistic model.

Every contender fits the same arrays in this one process. For each it reports the wall
time (best of a few calls; the median of many for the millisecond case), the relative
objective gap ``(obj - obj_ref) / obj_ref`` and whether it reached ``gap <= 1e-8``, and
its time over the fastest peer's (over all peer rows, and over the peer rows that reached
the target, since time to ``gap <= 1e-8`` is what counts).

The objective is evaluated in one common form from each contender's coefficients in
original units (`benchmarks._common.penalised_objective`): ``sum logloss + penalty(b) / C``
with ``b = coef * std`` (training mean, population std, as ``StandardScaler``) and the
intercept unpenalised. ``obj_ref`` is the least objective over a tight reference solve
and all contenders. The peers and how their parameters map onto that objective:

- scikit-learn ``make_pipeline(StandardScaler(), LogisticRegression(C, l1_ratio))``:
  the same objective times ``C``. lbfgs and newton-cholesky for L2 and none, saga and
  liblinear for L1. liblinear penalises the intercept (as a feature of value
  ``intercept_scaling``); its tight row raises ``intercept_scaling`` to make that
  negligible.
- glum ``GeneralizedLinearRegressor(family="binomial", scale_predictors=True)`` minimises
  ``mean logloss + alpha * penalty(b)``, so ``alpha = 1 / (C * n)``; with
  ``scale_predictors=True`` it penalises the coefficients of the population-std
  standardised columns (checked against scikit-learn to 1e-10 in the coefficients).
- statsmodels ``Logit(y, add_constant(X))``: Newton for the unpenalised case (its Newton
  path has no L2 penalty, so it sits out the L2 cases). Its
  ``fit_regularized(method="l1")`` minimises ``-loglik + sum_k alpha_k |params_k|`` (it
  divides both by n internally, so alpha is on the sum scale, not per observation), so
  ``alpha_k = 1 / C`` on standardised columns and 0 for the intercept. It is given a
  standardised copy made inside the timed call (``alpha_k = std_k / C`` on the raw scale
  is the same objective, but there SLSQP stops at gaps near 1e-4).

Peers run at their default tolerance and at a tight one. A peer that warns of
non-convergence is kept and marked "did not converge"; warnings never escape the
benchmark. The memory check of case (a) fits once per contender in a fresh spawned
process and reports the rise of resident memory during ``fit`` over the size of ``X``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import os
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from benchmarks._common import (
    RESULTS_PATH,
    CpuSnapshot,
    MemoryUse,
    Timing,
    column_mean_std,
    cpu_snapshot,
    format_bytes,
    format_seconds,
    machine_lines,
    markdown_table,
    measure_peak_memory,
    penalised_objective,
    replace_section,
    run_in_child,
    time_calls,
)

SECTION = "benchmarks.solver"
GAP_TARGET = 1e-8
WARMUP_ROWS = 2_000  # untimed first fit on a slice: imports and first-call costs
PACKAGES = ("logitkit", "numpy", "scipy", "scikit-learn", "glum", "statsmodels", "threadpoolctl")

# Row status values; the first two mean the contender ran and has a gap.
OK, NOT_CONVERGED = "ok", "did not converge"
NOT_AVAILABLE, NOT_APPLICABLE = "not available", "not applicable"
RAN = (OK, NOT_CONVERGED)


# --- problems -------------------------------------------------------------------------------


@dataclass
class Problem:
    """One fitting problem: data, objective parameters and a one-line description."""

    X: np.ndarray
    y: np.ndarray
    penalty: str | None  # "l2", "l1" or None
    C: float  # inf when penalty is None
    description: str

    @property
    def l1_ratio(self) -> float:
        """Share of L1 in the penalty (0 for L2 and for no penalty)."""
        return 1.0 if self.penalty == "l1" else 0.0

    def head(self, rows: int) -> Problem:
        """The same problem on the first ``rows`` rows (views, no copy)."""
        return Problem(self.X[:rows], self.y[:rows], self.penalty, self.C, self.description)


def make_synthetic(
    n: int,
    p: int,
    *,
    seed: int,
    frac_nonzero: float = 1.0,
    chunk_rows: int = 65_536,
    log10_scale: tuple[float, float] = (-3.0, 3.0),
    eta_sd: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense float64 ``X`` (n, p) and 0/1 ``y`` drawn from a true logistic model.

    Columns share a common factor (correlations up to about 0.4), are multiplied by
    ``10**uniform(*log10_scale)`` and about half are shifted to a nonzero mean. The linear
    predictor has standard deviation ``eta_sd`` (default 2) on the standardised scale and
    intercept -0.5, so by default classes overlap (no separation); a large ``eta_sd``
    leaves few rows near the boundary (nearly separable classes). ``X`` is filled in row
    chunks in place: no temporary larger than a chunk, and the same seed gives the same
    arrays in any process.
    """
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(*log10_scale, p)
    shift = np.where(rng.random(p) < 0.5, rng.normal(0.0, 3.0, p), 0.0) * scale
    loading = rng.uniform(0.0, 0.8, p)
    unit = np.sqrt(1.0 + loading**2)  # std of a column before scaling
    beta = rng.normal(0.0, 1.0, p) * (rng.random(p) < frac_nonzero)
    # Var(eta) = b' D b + (u' b)^2 for standardised columns (z_j + l_j f) / unit_j.
    u = loading / unit
    beta *= eta_sd / math.sqrt(float(beta @ (beta / unit**2)) + float(u @ beta) ** 2 or 1.0)
    weights = beta / unit  # acting on the unscaled columns

    X = np.empty((n, p))
    y = np.empty(n)
    for start in range(0, n, chunk_rows):
        block = X[start : start + chunk_rows]
        rng.standard_normal(out=block)
        block += rng.standard_normal((block.shape[0], 1)) * loading
        eta = block @ weights - 0.5
        y[start : start + block.shape[0]] = rng.random(block.shape[0]) < expit(eta)
        block *= scale
        block += shift
    return X, y


def _l1_C(n: int) -> float:
    # Noise columns have |gradient| of order 0.45 * sqrt(n) at the solution, signal
    # columns of order n; 1/C = 2 sqrt(n) zeroes nearly all noise columns.
    return 1.0 / (2.0 * math.sqrt(n))


def problem_a(smoke: bool) -> Problem:
    n, p = (20_000, 20) if smoke else (1_000_000, 100)
    X, y = make_synthetic(n, p, seed=20240601)
    return Problem(X, y, "l2", 1.0, f"{n:,} x {p} dense, L2, C=1, scales 1e-3..1e3")


def problem_b(smoke: bool) -> Problem:  # noqa: ARG001 - same data in smoke mode
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = y.astype(np.float64)
    return Problem(X, y, "l2", 1.0, f"breast cancer {X.shape[0]} x {X.shape[1]}, L2, C=1")


def problem_c(smoke: bool) -> Problem:
    n, p = (5_000, 30) if smoke else (100_000, 200)
    X, y = make_synthetic(n, p, seed=20240602, frac_nonzero=0.3)
    C = _l1_C(n)
    return Problem(X, y, "l1", C, f"{n:,} x {p} dense, L1, C={C:.3g} (30% true nonzero)")


def problem_d(smoke: bool) -> Problem:
    n, p = (5_000, 10) if smoke else (200_000, 50)
    X, y = make_synthetic(n, p, seed=20240603)
    return Problem(X, y, None, math.inf, f"{n:,} x {p} dense, no penalty, scales 1e-3..1e3")


@dataclass(frozen=True)
class Case:
    """A benchmark case: how to make its problem and how to time it."""

    key: str
    make: Callable[[bool], Problem]
    repeats: int  # full run
    smoke_repeats: int
    statistic: str = "best"  # "best" of the repeats, or "median"
    budget_s: float | None = 15.0  # stop repeating once this much time was spent
    single_thread: bool = False  # limit BLAS/OpenMP to one thread for every contender
    memory: bool = False  # also measure peak memory during fit in child processes
    batch: int = 1  # calls per timed sample: 1 = cold single calls (see time_calls)


CASES: dict[str, Case] = {
    "a": Case("a", problem_a, repeats=3, smoke_repeats=1, memory=True),
    # Small fits run in loops (cross-validation, bootstrap, threshold selection): (b) times
    # the steady state of back-to-back fits, (b-cold) single calls after a collection.
    "b": Case(
        "b", problem_b, 40, 3, statistic="median", budget_s=None, single_thread=True, batch=10
    ),
    "b-cold": Case(
        "b-cold", problem_b, 200, 3, statistic="median", budget_s=None, single_thread=True
    ),
    "c": Case("c", problem_c, repeats=3, smoke_repeats=1),
    "d": Case("d", problem_d, repeats=3, smoke_repeats=1),
}


# --- contenders -----------------------------------------------------------------------------

Fit = Callable[[Problem], tuple[np.ndarray, float]]


@dataclass(frozen=True)
class Contender:
    """One row of the table: a library, a solver and its settings."""

    key: str
    label: str
    setting: str
    peer: bool
    fit: Fit | None  # None: skipped, see ``status`` and ``note``
    status: str = OK
    note: str = ""


def _available(module: str) -> str | None:
    """Import ``module`` now (so no timed call pays for it); return why not, or None."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _sklearn_fit(solver: str, **params: Any) -> Fit:
    def fit(problem: Problem) -> tuple[np.ndarray, float]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=problem.C, l1_ratio=problem.l1_ratio, solver=solver, **params),
        ).fit(problem.X, problem.y)
        scaler, lr = model[0], model[-1]
        coef = lr.coef_[0] / scaler.scale_
        return coef, float(lr.intercept_[0] - coef @ scaler.mean_)

    return fit


def _glum_fit(**params: Any) -> Fit:
    def fit(problem: Problem) -> tuple[np.ndarray, float]:
        from glum import GeneralizedLinearRegressor

        n = problem.X.shape[0]
        alpha = 0.0 if math.isinf(problem.C) else 1.0 / (problem.C * n)
        model = GeneralizedLinearRegressor(
            family="binomial",
            alpha=alpha,
            l1_ratio=problem.l1_ratio,
            scale_predictors=True,
            **params,
        ).fit(problem.X, problem.y)
        return np.asarray(model.coef_), float(model.intercept_)

    return fit


def _statsmodels_fit(**params: Any) -> Fit:
    def fit(problem: Problem) -> tuple[np.ndarray, float]:
        import statsmodels.api as sm

        if problem.penalty is None:
            design = sm.add_constant(problem.X, prepend=True, has_constant="add")
            result = sm.Logit(problem.y, design).fit(method="newton", disp=0, **params)
            fitted = np.asarray(result.params)
            return fitted[1:], float(fitted[0])
        # L1: standardise first (on the raw scale SLSQP stops at gaps near 1e-4), then
        # alpha = 1/C for every standardised coefficient, 0 for the intercept.
        mean, std = column_mean_std(problem.X)
        design = sm.add_constant((problem.X - mean) / std, prepend=True, has_constant="add")
        alpha = np.full(design.shape[1], 1.0 / problem.C)
        alpha[0] = 0.0
        result = sm.Logit(problem.y, design).fit_regularized(
            method="l1", alpha=alpha, disp=0, **params
        )
        fitted = np.asarray(result.params)
        coef = fitted[1:] / std
        return coef, float(fitted[0] - coef @ mean)

    return fit


def _logitkit_fit(**params: Any) -> Fit:
    def fit(problem: Problem) -> tuple[np.ndarray, float]:
        from logitkit import LogisticModel

        penalty_params: dict[str, Any] = {"penalty": problem.penalty}
        if problem.penalty is not None:
            penalty_params["C"] = problem.C
        model = LogisticModel(**penalty_params, standardize=True, **params)
        model.fit(problem.X, problem.y)
        return np.asarray(model.coef_)[0], float(np.asarray(model.intercept_)[0])

    return fit


def _logitkit_missing() -> str | None:
    try:
        from logitkit import LogisticModel  # noqa: F401
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def contenders(penalty: str | None, only: str | None = None) -> list[Contender]:
    """The rows for a problem with this penalty, logitkit first, in a fixed order.

    Each contender's library is imported here, so no timed call pays for it; with ``only``
    (a key), just that contender is made and just its library imported.
    """
    rows: list[Contender] = []

    def add(key: str, label: str, setting: str, peer: bool, module: str, fit: Fit) -> None:
        if only is not None and key != only:
            return
        why = _logitkit_missing() if module == "logitkit" else _available(module)
        if why is None:
            rows.append(Contender(key, label, setting, peer, fit))
        else:
            rows.append(Contender(key, label, setting, peer, None, NOT_AVAILABLE, why))

    def skip(key: str, label: str, note: str) -> None:
        if only is not None and key != only:
            return
        rows.append(Contender(key, label, "", True, None, NOT_APPLICABLE, note))

    add("logitkit", "logitkit", "default tol", False, "logitkit", _logitkit_fit())
    add("logitkit-tight", "logitkit", "tol=1e-10", False, "logitkit", _logitkit_fit(tol=1e-10))

    sk = "scikit-learn"
    seed = {"random_state": 0}  # saga and liblinear shuffle; fixed for repeatable gaps
    if penalty == "l1":
        add(
            "sklearn-saga",
            f"{sk} saga",
            "default tol",
            True,
            "sklearn",
            _sklearn_fit("saga", **seed),
        )
        add(
            "sklearn-saga-tight",
            f"{sk} saga",
            "tol=1e-8",
            True,
            "sklearn",
            _sklearn_fit("saga", tol=1e-8, max_iter=100_000, **seed),
        )
        add(
            "sklearn-liblinear",
            f"{sk} liblinear",
            "default tol",
            True,
            "sklearn",
            _sklearn_fit("liblinear", **seed),
        )
        add(
            "sklearn-liblinear-tight",
            f"{sk} liblinear",
            "tol=1e-6, intercept_scaling=1e4",
            True,
            "sklearn",
            _sklearn_fit("liblinear", tol=1e-6, intercept_scaling=1e4, max_iter=10_000, **seed),
        )
    else:
        for solver in ("lbfgs", "newton-cholesky"):
            add(
                f"sklearn-{solver}",
                f"{sk} {solver}",
                "default tol",
                True,
                "sklearn",
                _sklearn_fit(solver),
            )
            add(
                f"sklearn-{solver}-tight",
                f"{sk} {solver}",
                "tol=1e-10",
                True,
                "sklearn",
                _sklearn_fit(solver, tol=1e-10, max_iter=10_000),
            )

    add("glum", "glum", "default tol", True, "glum", _glum_fit())
    add(
        "glum-tight",
        "glum",
        "gradient_tol=1e-10",
        True,
        "glum",
        _glum_fit(gradient_tol=1e-10, max_iter=1_000),
    )

    if penalty is None:
        add(
            "statsmodels",
            "statsmodels Logit newton",
            "default tol",
            True,
            "statsmodels",
            _statsmodels_fit(),
        )
        add(
            "statsmodels-tight",
            "statsmodels Logit newton",
            "tol=1e-12",
            True,
            "statsmodels",
            _statsmodels_fit(tol=1e-12, maxiter=100),
        )
    elif penalty == "l1":
        add(
            "statsmodels",
            "statsmodels Logit l1 (slsqp)",
            "default acc",
            True,
            "statsmodels",
            _statsmodels_fit(),
        )
        add(
            "statsmodels-tight",
            "statsmodels Logit l1 (slsqp)",
            "acc=1e-10",
            True,
            "statsmodels",
            _statsmodels_fit(acc=1e-10),
        )
    else:
        skip("statsmodels", "statsmodels Logit", "no L2 penalty in its Newton path")
    return rows


def reference_fit(penalty: str | None) -> Fit:
    """A tight solve that ``obj_ref`` starts from (contenders may still beat it)."""
    if penalty == "l1":  # KKT conditions checked to ~1e-9 relative on case (c), full size
        return _glum_fit(gradient_tol=1e-10, max_iter=1_000)
    return _sklearn_fit("newton-cholesky", tol=1e-12, max_iter=100)


# --- running --------------------------------------------------------------------------------


@dataclass
class Row:
    """The outcome for one contender on one case."""

    contender: Contender
    status: str
    timing: Timing | None = None
    objective: float = math.nan
    gap: float = math.nan
    nnz: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        """Whether the relative gap is at most `GAP_TARGET`."""
        return self.status in RAN and self.gap <= GAP_TARGET


@dataclass
class MemoryRow:
    """Peak memory rise during one contender's fit of case (a), in a fresh process."""

    contender: Contender
    x_bytes: int
    use: MemoryUse | None
    note: str = ""


@dataclass
class CaseResult:
    """Everything reported for one case."""

    case: Case
    description: str
    penalty: str | None
    threads: str
    rows: list[Row]
    memory: list[MemoryRow]


def _messages(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    """One line per caught warning: its category and the start of its first line."""
    messages = []
    for w in caught:
        first_line = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        messages.append(f"{w.category.__name__}: {first_line[:80]}")
    return messages


def _fit_quietly(fit: Fit, problem: Problem) -> tuple[np.ndarray, float, list[str]]:
    """Run a fit with every warning caught; return its coefficients and the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coef, intercept = fit(problem)
    return np.asarray(coef, dtype=np.float64).ravel(), intercept, _messages(caught)


def _objective(problem: Problem, std: np.ndarray, coef: np.ndarray, intercept: float) -> float:
    return penalised_objective(
        problem.X, problem.y, coef, intercept, C=problem.C, l1_ratio=problem.l1_ratio, std=std
    )


def _run_contender(
    contender: Contender, problem: Problem, std: np.ndarray, repeats: int, case: Case
) -> Row:
    if contender.fit is None:
        return Row(contender, contender.status, notes=[contender.note])
    fit = contender.fit

    def call() -> tuple[np.ndarray, float]:
        return fit(problem)

    try:
        _fit_quietly(fit, problem.head(WARMUP_ROWS))
        gc.collect()
        # Warnings are recorded around all the calls: entering a recording context for
        # each call, inside the timed region, cost a small fit a tenth of its time.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            timing, (coef, intercept) = time_calls(
                call, repeats, statistic=case.statistic, budget_s=case.budget_s, batch=case.batch
            )
        coef = np.asarray(coef, dtype=np.float64).ravel()
        messages = _messages(caught)
    except Exception as exc:  # noqa: BLE001 - one failing contender must not end the run
        return Row(contender, f"failed: {type(exc).__name__}", notes=[str(exc)[:200]])
    converged = not any("Convergence" in m.split(":", 1)[0] for m in messages)
    row = Row(contender, OK if converged else NOT_CONVERGED, timing)
    row.notes = sorted(set(messages))
    row.objective = _objective(problem, std, coef, intercept)
    row.nnz = int(np.count_nonzero(coef))
    return row


def _memory_child(case_key: str, smoke: bool, contender_key: str) -> tuple[int, MemoryUse]:
    """In a spawned process: make the case's data, then measure one fit's memory rise."""
    problem = CASES[case_key].make(smoke)
    (contender,) = contenders(problem.penalty, only=contender_key)
    if contender.fit is None:
        msg = f"{contender_key} is {contender.status}"
        raise RuntimeError(msg)
    fit = contender.fit
    use, _ = measure_peak_memory(lambda: _fit_quietly(fit, problem))
    return problem.X.nbytes, use


MEMORY_CONTENDERS = ("logitkit", "sklearn-lbfgs", "sklearn-newton-cholesky", "glum")


def run_case(
    case: Case,
    *,
    smoke: bool,
    memory: bool = True,
    threads: int | None = None,
    echo: Callable[[str], None] = print,
) -> CaseResult:
    """Make the case's problem, run every contender on it and return the rows.

    ``threads`` limits BLAS and OpenMP thread pools for every contender alike (None: leave
    them as they are); cases marked ``single_thread`` always run on one thread.
    """
    problem = case.make(smoke)
    repeats = case.smoke_repeats if smoke else case.repeats
    _, std = column_mean_std(problem.X)
    limit = 1 if case.single_thread else threads
    limiter: AbstractContextManager[Any]
    if limit is None:
        limiter = nullcontext()
        threads_text = f"all {os.cpu_count()} cores (default thread pools)"
    else:
        limiter = threadpool_limits(limits=limit)
        threads_text = (
            f"BLAS/OpenMP limited to {limit} thread{'s' if limit > 1 else ''} (threadpoolctl)"
            " for every contender"
        )
    rows: list[Row] = []
    with limiter:
        for contender in contenders(problem.penalty):
            echo(f"  [{case.key}] {contender.label} ({contender.setting or '-'}) ...")
            rows.append(_run_contender(contender, problem, std, repeats, case))
        coef, intercept, _ = _fit_quietly(reference_fit(problem.penalty), problem)
    obj_ref = min(
        [_objective(problem, std, coef, intercept)]
        + [r.objective for r in rows if r.status in RAN and np.isfinite(r.objective)]
    )
    for row in rows:
        if row.status in RAN:
            row.gap = (row.objective - obj_ref) / abs(obj_ref)
    description, penalty = problem.description, problem.penalty
    del problem, std  # the memory children make their own copy of the data

    memory_rows: list[MemoryRow] = []
    if case.memory and memory:
        by_key = {r.contender.key: r.contender for r in rows}
        for key in MEMORY_CONTENDERS:
            contender = by_key[key]
            if contender.fit is None:
                memory_rows.append(MemoryRow(contender, 0, None, contender.status))
                continue
            echo(f"  [{case.key}] memory: {contender.label} ...")
            x_bytes, use = run_in_child(_memory_child, case.key, smoke, key)
            memory_rows.append(MemoryRow(contender, x_bytes, use))
    return CaseResult(case, description, penalty, threads_text, rows, memory_rows)


# --- reporting ------------------------------------------------------------------------------


def _fastest(rows: Sequence[Row], *, reached_only: bool) -> Row | None:
    peers = [
        r
        for r in rows
        if r.contender.peer and r.status in RAN and r.timing and (r.reached or not reached_only)
    ]
    return min(peers, key=lambda r: r.timing.seconds if r.timing else math.inf, default=None)


def _gap_text(row: Row) -> str:
    if row.status not in RAN:
        return "-"
    return "0" if row.gap <= 0 else f"{row.gap:.1e}"


def _ratio_text(row: Row, best: Row | None) -> str:
    if row.timing is None or best is None or best.timing is None:
        return "-"
    return f"{row.timing.seconds / best.timing.seconds:.2f}"


def case_table(result: CaseResult) -> str:
    """The Markdown table of one case."""
    fastest = _fastest(result.rows, reached_only=False)
    fastest_exact = _fastest(result.rows, reached_only=True)
    l1 = result.penalty == "l1"
    headers = [
        "contender",
        "setting",
        "time",
        "calls",
        "rel. gap",
        f"gap<={GAP_TARGET:.0e}",
        "/ fastest peer",
        "/ fastest peer at 1e-8",
        "status",
    ]
    if l1:
        headers.insert(5, "nonzero")
    table: list[list[str]] = []
    for row in result.rows:
        ran = row.status in RAN
        cells = [
            row.contender.label,
            row.contender.setting or "-",
            format_seconds(row.timing.seconds) if row.timing else "-",
            _calls_text(row.timing) if row.timing else "-",
            _gap_text(row),
            ("yes" if row.reached else "no") if ran else "-",
            _ratio_text(row, fastest),
            _ratio_text(row, fastest_exact),
            "; ".join([row.status, *row.notes]) if row.notes else row.status,
        ]
        if l1:
            cells.insert(5, f"{row.nnz}" if ran else "-")
        table.append(cells)
    return markdown_table(headers, table)


def case_summary(result: CaseResult) -> str:
    """One line: logitkit's time over the fastest peer that reached the target gap."""
    logitkit = next((r for r in result.rows if r.contender.key == "logitkit"), None)
    best = _fastest(result.rows, reached_only=True)
    if logitkit is None or logitkit.status not in RAN or logitkit.timing is None:
        status = logitkit.status if logitkit else NOT_AVAILABLE
        return f"logitkit: {status}."
    if best is None or best.timing is None:
        return "No peer reached the target gap; no ratio."
    ratio = logitkit.timing.seconds / best.timing.seconds
    reached = "reached" if logitkit.reached else "did NOT reach"
    return (
        f"logitkit (default tol) {reached} gap <= {GAP_TARGET:.0e}; its time / fastest peer at "
        f"that gap ({best.contender.label}, {best.contender.setting}) = **{ratio:.2f}**."
    )


def memory_table(rows: Sequence[MemoryRow]) -> str:
    """The Markdown table of peak memory rise during fit."""
    table = []
    for m in rows:
        if m.use is None:
            table.append([m.contender.label, "-", "-", "-", "-", m.note])
            continue
        extra = m.use.extra_bytes
        table.append(
            [
                m.contender.label,
                format_bytes(m.x_bytes),
                format_bytes(extra),
                f"{extra / m.x_bytes:.2f}",
                f"{(m.x_bytes + extra) / m.x_bytes:.2f}",
                m.use.method,
            ]
        )
    headers = ["contender (default tol)", "X", "peak rise in fit", "rise / X", "total / X", "how"]
    return markdown_table(headers, table)


def case_heading(result: CaseResult) -> str:
    """``(a) 1,000,000 x 100 dense, L2, ...``"""
    return f"({result.case.key}) {result.description}"


def _calls_text(timing: Timing) -> str:
    if timing.batch == 1:
        return f"{timing.repeats} ({timing.statistic})"
    return f"{timing.repeats} x {timing.batch} ({timing.statistic})"


def _case_method(case: Case, smoke: bool) -> str:
    repeats = case.smoke_repeats if smoke else case.repeats
    if case.batch == 1:
        return f"({case.key}) {case.statistic} of {repeats} calls"
    return (
        f"({case.key}) {case.statistic} of {repeats} samples, each the mean of {case.batch}"
        " back-to-back calls with the garbage collector paused (as timeit does), after one"
        " untimed call"
    )


def _method_text(smoke: bool) -> str:
    timing = "; ".join(_case_method(c, smoke) for c in CASES.values())
    return (
        f"Time: wall time of constructing and fitting the estimator; {timing}; garbage is"
        " collected before every timed sample, outside it; (a), (c), (d) make"
        " no further call once the calls so far took 15 s. Each contender first fits a"
        " 2,000-row slice once, untimed (imports, first-call costs); warnings are recorded"
        " around all the calls, not each (status, notes). Rel. gap:"
        " (obj - obj_ref) / obj_ref with obj = sum log-loss + penalty(coef * std) / C,"
        " std the training population std, intercept unpenalised; obj_ref the least over a"
        " tight reference solve and all rows. Ratios: time over the fastest peer row, and"
        f" over the fastest peer row that reached gap <= {GAP_TARGET:.0e}."
    )


def report(results: Sequence[CaseResult], *, smoke: bool, start: CpuSnapshot | None = None) -> str:
    """The whole Markdown section: date, machine, method, one table per case."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    memory_note = (
        "Peak resident-memory rise during `fit` (one default-tol fit in a fresh process, data"
        " made before the baseline; target for logitkit: total / X <= 1.2):"
    )
    lines = [
        "## Solver: `python -m benchmarks.solver`" + (" (smoke sizes)" if smoke else ""),
        "",
        f"Run {when}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES, start)),
        "",
        _method_text(smoke),
    ]
    for result in results:
        lines += ["", f"### {case_heading(result)}", "", f"Threads: {result.threads}.", ""]
        lines += [case_table(result), "", case_summary(result)]
        if result.memory:
            lines += ["", memory_note, "", memory_table(result.memory)]
    return "\n".join(lines) + "\n"


def run(
    case_keys: Sequence[str] = tuple(CASES),
    *,
    smoke: bool = False,
    memory: bool = True,
    threads: int | None = None,
    out: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[CaseResult]:
    """Run the chosen cases, print the report and, if ``out`` is given, write its section."""
    unknown = [k for k in case_keys if k not in CASES]
    if unknown:
        msg = f"Unknown case(s) {unknown}; choose from {sorted(CASES)}."
        raise ValueError(msg)
    start = cpu_snapshot()
    results = []
    for key in case_keys:
        echo(f"case ({key}) ...")
        results.append(run_case(CASES[key], smoke=smoke, memory=memory, threads=threads, echo=echo))
    text = report(results, smoke=smoke, start=start)
    echo(text)
    if out is not None:
        replace_section(out, SECTION, text)
        echo(f"wrote the {SECTION} section of {out}")
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.solver [--smoke] [--cases a,b] [--out FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.solver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, e.g. a,c")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS_PATH} for a full run; smoke runs write nothing"
        " unless given)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check of (a)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS/OpenMP threads for every contender (default: leave as is; use 1 on"
        " a machine shared with other work, where multi-threaded BLAS timings swing 10x);"
        " with --stress the default is 1, and 0 leaves the thread pools as they are",
    )
    stress = parser.add_argument_group(
        "stress matrix", "hard problems beside every peer (see benchmarks/solver_stress.py)"
    )
    stress.add_argument(
        "--stress", action="store_true", help="run the stress matrix instead of the cases"
    )
    stress.add_argument(
        "--cells", default=None, help="comma-separated stress cells, e.g. a,e,cv (default: all)"
    )
    stress.add_argument(
        "--cap", type=float, default=None, help="seconds per peer per cell (default: per cell)"
    )
    stress.add_argument(
        "--json",
        type=Path,
        default=None,
        help="raw results as JSON (default benchmarks/results/solver_stress.json for a full run)",
    )
    stress.add_argument("--label", default="", help="a line shown under the stress heading")
    stress.add_argument(
        "--section", default=None, help="RESULTS.md section name (default benchmarks.solver.stress)"
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None or args.smoke else RESULTS_PATH
    if args.stress:
        _stress_main(args, out, parser)
        return
    for name in ("cells", "cap", "json", "section"):
        if getattr(args, name) is not None:
            parser.error(f"--{name} applies to the stress matrix only; add --stress")
    if args.label:
        parser.error("--label applies to the stress matrix only; add --stress")
    keys = [k.strip() for k in args.cases.split(",") if k.strip()]
    run(keys, smoke=args.smoke, memory=not args.no_memory, threads=args.threads, out=out)


def _stress_main(args: argparse.Namespace, out: Path | None, parser: Any) -> None:
    from benchmarks import solver_stress

    if args.cases != ",".join(CASES) or args.no_memory:
        parser.error("--cases and --no-memory apply to the headline cases, not to --stress")
    if args.threads is not None and args.threads < 0:
        parser.error(f"--threads must be 0 (default thread pools) or more; got {args.threads}")
    cells = solver_stress.CELLS if args.cells is None else args.cells.split(",")
    cells = tuple(c.strip() for c in cells if c.strip())
    unknown = [c for c in cells if c not in solver_stress.CELLS]
    if unknown:
        parser.error(f"unknown stress cell(s) {unknown}; choose from {solver_stress.CELLS}")
    if args.cap is not None and args.cap <= 0:
        parser.error(f"--cap must be a positive number of seconds; got {args.cap}")
    json_out = args.json if args.json is not None or args.smoke else solver_stress.JSON_PATH
    solver_stress.run(
        cells,
        smoke=args.smoke,
        out=out,
        json_out=json_out,
        label=args.label,
        section=args.section or solver_stress.SECTION,
        cap_s=args.cap,
        # One thread unless asked: on a shared machine, other work makes multi-threaded
        # BLAS and OpenMP (glum) swing tenfold.
        threads=1 if args.threads is None else (args.threads or None),
    )


if __name__ == "__main__":
    main()
