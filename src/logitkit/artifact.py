"""The model artifact: one readable JSON file, hashed (optionally signed), with no code in it.

A pickle can run code when it is loaded; this file cannot. It holds everything needed
to predict from raw rows and to audit the model, written with floats that round-trip
exactly (``repr``), so a loaded model predicts bit for bit what the original did.

Format (``"format": "logitkit-model"``, ``"format_version": 2``), top-level keys:

``model``
    ``params`` (the estimator's; ``positive_class`` names the modelled class of a binary
    target), ``classes`` and ``class_label_type``;
    ``features``: the **raw input columns** in order, each
    ``{"name", "type": "float"|"int"|"bool"|"category", "levels": [...] (category: the
    reference level, then the others sorted; bool: [false, true]; the first is the
    reference), "n_missing": training count, "impute": value (when imputing),
    "aliases": {spelling: level} (a category whose spellings were merged into a
    level)}`` -- the input schema of serving;
    ``encoded_features``: the model's columns after encoding (``age``,
    ``region[T.south]``, ``bs(debt, 4)[1]``), the order of ``coef``;
    ``encoding``: null for a model fitted on numeric columns, else ``{"impute",
    "max_levels", "normalize_levels", "reference": {column: level} or null, "formula":
    {formula, variables, columns, transform_state, encoder_state} or null}``
    (:class:`~logitkit.data.encoding.TableEncoder`);
    ``coef``, ``intercept`` (original units), ``feature_mean``, ``feature_scale``
    (standardisation); ``fit``: the solver's outcome and statistics at the solution
    (loss, gradient, the Hessian for up to 256 parameters, class weight totals), so that
    ``summary()`` and ``fit_statistics()`` of a loaded model need no training rows.
``training``
    Rows, class counts, iterations, convergence, and what the caller adds (data
    fingerprint, source, split, ...); ``created`` holds the timestamp. A trained model
    (:func:`logitkit.workflow.train`, ``logitkit train``) adds, where the run produced
    them: ``positive`` (the modelled class); ``provenance`` (for each reported number,
    the rows and the procedure behind it, in words); ``performance``
    (``{"cross_validated", "held_out"}`` evaluation records); ``row_fingerprint`` (a
    Bloom filter of the training rows, :class:`~logitkit.data.fingerprint.RowFingerprint`,
    against which ``evaluate`` and ``report`` tell training rows from new ones); and
    ``cross_validation`` (the ``C`` chosen, the folds, the scoring, the rows searched
    and the grid's scores; null when ``C`` was given).
``policy``, ``reference``, ``inference``, ``diagnostics``
    The decision rule (``ThresholdPolicy.to_dict()``), per-feature reference
    distributions for drift checks (:mod:`logitkit.reference`), the coefficient table
    (``{"index", "columns", "rows", "header"}`` of ``model.summary()``; blank standard
    errors for penalised fits, by design) and ``diagnose(...).to_list()``; each may be null.
``sha256``, ``signature``
    The SHA-256 of the canonical JSON (sorted keys, no spaces) of every other field,
    and, when the environment variable ``LOGITKIT_SIGNING_KEY`` is set at save time,
    ``{"algorithm": "HMAC-SHA256", "value": hex}`` over the same bytes.

On load the format, version and hash are checked; when ``LOGITKIT_SIGNING_KEY`` is set
an unsigned or wrongly signed file is refused. A truncated, hand-edited or tampered
file fails with :class:`~logitkit.exceptions.ArtifactError`. Without a key, a stored
signature is not checked (the hash still is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from logitkit import __version__
from logitkit._artifact_model import (
    MAX_STORED_HESSIAN,
    inference_section,
    model_from_section,
    model_section,
    plain,
    stored_diagnostics,
    stored_summary,
)
from logitkit.diagnostics import Findings
from logitkit.exceptions import ArtifactError, DataError
from logitkit.inference import Summary
from logitkit.model import LogisticModel

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_STORED_HESSIAN",
    "SIGNING_KEY_ENV",
    "content_hash",
    "data_fingerprint",
    "load",
    "read_content",
    "read_policy",
    "save",
    "stored_diagnostics",
    "stored_summary",
    "write_content",
    "write_policy",
]

FORMAT = "logitkit-model"
FORMAT_VERSION = 2
#: Environment variable holding the HMAC key (signing on save, required on load).
SIGNING_KEY_ENV = "LOGITKIT_SIGNING_KEY"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_UNHASHED = ("sha256", "signature")


# ------------------------------------------------------------------ hash and signature
def _canonical(content: dict[str, Any]) -> bytes:
    body = {k: v for k, v in content.items() if k not in _UNHASHED}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``content`` without its ``sha256`` and ``signature``.

    Examples
    --------
    >>> content_hash({"a": 1, "b": [1.5]}) == content_hash({"b": [1.5], "a": 1, "sha256": "x"})
    True
    """
    return hashlib.sha256(_canonical(content)).hexdigest()


