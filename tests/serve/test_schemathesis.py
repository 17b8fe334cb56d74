"""schemathesis against the live OpenAPI schema: every endpoint, every check.

The default run is small (``LOGITKIT_SCHEMATHESIS_EXAMPLES``, default 25 examples per
operation) to keep the suite quick; ``python -m benchmarks.serve`` runs 300. The two
statuses declared to schemathesis beyond its defaults are explained in
``benchmarks.serve_checks.SCHEMATHESIS_CONFIG``.
"""

from __future__ import annotations

import os

import pytest
from benchmarks.serve_checks import run_schemathesis

from logitkit.serve import Settings
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer


@pytest.mark.slow
def test_schemathesis_finds_nothing(demo_model, tmp_path):
    examples = int(os.environ.get("LOGITKIT_SCHEMATHESIS_EXAMPLES", "25"))
    # One key opens everything, so the admin endpoint is exercised too.
    settings = Settings(
        model_path=demo_model,
        db_url=f"sqlite:///{tmp_path / 'log.db'}",
        api_keys=(API_KEY,),
        admin_keys=(API_KEY,),
        max_batch=100,
    )
    with LiveServer(settings) as live:
        result = run_schemathesis(live.url, API_KEY, tmp_path, examples)
    assert result.returncode == 0, result.output[-6000:]
    assert result.failures == 0
    assert result.operations == 18
    assert result.generated > 18 * min(examples, 10)
