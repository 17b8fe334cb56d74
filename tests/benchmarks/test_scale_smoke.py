"""Smoke test of the scale benchmark: 200,000 rows streamed equal the in-memory fit, in bounded
memory; the Dask case runs on a two-worker LocalCluster; the section is written.

Timings are not asserted (CI machines vary).
"""

from __future__ import annotations

import math

import pytest
from benchmarks._common import RESULTS_TITLE

from benchmarks import scale

pytestmark = pytest.mark.benchmark

pytest.importorskip("distributed")


def test_scale_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    data = tmp_path / "data"
    sizes = scale.Sizes(stream=(200_000, 50), dask=(20_000, 10))
    lines: list[str] = []
    stream, dask = scale.run(smoke=True, data_dir=data, out=out, sizes=sizes, echo=lines.append)

    assert stream is not None
    assert stream.memory_coef_diff is not None
    assert stream.memory_coef_diff <= 1e-8  # streamed = in memory
    assert stream.run.kkt <= 1e-10
    run = stream.run
    assert run.peak_bytes < scale.MEMORY_TARGET
    # Bounded: the rise during the fit stays below the data (80 MB as float64) plus
    # pyarrow's decoded row groups (53 MB each) and fixed buffers, never a copy of it.
    assert run.peak_bytes - run.baseline_bytes < 80e6 + 4 * 53e6 + 200e6
    assert len(run.pass_seconds) >= 3  # first pass and solver passes, each timed

    assert dask is not None
    rows = {(r.label, r.setting): r for r in dask.rows}
    for key in [
        ("logitkit", "in memory"),
        ("logitkit", "streamed from Parquet"),
        ("logitkit", "Dask, 2 workers"),
    ]:
        assert rows[key].status == "ok", rows[key].notes
        assert rows[key].coef_diff <= 1e-8
    sgd = [r for r in dask.rows if r.label == "scikit-learn SGD"]
    assert all(math.isfinite(r.gap) and r.gap > 0 for r in sgd)

    text = out.read_text()
    assert "<!-- BEGIN benchmarks.scale -->" in text
    assert "kept" in text
    assert not list(data.glob("*.parquet"))  # generated data are deleted
