"""Open Inference Protocol tensors to the model matrix, and label tensors back.

Inputs come either as one tensor of shape ``[N, p]`` (any name, columns in the model's
feature order, as KServe's scikit-learn server takes them) or as one tensor per feature
named after it, of shape ``[N]`` or ``[N, 1]`` (as MLServer's pandas codec sends
them). ``data`` may be flat or nested (row-major), or, under the protocol's binary
tensor extension, raw little-endian bytes after the JSON (``binary_data_size`` in the
input's parameters; :func:`with_binary_data`). Numbers are checked as strictly as
``/v1`` checks them: finite, within the feature's bound, of the declared datatype.
Outputs go back as JSON or, when asked, as bytes (:func:`binary_output`).
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar

import msgspec
import numpy as np

from logitkit.serve.inputs import FeatureSpec, FloatArray
from logitkit.serve.predictor import Predictor

__all__ = [
    "BinaryInput",
    "Tensor",
    "TensorError",
    "binary_output",
    "datatype_of",
    "flat",
    "float_tensor_matrix",
    "model_matrix",
    "wants_binary",
    "with_binary_data",
]

_FLOATS = frozenset({"FP16", "FP32", "FP64"})
_INTEGERS = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})


#: Little-endian numpy types of the fixed-size datatypes in binary form (BOOL: one byte).
_BINARY_TYPES = {
    "BOOL": "u1", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip


class TensorError(ValueError):
    """The tensors do not fit the model; the message says which and what to send."""


class Tensor(Protocol):
    """What an input tensor has (the request model's ``RequestInput``)."""

    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def datatype(self) -> str: ...
    @property
    def data(self) -> list[Any]: ...


class _Input(Protocol):
    """An input tensor as requested: its data may be absent (sent as bytes)."""

    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def datatype(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any] | None: ...
    @property
    def data(self) -> list[Any] | None: ...


@dataclass(frozen=True)
class BinaryInput:
    """An input tensor whose data were decoded from the binary part of the request."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


def _decode_binary(name: str, raw: bytes, datatype: str, count: int) -> list[Any]:
    """``count`` values of ``datatype`` from little-endian bytes (BYTES: 4-byte lengths)."""
    if datatype == "BYTES":
        values: list[Any] = []
        at = 0
        while at < len(raw) and len(values) < count:
            if at + 4 > len(raw):
                break
            (size,) = struct.unpack_from("<I", raw, at)
            chunk = raw[at + 4 : at + 4 + size]
            if len(chunk) != size:
                break
            try:
                values.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                msg = f"Input {name!r}: element {len(values)} is not UTF-8 text."
                raise TensorError(msg) from None
            at += 4 + size
        if len(values) != count or at != len(raw):
            msg = (
                f"Input {name!r}: its {len(raw)} bytes are not {count} BYTES elements (each a "
                "4-byte little-endian length, then that many bytes)."
            )
            raise TensorError(msg)
        return values
    kind = _BINARY_TYPES.get(datatype)
    if kind is None:
        msg = f"Input {name!r}: datatype {datatype} cannot be sent as binary data."
        raise TensorError(msg)
    dtype = np.dtype(kind)
    if len(raw) != count * dtype.itemsize:
        msg = (
            f"Input {name!r}: binary_data_size is {len(raw)} bytes, but its shape holds "
            f"{count} {datatype} values of {dtype.itemsize} bytes ({count * dtype.itemsize})."
        )
        raise TensorError(msg)
    array = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL":
        return (array != 0).tolist()  # type: ignore[no-any-return]
    return array.tolist()  # type: ignore[no-any-return]


def with_binary_data(inputs: Sequence[_Input], blob: bytes) -> list[Any]:
    """The inputs with the data of binary ones decoded from ``blob``, in input order.

    An input with ``parameters.binary_data_size`` takes that many bytes of ``blob``, after
    those of the binary inputs before it; the others keep their JSON ``data``.

    Raises
    ------
    TensorError
        An input has neither data nor a size, the sizes do not add up to ``blob``, or
        bytes do not fit the input's datatype and shape.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> sent = SimpleNamespace(
    ...     name="x", shape=[2], datatype="FP32", parameters={"binary_data_size": 8}, data=None
    ... )
    >>> with_binary_data([sent], struct.pack("<2f", 1.5, -2.0))[0].data
    [1.5, -2.0]
    """
    out: list[Any] = []
    at = 0
    for tensor in inputs:
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is None:
            if tensor.data is None:
                msg = (
                    f"Input {tensor.name!r} has no data: send 'data', or its bytes after the "
                    "JSON with 'binary_data_size' in its parameters."
                )
                raise TensorError(msg)
            out.append(tensor)
            continue
        if tensor.data is not None:
            msg = f"Input {tensor.name!r} has both 'data' and 'binary_data_size'; send one."
            raise TensorError(msg)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(blob) - at:
            msg = (
                f"Input {tensor.name!r}: binary_data_size {size!r} is not a byte count within "
                f"the {len(blob) - at} bytes left after the JSON and the inputs before it."
            )
            raise TensorError(msg)
        count = math.prod(tensor.shape)
        values = _decode_binary(tensor.name, blob[at : at + size], tensor.datatype, count)
        out.append(BinaryInput(tensor.name, list(tensor.shape), tensor.datatype, values))
        at += size
    if at != len(blob):
        msg = (
            f"{len(blob) - at} bytes after the JSON belong to no input: the inputs' "
            "binary_data_size must add up to the bytes sent after it."
        )
        raise TensorError(msg)
    return out


def wants_binary(
    request_parameters: Mapping[str, Any] | None, output_parameters: Mapping[str, Any] | None
) -> bool:
    """Whether an output goes back as bytes: its own ``binary_data`` parameter, else the
    request's ``binary_data_output`` (Triton's HTTP client asks for that by default).

    Examples
    --------
    >>> wants_binary({"binary_data_output": True}, None), wants_binary(None, {"binary_data": False})
    (True, False)
    """
    own = (output_parameters or {}).get("binary_data")
    if own is not None:
        return bool(own)
    return bool((request_parameters or {}).get("binary_data_output", False))


def binary_output(values: Any, datatype: str) -> bytes:
    """An output tensor's values as the extension's little-endian bytes.

    Examples
    --------
    >>> binary_output(["ab"], "BYTES")
    b'\\x02\\x00\\x00\\x00ab'
    >>> binary_output([1.0], "FP64") == struct.pack("<d", 1.0)
    True
    """
    if datatype == "BYTES":
        parts = []
        for v in values:
            text = str(v).encode()
            parts += [struct.pack("<I", len(text)), text]
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=np.dtype(_BINARY_TYPES[datatype])).tobytes()


def datatype_of(values: Sequence[Any]) -> str:
    """The protocol datatype for output values: BOOL, INT64, FP64 or BYTES.

    Examples
    --------
    >>> datatype_of([True, False]), datatype_of([1, 2]), datatype_of(["a"])
    ('BOOL', 'INT64', 'BYTES')
    """
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def flat(data: list[Any]) -> list[Any]:
    """Row-major flattening of nested lists (a flat list is returned as it is).

    Examples
    --------
    >>> flat([[1, 2], [3, [4]]])
    [1, 2, 3, 4]
    """
    if not any(isinstance(v, list) for v in data):
        return data
    if all(type(row) is list for row in data):  # a matrix, the usual nesting: one pass in C
        rows = list(itertools.chain.from_iterable(data))
        if list not in set(map(type, rows)):
            return rows
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def _numbers(
    name: str, values: list[Any], datatype: str, features: Sequence[FeatureSpec]
) -> FloatArray:
    """One tensor's numbers as floats, checked: their type, finite, within each feature's bound.

    ``features`` are the columns the values cycle through (row-major).
    """
    allowed = {int} if datatype in _INTEGERS else {int, float}
    kinds = set(map(type, values))
    if not kinds <= allowed:
        shown = ", ".join(sorted(t.__name__ for t in kinds - allowed))
        msg = f"Input {name!r} is {datatype} but holds {shown} values; send numbers."
        raise TensorError(msg)
    for f in features[: len(values)]:
        if f.type in ("category", "bool"):
            kind = "BYTES" if f.type == "category" else "BOOL"
            msg = f"Feature {f.name!r} is {f.type}: send it as its own input of datatype {kind}."
            raise TensorError(msg)
    p = len(features)
    bounds = np.array([f.bound for f in features])
    try:
        X = np.fromiter(values, dtype=np.float64, count=len(values))
    except OverflowError:  # an integer beyond any double: the loop below names it
        X = np.full(len(values), np.inf)
    fits = np.abs(X.reshape(-1, p)) <= bounds  # False for NaN too
    if not fits.all():
        k = int(np.argmin(fits.ravel()))
        v, f = values[k], features[k % p]
        if isinstance(v, float) and not math.isfinite(v):
            msg = f"Input {name!r} holds a non-finite number at position {k}; send finite numbers."
        else:
            msg = f"Feature {f.name!r} in input {name!r}: {v:g} exceeds {f.bound:g} in magnitude."
        raise TensorError(msg)
    return X


def _check(name: str, values: list[Any], datatype: str, features: Sequence[FeatureSpec]) -> None:
    """Check one tensor's values against the features its columns are."""
    if datatype in _FLOATS | _INTEGERS:
        _numbers(name, values, datatype, features)
        return
    f = features[0]
    kinds = {type(v) for v in values}
    if len(features) == 1 and datatype == "BOOL" and f.type == "bool" and kinds <= {bool}:
        return
    if len(features) == 1 and datatype == "BYTES" and f.type == "category" and kinds <= {str}:
        unseen = sorted({v for v in values if v not in f.levels})
        if unseen:
            msg = f"Feature {f.name!r} has unseen categories {unseen[:5]!r}; known: {list(f.levels)!r}."
            raise TensorError(msg)
        return
    msg = f"Input {name!r} has datatype {datatype}, which feature {f.name!r} ({f.type}) does not take."
    raise TensorError(msg)


