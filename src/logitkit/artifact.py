"""The model artifact: one readable JSON file, hashed, with no code in it.

A pickle can run code when it is loaded; this file cannot. It holds everything needed
to predict (classes, features, coefficients, standardisation statistics) and to audit
(parameters, training metadata), written with floats that round-trip exactly, so a
loaded model predicts bit for bit what the original did. A SHA-256 of the canonical
content is stored inside and checked on load: a truncated, hand-edited or tampered file
fails with :class:`~logitkit.exceptions.ArtifactError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit import __version__
from logitkit.exceptions import ArtifactError
from logitkit.model import LogisticModel

__all__ = ["FORMAT", "FORMAT_VERSION", "data_fingerprint", "load", "save"]

FORMAT = "logitkit-model"
FORMAT_VERSION = 1


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``content`` (without its ``sha256`` field)."""
    body = {k: v for k, v in content.items() if k != "sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def data_fingerprint(X: Any, y: Any) -> str:
    """SHA-256 of the training values and labels, to tell later which data made a model."""
    digest = hashlib.sha256()
    arr = np.ascontiguousarray(
        np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    )
    digest.update(str(arr.shape).encode())
    digest.update(arr.tobytes())
    digest.update(json.dumps([_label_to_json(v) for v in np.asarray(y).tolist()]).encode())
    return digest.hexdigest()


def _label_to_json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _label_type(classes: NDArray[Any]) -> str:
    kind = classes.dtype.kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "str")


def _labels_from_json(values: list[Any], label_type: str) -> NDArray[Any]:
    if label_type == "bool":
        return np.array([bool(v) for v in values])
    if label_type == "int":
        return np.array([int(v) for v in values])
    if label_type == "float":
        return np.array([float(v) for v in values])
    return np.array([str(v) for v in values])


def _floats(a: NDArray[Any]) -> Any:
    """Nested lists of Python floats (``repr`` gives the shortest exact round-trip)."""
    return np.asarray(a, dtype=np.float64).tolist()


def to_content(
    model: LogisticModel,
    *,
    training: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The artifact's content for a fitted model (without the hash)."""
    model_params = {k: v for k, v in model.get_params().items() if k != "class_weight"}
    cw = model.class_weight
    model_params["class_weight"] = (
        {str(k): float(v) for k, v in cw.items()} if isinstance(cw, dict) else cw
    )
    names = [str(n) for n in model._feature_names()]
    result = model.solver_result_
    content: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "logitkit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "type": "LogisticModel",
            "params": model_params,
            "classes": [_label_to_json(c) for c in model.classes_.tolist()],
            "class_label_type": _label_type(model.classes_),
            "features": [{"name": n, "type": "float"} for n in names],
            "has_feature_names": hasattr(model, "feature_names_in_"),
            "coef": _floats(model.coef_),
            "intercept": _floats(model.intercept_),
            "feature_mean": _floats(model.feature_mean_),
            "feature_scale": _floats(model.feature_scale_),
        },
        "training": {
            "n_rows": int(np.sum(model.class_counts_)),
            "class_counts": {
                str(c): int(n)
                for c, n in zip(model.classes_.tolist(), model.class_counts_, strict=True)
            },
            "n_iter": int(result.n_iter),
            "converged": bool(result.converged),
            "kkt_violation": float(result.kkt),
            "solver": result.method,
            **(training or {}),
        },
        "policy": policy,
        "reference": reference,
    }
    return content


