"""What the prediction routes share: the request-id header and parsing instances."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from logitkit.serve.errors import ApiError, validation_error
from logitkit.serve.predictor import FloatArray, Predictor
from logitkit.serve.schemas import REQUEST_ID_PATTERN, FieldError

__all__ = ["REQUEST_ID_PARAMETER", "read_instances", "request_id_header"]

_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_REQUEST_ID_HELP = (
    "Your id for this request (letters, digits, '._:-', up to 128). A retry with the same id "
    "and body is answered from the log and stays one row. Default: a new id."
)

#: The header as an OpenAPI parameter (routes read it with :func:`request_id_header`).
REQUEST_ID_PARAMETER = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": _REQUEST_ID_HELP,
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}


def request_id_header(request: Request) -> str | None:
    """The client's ``X-Request-ID``, or None; 422 if it is malformed."""
    value = request.headers.get("x-request-id")
    if value is None or _REQUEST_ID.match(value):
        return value
    error = FieldError(
        field="X-Request-ID",
        loc=["header", "X-Request-ID"],
        type="string_pattern_mismatch",
        message="must be 1 to 128 letters, digits or '._:-', starting with a letter or digit",
    )
    raise ApiError(422, "validation_error", f"X-Request-ID: {error.message}.", errors=[error])


def read_instances(model: Predictor, body: bytes) -> tuple[list[dict[str, Any]], FloatArray]:
    """Instances and model matrix of a ``{"instances": [...]}`` body, or a 422 naming the fields.

    See :meth:`logitkit.serve.inputs.InputSchema.read` (the instances may be empty when the
    matrix is all that is needed).
    """
    try:
        return model.inputs.read(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
