"""Smoke test of the solver benchmark: every available contender runs and has a finite gap.

Timings are not asserted (CI machines vary); only that the benchmark runs end to end, at
tiny sizes: the headline cases in this process (the memory check of case (a) spawns its own
children), the stress matrix in its worker process.
"""

from __future__ import annotations

import json
import math
from importlib.util import find_spec

import numpy as np
import pytest
from benchmarks._common import RESULTS_TITLE, column_mean_std, replace_section

from benchmarks import solver

pytestmark = pytest.mark.benchmark


def test_solver_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    lines: list[str] = []
    # One BLAS thread: on a busy CI machine multi-threaded pools thrash (tenfold slower).
    results = solver.run(smoke=True, out=out, echo=lines.append, threads=1)

    assert [r.case.key for r in results] == list(solver.CASES)
    logitkit_present = solver._logitkit_missing() is None
    for result in results:
        by_key = {row.contender.key: row for row in result.rows}
        assert len(by_key) == len(result.rows)  # keys are unique
        for row in result.rows:
            if row.status in (solver.NOT_AVAILABLE, solver.NOT_APPLICABLE):
                assert row.timing is None
                assert row.notes  # says why
                continue
            assert row.status in solver.RAN, (result.case.key, row.contender.key, row.notes)
            assert row.timing is not None
            assert row.timing.seconds > 0
            assert math.isfinite(row.gap)
            assert row.gap >= 0
        # obj_ref is the least objective found, and some row comes within 1e-8 of it
        assert min(r.gap for r in result.rows if r.status in solver.RAN) <= solver.GAP_TARGET
        peers = {k for k, r in by_key.items() if r.contender.peer and r.status in solver.RAN}
        assert peers & {"sklearn-lbfgs", "sklearn-saga"}
        if find_spec("glum") is not None:  # glum is a bench extra; without it: not available
            assert "glum" in peers
        for key, row in by_key.items():  # the tight peers agree: the mappings are right
            if key.endswith("-tight") and row.contender.peer and row.status in solver.RAN:
                assert row.reached, (result.case.key, key, row.gap)
        if logitkit_present:
            assert by_key["logitkit"].status in solver.RAN
        else:
            assert by_key["logitkit"].status == solver.NOT_AVAILABLE

    for key in ("c", "d") if find_spec("statsmodels") else ():  # where it has the penalty
        rows = {r.case.key: r for r in results}[key].rows
        assert any(r.contender.key == "statsmodels" and r.status in solver.RAN for r in rows)

    (case_a,) = [r for r in results if r.case.key == "a"]
    assert [m.contender.key for m in case_a.memory] == list(solver.MEMORY_CONTENDERS)
    for m in case_a.memory:
        if m.contender.fit is not None:
            assert m.use is not None
            assert m.x_bytes == 20_000 * 20 * 8
            assert m.use.peak_bytes >= m.use.baseline_bytes > 0

    text = out.read_text()
    assert text.count("<!-- BEGIN benchmarks.solver -->") == 1
    assert "kept" in text
    assert "| scikit-learn lbfgs " in text
    assert any("(smoke sizes)" in line for line in lines)


def test_replace_section_keeps_other_sections(tmp_path):
    out = tmp_path / "RESULTS.md"
    replace_section(out, "one", "first")
    replace_section(out, "two", "second")
    replace_section(out, "one", "first again")
    text = out.read_text()
    assert text.startswith(RESULTS_TITLE)
    assert "first again" in text
    assert "first\n" not in text
    assert text.count("<!-- BEGIN one -->") == 1
    assert text.index("first again") < text.index("second")


def test_glum_alpha_mapping_matches_sklearn():
    """glum with alpha = 1/(C n) and scale_predictors=True solves scikit-learn's problem.

    Both solved tightly on the breast-cancer data (L2, C=1); agreement to 1e-7 on the
    standardised scale is far inside the gap a wrong mapping makes (2x alpha moves the
    coefficients by percents).
    """
    pytest.importorskip("glum")
    problem = solver.problem_b(smoke=True)
    _, std = column_mean_std(problem.X)
    glum_coef, glum_b0 = solver._glum_fit(gradient_tol=1e-12, max_iter=1000)(problem)
    sk_coef, sk_b0 = solver._sklearn_fit("newton-cholesky", tol=1e-12, max_iter=100)(problem)
    np.testing.assert_allclose(glum_coef * std, sk_coef * std, rtol=0, atol=1e-7)
    assert glum_b0 == pytest.approx(sk_b0, abs=1e-7)


# --- the stress matrix ----------------------------------------------------------------------


