"""Regenerate ``weak_l1.json``: L1 fits with a weak penalty computed by glum.

Run from the repository root::

    .venv/bin/python tests/reference/make_weak_l1.py

The problem: scikit-learn's breast-cancer data, the 455 training rows of
``train_test_split(test_size=0.2, random_state=0)``, standardised by ``StandardScaler``
(population standard deviation, the training rows only), and for each ``C`` the
normalised L1 objective

    F = mean_i log(1 + exp(-s_i z_i)) + ||beta||_1 / (C n)

(the intercept unpenalised), which is scikit-learn's ``C sum_i loss_i + ||beta||_1``
divided by ``C n``. With a weak penalty these rows are nearly separable: coefficients are
large and most fitted probabilities are near 0 or 1, the ill-conditioned case.

glum's ``GeneralizedLinearRegressor(family="binomial", alpha=1/(C n), l1_ratio=1)``
minimises the same function; it is run at ``gradient_tol=1e-12`` and ``F`` is computed
here from its coefficients with numpy. At ``C = 1e3`` and ``1e4`` glum's inner coordinate
descent warns that it did not converge (the ill-conditioning at issue), yet its ``F``
agrees with logitkit's to about 1e-13 relative. Tolerance: tests accept 1e-8 relative on
``F``.
"""

from __future__ import annotations

import json
from pathlib import Path

import glum
import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

OUT = Path(__file__).with_name("weak_l1.json")
CS = (1e1, 1e2, 1e3, 1e4)


def objective(Xs: np.ndarray, y: np.ndarray, C: float, coef: np.ndarray, b: float) -> float:
    z = Xs @ coef + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + np.abs(coef).sum() / (C * y.size))


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    Xs = StandardScaler().fit_transform(X_train)
    n = y_train.size
    fits = []
    for C in CS:
        model = glum.GeneralizedLinearRegressor(
            family="binomial", alpha=1.0 / (C * n), l1_ratio=1.0, gradient_tol=1e-12, max_iter=1000
        ).fit(Xs, y_train)
        fits.append(
            {
                "C": C,
                "objective": objective(Xs, y_train, C, model.coef_, float(model.intercept_)),
                "nonzero": int(np.count_nonzero(model.coef_)),
                "glum_n_iter": int(model.n_iter_),
            }
        )
        print(fits[-1])
    out = {
        "provenance": {
            "generator": "tests/reference/make_weak_l1.py",
            "command": "glum.GeneralizedLinearRegressor(family='binomial', alpha=1/(C n), "
            "l1_ratio=1, gradient_tol=1e-12) on StandardScaler-transformed training rows",
            "versions": {
                "glum": glum.__version__,
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
            },
            "tolerance": "objective 1e-8 relative",
        },
        "n_rows": int(n),
        "fits": fits,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
