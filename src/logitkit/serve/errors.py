"""Every error answer as JSON naming the field and the problem; never a 500 with a trace.

FastAPI as it comes answers ``NaN`` with a 500: the validation error echoes the input,
and encoding ``NaN`` into its own JSON error body fails. Here inputs are never echoed
as numbers: non-finite values are named in the message instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from logitkit.serve.schemas import ErrorBody, FieldError

__all__ = [
    "ApiError",
    "error_answer",
    "error_response",
    "field_errors",
    "install_handlers",
    "json_response",
]

logger = logging.getLogger("logitkit.serve")

#: Error responses every protected JSON endpoint documents (OpenAPI ``responses``).
_ERROR = {"model": ErrorBody}


class ApiError(Exception):
    """An error answer: status, stable code, message, field errors and extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded with orjson (numpy arrays allowed)."""
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
) -> Response:
    """The JSON error answer (:class:`~logitkit.serve.schemas.ErrorBody`)."""
    body = ErrorBody(error=message, code=code, errors=list(errors), request_id=request_id)
    return json_response(body.model_dump(), status, headers)


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _show(value: Any) -> str | None:
    """A short, JSON-safe rendering of an offending scalar input (None for containers)."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return (
            "Infinity (a JSON number beyond +-1.8e308 overflows to infinity)"
            if value > 0
            else "-Infinity (a JSON number beyond +-1.8e308 overflows to -infinity)"
        )
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return None


_MESSAGES = {
    "missing": "missing; every instance needs every feature (see GET /v1/model)",
    "extra_forbidden": "is not a feature of this model (see GET /v1/model for the features)",
    "finite_number": "must be a finite number",
}


def field_errors(
    errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = ()
) -> list[FieldError]:
    """Pydantic's errors as :class:`FieldError` items with JSON-safe messages."""
    out = []
    for err in errors:
        loc = [*prefix, *err.get("loc", ())]
        kind = str(err.get("type", "value_error"))
        message = _MESSAGES.get(kind) or str(err.get("msg", "is invalid"))
        if kind == "json_invalid":
            message = (
                f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
            )
        shown = _show(err.get("input")) if kind not in ("missing", "json_invalid") else None
        if shown is not None:
            message = f"{message} (got {shown})"
        out.append(FieldError(field=_field(loc), loc=list(loc), type=kind, message=message))
    return out


def validation_error(
    exc: ValidationError | RequestValidationError, prefix: Sequence[str | int] = ()
) -> ApiError:
    """A 422 :class:`ApiError` for a failed validation.

    The message leads with the wrong values and sums up missing features per instance;
    ``errors`` lists every problem on its own.
    """
    errors = field_errors(exc.errors(), prefix)
    missing: dict[str, list[str]] = {}
    parts = []
    for e in errors:
        if e.type == "missing" and len(e.loc) > 1:
            missing.setdefault(_field(e.loc[:-1]), []).append(str(e.loc[-1]))
        else:
            parts.append(f"{e.field}: {e.message}")
    for where, names in missing.items():
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        parts.append(
            f"{where}: {len(names)} missing ({shown}); send every field (see GET /v1/model)"
        )
    more = f" (and {len(parts) - 5} more)" if len(parts) > 5 else ""
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    return ApiError(
        422,
        "validation_error",
        f"{count} in the request: {'; '.join(parts[:5])}{more}.",
        errors=errors,
    )


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def error_answer(exc: Exception, method: str, path: str, request_id: str | None = None) -> Response:
    """The JSON answer to any error raised while serving ``method path``: the one mapping.

    :class:`ApiError` keeps its status, code, fields and headers; FastAPI's validation
    errors become 422; Starlette's 404 and 405 name the path; anything else is logged
    with its trace and answered 500 without it.

    Examples
    --------
    >>> answer = error_answer(ApiError(401, "unauthorized", "Send a key."), "GET", "/v1/model")
    >>> answer.status_code, answer.body
    (401, b'{"error":"Send a key.","code":"unauthorized","errors":[],"request_id":null}')
    """
    if isinstance(exc, RequestValidationError):
        exc = validation_error(exc)
    if isinstance(exc, ApiError):
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            errors=exc.errors,
            headers=exc.headers,
            request_id=request_id,
        )
    if isinstance(exc, StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No such endpoint: {path}. See /docs for the endpoints."
        elif exc.status_code == 405:
            message = f"{method} is not allowed on {path}."
        return error_response(exc.status_code, code, message, headers=exc.headers)
    logger.error("Unhandled error serving %s %s", method, path, exc_info=exc)
    return error_response(
        500,
        "internal_error",
        "The server failed on this request; it was logged. Retry, and report it if it persists.",
        request_id=request_id,
    )


def install_handlers(app: FastAPI) -> None:
    """Answer every error raised by a route with :func:`error_answer`."""

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_answer(exc, request.method, request.url.path, _request_id(request))

    for kind in (ApiError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, on_error)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    text = {
        400: "Bad request (Open Inference Protocol): the error names the field.",
        401: "Missing or wrong API key (Authorization: Bearer <key>).",
        403: "The key is valid but not allowed here.",
        404: "No such model, version or logged prediction.",
        409: "The X-Request-ID was already used for different inputs.",
        413: "The body is larger than the configured limit.",
        415: "The body is not JSON (send application/json, or no Content-Type; /v2 "
        "inference also takes application/octet-stream with binary tensors).",
        422: "Invalid input: each error names the field and the problem.",
        503: "Overloaded, shutting down, timed out or the log is unavailable; see Retry-After.",
    }
    return {code: {**_ERROR, "description": text[code]} for code in codes}
