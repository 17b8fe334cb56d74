"""Regenerate ``firth.json``: Firth logistic regression computed independently of logitkit.

Run from the repository root::

    .venv/bin/python tests/reference/make_firth.py

Two references:

* ``table``: a 2x2 table with an empty cell (complete separation). For a saturated model
  with one binary covariate, Firth's estimate is the empirical log-odds with 1/2 added to
  every cell (Firth 1993, sec. 3; Heinze and Schemper 2002, sec. 2), so the intercept is
  ``log((c + 1/2) / (d + 1/2))`` and the slope ``log((a + 1/2)(d + 1/2) / ((b + 1/2)(c + 1/2)))``.
* ``separated``: 60 rows quasi-completely separated by a binary ``x1`` (every row with
  ``x1 = 1`` is an event), with a continuous ``x2``. The Firth
  estimate maximises ``loglik + 1/2 log det(X'WX)``; here it is found by BFGS on that
  function written out directly (no logitkit code), polished by a root of Firth's
  modified score (``scipy.optimize.root``, tol 1e-14); the Wald standard errors are
  ``sqrt(diag((X'WX)^-1))`` at the estimate (logistf, pl=FALSE), and the profile
  penalised-likelihood bounds solve ``2 (l*(hat) - max_{b_j = b} l*) = chi2_1(0.95)`` by
  brentq over constrained BFGS fits (logistf's default intervals and p-values).

Tolerance: the score root gives the estimates to about 1e-12; brentq's xtol 1e-10 and
the inner fits give the bounds to about 1e-9. Tests use 1e-6 relative for estimates and
standard errors and 1e-5 for profile bounds and LR statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy
import scipy.optimize
from scipy.optimize import brentq, minimize
from scipy.special import expit
from scipy.stats import chi2

OUT = Path(__file__).with_name("firth.json")


def penalised_loglik(beta: np.ndarray, A: np.ndarray, y: np.ndarray) -> float:
    eta = A @ beta
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    p = expit(eta)
    info = A.T @ (A * (p * (1.0 - p))[:, None])
    return loglik + 0.5 * float(np.linalg.slogdet(info)[1])


def modified_score(beta: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Firth's modified score ``X^T (y - p + h (1/2 - p))`` (Firth 1993, eq. 4), the gradient."""
    p = expit(A @ beta)
    v = p * (1.0 - p)
    info = A.T @ (A * v[:, None])
    h = v * np.einsum("ij,ji->i", A, np.linalg.solve(info, A.T))
    return np.asarray(A.T @ (y - p + h * (0.5 - p)))


def fit(
    A: np.ndarray,
    y: np.ndarray,
    fixed: dict[int, float] | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise l* (with some coefficients fixed): BFGS, then polish the score root."""
    fixed = fixed or {}
    free = [j for j in range(A.shape[1]) if j not in fixed]

    def full(b: np.ndarray) -> np.ndarray:
        beta = np.zeros(A.shape[1])
        beta[free] = b
        for j, v in fixed.items():
            beta[j] = v
        return beta

    res = minimize(
        lambda b: -penalised_loglik(full(b), A, y),
        np.zeros(len(free)) if start is None else start[free],
        method="BFGS",
        options={"gtol": 1e-8, "maxiter": 10_000},
    )
    root = scipy.optimize.root(
        lambda b: modified_score(full(b), A, y)[free], res.x, method="hybr", tol=1e-13
    )
    # hybr may report "no progress" once the score is at rounding level: check the score.
    assert np.abs(modified_score(full(root.x), A, y)[free]).max() < 1e-9, root.message
    assert penalised_loglik(full(root.x), A, y) >= -res.fun - 1e-9  # the maximum, not a saddle
    return full(root.x)


def main() -> None:
    a, b, c, d = 12, 0, 7, 9  # x=1: 12 events, 0 non-events; x=0: 7 events, 9 non-events
    x = np.r_[np.ones(a + b), np.zeros(c + d)]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    table = {
        "x": x.tolist(),
        "y": y.tolist(),
        "intercept": float(np.log((c + 0.5) / (d + 0.5))),
        "coef": float(np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))),
        "command": "closed form: log-odds with 1/2 added to each cell",
    }

    rng = np.random.default_rng(5)
    n = 60
    x1 = (rng.uniform(size=n) < 0.3).astype(float)  # exposure: every exposed row is an event
    x2 = np.round(rng.normal(50.0, 10.0, n), 2)  # a continuous covariate (e.g. age)
    eta = -4.0 + 0.08 * x2
    y2 = np.where(x1 == 1.0, 1.0, (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float))
    # Columns divided by their standard deviations for the optimiser (only scaled, not
    # centred, so the intercept keeps its meaning); coefficients are scaled back below.
    sd = np.array([1.0, x1.std(), x2.std()])
    A = np.column_stack([np.ones(n), x1, x2]) / sd
    beta = fit(A, y2)
    p = expit(A @ beta)
    cov = np.linalg.inv(A.T @ (A * (p * (1 - p))[:, None]))
    top = penalised_loglik(beta, A, y2)
    cut = float(chi2.ppf(0.95, 1))
    se = np.sqrt(np.diag(cov))
    lower, upper, lr_zero = [], [], []
    for j in range(3):

        def dev(v: float, j: int = j) -> float:
            return 2.0 * (top - penalised_loglik(fit(A, y2, {j: v}, beta), A, y2)) - cut

        for sign, out in ((-1.0, lower), (1.0, upper)):
            step = se[j]
            while dev(beta[j] + sign * step) < 0:
                step *= 2.0
            lo, hi = sorted((beta[j], beta[j] + sign * step))
            out.append(float(brentq(dev, lo, hi, xtol=1e-10)))
        lr_zero.append(float(dev(0.0) + cut))
    separated = {
        "X": np.column_stack([x1, x2]).tolist(),
        "y": y2.tolist(),
        "intercept": float(beta[0]),
        "coef": (beta[1:] / sd[1:]).tolist(),
        "std_err": (se / sd).tolist(),
        "profile_lower": (np.array(lower) / sd).tolist(),
        "profile_upper": (np.array(upper) / sd).tolist(),
        "lr_zero": lr_zero,
        "command": "scipy.optimize.minimize(BFGS) on -(loglik + 0.5 logdet(X'WX)), polished by "
        "scipy.optimize.root(hybr, tol=1e-14) on the modified score; profile bounds by "
        "brentq(xtol=1e-10) on constrained fits of the same kind, level 0.95",
    }
    data = {
        "provenance": {
            "generator": "tests/reference/make_firth.py",
            "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
            "tolerance": "estimates and Wald SEs 1e-6 relative; profile bounds and LR "
            "statistics 1e-5 relative",
        },
        "table": table,
        "separated": separated,
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
