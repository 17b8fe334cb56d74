"""The inputs a model takes: validation, encoding to the model matrix, and the logged form.

The artifact lists the raw input columns (``model.features``: name, type ``float``,
``int``, ``bool`` or ``category`` with its levels, and the imputed value if missing
values are filled) and, for models with categorical columns or a formula, the encoding
to the model's columns. From that the request body is validated by a pydantic model
built per artifact, so the OpenAPI schema names the real features and types, and
every bad value is a 422 naming its field: missing or unknown features, wrong types,
``NaN``, ``Infinity`` and ``1e400``, unseen categories, empty or oversized batches.

Numbers are bounded: each feature accepts magnitudes up to a power of ten small enough
that no contribution to the log-odds, nor their sum, can overflow a double.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Annotated, Any, Literal, NotRequired

import msgspec
import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

from logitkit.data.encoding import TableEncoder
from logitkit.exceptions import ArtifactError
from logitkit.serve.schemas import whole_number

__all__ = ["FeatureSpec", "InputSchema"]

FloatArray = NDArray[np.float64]

#: Largest magnitude any number may have, before the per-feature bound.
_MAX_ABS = 1e300
_TYPES = ("float", "int", "bool", "category")
#: Bodies from this size on try the batch fast path first (see :meth:`InputSchema.read`).
_FAST_FROM_BYTES = 16_384
#: The opt-in field of ``/v1/predict`` asking for probability intervals at a level.
_INTERVAL_FIELD = Annotated[
    float,
    Field(
        gt=0.0,
        lt=1.0,
        description="Optional: add probability_interval, the positive class's probability's "
        "confidence interval at this level (e.g. 0.95), to each prediction.",
    ),
]


@dataclass(frozen=True)
class FeatureSpec:
    """One raw input feature as the service accepts it.

    Attributes
    ----------
    name : str
        The JSON key of the feature in an instance.
    type : str
        ``"float"``, ``"int"``, ``"bool"`` or ``"category"``.
    bound : float
        Largest accepted magnitude of a number.
    levels : tuple of str
        The accepted values of a categorical feature.
    nullable : bool
        Whether ``null`` is accepted (the model imputes a training value).
    """

    name: str
    type: str
    bound: float
    levels: tuple[str, ...] = ()
    nullable: bool = False

    def annotation(self, profile: dict[str, Any] | None) -> Any:
        """The pydantic type of this feature's values (bounds, levels, description)."""
        text = f"Feature {self.name!r} ({self.type}"
        text += "; null: the training value is imputed)." if self.nullable else ")."
        if profile:
            text += (
                f" Training range [{profile['min']:.6g}, {profile['max']:.6g}], "
                f"mean {profile['mean']:.6g}."
            )
        kind: Any
        if self.type == "category":
            kind = Literal[self.levels]
        elif self.type == "bool":
            kind = bool
        elif self.type == "int":
            kind = whole_number(-self.bound, self.bound)
        else:
            kind = Annotated[float, Field(ge=-self.bound, le=self.bound)]
        if self.nullable:
            kind = kind | None
        return Annotated[kind, Field(description=text)]


def _bound(largest: float, n_columns: int) -> float:
    """The largest power of ten whose product with ``largest``, times the columns, stays < 1e300."""
    if largest == 0.0:
        return _MAX_ABS
    exponent = math.floor(math.log10(_MAX_ABS) - math.log10(n_columns) - math.log10(largest))
    return min(_MAX_ABS, 10.0 ** min(exponent, 300))


def _specs(
    raw: Sequence[dict[str, Any]], columns: Sequence[str], coef: FloatArray
) -> tuple[FeatureSpec, ...]:
    magnitude = np.abs(coef).max(axis=0) if coef.size else np.zeros(len(columns))
    by_column = dict(zip(columns, magnitude.tolist(), strict=True))
    largest = float(magnitude.max()) if magnitude.size else 0.0
    specs = []
    for item in raw:
        name, kind = str(item["name"]), str(item.get("type", "float"))
        if kind not in _TYPES:
            msg = (
                f"Feature {name!r} has type {kind!r}, which logitkit serve cannot accept; "
                f"supported types: {', '.join(_TYPES)}."
            )
            raise ArtifactError(msg)
        levels = tuple(str(v) for v in item.get("levels", ())) if kind == "category" else ()
        if kind == "category" and not levels:
            msg = f"Categorical feature {name!r} lists no levels in the model file."
            raise ArtifactError(msg)
        bound = _bound(by_column.get(name, largest), len(columns))
        specs.append(FeatureSpec(name, kind, bound, levels, item.get("impute") is not None))
    return tuple(specs)


