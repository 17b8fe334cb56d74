"""The solver's stress matrix: hard problems, each solved by logitkit and by its peers.

Run ``python -m benchmarks.solver --stress [--cells a,b,...] [--smoke]`` (see
``--help``). Cells (``--smoke`` sizes in brackets):

(a) breast cancer 569 x 30 [its first 10 columns]: weak L1 and elastic net (l1_ratio
    0.5), C = 1e1, 1e2, 1e3, 1e4 [C = 1e2];
(b) rare events: 1,000,000 x 20 [20,000 x 5], positive rate 1e-4 [1e-2], L2, C = 1;
(c) wide dense: 5,000 x 2,000 [300 x 100], L2, C = 1;
(d) near-duplicate features: 50,000 x 50 [2,000 x 10], 25 [5] pairs with correlation
    0.9999, L2 and L1, C = 1;
(e) wide sparse, text-like CSR: 100,000 x 100,000 [500 x 300], 0.1 % [2 %] dense,
    Zipf-like column frequencies; L1 at 1/C = lambda_max / 20 and L2 at C = 1;
(f) 50-class [10-class] multinomial: 20,000 x 30 [2,000 x 5], L2, C = 1;
(g) columns on scales 1e-6..1e6, ``standardize=False``: 100,000 x 20 [2,000 x 8], L2, C = 1;
(h) nearly separable (linear predictor with standard deviation 50): 20,000 x 20
    [2,000 x 5], weak L2, C = 1e4;
(cv) the cross-validated L1 path on breast cancer (all 569 rows): ``LogisticModelCV``
    against ``LogisticRegressionCV(solver="liblinear")``, the same 20 [3] C values and the
    same 5 folds.

One objective for every peer (`sklearn_objective`): scikit-learn's
``C * sum_i loss_i + l1_ratio * ||b||_1 + (1 - l1_ratio) / 2 * ||b||_2^2`` with ``b`` the
coefficients of the standardised columns (population std, as ``StandardScaler``; the raw
coefficients when ``standardize=False``), intercepts unpenalised, the multinomial loss and a
penalty summed over all classes for several classes. It is evaluated in the same way from
each peer's coefficients in original units. How the peers map onto it:

- scikit-learn: ``StandardScaler`` (``with_mean=False`` for sparse ``X``; none for
  ``standardize=False``) then ``LogisticRegression(C, l1_ratio)``, the objective itself.
  liblinear penalises the intercept too; its tight row sets ``intercept_scaling=1e4``.
- glum ``GeneralizedLinearRegressor(family="binomial", scale_predictors=standardize)``
  minimises ``mean loss + alpha * penalty``: ``alpha = 1 / (C n)``.
- statsmodels ``Logit.fit_regularized(method="l1")`` minimises ``-loglik + sum alpha_k
  |params_k|`` (the sum, not the mean): ``alpha_k = 1 / C`` on standardised columns and 0
  for the intercept. It has no L2 or elastic-net path in ``Logit``, so it joins L1 cells.

Each peer runs at its default tolerance and at a tight one (scikit-learn lbfgs and
newton-cholesky ``tol=1e-10``; saga ``tol=1e-8`` with up to 10,000 epochs; liblinear
``tol=1e-8``; glum ``gradient_tol=1e-10``; statsmodels ``acc=1e-10``); logitkit at its
default (``tol=1e-10``). The best objective of a cell is the least over all rows, and a row's gap
is ``(obj - best) / max(1, |best|)``. The target in every cell: logitkit's gap at most
1e-8 and its time no more than that of the fastest peer row that also reaches 1e-8.

Every fit runs in one worker process (spawned; data made there from fixed seeds, untimed),
so that a peer past its time cap is stopped and reported as such, and the worker's address
space is capped (a fit that would need more memory fails in the worker, not the machine).
A peer that would form a dense Hessian over more than 2 GiB is reported infeasible, not run.
Caps: 20 s per peer in (a), 60 s in (e), 75 s in (b), (c), (f), (cv), 45 s elsewhere
(``--cap`` sets one for all). BLAS and OpenMP run on one thread for every peer unless
``--threads`` says otherwise: on a machine shared with other work, multi-threaded pools
swing tenfold.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import resource
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logsumexp
from threadpoolctl import threadpool_limits

from benchmarks._common import (
    column_mean_std,
    cpu_snapshot,
    format_seconds,
    machine_lines,
    markdown_table,
    penalised_objective,
    replace_section,
)

SECTION = "benchmarks.solver.stress"
JSON_PATH = Path(__file__).with_name("results") / "solver_stress.json"
GAP_TARGET = 1e-8
PACKAGES = ("logitkit", "numpy", "scipy", "scikit-learn", "glum", "statsmodels", "threadpoolctl")
HESSIAN_LIMIT_BYTES = 2 * 2**30  # a peer forming a dense Hessian larger than this is not run
WORKER_MEMORY_BYTES = 12 * 2**30  # address-space cap of the worker process
PREPARE_TIMEOUT_S = 600.0  # making one cell's data (untimed)
REPEAT_BUDGET_S = 20.0  # no further repeat once a peer's calls took this long
SMOKE_CAP_S = 10.0
CV_CS, CV_SMOKE_CS = 20, 3  # grid sizes of the cv cell
KILL_GRACE_S = 5.0  # a peer still running this long after its cap is stopped

OK, NOT_CONVERGED, TIMED_OUT = "ok", "did not converge", "timed out"
INFEASIBLE, NOT_APPLICABLE = "infeasible", "not applicable"
RAN = (OK, NOT_CONVERGED)


# --- cells ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One cell of the matrix: its data, penalty and how it is timed."""

    cell: str  # the data: "a" .. "h"
    key: str  # unique, e.g. "a/l1/C=1e+01"
    title: str
    penalty: str  # "l1", "l2" or "elasticnet"
    C: float  # nan until set from the data (see lambda_fraction)
    l1_ratio: float
    standardize: bool
    repeats: int  # best of this many calls (fewer once REPEAT_BUDGET_S is spent)
    cap_s: float  # per peer row: its calls stop, or the peer is stopped, past this
    lambda_fraction: float | None = None  # 1/C = this * lambda_max of the data


