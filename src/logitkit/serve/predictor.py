"""The served model: an immutable snapshot of one artifact and its decision rule.

A request reads the current :class:`Predictor` once and uses only it, so swapping in a
new one (hot reload) can never mix two models in one answer. Predictions come from the
loaded model's ``coef_``, ``intercept_`` and ``classes_`` with the linear predictor
computed here, vectorised with numpy, and probabilities from a sigmoid (softmax) that
cannot overflow: a linear predictor of +-800 gives exactly 1 or 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import logitkit
from logitkit.artifact import read_policy
from logitkit.inference import LinkCovariance, link_covariance, probability_bounds
from logitkit.serve.inputs import FeatureSpec, FloatArray, InputSchema
from logitkit.serve.rules import DecisionRule, make_rule

__all__ = ["FeatureSpec", "FloatArray", "Outputs", "Predictor", "load_predictor"]


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
    """Columns ``1 - p`` and ``p`` of ``p = 1 / (1 + exp(-z))``, each without overflow or
    cancellation: the smaller probability is ``e / (1 + e)`` with ``e = exp(-|z|)``, so far
    out it is tiny rather than 0, and the larger one is exactly 1."""
    e = np.exp(-np.abs(z))
    small = e / (1.0 + e)
    large = 1.0 / (1.0 + e)
    positive = z >= 0
    proba: FloatArray = np.empty((len(z), 2))
    proba[:, 0] = np.where(positive, small, large)
    proba[:, 1] = np.where(positive, large, small)
    return proba


def _softmax(Z: FloatArray) -> FloatArray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    out: FloatArray = E / E.sum(axis=1, keepdims=True)
    return out


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
        """The linear predictors ``X @ coef.T + intercept``, shape ``(n, K')``."""
        Z: FloatArray = X @ self.coef.T
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


def load_predictor(
    model_path: Path,
    *,
    name: str,
    policy_path: Path | None = None,
    max_batch: int = 10_000,
) -> Predictor:
    """Load and verify an artifact (and an optional policy file) into a :class:`Predictor`.

    Raises
    ------
    ArtifactError
        The artifact or policy file is unreadable, tampered, or does not fit the model.

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
    artifact: dict[str, Any] = model.artifact_
    policy, source = artifact.get("policy"), "artifact"
    if policy_path is not None:
        policy = read_policy(policy_path)  # signed when a signing key is set
        source = str(policy_path)
    named = model.positive_class_ if model.positive_class is not None else None
    rule = make_rule(policy, model.classes_.tolist(), named)
    return Predictor(
        model,
        name=name,
        path=Path(model_path),
        rule=rule,
        policy_source=source,
        max_batch=max_batch,
    )