def save(
    model: LogisticModel,
    path: str | Path,
    *,
    training: dict[str, Any] | None = None,
    policy: Any = None,
    reference: dict[str, Any] | None = None,
) -> Path:
    """Write a fitted model to ``path`` as hashed JSON.

    Parameters
    ----------
    model : LogisticModel
        A fitted model.
    path : str or Path
        Where to write; written to a temporary file first and renamed, so an existing
        file is never left half-written.
    training : dict, optional
        Extra training metadata to record (e.g. the data fingerprint).
    policy : ThresholdPolicy, RiskBands, MulticlassPolicy or dict, optional
        The decision rule (anything with ``to_dict()``); stored under ``"policy"``.
    reference : dict, optional
        Reference distributions of the training data for drift checks
        (:func:`logitkit.reference.reference_profile`); stored under ``"reference"``.

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> import logitkit, tempfile, os
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = logitkit.LogisticModel().fit(X, y)
    >>> path = logitkit.save(model, os.path.join(tempfile.mkdtemp(), "model.json"))
    >>> bool((logitkit.load(path).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    policy_dict = policy.to_dict() if hasattr(policy, "to_dict") else policy
    content = to_content(model, training=training, policy=policy_dict, reference=reference)
    content["sha256"] = content_hash(content)
    text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def load(path: str | Path) -> LogisticModel:
    """Read a model written by :func:`save`, verifying its hash and version.

    The returned model predicts bit for bit as the saved one; ``model.artifact_`` holds
    the verified file content: ``"sha256"`` (the model version), ``"policy"``,
    ``"reference"`` and ``"training"``.

    Raises
    ------
    ArtifactError
        If the file is missing, not JSON, truncated, of an unsupported version, or its
        content does not match its SHA-256.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"Cannot read model file {where}: {exc.strerror or exc}."
        raise ArtifactError(msg, path=where) from None
    try:
        content = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        msg = f"Model file {where} is not valid JSON ({exc}); it may be truncated or corrupted."
        raise ArtifactError(msg, path=where) from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        msg = f'{where} is not a logitkit model file (no "format": "{FORMAT}" field).'
        raise ArtifactError(msg, path=where)
    version = content.get("format_version")
    if version != FORMAT_VERSION:
        msg = (
            f"Model file {where} has format_version {version!r}; this logitkit "
            f"({__version__}) reads version {FORMAT_VERSION}. Re-train or upgrade logitkit."
        )
        raise ArtifactError(msg, path=where)
    stored = content.get("sha256")
    if stored != content_hash(content):
        msg = (
            f"Model file {where} failed its integrity check: the SHA-256 of its content does "
            "not match the stored one, so it was edited or corrupted after it was written. "
            "Do not use it; re-export the model."
        )
        raise ArtifactError(msg, path=where)
    try:
        model = _model_from_content(content["model"])
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"Model file {where} is missing or has malformed field {exc}."
        raise ArtifactError(msg, path=where) from None
    # The whole verified content (policy, reference distributions, metadata, hash).
    model.artifact_ = content
    return model


def _refuse_constant(name: str) -> float:
    msg = f"non-finite number {name} is not allowed in a model file"
    raise ValueError(msg)


def _model_from_content(spec: dict[str, Any]) -> LogisticModel:
    params = dict(spec["params"])
    model = LogisticModel(**params)
    model.classes_ = _labels_from_json(spec["classes"], spec["class_label_type"])
    model.coef_ = np.array(spec["coef"], dtype=np.float64)
    model.intercept_ = np.array(spec["intercept"], dtype=np.float64)
    model.feature_mean_ = np.array(spec["feature_mean"], dtype=np.float64)
    model.feature_scale_ = np.array(spec["feature_scale"], dtype=np.float64)
    model.coef_standardized_ = model.coef_ * model.feature_scale_
    model.n_features_in_ = len(spec["features"])
    if spec.get("has_feature_names"):
        model.feature_names_in_ = np.array([f["name"] for f in spec["features"]], dtype=object)
    n_outputs = 1 if len(model.classes_) == 2 else len(model.classes_)
    if model.coef_.shape != (n_outputs, model.n_features_in_):
        msg = "'coef' (its shape does not match the classes and features)"
        raise ValueError(msg)
    if not all(math.isfinite(v) for v in model.coef_.ravel()):
        msg = "'coef' (it holds a non-finite value)"
        raise ValueError(msg)
    return model