def cell_specs(cell: str, smoke: bool) -> list[Spec]:
    """The cells of one data set (several for (a), (d), (e)), in report order."""

    def spec(key: str, title: str, penalty: str, C: float, **kw: Any) -> Spec:
        l1_ratio = {"l1": 1.0, "l2": 0.0}.get(penalty, 0.5)
        params = {"standardize": True, "repeats": 3, "cap_s": 45.0} | kw
        if smoke:
            params |= {"repeats": 1, "cap_s": SMOKE_CAP_S}
        return Spec(cell, key, title, penalty, C, l1_ratio, **params)

    if cell == "a":
        Cs = (1e2,) if smoke else (1e1, 1e2, 1e3, 1e4)
        head = "breast cancer 569 x " + ("10 (first 10 columns)" if smoke else "30")
        return [
            spec(f"a/{pen}/C={C:.0e}", f"{head}, {name}, C={C:.0e}", pen, C, cap_s=20.0)
            for pen, name in (("l1", "L1"), ("elasticnet", "elastic net l1_ratio=0.5"))
            for C in Cs
        ]
    if cell == "b":
        n, p, rate = ((20_000, 5, 1e-2), (1_000_000, 20, 1e-4))[int(not smoke)]
        title = f"rare events {n:,} x {p}, positive rate {rate:g}, L2, C=1"
        return [spec("b", title, "l2", 1.0, repeats=2, cap_s=75.0)]
    if cell == "c":
        n, p = ((300, 100), (5_000, 2_000))[int(not smoke)]
        return [spec("c", f"wide dense {n:,} x {p:,}, L2, C=1", "l2", 1.0, cap_s=75.0)]
    if cell == "d":
        n, pairs = ((2_000, 5), (50_000, 25))[int(not smoke)]
        head = f"near-duplicate features {n:,} x {2 * pairs} ({pairs} pairs, corr 0.9999)"
        return [spec(f"d/{pen}", f"{head}, {pen.upper()}, C=1", pen, 1.0) for pen in ("l2", "l1")]
    if cell == "e":
        n, p, density = ((500, 300, 2e-2), (100_000, 100_000, 1e-3))[int(not smoke)]
        head = f"wide sparse CSR {n:,} x {p:,}, {density:.1%} dense, text-like"
        caps = {"repeats": 1, "cap_s": 60.0}
        return [
            spec(
                "e/l1",
                f"{head}, L1, 1/C = lambda_max/20",
                "l1",
                math.nan,
                **caps,
                lambda_fraction=0.05,
            ),
            spec("e/l2", f"{head}, L2, C=1", "l2", 1.0, **caps),
        ]
    if cell == "f":
        n, p, k = ((2_000, 5, 10), (20_000, 30, 50))[int(not smoke)]
        title = f"{k}-class multinomial {n:,} x {p}, L2, C=1"
        return [spec("f", title, "l2", 1.0, repeats=2, cap_s=75.0)]
    if cell == "g":
        n, p = ((2_000, 8), (100_000, 20))[int(not smoke)]
        title = f"scales 1e-6..1e6, standardize=False, {n:,} x {p}, L2, C=1"
        return [spec("g", title, "l2", 1.0, standardize=False)]
    if cell == "h":
        n, p = ((2_000, 5), (20_000, 20))[int(not smoke)]
        title = f"nearly separable {n:,} x {p} (eta sd 50), weak L2, C=1e4"
        return [spec("h", title, "l2", 1e4)]
    msg = f"Unknown cell {cell!r}; choose from {', '.join(CELLS)}."
    raise ValueError(msg)


CELLS = ("a", "b", "c", "d", "e", "f", "g", "h", "cv")


# --- data (made in the worker from fixed seeds) ---------------------------------------------


@dataclass
class Data:
    """A cell's design matrix, integer labels ``0..K-1`` and the scale of its penalty."""

    X: Any  # ndarray or CSR matrix
    y: np.ndarray
    n_classes: int
    std: np.ndarray  # population std of the columns (ones when not standardised)

    @property
    def sparse(self) -> bool:
        """Whether ``X`` is a scipy sparse matrix."""
        return sp.issparse(self.X)


def _column_std(X: Any) -> np.ndarray:
    """Population std of each column, 1 where it is 0 (as ``StandardScaler``)."""
    if not sp.issparse(X):
        return column_mean_std(X)[1]
    mean = np.asarray(X.mean(axis=0)).ravel()
    second = np.asarray(X.multiply(X).mean(axis=0)).ravel()
    std = np.sqrt(np.maximum(second - mean**2, 0.0))
    std[std == 0.0] = 1.0
    return std


