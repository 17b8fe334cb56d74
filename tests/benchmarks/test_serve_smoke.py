"""Smoke test of the serving benchmark: every server runs and the report is written.

Timings are not asserted (CI machines vary); the kill, reload and schemathesis parts
have their own tests in ``tests/serve``.
"""

from __future__ import annotations

import pytest
from benchmarks._common import RESULTS_TITLE

from benchmarks import serve

pytestmark = pytest.mark.benchmark


def test_serve_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    lines: list[str] = []
    text = serve.run(smoke=True, out=out, kill=False, schemathesis_examples=0, echo=lines.append)
    written = out.read_text()
    assert "kept" in written
    assert "<!-- BEGIN benchmarks.serve -->" in written
    assert "### Throughput and latency" in text
    assert text.count("| baseline") == 3
    assert text.count("| logitkit, SQLite") == 6
    assert "### A 1,000-row batch" in text
    assert "errors at 64: 0" in text