def _signing_key(key: str | bytes | None) -> bytes | None:
    """The explicit key, else ``$LOGITKIT_SIGNING_KEY`` (an empty variable counts as unset)."""
    if key is None:
        key = os.environ.get(SIGNING_KEY_ENV) or None
        if key is None:
            return None
    elif not key:
        msg = f"An empty signing key cannot sign or verify; pass a key or unset {SIGNING_KEY_ENV}."
        raise ValueError(msg)
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def _signature(content: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(content), hashlib.sha256).hexdigest()


def data_fingerprint(X: Any, y: Any) -> str:
    """SHA-256 of the training values and labels, to tell later which data made a model.

    Examples
    --------
    >>> a = data_fingerprint([[1.0, 2.0]], ["yes"])
    >>> a == data_fingerprint([[1.0, 2.0]], ["yes"]), a == data_fingerprint([[1.0, 2.5]], ["yes"])
    (True, False)
    """
    digest = hashlib.sha256()
    arr = np.ascontiguousarray(
        np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    )
    digest.update(str(arr.shape).encode())
    digest.update(arr.tobytes())
    digest.update(json.dumps([plain(v) for v in np.asarray(y).tolist()]).encode())
    return digest.hexdigest()


def to_content(
    model: LogisticModel,
    *,
    training: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
    summary: Summary | None = None,
    diagnostics: Findings | list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The artifact's content for a fitted model (without the hash and signature)."""
    result = model.solver_result_
    findings = diagnostics.to_list() if isinstance(diagnostics, Findings) else diagnostics
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "logitkit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_section(model),
        "training": plain(
            {
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
            }
        ),
        "policy": plain(policy),
        "reference": plain(reference),
        "inference": inference_section(model, summary),
        "diagnostics": plain(findings),
    }