def _rare_events(n: int, p: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Standard normal columns and a unit-norm beta: E[expit(b0 + z)] ~ exp(b0 + 1/2).
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = rng.standard_normal(p)
    beta /= np.linalg.norm(beta)
    eta = X @ beta + (math.log(rate) - 0.5)
    return X, (rng.random(n) < expit(eta)).astype(np.int64)


def _near_duplicates(n: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from benchmarks.solver import make_synthetic

    base, y = make_synthetic(n, pairs, seed=seed)
    rng = np.random.default_rng(seed + 1)
    # corr(x, x + e) = 1 / sqrt(1 + eps^2) = 0.9999 for eps = sd(e) / sd(x) = sqrt(2e-4)
    # (to first order); every second column is the near-copy of the one before it.
    eps = math.sqrt(1.0 / 0.9999**2 - 1.0)
    copy = base + rng.standard_normal(base.shape) * (eps * base.std(axis=0))
    X = np.empty((n, 2 * pairs))
    X[:, 0::2], X[:, 1::2] = base, copy
    return X, y.astype(np.int64)


def _text_like(n: int, p: int, density: float, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Counts of Zipf-like terms: term ``j`` drawn with probability ~ 1 / (j + 10)."""
    rng = np.random.default_rng(seed)
    per_row = round(density * p)
    weights = 1.0 / (np.arange(p) + 10.0)
    cdf = np.cumsum(weights / weights.sum())
    cols = np.minimum(np.searchsorted(cdf, rng.random(n * per_row)), p - 1)
    rows = np.repeat(np.arange(n), per_row)
    X = sp.csr_matrix((np.ones(n * per_row), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    X.data = np.log1p(X.data)  # tf weighting: log(1 + count)
    beta = np.where(rng.random(p) < 0.01, rng.standard_normal(p), 0.0)
    eta = X @ beta
    eta = 2.0 * (eta - eta.mean()) / (eta.std() or 1.0) - 1.0
    return X.tocsr(), (rng.random(n) < expit(eta)).astype(np.int64)


def _multinomial(n: int, p: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((k, p)) * (1.5 / math.sqrt(p))
    eta = X @ W.T + rng.normal(0.0, 0.5, k)
    prob = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    y = (np.cumsum(prob, axis=1) < rng.random((n, 1))).sum(axis=1)
    return X, np.minimum(y, k - 1).astype(np.int64)


def make_data(cell: str, smoke: bool) -> Data:
    """The data of a cell, made from its fixed seed (the same arrays in any process)."""
    from benchmarks.solver import make_synthetic

    big = not smoke
    X: Any
    if cell == "a":
        from sklearn.datasets import load_breast_cancer

        Xa, ya = load_breast_cancer(return_X_y=True)
        Xa = Xa[:, :10] if smoke else Xa  # statsmodels' SLSQP takes 15 s on all 30 columns
        X, y = np.ascontiguousarray(Xa, dtype=np.float64), ya.astype(np.int64)
    elif cell == "b":
        X, y = _rare_events(*((1_000_000, 20, 1e-4) if big else (20_000, 5, 1e-2)), seed=2001)
    elif cell == "c":
        X, yf = make_synthetic(*((5_000, 2_000) if big else (300, 100)), seed=2002)
        y = yf.astype(np.int64)
    elif cell == "d":
        X, y = _near_duplicates(*((50_000, 25) if big else (2_000, 5)), seed=2003)
    elif cell == "e":
        X, y = _text_like(*((100_000, 100_000, 1e-3) if big else (500, 300, 2e-2)), 2004)
    elif cell == "f":
        X, y = _multinomial(*((20_000, 30, 50) if big else (2_000, 5, 10)), seed=2005)
    elif cell == "g":
        n, p = (100_000, 20) if big else (2_000, 8)
        X, yf = make_synthetic(n, p, seed=2006, log10_scale=(-6.0, 6.0))
        y = yf.astype(np.int64)
    elif cell == "h":
        X, yf = make_synthetic(*((20_000, 20) if big else (2_000, 5)), seed=2007, eta_sd=50.0)
        y = yf.astype(np.int64)
    else:
        msg = f"No data for cell {cell!r}."
        raise ValueError(msg)
    n_classes = int(y.max()) + 1
    std = _column_std(X) if cell != "g" else np.ones(X.shape[1])
    return Data(X, y, n_classes, std)


def lambda_max(data: Data) -> float:
    """The least ``1/C`` at which every L1 coefficient is zero: ``max_j |x_sj' (y - ybar)|``."""
    residual = data.y - data.y.mean()
    grad = np.asarray(data.X.T @ residual).ravel() / data.std
    return float(np.abs(grad).max())


# --- the one objective ----------------------------------------------------------------------


def sklearn_objective(
    data: Data, coef: np.ndarray, intercept: np.ndarray, *, C: float, l1_ratio: float
) -> float:
    """scikit-learn's objective ``C * sum loss + penalty(coef * std)`` at these coefficients.

    ``coef`` has shape ``(1, p)`` for a binary target (log-odds of class 1) or ``(K, p)``,
    in original units; ``intercept`` shape ``(1,)`` or ``(K,)``. The binary loss is
    `benchmarks._common.penalised_objective`'s (times ``C``); the multinomial one is
    ``logsumexp(eta_i) - eta_i[y_i]`` with the penalty summed over all ``K`` rows.
    """
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.asarray(intercept, dtype=np.float64).ravel()
    X, y, std = data.X, data.y, data.std
    if coef.shape[0] == 1:
        return C * penalised_objective(
            X, y.astype(np.float64), coef[0], float(intercept[0]), C=C, l1_ratio=l1_ratio, std=std
        )
    loss, step = 0.0, 65_536
    for start in range(0, X.shape[0], step):
        eta = np.asarray(X[start : start + step] @ coef.T) + intercept
        rows = np.arange(eta.shape[0])
        loss += float(np.sum(logsumexp(eta, axis=1) - eta[rows, y[start : start + step]]))
    b = coef * std
    penalty = l1_ratio * float(np.abs(b).sum()) + (1.0 - l1_ratio) / 2.0 * float(np.sum(b * b))
    return C * loss + penalty


# --- peers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitOut:
    """A fit's coefficients in original units, ``(K, p)`` and ``(K,)``, and its iterations."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int | None


Fitter = Callable[[Data, Spec], FitOut]


@dataclass(frozen=True)
class Peer:
    """One row of a cell: a library, a solver and its settings; ``fit`` None if not run."""

    key: str
    label: str
    setting: str
    fit: Fitter | None
    status: str = OK
    note: str = ""


def _logitkit(**params: Any) -> Fitter:
    def fit(data: Data, spec: Spec) -> FitOut:
        from logitkit import LogisticModel

        l1_ratio = spec.l1_ratio if spec.penalty == "elasticnet" else None
        model = LogisticModel(
            penalty=spec.penalty,
            C=spec.C,
            l1_ratio=l1_ratio,
            standardize=spec.standardize,
            **params,
        ).fit(data.X, data.y)
        n_iter = int(np.max(model.n_iter_))
        return FitOut(np.atleast_2d(model.coef_), np.ravel(model.intercept_), n_iter)

    return fit


def _sklearn(solver: str, **params: Any) -> Fitter:
    def fit(data: Data, spec: Spec) -> FitOut:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        X = data.X
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        if spec.standardize:
            scaler = StandardScaler(with_mean=not data.sparse).fit(X)
            X = scaler.transform(X)
            scale = scaler.scale_
            mean = scaler.mean_ if scaler.with_mean else mean
        lr = LogisticRegression(C=spec.C, l1_ratio=spec.l1_ratio, solver=solver, **params)
        lr.fit(X, data.y)
        coef = lr.coef_ / scale
        return FitOut(coef, lr.intercept_ - coef @ mean, int(np.max(lr.n_iter_)))

    return fit


def _glum(**params: Any) -> Fitter:
    def fit(data: Data, spec: Spec) -> FitOut:
        from glum import GeneralizedLinearRegressor

        model = GeneralizedLinearRegressor(
            family="binomial",
            alpha=1.0 / (spec.C * data.X.shape[0]),
            l1_ratio=spec.l1_ratio,
            scale_predictors=spec.standardize,
            **params,
        ).fit(data.X, data.y)
        coef = np.asarray(model.coef_)[None, :]
        return FitOut(coef, np.array([model.intercept_]), int(model.n_iter_))

    return fit


def _statsmodels(**params: Any) -> Fitter:
    def fit(data: Data, spec: Spec) -> FitOut:
        import statsmodels.api as sm

        # On standardised columns: on the raw scale SLSQP stops far from the optimum.
        mean, std = (
            column_mean_std(data.X) if spec.standardize else (np.zeros(data.X.shape[1]), 1.0)
        )
        design = sm.add_constant((data.X - mean) / std, prepend=True, has_constant="add")
        alpha = np.full(design.shape[1], 1.0 / spec.C)
        alpha[0] = 0.0
        result = sm.Logit(data.y, design).fit_regularized(
            method="l1", alpha=alpha, disp=0, **params
        )
        fitted = np.asarray(result.params)
        coef = fitted[1:] / std
        n_iter = result.mle_retvals.get("iterations")
        return FitOut(coef[None, :], np.array([fitted[0] - coef @ mean]), n_iter)

    return fit


def _hessian_bytes(data: Data) -> int:
    k = 1 if data.n_classes == 2 else data.n_classes
    return 8 * (k * (data.X.shape[1] + 1)) ** 2


def peers(spec: Spec, data: Data, *, smoke: bool = False) -> list[Peer]:
    """The rows of a cell, logitkit first; peers that do not apply say why.

    ``smoke`` lowers the iteration caps of the tight saga and liblinear rows (a smoke run
    checks the plumbing, not their accuracy).
    """
    binary = data.n_classes == 2
    l2, l1, enet = spec.penalty == "l2", spec.penalty == "l1", spec.penalty == "elasticnet"
    big_hessian = _hessian_bytes(data) > HESSIAN_LIMIT_BYTES
    hessian_note = (
        f"forms a dense Hessian of {_hessian_bytes(data) / 2**30:,.0f} GiB"
        f" (limit {HESSIAN_LIMIT_BYTES / 2**30:.0f} GiB)"
    )
    rows = [Peer("logitkit", "logitkit", "tol=1e-10 (default)", _logitkit(tol=1e-10))]

    def pair(key: str, label: str, fit: Callable[..., Fitter], tight: dict[str, Any], **kw: Any):
        tight_text = ", ".join(f"{k}={v:g}" for k, v in tight.items() if k != "max_iter")
        rows.append(Peer(key, label, "default", fit(**kw)))
        rows.append(Peer(f"{key}-tight", label, tight_text, fit(**kw, **tight)))

    def skip(key: str, label: str, status: str, note: str) -> None:
        rows.append(Peer(key, label, "-", None, status, note))

    seed = {"random_state": 0}
    sk = "scikit-learn"
    if l2:
        pair(
            "sklearn-lbfgs",
            f"{sk} lbfgs",
            _sklearn,
            {"tol": 1e-10, "max_iter": 10_000},
            solver="lbfgs",
        )
        if big_hessian:
            skip("sklearn-newton-cholesky", f"{sk} newton-cholesky", INFEASIBLE, hessian_note)
        else:
            pair(
                "sklearn-newton-cholesky",
                f"{sk} newton-cholesky",
                _sklearn,
                {"tol": 1e-10, "max_iter": 1_000},
                solver="newton-cholesky",
            )
    if binary and not enet:
        pair(
            "sklearn-liblinear",
            f"{sk} liblinear",
            _sklearn,
            {"tol": 1e-8, "intercept_scaling": 1e4, "max_iter": 1_000 if smoke else 100_000},
            solver="liblinear",
            **seed,
        )
    elif not binary:
        skip("sklearn-liblinear", f"{sk} liblinear", NOT_APPLICABLE, "one-vs-rest only")
    pair(
        "sklearn-saga",
        f"{sk} saga",
        _sklearn,
        {"tol": 1e-8, "max_iter": 200 if smoke else 10_000},
        solver="saga",
        **seed,
    )
    tight_glum = {"gradient_tol": 1e-10, "max_iter": 1_000}
    if not binary:
        skip("glum", "glum", NOT_APPLICABLE, "no multinomial family")
    elif big_hessian and l2:
        pair("glum", "glum lbfgs", _glum, tight_glum, solver="lbfgs")
    elif big_hessian:
        skip("glum", "glum irls-cd", INFEASIBLE, hessian_note + "; its lbfgs has no L1")
    else:
        pair("glum", "glum", _glum, tight_glum)
    if not l1:
        skip("statsmodels", "statsmodels Logit", NOT_APPLICABLE, "L1 only (fit_regularized)")
    elif data.sparse or big_hessian:
        why = "dense input only" if data.sparse else hessian_note
        skip("statsmodels", "statsmodels Logit l1 (slsqp)", INFEASIBLE, why)
    else:
        # One row: its default (acc=1e-8) stops at the same iteration cap as acc=1e-10.
        rows.append(
            Peer(
                "statsmodels-tight",
                "statsmodels Logit l1 (slsqp)",
                "acc=1e-10",
                _statsmodels(acc=1e-10),
            )
        )
    return rows


# --- the cross-validated path (cell "cv") ---------------------------------------------------


def _cv_data(n_cs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Breast cancer (all rows), its all-row standardised copy, the L1 grid and the folds."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    from benchmarks.cv import l1_grid

    X, y = load_breast_cancer(return_X_y=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    mean, std = column_mean_std(X)
    Xs = (X - mean) / std
    Cs = l1_grid(Xs, y.astype(np.float64), n_cs)
    folds = list(StratifiedKFold(5).split(X, y))
    return X, Xs, y, Cs, folds


CVFit = Callable[[], tuple[float, int]]  # chosen C and nonzero coefficients of the refit


def _cv_peers() -> list[tuple[str, str, str, Callable[..., tuple[float, int]]]]:
    # Each takes (X, Xs, y, Cs, folds): logitkit standardises inside each fold (raw X);
    # LogisticRegressionCV cannot, so it gets X standardised once with all rows (Xs).
    def logitkit(
        X: Any,
        Xs: Any,  # noqa: ARG001
        y: Any,
        Cs: Any,
        folds: Any,
        **kw: Any,
    ) -> tuple[float, int]:
        from logitkit import LogisticModelCV

        model = LogisticModelCV(Cs=list(Cs), cv=folds, penalty="l1", n_jobs=1, **kw)
        model.fit(X, y)
        return float(model.C_), int(np.count_nonzero(model.coef_))

    def liblinear(
        X: Any,  # noqa: ARG001
        Xs: Any,
        y: Any,
        Cs: Any,
        folds: Any,
        **kw: Any,
    ) -> tuple[float, int]:
        from sklearn.linear_model import LogisticRegressionCV

        model = LogisticRegressionCV(
            Cs=list(Cs),
            cv=folds,
            l1_ratios=(1.0,),
            scoring="neg_log_loss",
            solver="liblinear",
            random_state=0,
            use_legacy_attributes=False,
            **kw,
        ).fit(Xs, y)
        return float(np.ravel(model.C_)[0]), int(np.count_nonzero(model.coef_))

    return [
        ("logitkit", "logitkit LogisticModelCV", "path_tol=1e-6 (default)", logitkit),
        ("logitkit-tight", "logitkit LogisticModelCV", "path_tol=1e-10", logitkit),
        ("sklearn-liblinear", "scikit-learn LogisticRegressionCV liblinear", "default", liblinear),
        (
            "sklearn-liblinear-tight",
            "scikit-learn LogisticRegressionCV liblinear",
            "tol=1e-8",
            liblinear,
        ),
    ]


_CV_PARAMS = {"logitkit-tight": {"path_tol": 1e-10}, "sklearn-liblinear-tight": {"tol": 1e-8}}


# --- the worker process ---------------------------------------------------------------------


def _messages(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    out = set()
    for w in caught:
        text = str(w.message).strip().splitlines()
        out.add(f"{w.category.__name__}: {text[0][:80] if text else ''}")
    return sorted(out)


def _timed(call: Callable[[], Any], repeats: int, cap_s: float) -> tuple[list[float], Any]:
    """Call up to ``repeats`` times; stop early where another call could pass the cap."""
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        spent = sum(times)
        if spent >= REPEAT_BUDGET_S or spent + times[-1] > 0.8 * cap_s:
            break
    return times, result


def _run_fit(peer: Peer, spec: Spec, data: Data) -> dict[str, Any]:
    assert peer.fit is not None
    fit = peer.fit
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            times, out = _timed(lambda: fit(data, spec), spec.repeats, spec.cap_s)
    except Exception as exc:  # noqa: BLE001 - one failing peer must not end the matrix
        return {"status": f"failed: {type(exc).__name__}", "notes": [str(exc)[:200]]}
    notes = _messages(caught)
    converged = not any("Convergence" in m.split(":", 1)[0] for m in notes)
    objective = sklearn_objective(data, out.coef, out.intercept, C=spec.C, l1_ratio=spec.l1_ratio)
    return {
        "status": OK if converged else NOT_CONVERGED,
        "notes": notes,
        "times": times,
        "n_iter": out.n_iter,
        "objective": objective,
        "nnz": int(np.count_nonzero(out.coef)),
    }


def _run_cv(key: str, repeats: int, cap_s: float, cv: tuple[Any, ...]) -> dict[str, Any]:
    fit = {k: f for k, _, _, f in _cv_peers()}[key]
    params = _CV_PARAMS.get(key, {})
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            times, (C, nnz) = _timed(lambda: fit(*cv, **params), repeats, cap_s)
    except Exception as exc:  # noqa: BLE001
        return {"status": f"failed: {type(exc).__name__}", "notes": [str(exc)[:200]]}
    notes = _messages(caught)
    converged = not any("Convergence" in m.split(":", 1)[0] for m in notes)
    status = OK if converged else NOT_CONVERGED
    return {"status": status, "notes": notes, "times": times, "C": C, "nnz": nnz}


def _warm_up(threads: int | None, *, fit: bool) -> None:
    """Limit the threads of every peer and, with ``fit``, fit each once on tiny data.

    threadpoolctl limits only the libraries loaded by then, so every peer is imported
    first; the limit holds for the life of the worker. The fits take the first-call costs
    out of the timed calls (a smoke run, whose times mean nothing, skips them).
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] + rng.standard_normal(200) > 0).astype(np.int64)
    data = Data(X, y, 2, np.ones(3))
    import glum  # noqa: F401 - loads its OpenMP runtime before the thread limit is entered
    import sklearn.linear_model  # noqa: F401
    import statsmodels.api  # noqa: F401

    import logitkit  # noqa: F401

    if threads is not None:
        threadpool_limits(limits=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for penalty in ("l2", "l1") if fit else ():
            spec = Spec("x", "x", "", penalty, 1.0, float(penalty == "l1"), True, 1, 60.0)
            for peer in peers(spec, data):
                if peer.fit is not None:
                    peer.fit(data, spec)
    # The libraries' objects stay for the life of the worker: out of the collector's way,
    # the collection before each timed call takes milliseconds instead of half a second.
    gc.collect()
    gc.freeze()


def _worker_main(conn: Connection, smoke: bool, threads: int | None) -> None:
    """Serve ``prepare``/``fit``/``cv`` requests from the parent until ``stop``."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    _warm_up(threads, fit=not smoke)
    data: Data | None = None
    data_cell = ""
    specs: dict[str, Spec] = {}
    cv: tuple[Any, ...] = ()
    while True:
        request = conn.recv()
        kind = request[0]
        if kind == "stop":
            return
        if kind == "prepare":  # (prepare, spec): make the data, answer the peers
            spec = request[1]
            if spec.cell == "cv":
                cv = _cv_data(CV_SMOKE_CS if smoke else CV_CS)
                rows = [{"key": k, "label": lab, "setting": s} for k, lab, s, _ in _cv_peers()]
                conn.send({"rows": rows, "C": float("nan"), "grid": [cv[3][0], cv[3][-1]]})
                continue
            if data_cell != spec.cell:
                data = None
                gc.collect()
                data, data_cell = make_data(spec.cell, smoke), spec.cell
            assert data is not None
            if spec.lambda_fraction is not None:
                spec = replace(spec, C=1.0 / (spec.lambda_fraction * lambda_max(data)))
            specs[spec.key] = spec
            rows = [
                {
                    "key": p.key,
                    "label": p.label,
                    "setting": p.setting,
                    "status": p.status,
                    "note": p.note,
                    "runnable": p.fit is not None,
                }
                for p in peers(spec, data, smoke=smoke)
            ]
            positives = np.bincount(data.y, minlength=data.n_classes)
            conn.send(
                {
                    "rows": rows,
                    "C": spec.C,
                    "shape": list(data.X.shape),
                    "nnz_X": int(data.X.nnz) if data.sparse else None,
                    "class_counts_min": int(positives.min()),
                }
            )
        elif kind == "fit":  # (fit, spec key, peer key)
            spec = specs[request[1]]
            assert data is not None
            (peer,) = [p for p in peers(spec, data, smoke=smoke) if p.key == request[2]]
            conn.send(_run_fit(peer, spec, data))
        elif kind == "cv":  # (cv, peer key, repeats, cap)
            conn.send(_run_cv(request[1], request[2], request[3], cv))


class Worker:
    """The worker process; restarted (data made anew) after a peer is stopped at its cap."""

    def __init__(self, smoke: bool, threads: int | None) -> None:
        self.smoke, self.threads = smoke, threads
        self.prepared: Spec | None = None
        self._start()

    def _start(self) -> None:
        ctx = get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, self.smoke, self.threads), daemon=True
        )
        self.process.start()
        child.close()

    def request(self, message: tuple[Any, ...], timeout: float) -> dict[str, Any] | None:
        """Send one request; the answer, or None if it took longer (the worker is then
        stopped and restarted) or the worker died (its exit code is in ``last_exit``)."""
        self.last_exit: int | None = None
        self.conn.send(message)
        try:
            if self.conn.poll(timeout):
                answer: dict[str, Any] = self.conn.recv()
                return answer
        except EOFError:
            pass
        self.process.kill()
        self.process.join()
        exit_code = self.process.exitcode
        self.conn.close()
        self._start()
        spec, self.prepared = self.prepared, None
        if spec is not None:  # the new worker needs the cell's data again
            self.prepare(spec)
        self.last_exit = exit_code
        return None

    def prepare(self, spec: Spec) -> dict[str, Any]:
        self.prepared = None
        answer = self.request(("prepare", spec), PREPARE_TIMEOUT_S)
        if answer is None:
            msg = f"making the data of cell {spec.key} failed or took over {PREPARE_TIMEOUT_S} s"
            raise RuntimeError(msg)
        self.prepared = spec
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# --- running and reporting ------------------------------------------------------------------


@dataclass
class Row:
    """One peer's outcome in one cell (JSON-ready)."""

    key: str
    label: str
    setting: str
    status: str
    notes: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    n_iter: int | None = None
    objective: float | None = None
    gap: float | None = None
    nnz: int | None = None
    C: float | None = None  # cv: the chosen C

    @property
    def seconds(self) -> float | None:
        """Best wall time of its calls."""
        return min(self.times) if self.times else None

    @property
    def reached(self) -> bool:
        """Whether the gap is at most `GAP_TARGET`."""
        return self.gap is not None and self.gap <= GAP_TARGET


@dataclass
class CellResult:
    """All rows of one cell, with the best objective and the verdict."""

    key: str
    title: str
    C: float
    rows: list[Row]
    best: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def fastest_peer(self) -> Row | None:
        """The fastest peer row (not logitkit) that reached the target gap."""
        rows = [r for r in self.rows if not r.key.startswith("logitkit") and r.reached]
        return min(rows, key=lambda r: r.seconds or math.inf, default=None)

    def verdict(self) -> tuple[bool, str]:
        """Whether logitkit meets the target here, and why (not)."""
        lk = next(r for r in self.rows if r.key == "logitkit")
        peer = self.fastest_peer()
        if not lk.reached:
            gap = "no result" if lk.gap is None else f"gap {lk.gap:.1e}"
            return False, f"logitkit {lk.status}, {gap} > {GAP_TARGET:.0e}"
        if peer is None or peer.seconds is None:
            return True, "no peer reached the gap"
        ratio = (lk.seconds or math.inf) / peer.seconds
        if ratio <= 1.0:
            return True, f"{ratio:.2f} x the fastest peer at the gap"
        return False, f"{ratio:.2f} x slower than {peer.label} ({peer.setting})"


def run_cell(spec: Spec, worker: Worker, echo: Callable[[str], None]) -> CellResult:
    """Prepare a cell in the worker and run each of its peers there, under its cap."""
    info = worker.prepare(spec)
    C = float(info["C"])
    title = spec.title if spec.lambda_fraction is None else f"{spec.title} (C={C:.3g})"
    rows: list[Row] = []
    for r in info["rows"]:
        row = Row(r["key"], r["label"], r["setting"], r["status"])
        if not r["runnable"]:
            row.notes = [r["note"]]
            rows.append(row)
            continue
        started = time.monotonic()
        answer = worker.request(("fit", spec.key, row.key), spec.cap_s + KILL_GRACE_S)
        echo(f"  [{spec.key}] {row.label} ({row.setting}): {time.monotonic() - started:.1f} s")
        if answer is None:
            died = worker.last_exit not in (None, -9)
            row.status = "failed: worker died" if died else TIMED_OUT
            row.notes = [f"exit code {worker.last_exit}" if died else f"> {spec.cap_s:.0f} s cap"]
        else:
            row.status, row.notes = answer["status"], answer["notes"]
            row.times = answer.get("times", [])
            row.n_iter, row.objective = answer.get("n_iter"), answer.get("objective")
            row.nnz = answer.get("nnz")
        rows.append(row)
    objectives = [
        r.objective for r in rows if r.objective is not None and math.isfinite(r.objective)
    ]
    best = min(objectives) if objectives else None
    if best is not None:
        for r in rows:
            if r.objective is not None:
                r.gap = (r.objective - best) / max(1.0, abs(best))
    extra = {k: info[k] for k in ("shape", "nnz_X", "class_counts_min") if k in info}
    return CellResult(spec.key, title, C, rows, best, extra)


def run_cv(smoke: bool, worker: Worker, echo: Callable[[str], None]) -> CellResult:
    """The cross-validated L1 path: logitkit against liblinear on the same grid and folds."""
    repeats, cap = (1, SMOKE_CAP_S) if smoke else (3, 75.0)
    spec = Spec("cv", "cv", "", "l1", math.nan, 1.0, True, repeats, cap)
    info = worker.prepare(spec)
    rows = []
    for r in info["rows"]:
        row = Row(r["key"], r["label"], r["setting"], OK)
        started = time.monotonic()
        answer = worker.request(
            ("cv", row.key, spec.repeats, spec.cap_s), spec.cap_s + KILL_GRACE_S
        )
        echo(f"  [cv] {row.label} ({row.setting}): {time.monotonic() - started:.1f} s")
        if answer is None:
            row.status, row.notes = TIMED_OUT, [f"> {spec.cap_s:.0f} s cap"]
        else:
            row.status, row.notes = answer["status"], answer["notes"]
            row.times, row.C, row.nnz = answer.get("times", []), answer.get("C"), answer.get("nnz")
        rows.append(row)
    lo, hi = info["grid"]
    n_cs = CV_SMOKE_CS if smoke else CV_CS
    title = (
        f"cross-validated L1 path, breast cancer (all 569 rows), {n_cs} C values {lo:.3g}..{hi:.3g}"
        " (C_min..1e4 C_min), StratifiedKFold(5) unshuffled"
    )
    return CellResult("cv", title, math.nan, rows)


def _fmt_time(row: Row) -> str:
    return "-" if row.seconds is None else format_seconds(row.seconds)


def _fmt_gap(row: Row) -> str:
    if row.gap is None:
        return "-"
    return "0" if row.gap <= 0 else f"{row.gap:.1e}"


def cell_table(result: CellResult) -> str:
    """The Markdown table of one cell."""
    if result.key == "cv":
        lk = next(r for r in result.rows if r.key == "logitkit")
        headers = [
            "contender",
            "setting",
            "time",
            "calls",
            "chosen C",
            "nonzero",
            "/ logitkit",
            "status",
        ]
        body = [
            [
                r.label,
                r.setting,
                _fmt_time(r),
                str(len(r.times)) if r.times else "-",
                f"{r.C:.4g}" if r.C is not None else "-",
                str(r.nnz) if r.nnz is not None else "-",
                f"{r.seconds / lk.seconds:.2f}" if r.seconds and lk.seconds else "-",
                "; ".join([r.status, *r.notes]),
            ]
            for r in result.rows
        ]
        return markdown_table(headers, body)
    headers = [
        "contender",
        "setting",
        "time",
        "calls",
        "iters",
        "objective",
        "gap",
        f"gap<={GAP_TARGET:.0e}",
        "nonzero",
        "status",
    ]
    body = []
    for r in result.rows:
        ran = r.objective is not None
        body.append(
            [
                r.label,
                r.setting,
                _fmt_time(r),
                str(len(r.times)) if r.times else "-",
                "-" if r.n_iter is None else str(r.n_iter),
                f"{r.objective:.10g}" if ran else "-",
                _fmt_gap(r),
                ("yes" if r.reached else "no") if ran else "-",
                "-" if r.nnz is None else str(r.nnz),
                "; ".join([r.status, *r.notes]),
            ]
        )
    return markdown_table(headers, body)


def _cv_verdict(result: CellResult) -> tuple[bool, str]:
    times = {r.key: r.seconds for r in result.rows}
    lk = times.get("logitkit")
    lib = [t for k, t in times.items() if k.startswith("sklearn-liblinear") and t is not None]
    if lk is None or not lib:
        return False, "a contender did not finish"
    ratio = lk / min(lib)
    word = "faster" if ratio < 1.0 else "slower"
    return ratio < 1.0, f"{ratio:.2f} x the fastest liblinear row ({word})"


def summary_table(results: Sequence[CellResult]) -> str:
    """One line per cell: logitkit against the fastest peer that reached the gap."""
    headers = [
        "cell",
        "logitkit time",
        "logitkit gap",
        "fastest peer at gap<=1e-8",
        "its time",
        "target met",
        "why / ratio",
        "peers that did not reach 1e-8",
    ]
    body = []
    for res in results:
        if res.key == "cv":
            met, why = _cv_verdict(res)
            lk = next(r for r in res.rows if r.key == "logitkit")
            body.append(
                [
                    res.key,
                    _fmt_time(lk),
                    "-",
                    "liblinear (fastest row)",
                    "-",
                    "yes" if met else "NO",
                    why,
                    "-",
                ]
            )
            continue
        lk = next(r for r in res.rows if r.key == "logitkit")
        peer = res.fastest_peer()
        met, why = res.verdict()
        missed = sorted(
            {
                f"{r.label}"
                for r in res.rows
                if not r.key.startswith("logitkit")
                and r.status not in (NOT_APPLICABLE,)
                and not any(o.label == r.label and o.reached for o in res.rows)
            }
        )
        body.append(
            [
                res.key,
                _fmt_time(lk),
                _fmt_gap(lk),
                f"{peer.label} ({peer.setting})" if peer else "none",
                _fmt_time(peer) if peer else "-",
                "yes" if met else "NO",
                why,
                ", ".join(missed) or "-",
            ]
        )
    return markdown_table(headers, body)


def git_revision() -> str:
    """``git rev-parse --short HEAD``, with a mark when ``src/`` has uncommitted changes.

    Where ``logitkit`` is imported from elsewhere (``PYTHONPATH`` pointing at an export of
    another revision), that is said instead of this checkout's state.
    """
    import logitkit

    root = Path(__file__).resolve().parent.parent
    imported = Path(logitkit.__file__).resolve().parent
    if not imported.is_relative_to(root / "src"):
        return f"(benchmarks at this checkout; logitkit imported from {imported})"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" + uncommitted changes in src/" if dirty else "")


METHOD = (
    "Time: wall time of one call (scaling, estimator, fit), best of the calls shown, in one"
    " worker process; a peer makes no further call once another could pass its cap (45 s;"
    " 20 s in (a); 60 s in (e); 75 s in (b), (c), (f), (cv)), and one still running 5 s"
    " past it is stopped and marked 'timed out'. Objective: scikit-learn's (C * sum log-loss + penalty on the"
    " standardised coefficients), one function for all rows; gap = (obj - best) /"
    " max(1, |best|), best the least objective of the cell. Target: logitkit's gap <="
    " 1e-8 and its time <= the fastest peer row that also reaches 1e-8. Iterations are"
    " each library's own count (Newton / L-BFGS / epochs / coordinate sweeps: not"
    " comparable across libraries). The machine is shared with other work, so times are"
    " noisy; compare ratios within one run."
)


def report(
    results: Sequence[CellResult], *, smoke: bool, label: str, start: Any, threads: str
) -> str:
    """The Markdown section: label, date, code revision, machine, method, tables."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Solver stress matrix: `python -m benchmarks.solver --stress`"
        + (" (smoke sizes)" if smoke else ""),
        "",
    ]
    if label:
        lines += [f"**{label}**", ""]
    lines += [
        f"Run {when} on the code at git revision {git_revision()}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES, start)),
        "",
        f"Threads: {threads}. {METHOD}",
        "",
        "### Summary",
        "",
        summary_table(results),
    ]
    for res in results:
        extra = ", ".join(f"{k}={v}" for k, v in res.extra.items() if v is not None)
        lines += ["", f"### ({res.key}) {res.title}", ""]
        if extra:
            lines += [f"Data: {extra}.", ""]
        lines += [cell_table(res)]
        if res.key != "cv":
            met, why = res.verdict()
            lines += ["", f"Target {'met' if met else 'NOT met'}: {why}."]
    return "\n".join(lines) + "\n"


def iter_specs(cells: Sequence[str], smoke: bool) -> Iterator[Spec]:
    """Every spec of the chosen cells, in order (the cv cell is run apart)."""
    for cell in cells:
        if cell != "cv":
            yield from cell_specs(cell, smoke)


def run(
    cells: Sequence[str] = CELLS,
    *,
    smoke: bool = False,
    out: Path | None = None,
    json_out: Path | None = None,
    label: str = "",
    section: str = SECTION,
    cap_s: float | None = None,
    threads: int | None = 1,
    echo: Callable[[str], None] = print,
) -> list[CellResult]:
    """Run the chosen cells, print the report, write its section and the raw JSON if asked."""
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        msg = f"Unknown cell(s) {unknown}; choose from {', '.join(CELLS)}."
        raise ValueError(msg)
    start, t0 = cpu_snapshot(), time.monotonic()
    results: list[CellResult] = []
    echo("starting the worker process ...")
    worker = Worker(smoke, threads)
    try:
        for listed in iter_specs(cells, smoke):
            spec = listed if cap_s is None else replace(listed, cap_s=cap_s)
            echo(f"cell {spec.key} ({time.monotonic() - t0:.0f} s) ...")
            results.append(run_cell(spec, worker, echo))
        if "cv" in cells:
            echo("cell cv ...")
            results.append(run_cv(smoke, worker, echo))
    finally:
        worker.close()
    # Import the peers here too, so that the machine lines list their thread pools.
    import glum  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    threads_text = (
        f"all {os.cpu_count()} cores (default thread pools)"
        if threads is None
        else f"BLAS/OpenMP limited to {threads} thread{'s' if threads > 1 else ''} for every peer"
    )
    text = report(results, smoke=smoke, label=label, start=start, threads=threads_text)
    echo(text)
    if out is not None:
        replace_section(out, section, text)
        echo(f"wrote the {section} section of {out}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "label": label,
            "run": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_revision": git_revision(),
            "machine": machine_lines(PACKAGES),
            "smoke": smoke,
            "cpu_count": os.cpu_count(),
            "cells": [asdict(r) for r in results],
        }
        json_out.write_text(json.dumps(payload, indent=1, default=float) + "\n")
        echo(f"wrote {json_out}")
    return results
