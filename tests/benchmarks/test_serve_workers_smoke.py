"""Smoke test of the workers benchmark: 1 and 2 workers serve without an error.

Timings are not asserted (CI machines vary); the report goes to a temporary results
file, whose other sections are kept.
"""

from __future__ import annotations

import pytest
from benchmarks._common import RESULTS_PATH, RESULTS_TITLE

from benchmarks import serve_workers

pytestmark = pytest.mark.benchmark


def test_serve_workers_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(RESULTS_TITLE + "\n<!-- BEGIN other -->\nkept\n<!-- END other -->\n")
    before = RESULTS_PATH.read_bytes() if RESULTS_PATH.exists() else None
    lines: list[str] = []
    rows, text = serve_workers.run(smoke=True, out=out, echo=lines.append)
    assert [r.workers for r in rows] == [1, 2]
    for row in rows:
        assert row.requests > 0, row
        assert row.errors == 0, row
        assert row.throughput > 0, row
    written = out.read_text()
    assert "kept" in written
    assert "<!-- BEGIN benchmarks.serve_workers -->" in written
    assert "(smoke sizes)" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == 3  # head, 2 rows
    assert "\n".join(lines) + "\n" == text
    after = RESULTS_PATH.read_bytes() if RESULTS_PATH.exists() else None
    assert after == before  # the committed results are not touched