# ------------------------------------------------------------------------ write, read
def write_content(
    content: dict[str, Any], path: str | Path, *, key: str | bytes | None = None
) -> Path:
    """Hash (and sign, with a key) ``content`` and write it atomically to ``path``.

    Used by :func:`save`, and to store an edited artifact (e.g. a new policy) properly:
    the old ``sha256`` and ``signature`` are replaced.

    Parameters
    ----------
    content : dict
        The artifact's content (e.g. a loaded model's ``artifact_``, edited).
    path : str or Path
        Where to write (a temporary file first, then renamed).
    key : str or bytes, optional
        HMAC key; by default ``$LOGITKIT_SIGNING_KEY``. Without either, no signature.

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import logitkit, tempfile, os
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> where = tempfile.mkdtemp()
    >>> content = logitkit.load(logitkit.LogisticModel().fit(X, y).save(os.path.join(where, "a.json"))).artifact_
    >>> content["training"]["note"] = "approved by the model board"
    >>> path = write_content(content, os.path.join(where, "b.json"), key="s3cret")
    >>> logitkit.load(path, key="s3cret").artifact_["training"]["note"]
    'approved by the model board'
    """
    content = {k: v for k, v in content.items() if k not in _UNHASHED}
    content["sha256"] = content_hash(content)
    secret = _signing_key(key)
    if secret is not None:
        content["signature"] = {
            "algorithm": SIGNATURE_ALGORITHM,
            "value": _signature(content, secret),
        }
    text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def save(
    model: LogisticModel,
    path: str | Path,
    *,
    training: dict[str, Any] | None = None,
    policy: Any = None,
    reference: dict[str, Any] | None = None,
    summary: Summary | None = None,
    diagnostics: Findings | list[dict[str, Any]] | None = None,
    key: str | bytes | None = None,
) -> Path:
    """Write a fitted model to ``path`` as hashed (and, with a key, signed) JSON.

    Parameters
    ----------
    model : LogisticModel
        A fitted model (with ``encoder_`` when it was fitted on encoded frames).
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
    summary : Summary, optional
        The coefficient table to store; by default ``model.summary()``.
    diagnostics : Findings or list of dict, optional
        ``diagnose(model, X, y)`` on the training rows.
    key : str or bytes, optional
        HMAC key; by default ``$LOGITKIT_SIGNING_KEY``. Without either, no signature.

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
    content = to_content(
        model,
        training=training,
        policy=policy_dict,
        reference=reference,
        summary=summary,
        diagnostics=diagnostics,
    )
    return write_content(content, path, key=key)


def read_content(path: str | Path, *, key: str | bytes | None = None) -> dict[str, Any]:
    """Read and verify a model file: format, version, SHA-256 and (with a key) signature.

    Raises
    ------
    ArtifactError
        If the file is missing, not JSON, truncated, of an unsupported version, does
        not match its SHA-256, or -- when a key is given or ``$LOGITKIT_SIGNING_KEY`` is
        set -- is unsigned or signed with another key.

    Examples
    --------
    >>> import logitkit, tempfile, os
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = logitkit.LogisticModel().fit(X, y).save(os.path.join(tempfile.mkdtemp(), "m.json"))
    >>> read_content(path)["model"]["encoded_features"][:2]
    ['x0', 'x1']
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
    _verify(content, _signing_key(key), where, what="Model file", remedy="re-export the model")
    return content


def _verify(
    content: dict[str, Any], key: bytes | None, where: str, *, what: str, remedy: str
) -> None:
    """Refuse content whose hash does not match (and, with a key, whose signature does not)."""
    if content.get("sha256") != content_hash(content):
        msg = (
            f"{what} {where} failed its integrity check: the SHA-256 of its content is missing or does "
            "not match the stored one, so it was edited or corrupted after it was written. "
            f"Do not use it; {remedy}."
        )
        raise ArtifactError(msg, path=where)
    _verify_signature(content, key, where)


def _verify_signature(content: dict[str, Any], key: bytes | None, where: str) -> None:
    if key is None:
        return
    stored = content.get("signature")
    if stored is None:
        msg = (
            f"Model file {where} is not signed, and {SIGNING_KEY_ENV} is set, so only signed "
            "models are accepted. Re-save it with the key set, or unset the key."
        )
        raise ArtifactError(msg, path=where)
    value = stored.get("value") if isinstance(stored, dict) else None
    algorithm = stored.get("algorithm") if isinstance(stored, dict) else None
    if (
        algorithm != SIGNATURE_ALGORITHM
        or not isinstance(value, str)
        or not hmac.compare_digest(value.encode(), _signature(content, key).encode())
    ):
        msg = (
            f"Model file {where} failed its signature check: the signature does not match "
            f"{SIGNING_KEY_ENV} (it was signed with another key, or changed after signing). "
            "Do not use it."
        )
        raise ArtifactError(msg, path=where)