def test_stress_matrix_smoke(tmp_path):
    """Every cell runs end to end at tiny sizes in the worker process; the tables and the
    raw JSON are written; logitkit reaches the target gap in every cell; and the tight
    peers that solve the same objective exactly (Newton-type and glum) agree with it to
    1e-8, which a wrong mapping of C (glum's alpha, statsmodels' alpha, the scaling) would
    break by orders of magnitude."""
    from benchmarks import solver_stress as stress

    out, json_out = tmp_path / "RESULTS.md", tmp_path / "stress.json"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    lines: list[str] = []
    results = stress.run(smoke=True, out=out, json_out=json_out, echo=lines.append)

    keys = [r.key for r in results]
    assert len(keys) == len(set(keys))
    assert {k.split("/")[0] for k in keys} == set(stress.CELLS)
    exact = {"glum-tight", "sklearn-newton-cholesky-tight", "sklearn-lbfgs-tight"}
    for result in results:
        rows = {row.key: row for row in result.rows}
        assert len(rows) == len(result.rows)
        for row in result.rows:
            assert not row.status.startswith("failed"), (result.key, row.key, row.notes)
            if row.status in (stress.NOT_APPLICABLE, stress.INFEASIBLE):
                assert not row.times
                assert row.notes  # says why
            elif row.status in stress.RAN:
                assert row.times
                assert all(t > 0 for t in row.times)
        if result.key == "cv":
            for row in result.rows:
                assert row.status in stress.RAN, (row.key, row.notes)
                assert row.C is not None
                assert row.C > 0
            continue
        assert result.best is not None
        gaps = [row.gap for row in result.rows if row.gap is not None]
        assert min(gaps) == 0.0
        assert all(g >= 0.0 for g in gaps)
        assert rows["logitkit"].reached, (result.key, rows["logitkit"].gap)
        # On raw columns 12 decades apart (g), L-BFGS stops early on its own: a solver
        # limit, not a mapping; the Newton-type peers still agree there.
        agreeing = exact - {"sklearn-lbfgs-tight"} if result.key == "g" else exact
        for key in agreeing & rows.keys():
            if rows[key].status == stress.OK:
                assert rows[key].reached, (result.key, key, rows[key].gap)
        met, why = result.verdict()
        assert isinstance(met, bool)
        assert why

    # statsmodels joins the L1 cells it can hold, and agrees where SLSQP converges
    d_l1 = {row.key: row for row in next(r for r in results if r.key == "d/l1").rows}
    assert d_l1["statsmodels-tight"].reached
    e_l1 = {row.key: row for row in next(r for r in results if r.key == "e/l1").rows}
    assert e_l1["statsmodels"].status == stress.INFEASIBLE  # sparse input

    text = out.read_text()
    assert text.count(f"<!-- BEGIN {stress.SECTION} -->") == 1
    assert "kept" in text
    assert "### Summary" in text
    assert "| scikit-learn liblinear" in text
    payload = json.loads(json_out.read_text())
    assert payload["smoke"] is True
    assert [c["key"] for c in payload["cells"]] == keys
    assert any(line.startswith("cell cv") for line in lines)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("sparse", [False, True])
def test_stress_objective_matches_sklearn_log_loss(n_classes, sparse):
    """The one objective equals C times scikit-learn's summed log-loss of the same model's
    probabilities plus the elastic-net penalty of the standardised coefficients."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    from benchmarks import solver_stress as stress

    rng = np.random.default_rng(n_classes)
    X = rng.standard_normal((300, 6)) * np.array([1e-2, 1.0, 10.0, 1.0, 3.0, 1e3])
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.integers(0, n_classes, 300)
    model = LogisticRegression(C=0.7, solver="newton-cholesky").fit(X, y)
    coef, intercept = np.atleast_2d(model.coef_), np.ravel(model.intercept_)
    Xm = sp.csr_matrix(X) if sparse else X
    std = X.std(axis=0)
    data = stress.Data(Xm, y, n_classes, stress._column_std(Xm))
    np.testing.assert_allclose(data.std, std, rtol=1e-12)
    got = stress.sklearn_objective(data, coef, intercept, C=0.7, l1_ratio=0.3)
    b = coef * std
    penalty = 0.3 * np.abs(b).sum() + 0.7 / 2 * (b * b).sum()
    expected = 0.7 * log_loss(y, model.predict_proba(X), normalize=False) + penalty
    assert got == pytest.approx(expected, rel=1e-12)


def test_stress_cli_refuses_bad_options(capsys):
    with pytest.raises(SystemExit) as exc:
        solver.main(["--stress", "--cells", "a,z"])
    assert exc.value.code == 2
    assert "unknown stress cell(s) ['z']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        solver.main(["--cells", "a"])
    assert exc.value.code == 2
    assert "--cells applies to the stress matrix only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        solver.main(["--stress", "--cap", "0"])
    assert exc.value.code == 2
    assert "--cap must be a positive number" in capsys.readouterr().err
