"""Predict, log, then answer: the one path every prediction endpoint takes.

The answer is encoded before the request's row is queued and sent only once the row
is committed. (Encoding it while the writer commits was tried: the writer then waits
for the GIL at each step of its commit, and a 1,000-instance batch took longer, not
less.) If the client chose the request id and it was logged before (a retry), the
logged answer is returned instead, so a retried request stays one row and gets the same
answer; reusing an id for different inputs is a conflict.
"""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from logitkit.serve.answers import Answers, json_bytes
from logitkit.serve.errors import ApiError
from logitkit.serve.log import COLUMNS, LogUnavailableError, OverloadedError
from logitkit.serve.predictor import FloatArray, Outputs, Predictor
from logitkit.serve.runtime import Runtime

__all__ = ["Logged", "Render", "new_request_id", "predict_logged"]


#: Encodes an answer: (request id, model version, the predictions) -> JSON body.
Render = Callable[[str, str, Answers], bytes]


@dataclass(frozen=True)
class Logged:
    """Predictions that are in the log: the encoded answer, and how long each part took."""

    request_id: str
    model_version: str
    body: bytes
    started: float  # perf_counter() when prediction began
    compute_s: float  # print the log row (inputs, probabilities, decisions)
    log_s: float  # from queueing the row to its commit
    answer_s: float  # predict, then build and encode the answer

    def response(self, started: float, read: float) -> Response:
        """The JSON answer, with ``X-Request-ID`` and ``Server-Timing`` (milliseconds).

        ``started`` and ``read`` are ``perf_counter()`` when the request began and when its
        body was read; parsing lasted until prediction began.
        """
        timing = (
            f"read;dur={(read - started) * 1e3:.3f}, parse;dur={(self.started - read) * 1e3:.3f}, "
            f"compute;dur={self.compute_s * 1e3:.3f}, log;dur={self.log_s * 1e3:.3f}, "
            f"answer;dur={self.answer_s * 1e3:.3f}, "
            f"total;dur={(time.perf_counter() - started) * 1e3:.3f}"
        )
        return _Answer(
            self.body,
            [
                (b"x-request-id", self.request_id.encode("latin-1")),
                (b"server-timing", timing.encode("latin-1")),
                (b"content-length", b"%d" % len(self.body)),
                (b"content-type", b"application/json"),
            ],
        )


class _Answer(Response):
    """A 200 JSON answer with its headers given as bytes, as Starlette sends them (rather
    than normalised from a dict on every request: the names are fixed)."""

    media_type = "application/json"

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


#: Request ids: a random 64-bit prefix per process and a counter. Unique across restarts
#: like a UUID4 without reading the kernel's random source per request (slow on some VMs).
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A fresh request id: this process's random prefix and a sequence number."""
    return f"{_PREFIX}-{next(_COUNTER):x}"


def _json(value: Any) -> str:
    return json_bytes(value).decode()


@functools.lru_cache(maxsize=16)
def _keys_json(keys: tuple[str, ...]) -> str:
    """A model's class keys as JSON (the same in every row of one model)."""
    return _json(keys)


def _log_row(
    model: Predictor, request_id: str, inputs: str, out: Outputs, created: Any
) -> tuple[Any, ...]:
    """The request's log row (a tuple in ``COLUMNS`` order): numbers printed once, by orjson."""
    keys = model.class_keys
    labels = [keys[i] for i in out.label_index.tolist()]
    text = {d: str(d) for d in set(out.decision)}
    return (
        request_id,
        created,
        model.version,
        len(labels),
        _keys_json(keys),
        inputs,
        _json(out.probability),
        _json(out.proba),
        _json(labels),
        _json([text[d] for d in out.decision]),
        model.rule.threshold,
    )


def _replay(
    model: Predictor, stored: dict[str, Any], row: tuple[Any, ...], request_id: str
) -> Answers:
    if stored["inputs"] != row[COLUMNS.index("inputs")]:
        raise ApiError(
            409,
            "request_id_reused",
            f"X-Request-ID {request_id!r} was already used for different inputs; use a new "
            "id for a new request (a retry must resend the same body).",
        )
    return Answers.logged(model, stored)


async def predict_logged(
    runtime: Runtime,
    model: Predictor,
    X: FloatArray,
    instances: Sequence[dict[str, Any]],
    client_request_id: str | None,
    render: Render,
) -> Logged:
    """Predict ``X`` with ``model``, commit the row, and return the answer ``render`` encodes.

    Raises
    ------
    ApiError
        503 when the log cannot take or commit the row (nothing is answered then);
        409 when a client-chosen request id was logged for different inputs.
    """
    start = time.perf_counter()
    request_id = client_request_id or new_request_id()
    out = model.predict(X)
    body = render(request_id, model.version, Answers.of(model, out))
    rendered = time.perf_counter()
    inputs = model.inputs.inputs_json(instances, X)
    row = _log_row(model, request_id, inputs, out, runtime.log.now())
    queued = time.perf_counter()
    try:
        stored = await runtime.log.record(row, check=client_request_id is not None)
    except OverloadedError as exc:
        raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": "1"}) from None
    except LogUnavailableError as exc:
        raise ApiError(503, "log_unavailable", str(exc), headers={"Retry-After": "1"}) from None
    done = time.perf_counter()
    version = model.version
    if stored is None:
        runtime.metrics.count_decisions(Counter(map(str, out.decision)))
    else:  # a retry: answer what was logged the first time
        version = stored["model_version"]
        body = render(request_id, version, _replay(model, stored, row, request_id))
    return Logged(
        request_id, version, body, start, queued - rendered, done - queued, rendered - start
    )
