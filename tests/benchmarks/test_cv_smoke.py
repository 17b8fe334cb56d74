"""Smoke test of the cross-validation benchmark: every contender runs and the section is written."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks._common import RESULTS_TITLE

from benchmarks import cv

pytestmark = pytest.mark.benchmark


def test_cv_benchmark_smoke(tmp_path):
    pytest.importorskip("glum")
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    lines: list[str] = []
    (result,) = cv.run(["l1"], smoke=True, n_jobs=1, out=out, echo=lines.append)
    assert [r.status for r in result.rows] == ["ok"] * len(result.rows)
    keys = [r.contender.key for r in result.rows]
    assert keys[:3] == ["logitkit", "logitkit-threads", "logitkit-1"]
    assert {"sklearn-liblinear", "sklearn-saga", "glum"} <= set(keys)
    ours = {r.index for r in result.rows if not r.contender.peer}
    assert len(ours) == 1  # processes, threads and one job choose the same C
    glum = next(r for r in result.rows if r.contender.key == "glum")
    assert glum.index in ours
    text = out.read_text()
    assert "<!-- BEGIN benchmarks.cv -->" in text
    assert "kept" in text
    assert "| logitkit " in text


def test_l1_grid_is_logitkits_default_grid():
    """The benchmark's C_min (numpy on standardised columns) is LogisticModelCV's own."""
    from logitkit import LogisticModelCV

    problem = cv.make_problem("l1", smoke=True)
    model = LogisticModelCV(Cs=cv.N_CS, cv=2, penalty="l1").fit(problem.X, problem.y)
    np.testing.assert_allclose(model.Cs_[0], problem.Cs, rtol=1e-9)
