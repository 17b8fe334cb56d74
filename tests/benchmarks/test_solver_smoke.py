"""Smoke test of the solver benchmark: every available contender runs and has a finite gap.

Timings are not asserted (CI machines vary); only that the benchmark runs end to end, at
tiny sizes, in this process (the memory check of case (a) spawns its own children).
"""

from __future__ import annotations

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
    results = solver.run(smoke=True, out=out, echo=lines.append)

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
