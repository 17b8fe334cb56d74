"""Reading a request body within limits: 415 for media types not taken, 413 past the size.

JSON bodies may come without a ``Content-Type`` (as Triton's HTTP client sends them);
any other media type than JSON is refused, except where the Open Inference Protocol's
binary tensor extension allows ``application/octet-stream`` (:func:`read_inference_body`).
The size is checked against ``Content-Length`` first and then counted while the body
arrives, so a chunked body without a length is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from logitkit.serve.errors import ApiError

__all__ = ["BINARY_HEADER", "json_body_schema", "read_inference_body", "read_json_body"]

#: The binary tensor extension's header: the length of the JSON part at the body's start.
BINARY_HEADER = "inference-header-content-length"


def _media(request: Request) -> str | None:
    content_type = request.headers.get("content-type")
    return None if content_type is None else content_type.split(";", 1)[0].strip().lower()


def _is_json(media: str | None) -> bool:
    return (
        media is None
        or media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    )


def _unsupported(request: Request, allowed: str) -> ApiError:
    return ApiError(
        415,
        "unsupported_media_type",
        f"Send the body as {allowed} (got Content-Type {request.headers.get('content-type')!r}).",
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"The body is larger than {limit} bytes, the service's limit: send fewer instances "
        "per request, or have the service's max_body_bytes setting raised "
        "(--max-body-bytes, LOGITKIT_MAX_BODY_BYTES).",
        headers={"Connection": "close"},
    )


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if chunk:  # the stream ends with an empty one: a lone chunk is the body, uncopied
            chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw body of a JSON request (``application/json``, ``*+json`` or no type).

    Raises
    ------
    ApiError
        415 when the content type is not JSON; 413 when the body exceeds ``limit`` bytes.
    """
    if not _is_json(_media(request)):
        raise _unsupported(request, "JSON ('Content-Type: application/json', or none)")
    return await _read(request, limit)


async def read_inference_body(request: Request, limit: int) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of an Open Inference Protocol request.

    With the binary tensor extension's ``Inference-Header-Content-Length: n`` the body's
    first ``n`` bytes are the JSON request and the rest the tensors' bytes (any content
    type of JSON or ``application/octet-stream``); without it the whole body is JSON and
    the binary part is empty.

    Raises
    ------
    ApiError
        415 for another content type; 413 past ``limit`` bytes; 400 when the header is
        not a length within the body.
    """
    header = request.headers.get(BINARY_HEADER)
    media = _media(request)
    if header is None:
        return await read_json_body(request, limit), b""
    if not (_is_json(media) or media == "application/octet-stream"):
        raise _unsupported(request, "JSON, or application/octet-stream with binary tensors")
    body = await _read(request, limit)
    if not header.strip().isdigit() or int(header) > len(body):
        msg = (
            f"Inference-Header-Content-Length must be the length of the JSON at the body's "
            f"start, a whole number up to the body's {len(body)} bytes (got {header!r})."
        )
        raise ApiError(400, "bad_request", msg)
    split = int(header)
    return body[:split], body[split:]


def json_body_schema(ref: str, description: str) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for a JSON body whose schema is the component ``ref``."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
    }