def load(path: str | Path, *, key: str | bytes | None = None) -> LogisticModel:
    """Read a model written by :func:`save`, verifying its hash, version and signature.

    The returned model predicts bit for bit as the saved one, from raw rows when it was
    fitted on encoded frames (``encoder_``); ``summary()`` and ``fit_statistics()`` work
    without the training rows where the fit's Hessian was stored. ``model.artifact_``
    holds the verified file content (``"sha256"`` is the model version).

    Parameters
    ----------
    path : str or Path
        The model file.
    key : str or bytes, optional
        HMAC key; by default ``$LOGITKIT_SIGNING_KEY``. With a key, unsigned or
        wrongly signed files are refused.

    Raises
    ------
    ArtifactError
        If the file is missing, not JSON, truncated, of an unsupported version, does
        not match its SHA-256 or signature, or has malformed fields.

    Examples
    --------
    >>> import logitkit, tempfile, os
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> _ = logitkit.LogisticModel().fit(X, y).save(path)
    >>> logitkit.load(path).artifact_["format_version"]
    2
    """
    where = str(path)
    content = read_content(path, key=key)
    try:
        model = model_from_section(content["model"])
    except (KeyError, TypeError, ValueError, IndexError, DataError) as exc:
        msg = f"Model file {where} is missing or has malformed field {exc}."
        raise ArtifactError(msg, path=where) from None
    # The whole verified content (policy, reference distributions, metadata, hash).
    model.artifact_ = content
    return model


# ---------------------------------------------------------------------- policy files
def write_policy(policy: Any, path: str | Path, *, key: str | bytes | None = None) -> Path:
    """Write a decision policy on its own, hashed and (with a key) signed like a model file.

    ``logitkit serve --policy FILE`` reads such a file; with ``LOGITKIT_SIGNING_KEY`` set
    it refuses one that is unsigned or signed with another key, so an unsigned policy
    can never decide in place of the signed model's.

    Parameters
    ----------
    policy : ThresholdPolicy, RiskBands, MulticlassPolicy or dict
        The policy (anything with ``to_dict()``).
    path : str or Path
        Where to write (atomically).
    key : str or bytes, optional
        HMAC key; by default ``$LOGITKIT_SIGNING_KEY``. Without either, no signature.

    Examples
    --------
    >>> import tempfile, os
    >>> from logitkit import ThresholdPolicy
    >>> path = os.path.join(tempfile.mkdtemp(), "p.json")
    >>> _ = write_policy(ThresholdPolicy.fixed(0.3, positive=1), path, key="s3cret")
    >>> read_policy(path, key="s3cret")["threshold"]
    0.3
    """
    content = dict(policy.to_dict() if hasattr(policy, "to_dict") else policy)
    return write_content(content, path, key=key)


def read_policy(path: str | Path, *, key: str | bytes | None = None) -> dict[str, Any]:
    """Read a policy file written by :func:`write_policy`, verifying hash and signature.

    A file without ``sha256`` (a policy dict written by hand) is accepted only while no
    signing key is set.

    Raises
    ------
    ArtifactError
        Unreadable, not JSON, edited after writing, unsigned or wrongly signed while a
        key is set.
    """
    where = str(path)
    try:
        content = json.loads(
            Path(path).read_text(encoding="utf-8"), parse_constant=_refuse_constant
        )
    except (OSError, ValueError) as exc:
        msg = f"Cannot read the policy file {where}: {exc}."
        raise ArtifactError(msg, path=where) from None
    if not isinstance(content, dict):
        msg = f"The policy file {where} does not hold a policy (a JSON object)."
        raise ArtifactError(msg, path=where)
    secret = _signing_key(key)
    if "sha256" in content or secret is not None:
        remedy = (
            "write it with logitkit.artifact.write_policy or `logitkit threshold ... --policy-out`"
        )
        _verify(content, secret, where, what="The policy file", remedy=remedy)
    return {k: v for k, v in content.items() if k not in _UNHASHED}


def _refuse_constant(name: str) -> float:
    msg = f"non-finite number {name} is not allowed in a model file"
    raise ValueError(msg)
