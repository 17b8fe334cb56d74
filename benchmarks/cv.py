"""Cross-validation benchmark: ``LogisticModelCV`` against its peers on the same grid and folds.

Run ``python -m benchmarks.cv [--smoke] [--cases l1,l2] [--n-jobs N] [--out FILE]``.

Every contender cross-validates the same grid of C values over the same stratified folds
(``StratifiedKFold(5)``, unshuffled) of the same arrays, chooses C by held-out log-loss,
and refits on all rows; the wall time covers all of that (one call per contender: the
peers take minutes at full size). The table gives each contender's chosen C, its position
in the grid and whether it is logitkit's, and the nonzero coefficients of the refit.

The data are those of the solver benchmark's case (c) (`benchmarks.solver.make_synthetic`,
100,000 x 200, 30% true nonzero coefficients, column scales 1e-3..1e3). The grid:

- L1: 20 values ``C_min * logspace(0, 4, 20)`` from ``C_min = 1 / max_j |x_j' (y - ybar)|``
  on the standardised columns of all rows, the smallest C whose fit has every coefficient
  zero (glmnet's ``lambda_max``; ``LogisticModelCV(Cs=20, penalty="l1")`` makes this grid).
- L2: ``logspace(-4, 4, 20)`` (scikit-learn's default range).

How each contender sees the objective ``C sum logloss + penalty(coefficients of the
standardised columns)``:

- logitkit ``LogisticModelCV(Cs=grid, cv=folds, standardize=True)`` on the raw columns: each
  fold standardises with its own training rows.
- scikit-learn ``LogisticRegressionCV(Cs=grid, cv=folds, scoring="neg_log_loss")`` on
  columns standardised once with all rows (it has no per-fold scaling; the difference is
  a few thousandths of a standard deviation). liblinear and saga for L1, lbfgs and
  newton-cholesky for L2; liblinear also penalises the intercept.
- glum ``GeneralizedLinearRegressorCV(family="binomial", scale_predictors=True)`` on the raw
  columns, minimising ``mean logloss + alpha penalty``: ``alpha = 1 / (C n_train)`` with
  ``n_train`` the rows of a training fold. It selects by held-out deviance (twice the
  log-loss), so the same C.

Every contender runs at its default tolerance with ``n_jobs`` workers over the folds
(default: all cores; joblib's process pool is started before any timing, so no contender
pays for it). logitkit also runs with threads instead of processes, and as one job.
Warnings are caught and shown in the notes.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks._common import (
    RESULTS_PATH,
    Timing,
    column_mean_std,
    format_seconds,
    machine_lines,
    markdown_table,
    replace_section,
    time_calls,
)
from benchmarks.solver import make_synthetic

SECTION = "benchmarks.cv"
PACKAGES = ("logitkit", "numpy", "scipy", "scikit-learn", "glum", "joblib", "threadpoolctl")
N_CS, N_FOLDS = 20, 5
SPEED_TARGET = 3.0  # logitkit should be this many times faster than the fastest peer


# --- problems -------------------------------------------------------------------------------


@dataclass
class CVProblem:
    """Data, the shared grid and folds of one case."""

    X: np.ndarray
    Xs: np.ndarray  # standardised with all rows (for scikit-learn)
    y: np.ndarray
    penalty: str
    Cs: np.ndarray  # ascending
    folds: list[tuple[np.ndarray, np.ndarray]]
    description: str

    @property
    def l1_ratio(self) -> float:
        """1 for L1, 0 for L2."""
        return 1.0 if self.penalty == "l1" else 0.0

    @property
    def n_train(self) -> float:
        """Mean rows of a training fold."""
        return float(np.mean([len(tr) for tr, _ in self.folds]))


def l1_grid(Xs: np.ndarray, y: np.ndarray, n_cs: int = N_CS) -> np.ndarray:
    """``C_min * logspace(0, 4, n_cs)`` with ``C_min = 1 / max |Xs' (y - ybar)|``."""
    c_min = 1.0 / float(np.abs(Xs.T @ (y - y.mean())).max())
    return c_min * np.logspace(0.0, 4.0, n_cs)


def make_problem(penalty: str, smoke: bool) -> CVProblem:
    """The case's data (solver case (c)), standardised copy, grid and folds."""
    from sklearn.model_selection import StratifiedKFold

    n, p = (4_000, 20) if smoke else (100_000, 200)
    X, y = make_synthetic(n, p, seed=20240602, frac_nonzero=0.3)
    mean, std = column_mean_std(X)
    Xs = (X - mean) / std
    Cs = l1_grid(Xs, y) if penalty == "l1" else np.logspace(-4.0, 4.0, N_CS)
    folds = list(StratifiedKFold(N_FOLDS).split(X, y))
    grid = f"C_min..1e4 C_min ({Cs[0]:.3g}..{Cs[-1]:.3g})" if penalty == "l1" else "1e-4..1e4"
    description = f"{n:,} x {p} dense, {penalty.upper()}, {N_CS} C values {grid}, {N_FOLDS} folds"
    return CVProblem(X, Xs, y, penalty, Cs, folds, description)


