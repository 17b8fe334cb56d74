"""The served model: an immutable snapshot of one artifact and its decision rule.

A request reads the current :class:`Predictor` once and uses only it, so swapping in a
new one (hot reload) can never mix two models in one answer. Predictions come from the
loaded model's ``coef_``, ``intercept_`` and ``classes_`` by the same operations, in the
same order, as :meth:`logitkit.LogisticModel.predict_proba`: each row's linear
predictor is its own pairwise sum (never a BLAS product, whose rounding depends on the
rows beside it) and the probabilities come from ``scipy.special.expit`` (softmax), which
cannot overflow. So a served probability equals ``predict_proba`` on the same row bit
for bit, whether the row came alone or in a batch (``tests/serve/test_canary.py``
checks it through the HTTP service).

A model is admitted only after it answers a **canary**: one instance made from its own
schema (each number at its training mean or imputed value, each category at its first
level) goes through validation, encoding, prediction, decision, explanation and
interval within a time and memory budget (:func:`run_canary`). The artifact's formula
state is bounded in size before anything is decoded
(:func:`logitkit.data.formula.check_state`), so a hostile file cannot allocate much
before the canary refuses it.
"""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from scipy.special import expit

import logitkit
from logitkit.artifact import read_policy
from logitkit.exceptions import ArtifactError
from logitkit.inference import LinkCovariance, link_covariance, probability_bounds
from logitkit.model import _rowwise_products
from logitkit.serve.inputs import FeatureSpec, FloatArray, InputSchema
from logitkit.serve.rules import DecisionRule, make_rule

__all__ = [
    "CANARY_MAX_BYTES",
    "CANARY_TIMEOUT_S",
    "FeatureSpec",
    "FloatArray",
    "Outputs",
    "Predictor",
    "canary_instance",
    "load_predictor",
    "run_canary",
]

#: Default time budget of the canary prediction (the settings' ``canary_timeout_s``).
CANARY_TIMEOUT_S = 5.0
#: Default memory budget of the canary: the most bytes it may allocate at its peak.
CANARY_MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Outputs:
    """Predictions for ``n`` instances.

    Attributes
    ----------
    proba : ndarray of shape (n, K)
        Class probabilities in the order of ``Predictor.classes``.
    probability : ndarray of shape (n,)
        Binary: the probability of the positive class; multiclass: of ``label``.
    label_index : ndarray of shape (n,)
        Column of the most probable class (the 0.5 rule for binary models).
    decision : list
        The decision rule's answer per instance (a class label, or a risk band's name).
    """

    proba: FloatArray
    probability: FloatArray
    label_index: NDArray[np.intp]
    decision: list[Any]


def _binary_proba(z: FloatArray) -> FloatArray:
    """Columns ``expit(-z)`` and ``expit(z)``, as ``LogisticModel.predict_proba``: each
    from the sigmoid itself, so the smaller one is tiny rather than 0 far out."""
    proba: FloatArray = np.column_stack([expit(-z), expit(z)])
    return proba


def _softmax(Z: FloatArray) -> FloatArray:
    """Row-wise softmax in ``logitkit.solver.softmax``'s order of operations."""
    E: FloatArray = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


