"""The OpenAPI schema and the server agree: schemathesis' engine, every check, no failure.

The run is what ``schemathesis run --checks all`` does in its coverage and fuzzing
phases (boundary values of every constraint, then generated requests), driven through
the Python API against a live server with a small budget
(``LOGITKIT_SCHEMATHESIS_EXAMPLES`` examples per operation, default 5); the stateful
phase and bigger budgets run in ``tests/serve/test_schemathesis.py`` and
``python -m benchmarks.serve``.

One exception to schemathesis' defaults is declared, and no other: the Open Inference
Protocol answers a schema-valid tensor that does not fit the model (data not matching
its shape, a feature's tensor of the wrong datatype) with 400, as it asks; JSON Schema
cannot tie a tensor's data to its shape. A batch over ``maxItems`` is 422 as the schema
says (the batch limit here fits within the body size limit, so no 413 is involved).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logitkit.serve import Settings
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer

schemathesis = pytest.importorskip("schemathesis")

#: The protocol's 400 for tensors that do not fit the model (see the module docstring).
EXCEPTION = """\
[[operations]]
include-path-regex = "^/v2/models/.+/infer$"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 404, 409]
"""


@pytest.mark.slow
def test_schemathesis_finds_no_failure(demo_model: Path, tmp_path: Path):
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, events, from_schema

    examples = int(os.environ.get("LOGITKIT_SCHEMATHESIS_EXAMPLES", "5"))
    settings = Settings(
        model_path=demo_model,
        db_url=f"sqlite:///{tmp_path / 'log.db'}",
        api_keys=(API_KEY,),
        admin_keys=(API_KEY,),
        max_batch=100,
    )
    config = SchemathesisConfig.from_str(
        f'headers = {{ Authorization = "Bearer {API_KEY}" }}\n'
        "seed = 1\n"
        f"[generation]\nmax-examples = {examples}\n"
        "[phases.examples]\nenabled = false\n[phases.stateful]\nenabled = false\n" + EXCEPTION
    )
    failed: list[str] = []
    errors: list[str] = []
    operations: set[str] = set()
    with LiveServer(settings) as live:
        schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=config)
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                operations.add(event.label)
                if event.status == Status.FAILURE:
                    failed.append(f"{event.phase} {event.label}")
            elif isinstance(event, events.NonFatalError | events.FatalError):
                errors.append(str(getattr(event, "info", event)))
            elif isinstance(event, events.EngineFinished):
                failed += [str(f) for f in event.failures]
    assert not errors, errors
    assert not failed, failed
    assert len(operations) >= 18
