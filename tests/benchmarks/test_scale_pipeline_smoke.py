"""Smoke test of the end-to-end scale benchmark: the streamed and the Dask pipeline agree,
the unpenalised fit is scored by the one log-loss pass, the section is written and the data
deleted. Spark and dask-ml are left to the full run (their start-up alone takes a minute).

Timings are not asserted (CI machines vary).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from benchmarks._common import RESULTS_TITLE

from benchmarks import scale_pipeline

pytestmark = pytest.mark.benchmark

pytest.importorskip("distributed")


def test_linear_form_reproduces_logitkit_probabilities(tmp_path):
    """The comparable form of a fitted model gives logitkit's own linear predictor."""
    from logitkit import LogisticModel
    from logitkit.data.stream import FileSource

    path = scale_pipeline.write_data(tmp_path / "d.parquet", 3_000, seed=1)
    model = LogisticModel().fit(FileSource(path, target="y"))
    linear = scale_pipeline.from_encoded(
        model.feature_names_in_, model.coef_[0], model.intercept_[0]
    )
    frame = pq.read_table(path).to_pandas()
    expected = model.decision_function(frame.drop(columns="y"))
    got = np.concatenate([linear.eta(b) for b in pq.ParquetFile(path).iter_batches()])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_scale_pipeline_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    data = tmp_path / "data"
    lines: list[str] = []
    result = scale_pipeline.run(
        rows=4_000,
        skip=("spark", "dask-ml"),
        cap=600,
        data_dir=data,
        out=out,
        smoke=True,
        echo=lines.append,
    )
    for key in ("bare", "bare-spill", "pipeline", "dask", "logitkit-mle"):
        assert result.runs[key].status == "ok", result.runs[key].status
        assert result.runs[key].peak_bytes > 0
    agreement = result.agreement
    assert agreement is not None
    assert agreement["coef_diff"] <= 1e-8
    assert agreement["threshold_diff"] <= 1e-8
    assert agreement["same_counts"]
    assert agreement["same_C"]
    assert result.gaps == {"logitkit-mle": 0.0}
    text = out.read_text()
    assert "<!-- BEGIN benchmarks.scale.pipeline -->" in text
    assert "Pipeline / bare fit" in text
    assert "kept" in text
    assert not data.exists() or not list(data.rglob("*"))  # generated data are deleted