class Predictor:
    """One loaded, verified artifact ready to predict; never changed after it is built.

    Build it with :func:`load_predictor`.

    Attributes
    ----------
    version : str
        The artifact's SHA-256 (the model version in every answer and log row).
    name : str
        The model's name under the Open Inference Protocol.
    classes : tuple
        Class labels, in the column order of the probabilities.
    inputs : InputSchema
        The raw input features: validation, encoding, logged form.
    rule : DecisionRule
        The decision under the threshold policy.
    interval_refusal : str or None
        Why the model gives no probability intervals (multinomial, penalised, or no
        stored Hessian); None when it does (see :meth:`probability_interval`).
    """

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        path: Path,
        rule: DecisionRule,
        policy_source: str,
        max_batch: int,
    ) -> None:
        artifact: dict[str, Any] = model.artifact_
        spec = artifact["model"]
        self.artifact = artifact
        self.version: str = artifact["sha256"]
        self.name = name
        self.path = path
        self.classes: tuple[Any, ...] = tuple(model.classes_.tolist())
        self.class_keys = tuple(str(c) for c in self.classes)
        self.binary = len(self.classes) == 2
        self.coef = np.ascontiguousarray(model.coef_, dtype=np.float64)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)
        self.mean = np.asarray(model.feature_mean_, dtype=np.float64)
        self.rule = rule
        self.policy_source = policy_source
        self.loaded_at = datetime.now(UTC)
        # The coefficient covariance for probability intervals, formed once per model.
        self._link: LinkCovariance | None = None
        self.interval_refusal: str | None = None
        try:
            self._link = link_covariance(model)
        except ValueError as exc:
            self.interval_refusal = str(exc)
        columns = [
            str(c) for c in spec.get("encoded_features") or [f["name"] for f in spec["features"]]
        ]
        profiles = (artifact.get("reference") or {}).get("features") or {}
        self.inputs = InputSchema(
            spec["features"],
            columns,
            self.coef,
            getattr(model, "encoder_", None),
            profiles,
            max_batch,
            interval=self._link is not None,
        )
        self.features = self.inputs.features
        self.names = self.inputs.names
        self.columns = self.inputs.columns
        self.request_schema = self.inputs.request_schema
        self.schema_key = self.inputs.schema_key
        self._labels = np.array(self.classes, dtype=object)

    # ------------------------------------------------------------------ input
    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """Validate a JSON body ``{"instances": [...]}`` (see :meth:`InputSchema.parse`)."""
        return self.inputs.parse(body)

    def matrix(self, instances: Sequence[dict[str, Any]]) -> FloatArray:
        """The model matrix of validated instances."""
        return self.inputs.matrix(instances)

    # ------------------------------------------------------------------ output
    def linear(self, X: FloatArray) -> FloatArray:
        """The linear predictors ``X @ coef.T + intercept``, shape ``(n, K')``, each row
        reduced on its own as ``LogisticModel.decision_function`` does."""
        Z: FloatArray = _rowwise_products(X, self.coef)
        Z += self.intercept
        return Z

    def predict(self, X: FloatArray) -> Outputs:
        """Probabilities, labels and decisions for a model matrix."""
        Z = self.linear(X)
        if self.binary:
            z = Z[:, 0]
            proba = _binary_proba(z)
            label_index = (z > 0).astype(np.intp)
        else:
            proba = _softmax(Z)
            label_index = Z.argmax(axis=1)
        decision = self.rule.decide(proba)
        if self.binary and self.rule.positive_index is not None:
            probability = proba[:, self.rule.positive_index]
        else:
            probability = proba[np.arange(len(proba)), label_index]
        return Outputs(proba, probability, label_index, decision)

    def probability_interval(self, X: FloatArray, level: float) -> FloatArray:
        """Each row's interval ``[low, high]`` of the answered ``probability``, shape (n, 2).

        The delta method on the log-odds of the class whose probability is answered
        (the positive class), mapped by the logistic function; as
        :meth:`logitkit.LogisticModel.predict_interval`. NaN where a row needs a
        coefficient without a standard error.

        Raises
        ------
        ValueError
            When the model gives no intervals (:attr:`interval_refusal` says why).
        """
        link = self._link
        if link is None:
            raise ValueError(self.interval_refusal)
        z = self.linear(X)[:, 0]
        index = self.rule.positive_index
        # The log-odds of the class whose probability is answered (see predict): the
        # positive class, or (a policy without one) each row's label.
        eta = np.where(z > 0, z, -z) if index is None else (z if index == 1 else -z)
        low, high = probability_bounds(eta, link.std_err(X), level)
        return np.column_stack([low, high])

    def schema_changes(self, other: Predictor) -> list[str]:
        """What a request valid for this model may no longer be for ``other``.

        A feature removed, renamed (removed plus added), added (old requests lack it),
        of another type, no longer nullable, or a level no longer accepted.

        Examples
        --------
        >>> import logitkit, os, tempfile
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> where = tempfile.mkdtemp()
        >>> a = logitkit.LogisticModel().fit(X, y).save(os.path.join(where, "a.json"))
        >>> b = logitkit.LogisticModel().fit(X[:, :29], y).save(os.path.join(where, "b.json"))
        >>> load_predictor(a, name="a").schema_changes(load_predictor(b, name="b"))
        ["feature 'x29' removed"]
        """
        old = {f.name: f for f in self.features}
        new = {f.name: f for f in other.features}
        changes = [f"feature {name!r} removed" for name in old if name not in new]
        changes += [f"feature {name!r} added" for name in new if name not in old]
        for name, was in old.items():
            now = new.get(name)
            if now is None:
                continue
            if now.type != was.type:
                changes.append(f"feature {name!r} is now {now.type} (was {was.type})")
            elif was.nullable and not now.nullable:
                changes.append(f"feature {name!r} no longer accepts null")
            gone = [level for level in was.levels if level not in now.levels]
            if gone and now.type == was.type:
                changes.append(f"feature {name!r} no longer accepts {', '.join(map(repr, gone))}")
        return changes

    def labels(self, index: NDArray[np.intp]) -> list[Any]:
        """Class labels (plain Python values) at column indices."""
        out: list[Any] = self._labels[index].tolist()
        return out

    def explain(self, X: FloatArray) -> list[dict[str, Any]]:
        """Each model column's exact contribution to the log-odds, largest magnitude first.

        For a binary model the explained quantity is the log-odds of the positive class,
        ``baseline + sum(contributions)``, where ``baseline`` is the log-odds at the
        training mean and ``contribution_j = coef_j * (x_j - mean_j)``: an exact additive
        split (for a linear model, the SHAP values under independent features). For a
        multiclass model it is the score of the most probable class.
        """
        out = self.predict(X)
        labels = self.labels(out.label_index)
        positive_first = self.rule.positive_index == 0
        results = []
        for i, x in enumerate(X):
            if self.binary:
                sign, k = (-1.0 if positive_first else 1.0), 0
                target = self.classes[0 if positive_first else 1]
            else:
                sign, k = 1.0, int(out.label_index[i])
                target = self.classes[k]
            coef = sign * self.coef[k]
            contributions = coef * (x - self.mean)
            baseline = sign * self.intercept[k] + math.fsum((coef * self.mean).tolist())
            order = np.argsort(-np.abs(contributions), kind="stable")
            results.append(
                {
                    "label": labels[i],
                    "probability": float(out.probability[i]),
                    "decision": out.decision[i],
                    "threshold": self.rule.threshold,
                    "target": target,
                    "log_odds": float(sign * (x @ self.coef[k] + self.intercept[k])),
                    "baseline": float(baseline),
                    "contributions": [
                        {
                            "feature": self.columns[j],
                            "value": float(x[j]),
                            "coef": float(coef[j]),
                            "contribution": float(contributions[j]),
                        }
                        for j in order.tolist()
                    ],
                }
            )
        return results

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/model`` shows: version, features, classes, policy, training."""
        profiles = (self.artifact.get("reference") or {}).get("features") or {}
        features = []
        for f in self.features:
            item: dict[str, Any] = {"name": f.name, "type": f.type, "nullable": f.nullable}
            if f.levels:
                item["levels"] = list(f.levels)
            if f.type in ("float", "int"):
                item["max_abs"] = f.bound
            profile = profiles.get(f.name)
            if profile:
                item["training"] = {k: profile[k] for k in ("min", "max", "mean", "std")}
            features.append(item)
        training = self.artifact.get("training") or {}
        return {
            "name": self.name,
            "version": self.version,
            "created": self.artifact.get("created"),
            "logitkit_version": self.artifact.get("logitkit_version"),
            "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "classes": list(self.classes),
            "positive": self.rule.positive,
            "features": features,
            "columns": list(self.columns),
            "threshold": self.rule.threshold,
            "policy": self.rule.policy,
            "policy_source": self.policy_source,
            "training": {
                k: training[k]
                for k in ("n_rows", "class_counts", "source", "target", "positive", "fingerprint")
                if k in training
            },
        }


def canary_instance(predictor: Predictor) -> dict[str, Any]:
    """One request instance made from the model's own schema, for :func:`run_canary`.

    Each number is its imputed value, else its training mean (the reference profile,
    else the mean of the model column of that name), else 1 (a neutral value for
    ``log`` and ``sqrt`` terms), within the feature's accepted bound; a category is its
    first level and a boolean ``False``.

    Examples
    --------
    >>> import logitkit, os, tempfile
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = logitkit.LogisticModel().fit(X[:, :2], y).save(os.path.join(tempfile.mkdtemp(), "m.json"))
    >>> {k: round(v, 3) for k, v in canary_instance(load_predictor(path, name="m")).items()}
    {'x0': 14.127, 'x1': 19.29}
    """
    raw = {str(f["name"]): f for f in predictor.artifact["model"]["features"]}
    profiles = (predictor.artifact.get("reference") or {}).get("features") or {}
    means = dict(zip(predictor.columns, predictor.mean.tolist(), strict=True))
    instance: dict[str, Any] = {}
    for feature in predictor.features:
        if feature.type == "category":
            instance[feature.name] = feature.levels[0]
            continue
        if feature.type == "bool":
            instance[feature.name] = False
            continue
        imputed = raw.get(feature.name, {}).get("impute")
        profile = profiles.get(feature.name) or {}
        value = next(
            (
                float(v)
                for v in (imputed, profile.get("mean"), means.get(feature.name))
                if isinstance(v, int | float) and math.isfinite(v)
            ),
            1.0,
        )
        value = min(max(value, -feature.bound), feature.bound)
        instance[feature.name] = round(value) if feature.type == "int" else value
    return instance


def run_canary(
    predictor: Predictor,
    *,
    timeout_s: float = CANARY_TIMEOUT_S,
    max_bytes: int = CANARY_MAX_BYTES,
) -> None:
    """Refuse a model unless it answers one prediction within a time and memory budget.

    The instance of :func:`canary_instance` goes the whole way a request goes: the
    JSON validator, the encoding, the prediction and decision, the explanation and (when
    the model gives them) a probability interval; every probability must be finite and
    each row's sum 1. It runs in a thread of its own, with :mod:`tracemalloc` counting
    what it allocates (and, while it runs, what other threads do: the budget is set
    well above a request's needs). A canary still running after ``timeout_s`` is left to
    finish on its own, and the model is refused.

    Raises
    ------
    ArtifactError
        Saying what failed, took too long or allocated too much.
    """
    where = str(predictor.path)
    failure: list[str] = []
    done = threading.Event()

    def canary() -> None:
        try:
            body = orjson.dumps({"instances": [canary_instance(predictor)]})
            _, X, _ = predictor.inputs.read_predict(body)
            out = predictor.predict(X)
            sums = out.proba.sum(axis=1)
            if not (np.isfinite(out.proba).all() and np.abs(sums - 1.0).max() < 1e-9):
                failure.append(f"its probabilities are not finite or do not sum to 1: {out.proba}")
            predictor.labels(out.label_index)
            predictor.explain(X)
            if predictor.interval_refusal is None:
                predictor.probability_interval(X, 0.95)
        except Exception as exc:  # noqa: BLE001 - any failure refuses the model, with its text
            failure.append(f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    else:
        tracemalloc.start()
        base = 0
    start = time.perf_counter()
    try:
        threading.Thread(target=canary, name="logitkit-canary", daemon=True).start()
        finished = done.wait(timeout_s)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not tracing:
            tracemalloc.stop()
    if not finished or elapsed > timeout_s:
        reason = f"it took longer than the {timeout_s:g} s budget"
    elif failure:
        reason = failure[0]
    elif peak > max_bytes:
        reason = f"it allocated {peak / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB budget"
    else:
        return
    msg = (
        f"Model file {where} failed its canary prediction (one instance made from its own "
        f"schema): {reason}. It was not admitted; check how it was written, or retrain it."
    )
    raise ArtifactError(msg, path=where)


def load_predictor(
    model_path: Path,
    *,
    name: str,
    policy_path: Path | None = None,
    max_batch: int = 10_000,
    canary_timeout_s: float = CANARY_TIMEOUT_S,
    canary_max_bytes: int = CANARY_MAX_BYTES,
) -> Predictor:
    """Load and verify an artifact (and an optional policy file) into a :class:`Predictor`.

    The model is returned only after it has answered its canary prediction
    (:func:`run_canary`) within ``canary_timeout_s`` seconds and ``canary_max_bytes``.

    Raises
    ------
    ArtifactError
        The artifact or policy file is unreadable, tampered, or does not fit the model,
        or the model failed its canary prediction.

    Examples
    --------
    >>> import logitkit, os, tempfile
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = logitkit.LogisticModel().fit(X, y).save(os.path.join(tempfile.mkdtemp(), "m.json"))
    >>> predictor = load_predictor(path, name="demo")
    >>> predictor.predict(X[:2]).label_index.tolist()
    [0, 0]
    """
    model = logitkit.load(model_path)
    if getattr(model, "fitted_with_offset_", False):
        # A request carries features only: serving without the offset would shift every
        # log-odds silently, so such a model is refused rather than served wrong.
        column = getattr(model, "offset_column_", None)
        which = f" (column '{column}')" if column else ""
        msg = (
            f"{model_path} was fitted with an offset{which}; the service cannot add a "
            "per-row offset to requests. Score it with `logitkit predict`, which reads the "
            "offset column, or refit without --offset to serve it."
        )
        raise ArtifactError(msg, path=str(model_path))
    artifact: dict[str, Any] = model.artifact_
    policy, source = artifact.get("policy"), "artifact"
    if policy_path is not None:
        policy = read_policy(policy_path)  # signed when a signing key is set
        source = str(policy_path)
    named = model.positive_class_ if model.positive_class is not None else None
    rule = make_rule(policy, model.classes_.tolist(), named)
    predictor = Predictor(
        model,
        name=name,
        path=Path(model_path),
        rule=rule,
        policy_source=source,
        max_batch=max_batch,
    )
    run_canary(predictor, timeout_s=canary_timeout_s, max_bytes=canary_max_bytes)
    return predictor
