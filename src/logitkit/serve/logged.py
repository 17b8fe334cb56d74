"""Predict, log, then answer: the one path every prediction endpoint takes.

The answer is built only after the rows are committed. If the client chose the request
id and it was logged before (a retry), the logged answer is returned instead, so a
retried request stays one row and gets the same answer; reusing an id for different
inputs is a conflict.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from logitkit.serve.errors import ApiError
from logitkit.serve.log import LogUnavailableError, OverloadedError
from logitkit.serve.predictor import FloatArray, Outputs, Predictor
from logitkit.serve.runtime import Runtime

__all__ = ["Logged", "new_request_id", "predict_logged"]


@dataclass(frozen=True)
class Logged:
    """Predictions that are in the log: what to answer, and how long each part took."""

    request_id: str
    model_version: str
    predictions: list[dict[str, Any]]
    outputs: Outputs | None  # None when answered from the log (a retry)
    started: float  # perf_counter() when prediction began
    compute_s: float
    log_s: float

    def server_timing(self) -> str:
        """``Server-Timing`` entries (milliseconds): predict and build rows; wait for the commit."""
        return f"compute;dur={self.compute_s * 1e3:.3f}, log;dur={self.log_s * 1e3:.3f}"


#: Request ids: a random 64-bit prefix per process and a counter. Unique across restarts
#: like a UUID4 without reading the kernel's random source per request (slow on some VMs).
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A fresh request id: this process's random prefix and a sequence number."""
    return f"{_PREFIX}-{next(_COUNTER):x}"


def _rows_of(blob: bytes) -> list[str]:
    text = blob.decode()
    return text[2:-2].split("],[")


def _answers(model: Predictor, out: Outputs) -> list[dict[str, Any]]:
    keys = model.class_keys
    threshold = model.rule.threshold
    labels = model.labels(out.label_index)
    probability = out.probability.tolist()
    proba = out.proba.tolist()
    if len(keys) == 2:  # the common case, spelled out: a third faster on big batches
        k0, k1 = keys
        return [
            {
                "label": label,
                "probability": p,
                "probabilities": {k0: p0, k1: p1},
                "decision": decision,
                "threshold": threshold,
            }
            for label, p, (p0, p1), decision in zip(
                labels, probability, proba, out.decision, strict=True
            )
        ]
    return [
        {
            "label": label,
            "probability": p,
            "probabilities": dict(zip(keys, row, strict=True)),
            "decision": decision,
            "threshold": threshold,
        }
        for label, p, row, decision in zip(labels, probability, proba, out.decision, strict=True)
    ]


def _log_rows(
    model: Predictor,
    request_id: str,
    inputs: list[str],
    out: Outputs,
    answers: list[dict[str, Any]],
    created: Any,
) -> list[tuple[Any, ...]]:
    """One row per answer (a tuple in ``COLUMNS`` order); numbers printed once, by orjson."""
    prefixes = [orjson.dumps(k).decode() + ":" for k in model.class_keys]
    parts = _rows_of(orjson.dumps(out.proba, option=orjson.OPT_SERIALIZE_NUMPY))
    if len(prefixes) == 2:
        k0, k1 = prefixes
        probabilities = ["{" + k0 + part.replace(",", "," + k1, 1) + "}" for part in parts]
    else:
        probabilities = [
            "{" + ",".join(k + v for k, v in zip(prefixes, part.split(","), strict=True)) + "}"
            for part in parts
        ]
    threshold, version = model.rule.threshold, model.version
    text = {label: str(label) for label in (*model.classes, *set(out.decision))}
    return [
        (
            request_id,
            i,
            created,
            version,
            inputs[i],
            answer["probability"],
            probabilities[i],
            text[answer["label"]],
            text[answer["decision"]],
            threshold,
        )
        for i, answer in enumerate(answers)
    ]


def _replay(
    model: Predictor, stored: list[dict[str, Any]], rows: list[tuple[Any, ...]], request_id: str
) -> list[dict[str, Any]]:
    same = len(stored) == len(rows) and all(
        s["inputs"] == r[4]
        for s, r in zip(stored, rows, strict=True)  # r[4]: the inputs
    )
    if not same:
        raise ApiError(
            409,
            "request_id_reused",
            f"X-Request-ID {request_id!r} was already used for different inputs; use a new "
            "id for a new request (a retry must resend the same body).",
        )
    by_key = dict(zip(model.class_keys, model.classes, strict=True))
    return [
        {
            "label": by_key.get(s["label"], s["label"]),
            "probability": s["probability"],
            "probabilities": orjson.loads(s["probabilities"]),
            "decision": by_key.get(s["decision"], s["decision"]),
            "threshold": s["threshold"],
        }
        for s in stored
    ]


async def predict_logged(
    runtime: Runtime,
    model: Predictor,
    X: FloatArray,
    instances: Sequence[dict[str, Any]],
    client_request_id: str | None,
) -> Logged:
    """Predict ``X`` with ``model``, commit the rows, and return the answers.

    Raises
    ------
    ApiError
        503 when the log cannot take or commit the rows (nothing is answered then);
        409 when a client-chosen request id was logged for different inputs.
    """
    start = time.perf_counter()
    request_id = client_request_id or new_request_id()
    out = model.predict(X)
    answers = _answers(model, out)
    inputs = model.inputs.inputs_json(instances, X)
    rows = _log_rows(model, request_id, inputs, out, answers, runtime.log.now())
    logged_at = time.perf_counter()
    try:
        stored = await runtime.log.record(rows, check=client_request_id is not None)
    except OverloadedError as exc:
        raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": "1"}) from None
    except LogUnavailableError as exc:
        raise ApiError(503, "log_unavailable", str(exc), headers={"Retry-After": "1"}) from None
    done = time.perf_counter()
    if stored is not None:
        answers = _replay(model, stored, rows, request_id)
        version: str = stored[0]["model_version"]
        return Logged(
            request_id, version, answers, None, start, logged_at - start, done - logged_at
        )
    runtime.metrics.count_decisions(Counter(str(a["decision"]) for a in answers))
    return Logged(
        request_id, model.version, answers, out, start, logged_at - start, done - logged_at
    )