# --- contenders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What a contender chose: C and the nonzero coefficients of its refit."""

    C: float
    nonzero: int


Run = Callable[[CVProblem, int], Choice]


@dataclass(frozen=True)
class Contender:
    """One row of the table."""

    key: str
    label: str
    setting: str
    peer: bool
    run: Run


def _logitkit(backend: str | None) -> Run:
    def run(problem: CVProblem, n_jobs: int) -> Choice:
        from joblib import parallel_config

        from logitkit import LogisticModelCV

        model = LogisticModelCV(
            Cs=list(problem.Cs),
            cv=problem.folds,
            penalty=problem.penalty,
            n_jobs=n_jobs if backend is not None else 1,
        )
        with parallel_config(backend=backend or "loky"):
            model.fit(problem.X, problem.y)
        return Choice(model.C_, int(np.count_nonzero(model.coef_)))

    return run


def _sklearn(solver: str) -> Run:
    def run(problem: CVProblem, n_jobs: int) -> Choice:
        from sklearn.linear_model import LogisticRegressionCV

        model = LogisticRegressionCV(
            Cs=list(problem.Cs),
            cv=problem.folds,
            l1_ratios=(problem.l1_ratio,),
            scoring="neg_log_loss",
            solver=solver,
            n_jobs=n_jobs,
            use_legacy_attributes=False,
        ).fit(problem.Xs, problem.y)
        return Choice(float(model.C_), int(np.count_nonzero(model.coef_)))

    return run


def _glum() -> Run:
    def run(problem: CVProblem, n_jobs: int) -> Choice:
        from glum import GeneralizedLinearRegressorCV

        alphas = 1.0 / (problem.Cs[::-1] * problem.n_train)  # descending: strong first
        model = GeneralizedLinearRegressorCV(
            family="binomial",
            alphas=alphas,
            l1_ratio=problem.l1_ratio,
            cv=problem.folds,
            scale_predictors=True,
            n_jobs=n_jobs,
        ).fit(problem.X, problem.y)
        C = 1.0 / (float(model.alpha_) * problem.n_train)
        return Choice(C, int(np.count_nonzero(model.coef_)))

    return run


def contenders(penalty: str) -> list[Contender]:
    """Rows for a case: logitkit (processes, threads, one job) first, then the peers."""
    rows = [
        Contender("logitkit", "logitkit", "n_jobs workers, processes", False, _logitkit("loky")),
        Contender(
            "logitkit-threads", "logitkit", "n_jobs workers, threads", False, _logitkit("threading")
        ),
        Contender("logitkit-1", "logitkit", "one job", False, _logitkit(None)),
    ]
    solvers = ("liblinear", "saga") if penalty == "l1" else ("lbfgs", "newton-cholesky")
    for solver in solvers:
        rows.append(
            Contender(
                f"sklearn-{solver}",
                f"scikit-learn {solver}",
                "LogisticRegressionCV",
                True,
                _sklearn(solver),
            )
        )
    rows.append(Contender("glum", "glum", "GeneralizedLinearRegressorCV", True, _glum()))
    return rows


# --- running --------------------------------------------------------------------------------


@dataclass
class Row:
    """The outcome of one contender."""

    contender: Contender
    status: str
    timing: Timing | None = None
    choice: Choice | None = None
    index: int = -1  # position of the chosen C in the grid
    notes: list[str] = field(default_factory=list)