def _typed_dict(name: str, fields: dict[str, Any], config: ConfigDict) -> Any:
    """A TypedDict class made at run time (feature names need not be identifiers)."""
    made = TypedDict(name, fields)  # type: ignore[misc]
    setattr(made, "__pydantic_config__", config)  # noqa: B010 - pydantic reads this attribute
    return made


def _batch_decoder(names: Sequence[str]) -> msgspec.json.Decoder[Any]:
    """A decoder of ``{"instances": [...]}`` (and an optional ``"interval"`` number) whose
    instances hold exactly these numbers.

    It checks in C what the validator checks in Python for a body of numbers: every
    feature present, no other key, each value a JSON number (``true`` and ``"1.5"`` are
    not) within a double (``NaN`` is not JSON; ``1e400`` is out of range). Fields are
    named by position and renamed to the features, so any feature name works.
    """
    fields = [(f"f{j}", float) for j in range(len(names))]
    rename = {f"f{j}": name for j, name in enumerate(names)}
    instance = msgspec.defstruct(
        "Instance", fields, rename=rename, forbid_unknown_fields=True, gc=False
    )
    items: Any = list[instance]  # type: ignore[valid-type]
    body = msgspec.defstruct(
        "Instances",
        [("instances", items), ("interval", float | msgspec.UnsetType, msgspec.UNSET)],
        forbid_unknown_fields=True,
        gc=False,
    )
    return msgspec.json.Decoder(body)


def _single(name: str) -> Callable[[Any], tuple[Any, ...]]:
    def get(x: Any) -> tuple[Any, ...]:
        return (x[name],)

    return get


