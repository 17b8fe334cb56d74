"""Reading the log: counts, the recent window (for drift), and requests as instances.

Reads go through their own connections (SQLite's WAL lets them run beside the writer)
and never queue behind commits.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from logitkit.serve.log.tables import LogTables

__all__ = ["count", "instances_of", "window"]


def count(engine: Engine, tables: LogTables) -> int:
    """Instances logged (the rows of the ``<prefix>predictions`` view)."""
    r = tables.requests
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(r.c.instances), 0))).scalar_one())


def window(
    engine: Engine, tables: LogTables, model_version: str | None, limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` most recent instances (of one model version), newest first.

    Each is a dict: ``request_id``, ``instance``, ``created``, ``model_version``,
    ``inputs`` (the raw values in feature order), ``probability``, ``probabilities``
    (class key -> probability), ``label``, ``decision``, ``threshold``, and ``truth``:
    the label given as feedback, or None.
    """
    r, f = tables.requests, tables.feedback
    query = select(r).order_by(r.c.id.desc())
    if model_version is not None:
        query = query.where(r.c.model_version == model_version)
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=256).execute(query).mappings()
        for row in result:
            out.extend(reversed(instances_of(row)))
            if len(out) >= limit:
                break
        result.close()
        del out[limit:]
        if out:
            oldest = min(x["request_row"] for x in out)
            labels = (
                select(f.c.request_id, f.c.instance, f.c.label)
                .join(r, r.c.request_id == f.c.request_id)
                .where(r.c.id >= oldest)
            )
            truth = {(t[0], t[1]): t[2] for t in conn.execute(labels)}
            for x in out:
                x["truth"] = truth.get((x["request_id"], x["instance"]))
    return out


def instances_of(row: Any) -> list[dict[str, Any]]:
    """One dict per instance of a logged request row (a mapping by column name)."""
    classes = orjson.loads(row["classes"])
    columns = zip(
        orjson.loads(row["inputs"]),
        orjson.loads(row["probability"]),
        orjson.loads(row["probabilities"]),
        orjson.loads(row["label"]),
        orjson.loads(row["decision"]),
        strict=True,
    )
    return [
        {
            "request_row": row["id"],
            "request_id": row["request_id"],
            "instance": k,
            "created": row["created"],
            "model_version": row["model_version"],
            "inputs": inputs,
            "probability": probability,
            "probabilities": dict(zip(classes, proba, strict=True)),
            "label": label,
            "decision": decision,
            "threshold": row["threshold"],
        }
        for k, (inputs, probability, proba, label, decision) in enumerate(columns)
    ]