def _run_contender(contender: Contender, problem: CVProblem, n_jobs: int) -> Row:
    def call() -> tuple[Choice, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            choice = contender.run(problem, n_jobs)
        return choice, [f"{w.category.__name__}: {str(w.message)[:70]}" for w in caught]

    try:
        timing, (choice, messages) = time_calls(call, 1)
    except Exception as exc:  # noqa: BLE001 - one failing contender must not end the run
        return Row(contender, f"failed: {type(exc).__name__}", notes=[str(exc)[:200]])
    index = int(np.argmin(np.abs(np.log(problem.Cs) - math.log(choice.C))))
    return Row(contender, "ok", timing, choice, index, sorted(set(messages)))


@dataclass
class CaseResult:
    """All rows of one case."""

    key: str
    description: str
    n_jobs: int
    rows: list[Row]
    load: tuple[float, float]  # 1-minute load average before and after the case


def _import_contenders() -> None:
    for module in ("logitkit", "sklearn.linear_model", "glum"):
        importlib.import_module(module)


def _start_workers(n_jobs: int) -> None:
    """Start joblib's process pool and import every library in it before any timing."""
    from joblib import Parallel, delayed, effective_n_jobs

    _import_contenders()
    tasks = 4 * effective_n_jobs(n_jobs)
    Parallel(n_jobs=n_jobs)(delayed(_import_contenders)() for _ in range(tasks))


def run_case(penalty: str, *, smoke: bool, n_jobs: int, echo: Callable[[str], None]) -> CaseResult:
    """Make the case's problem and run every contender on it."""
    problem = make_problem(penalty, smoke)
    _start_workers(n_jobs)
    before = _load()
    rows = []
    for contender in contenders(penalty):
        echo(f"  [{penalty}] {contender.label} ({contender.setting}) ...")
        rows.append(_run_contender(contender, problem, n_jobs))
    return CaseResult(penalty, problem.description, n_jobs, rows, (before, _load()))


def _load() -> float:
    """The 1-minute load average (NaN where the system has none): a shared machine shows."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


# --- reporting ------------------------------------------------------------------------------


def _fastest_peer(rows: Sequence[Row]) -> Row | None:
    peers = [r for r in rows if r.contender.peer and r.timing is not None]
    return min(peers, key=lambda r: r.timing.seconds if r.timing else math.inf, default=None)


def case_table(result: CaseResult) -> str:
    """The Markdown table of one case."""
    best = _fastest_peer(result.rows)
    ours = next((r for r in result.rows if r.contender.key == "logitkit"), None)
    headers = [
        "contender",
        "setting",
        "time",
        "/ fastest peer",
        "chosen C",
        "index",
        "same C as logitkit",
        "nonzero",
        "status",
    ]
    table = []
    for row in result.rows:
        timed = row.timing is not None and best is not None and best.timing is not None
        same = "-"
        if ours is not None and ours.choice is not None and row.choice is not None:
            same = "yes" if row.index == ours.index else "no"
        table.append(
            [
                row.contender.label,
                row.contender.setting,
                format_seconds(row.timing.seconds) if row.timing else "-",
                f"{row.timing.seconds / best.timing.seconds:.2f}"  # type: ignore[union-attr]
                if timed
                else "-",
                f"{row.choice.C:.4g}" if row.choice else "-",
                f"{row.index}" if row.choice else "-",
                same,
                f"{row.choice.nonzero}" if row.choice else "-",
                "; ".join([row.status, *row.notes]),
            ]
        )
    return markdown_table(headers, table)


def case_summary(result: CaseResult) -> str:
    """One line: the speed-up over the fastest peer and the agreement on C."""
    ours = next((r for r in result.rows if r.contender.key == "logitkit"), None)
    best = _fastest_peer(result.rows)
    if ours is None or ours.timing is None or best is None or best.timing is None:
        return "No comparison (a contender failed)."
    speedup = best.timing.seconds / ours.timing.seconds
    agree = [r for r in result.rows if r.contender.peer and r.choice is not None]
    same = sum(r.index == ours.index for r in agree)
    verdict = "met" if speedup >= SPEED_TARGET else "NOT met"
    return (
        f"Fastest peer ({best.contender.label}) / logitkit = **{speedup:.2f}x** (target "
        f">= {SPEED_TARGET:g}x: {verdict}); {same} of {len(agree)} peers chose logitkit's C."
    )


def report(results: Sequence[CaseResult], *, smoke: bool) -> str:
    """The whole Markdown section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Cross-validation: `python -m benchmarks.cv`" + (" (smoke sizes)" if smoke else ""),
        "",
        f"Run {when}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES)),
        "",
        (
            "Time: wall time of one call (CV over the grid and folds, then the refit on all"
            " rows), default tolerances, folds over `n_jobs` workers. Index: position of the"
            " chosen C in the ascending grid. Nonzero: coefficients of the refit."
        ),
    ]
    for result in results:
        load = f"1-minute load average {result.load[0]:.1f} before, {result.load[1]:.1f} after"
        lines += ["", f"### {result.description}", "", f"n_jobs={result.n_jobs}; {load}.", ""]
        lines += [case_table(result), "", case_summary(result)]
    return "\n".join(lines) + "\n"


def run(
    cases: Sequence[str] = ("l1", "l2"),
    *,
    smoke: bool = False,
    n_jobs: int = -1,
    out: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[CaseResult]:
    """Run the cases, print the report and, if ``out`` is given, write its section."""
    unknown = [c for c in cases if c not in ("l1", "l2")]
    if unknown:
        msg = f"Unknown case(s) {unknown}; choose from ['l1', 'l2']."
        raise ValueError(msg)
    results = []
    for key in cases:
        echo(f"case {key} ...")
        results.append(run_case(key, smoke=smoke, n_jobs=n_jobs, echo=echo))
    text = report(results, smoke=smoke)
    echo(text)
    if out is not None:
        replace_section(out, SECTION, text)
        echo(f"wrote the {SECTION} section of {out}")
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.cv [--smoke] [--cases l1,l2] [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cv", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, seconds")
    parser.add_argument("--cases", default="l1,l2", help="comma-separated: l1, l2")
    parser.add_argument("--n-jobs", type=int, default=-1, help="workers over folds (all: -1)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS_PATH} for a full run; smoke runs write nothing"
        " unless given)",
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None or args.smoke else RESULTS_PATH
    keys = [k.strip() for k in args.cases.split(",") if k.strip()]
    run(keys, smoke=args.smoke, n_jobs=args.n_jobs, out=out)


if __name__ == "__main__":
    main()