def _one_tensor(model: Predictor, tensor: Tensor) -> tuple[FloatArray, list[dict[str, Any]]]:
    p = len(model.names)
    values = flat(tensor.data)
    shape = list(tensor.shape)
    if len(shape) == 1:
        shape = [1, *shape]
    if len(shape) != 2 or shape[1] != p or shape[0] < 1 or shape[0] * p != len(values):
        msg = (
            f"Input {tensor.name!r} must have shape [N, {p}] (N rows of the model's {p} "
            f"features in order) and N*{p} values; got shape {tensor.shape} with "
            f"{len(values)} values."
        )
        raise TensorError(msg)
    if model.inputs.direct and tensor.datatype in _FLOATS | _INTEGERS:
        # Numbers in the model's columns: the checked values are the matrix.
        return _numbers(tensor.name, values, tensor.datatype, model.features).reshape(-1, p), []
    _check(tensor.name, values, tensor.datatype, model.features)
    columns = {name: values[j::p] for j, name in enumerate(model.names)}
    return model.inputs.matrix_from_columns(columns, shape[0]), _instances(model, columns, shape[0])


def _instances(model: Predictor, columns: dict[str, list[Any]], n: int) -> list[dict[str, Any]]:
    """The raw instances (needed for the log when the model encodes its inputs)."""
    if model.inputs.direct:
        return []
    return [{name: columns[name][i] for name in model.names} for i in range(n)]