class InputSchema:
    """Validate, encode and log the inputs of one model (see the module docstring).

    Parameters
    ----------
    features : list of dict
        The artifact's ``model.features`` (raw input columns).
    columns : list of str
        The model's columns (``model.encoded_features``), in ``coef`` order.
    coef : ndarray of shape (K', len(columns))
        Coefficients, for the bounds.
    encoder : TableEncoder or None
        The encoding of raw columns (None: the raw columns are the model's columns).
    profiles : dict
        Reference profiles by name, for the field descriptions.
    max_batch : int
        Most instances in one request.
    interval : bool, default=False
        Whether the model gives probability intervals: then the published request schema
        of ``/v1/predict`` has the optional ``interval`` field (it is read either way, so a
        request for one gets a clear refusal rather than "extra field").
    """

    def __init__(
        self,
        features: Sequence[dict[str, Any]],
        columns: Sequence[str],
        coef: FloatArray,
        encoder: TableEncoder | None,
        profiles: dict[str, Any],
        max_batch: int,
        interval: bool = False,
    ) -> None:
        self.features = _specs(features, columns, coef)
        self.names = tuple(f.name for f in self.features)
        self.columns = tuple(columns)
        self.encoder = encoder
        # Numbers in, the same numbers as the model's columns: no encoding to run (the
        # fast path). Otherwise the model's own encoder turns raw rows into its columns.
        self.direct = (
            self.names == self.columns
            and all(f.type in ("float", "int") and not f.nullable for f in self.features)
            and (encoder is None or encoder.formula_ is None)
        )
        if encoder is None and not self.direct:
            msg = "The model file's features are not its columns, and it holds no encoding."
            raise ArtifactError(msg)
        self._get: Callable[[Any], tuple[Any, ...]] = (
            itemgetter(*self.names) if len(self.names) > 1 else _single(self.names[0])
        )
        #: Largest magnitude accepted per feature, in feature order.
        self.bounds = np.array([f.bound for f in self.features])
        self._fast = self.direct and all(f.type == "float" for f in self.features)
        self._fast_decoder = _batch_decoder(self.names) if self._fast else None
        self._max_batch = max_batch
        fields = {f.name: f.annotation(profiles.get(f.name)) for f in self.features}
        strict = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
        instance = _typed_dict("Instance", fields, strict)
        items = Annotated[
            list[instance],  # type: ignore[valid-type]
            Field(
                min_length=1,
                max_length=max_batch,
                description=f"1 to {max_batch} instances, each with every feature.",
            ),
        ]
        body = _typed_dict("PredictRequest", {"instances": items}, strict)
        self._adapter: TypeAdapter[dict[str, list[dict[str, Any]]]] = TypeAdapter(body)
        asking = _typed_dict(
            "PredictRequest",
            {"instances": items, "interval": NotRequired[_INTERVAL_FIELD]},
            strict,
        )
        self._predict_adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(asking)
        ref = "#/components/schemas/{model}"
        #: The body of ``/v1/explain``: the instances only.
        self.explain_schema: dict[str, Any] = self._adapter.json_schema(ref_template=ref)
        #: The body of ``/v1/predict`` (with ``interval`` when the model gives intervals).
        self.request_schema: dict[str, Any] = (
            self._predict_adapter.json_schema(ref_template=ref) if interval else self.explain_schema
        )
        self.schema_key = hashlib.sha256(
            json.dumps(self.request_schema, sort_keys=True).encode()
        ).hexdigest()

    def read(self, body: bytes) -> tuple[list[dict[str, Any]], FloatArray]:
        """Validate a JSON body; return its instances and their model matrix.

        Big batches of a numbers-only model first take a fast path (a typed msgspec decode,
        then the bounds checked on the matrix) that accepts only bodies the validator
        accepts, giving the same matrix, and returns no instances (the matrix is all the
        answer and the log need); anything it does not accept, valid or not, goes to the
        validator, whose errors name the fields.

        Raises
        ------
        pydantic.ValidationError
            Naming each bad field.
        """
        if self._fast and len(body) >= _FAST_FROM_BYTES:
            fast = self._fast_read(body)
            if fast is not None and fast[1] is None:
                return [], fast[0]
        instances = self.parse(body)
        return instances, self.matrix(instances)

    def read_predict(self, body: bytes) -> tuple[list[dict[str, Any]], FloatArray, float | None]:
        """As :meth:`read`, for ``/v1/predict``: also the optional ``interval`` level.

        Raises
        ------
        pydantic.ValidationError
            Naming each bad field (``interval`` outside (0, 1) included).
        """
        if self._fast and len(body) >= _FAST_FROM_BYTES:
            fast = self._fast_read(body)
            if fast is not None:
                return [], fast[0], fast[1]
        parsed = self._predict_adapter.validate_json(body)
        instances = parsed["instances"]
        return instances, self.matrix(instances), parsed.get("interval")

    def fast_matrix(self, body: bytes) -> FloatArray | None:
        """The model matrix of a valid body of numbers, or None to leave it to the validator."""
        fast = self._fast_read(body)
        return None if fast is None or fast[1] is not None else fast[0]

    def _fast_read(self, body: bytes) -> tuple[FloatArray, float | None] | None:
        """The model matrix and ``interval`` of a valid body of numbers, or None."""
        if self._fast_decoder is None:
            return None
        try:
            decoded = self._fast_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        items = decoded.instances
        # Absent, not null: null is no level, and the validator says so.
        level = None if decoded.interval is msgspec.UNSET else decoded.interval
        if level is not None and not 0.0 < level < 1.0:
            return None
        n, p = len(items), len(self.names)
        if not 1 <= n <= self._max_batch:
            return None
        X = np.fromiter(
            itertools.chain.from_iterable(map(msgspec.structs.astuple, items)),
            dtype=np.float64,
            count=n * p,
        ).reshape(n, p)
        if not (np.abs(X) <= self.bounds).all():
            return None
        return X, level

    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """Validate a JSON body ``{"instances": [...]}`` and return its instances.

        Raises
        ------
        pydantic.ValidationError
            Naming each bad field.
        """
        return self._adapter.validate_json(body)["instances"]

    def matrix(self, instances: Sequence[dict[str, Any]]) -> FloatArray:
        """The ``(n, p)`` model matrix of validated instances."""
        n = len(instances)
        if self.direct:
            get = self._get
            return np.array([get(x) for x in instances], dtype=np.float64).reshape(
                n, len(self.columns)
            )
        return self._encode([dict(zip(self.names, self._get(x), strict=True)) for x in instances])

    def matrix_from_columns(self, columns: dict[str, list[Any]], n: int) -> FloatArray:
        """The model matrix from one list of (validated) values per raw feature."""
        if self.direct:
            X = np.empty((n, len(self.columns)), dtype=np.float64)
            for j, name in enumerate(self.names):
                X[:, j] = columns[name]
            return X
        return self._encode([{name: columns[name][i] for name in self.names} for i in range(n)])

    def _encode(self, records: list[dict[str, Any]]) -> FloatArray:
        if self.encoder is None:  # pragma: no cover - excluded in __init__
            msg = "no encoder"
            raise ArtifactError(msg)
        return np.ascontiguousarray(self.encoder.transform(records).to_numpy(dtype=np.float64))

    def inputs_json(self, instances: Sequence[dict[str, Any]], X: FloatArray) -> str:
        """The instances' raw values as a JSON array of arrays in feature order (for the log)."""
        if self.direct:
            X = np.ascontiguousarray(X)  # orjson prints only contiguous arrays
            return orjson.dumps(X, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        get = self._get
        return orjson.dumps([get(x) for x in instances]).decode()

    def from_logged(self, inputs: Sequence[Sequence[Any]]) -> FloatArray:
        """The model matrix of logged inputs (each instance's raw values in feature order)."""
        columns = {name: [v[j] for v in inputs] for j, name in enumerate(self.names)}
        return self.matrix_from_columns(columns, len(inputs))

    def raw(self, instance: dict[str, Any]) -> tuple[Any, ...]:
        """An instance's values in feature order."""
        return self._get(instance)
