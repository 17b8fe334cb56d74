"""The answer to a prediction request, by column, and its JSON forms.

An answer is kept as columns (labels, probabilities, decisions), as the model produces
them and as the log stores them. The endpoints print it from there: ``/v1/predict`` one
object per instance, the Open Inference Protocol one tensor per output. Printing objects
from the columns with byte templates is about twice as fast as building a dict per
instance for the JSON encoder, which counts on 1,000-instance batches.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson

from logitkit.serve.predictor import FloatArray, Outputs, Predictor

__all__ = ["Answers", "json_bytes"]


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON (numpy arrays allowed, contiguous or not)."""
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)  # orjson prints only contiguous arrays
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True)
class Answers:
    """The predictions of one request.

    Attributes
    ----------
    class_keys : tuple of str
        The class names as JSON keys, in the order of ``proba``'s columns.
    labels : list
        The most probable class per instance (plain Python values).
    probability : ndarray of shape (n,)
        Binary: the positive class's probability; multiclass: the label's.
    proba : ndarray of shape (n, K)
        Class probabilities.
    decisions : list
        The decision rule's answer per instance.
    threshold : float or None
        The threshold of the decision rule.
    interval : ndarray of shape (n, 2) or None
        The interval ``[low, high]`` of each ``probability``, when the request asked
        for one (``"interval"``); None leaves the answer as it is without.
    """

    class_keys: tuple[str, ...]
    labels: list[Any]
    probability: FloatArray
    proba: FloatArray
    decisions: list[Any]
    threshold: float | None
    interval: FloatArray | None = None

    @classmethod
    def of(cls, model: Predictor, out: Outputs) -> Answers:
        """The answers of ``model``'s outputs."""
        return cls(
            model.class_keys,
            model.labels(out.label_index),
            out.probability,
            out.proba,
            out.decision,
            model.rule.threshold,
        )

    @classmethod
    def logged(cls, model: Predictor, row: dict[str, Any]) -> Answers:
        """The answers stored in a log row (a mapping by column name)."""
        by_key = dict(zip(model.class_keys, model.classes, strict=True))
        keys = tuple(orjson.loads(row["classes"]))
        return cls(
            keys,
            [by_key.get(v, v) for v in orjson.loads(row["label"])],
            np.asarray(orjson.loads(row["probability"]), dtype=np.float64),
            np.asarray(orjson.loads(row["probabilities"]), dtype=np.float64).reshape(-1, len(keys)),
            [by_key.get(v, v) for v in orjson.loads(row["decision"])],
            row["threshold"],
        )

    def __len__(self) -> int:
        return len(self.labels)

    def with_interval(self, interval: FloatArray) -> Answers:
        """These answers with each probability's interval, rows ``[low, high]``."""
        return replace(self, interval=interval)

    def predictions(self) -> list[dict[str, Any]]:
        """One dict per instance: label, probability (and its interval, when asked for),
        probabilities, decision, threshold."""
        keys = self.class_keys
        if self.interval is not None:
            return [
                {
                    "label": label,
                    "probability": p,
                    "probability_interval": bounds,
                    "probabilities": dict(zip(keys, row, strict=True)),
                    "decision": decision,
                    "threshold": self.threshold,
                }
                for label, p, bounds, row, decision in zip(
                    self.labels,
                    self.probability.tolist(),
                    self.interval.tolist(),
                    self.proba.tolist(),
                    self.decisions,
                    strict=True,
                )
            ]
        return [
            {
                "label": label,
                "probability": p,
                "probabilities": dict(zip(keys, row, strict=True)),
                "decision": decision,
                "threshold": self.threshold,
            }
            for label, p, row, decision in zip(
                self.labels,
                self.probability.tolist(),
                self.proba.tolist(),
                self.decisions,
                strict=True,
            )
        ]

    def predictions_json(self) -> bytes:
        """The JSON array of :meth:`predictions`, printed from the columns."""
        n, k = self.proba.shape
        if not n:
            return b"[]"
        # orjson prints each number once; one template per instance, all filled by a
        # single formatting operation, puts them in place.
        item = _item_template(self.class_keys, self.threshold, self.interval is not None)
        # The values in one template: label, probability, [low, high,] k classes, decision.
        first = 2 if self.interval is None else 4  # where the classes' values start
        width = first + k + 1
        values: list[bytes] = [b""] * (n * width)
        values[0::width] = _json_values(self.labels)
        values[1::width] = json_bytes(self.probability)[1:-1].split(b",")
        if self.interval is not None:
            ends = json_bytes(np.asarray(self.interval, dtype=np.float64).ravel())[1:-1]
            values[2::width], values[3::width] = ends.split(b",")[0::2], ends.split(b",")[1::2]
        numbers = json_bytes(self.proba.ravel())[1:-1].split(b",")
        for j in range(k):
            values[first + j :: width] = numbers[j::k]
        values[first + k :: width] = _json_values(self.decisions)
        return b"[" + b",".join([item] * n) % tuple(values) + b"]"


@functools.lru_cache(maxsize=64)
def _item_template(class_keys: tuple[str, ...], threshold: float | None, interval: bool) -> bytes:
    """One instance's JSON object with ``%s`` for its values (see
    :meth:`Answers.predictions_json`); the same for every answer of one model and policy."""
    keys = b",".join(orjson.dumps(key).replace(b"%", b"%%") + b":%s" for key in class_keys)
    bounds = b'"probability_interval":[%s,%s],' if interval else b""
    return (
        b'{"label":%s,"probability":%s,'
        + bounds
        + b'"probabilities":{'
        + keys
        + b'},"decision":%s,"threshold":'
        + orjson.dumps(threshold)
        + b"}"
    )


def _json_values(values: Sequence[Any]) -> list[bytes]:
    """Each value as JSON, printing each distinct value once (labels repeat)."""
    printed = {v: orjson.dumps(v) for v in set(values)}
    if len({(type(v), v) for v in printed}) != len(printed):  # pragma: no cover - True == 1
        return [orjson.dumps(v) for v in values]
    return [printed[v] for v in values]