def model_matrix(
    model: Predictor, inputs: Sequence[Tensor]
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """The model matrix (and, for encoded models, the raw instances) of input tensors.

    Raises
    ------
    TensorError
        Naming the input and the problem.
    """
    names = set(model.names)
    if len(inputs) == 1 and inputs[0].name not in names:
        return _one_tensor(model, inputs[0])
    given = {t.name: t for t in inputs}
    unknown = sorted(set(given) - names)
    missing = [n for n in model.names if n not in given]
    if unknown or missing or len(given) != len(inputs):
        msg = (
            "Send one tensor of shape [N, p], or one input per feature named after it. "
            f"Unknown inputs: {unknown[:5]}; missing features: {missing[:5]}; repeated "
            f"inputs: {len(inputs) - len(given)}."
        )
        raise TensorError(msg)
    columns: dict[str, list[Any]] = {}
    n = -1
    for feature in model.features:
        tensor = given[feature.name]
        values = flat(tensor.data)
        if not values or list(tensor.shape) not in ([len(values)], [len(values), 1]):
            msg = (
                f"Input {feature.name!r} must have shape [N] or [N, 1] with N > 0 values; got "
                f"{tensor.shape} with {len(values)}."
            )
            raise TensorError(msg)
        if n >= 0 and len(values) != n:
            msg = f"Input {feature.name!r} has {len(values)} rows; the inputs before it have {n}."
            raise TensorError(msg)
        n = len(values)
        _check(feature.name, values, tensor.datatype, (feature,))
        columns[feature.name] = values
    return model.inputs.matrix_from_columns(columns, n), _instances(model, columns, n)


# One [N, p] tensor of floats, the usual big request, decoded by msgspec into typed
# structs: about half the time of the request model and the checks above. The structs
# mirror the request model, with data typed as floats, flat or as rows.
_Name = Annotated[str, msgspec.Meta(min_length=1)]
_Size = Annotated[int, msgspec.Meta(ge=0)]
_Data = TypeVar("_Data")


class _Output(msgspec.Struct, gc=False):
    name: str
    parameters: dict[str, Any] | None = None


class _FloatInput(msgspec.Struct, Generic[_Data], gc=False):
    name: _Name
    shape: list[_Size]
    datatype: Literal["FP16", "FP32", "FP64"]
    data: _Data
    parameters: dict[str, Any] | None = None


class _FloatRequest(msgspec.Struct, Generic[_Data], gc=False):
    inputs: Annotated[list[_FloatInput[_Data]], msgspec.Meta(min_length=1)]
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[_Output] | None = None


#: Decoders of flat data and of data as rows, with whether the data are rows.
_DECODERS = (
    (msgspec.json.Decoder(_FloatRequest[list[float]]), False),
    (msgspec.json.Decoder(_FloatRequest[list[list[float]]]), True),
)


def _decode(body: bytes) -> tuple[_FloatRequest[Any], bool] | None:
    """The body as a request of float tensors, and whether their data are rows; or None."""
    for decoder, rows in _DECODERS:
        try:
            return decoder.decode(body), rows
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return None


def float_tensor_matrix(
    model: Predictor, body: bytes, max_rows: int
) -> tuple[_FloatRequest[Any], FloatArray] | None:
    """The request and model matrix of a body holding one valid ``[N, p]`` tensor of floats.

    None for any other body, valid or not: it then goes through the request model and
    :func:`model_matrix`, which accept every body this accepts, with the same matrix,
    and name what is wrong.
    """
    decoded = _decode(body) if model.inputs.direct else None
    if decoded is None:
        return None
    request, rows = decoded
    if len(request.inputs) != 1 or request.inputs[0].name in model.names:
        return None
    tensor = request.inputs[0]
    p = len(model.names)
    shape = [1, *tensor.shape] if len(tensor.shape) == 1 else tensor.shape
    if len(shape) != 2 or shape[1] != p or not 1 <= shape[0] <= max_rows:
        return None
    n, data = shape[0], tensor.data
    if rows:
        count = sum(map(len, data))
        values: Any = itertools.chain.from_iterable(data)
    else:
        count, values = len(data), data
    if count != n * p:
        return None
    X = np.fromiter(values, dtype=np.float64, count=count).reshape(n, p)
    if not (np.abs(X) <= model.inputs.bounds).all():
        return None
    return request, X
