"""Reading a JSON request body within limits: 415 for other media types, 413 past the size.

The size is checked against ``Content-Length`` first and then counted while the body
arrives, so a chunked body without a length is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from logitkit.serve.errors import ApiError

__all__ = ["json_body_schema", "read_json_body"]


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw body of a JSON request.

    Raises
    ------
    ApiError
        415 when the content type is not JSON; 413 when the body exceeds ``limit`` bytes.
    """
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as JSON with 'Content-Type: application/json' (got {content_type!r}).",
        )
    too_large = ApiError(
        413,
        "body_too_large",
        f"The body is larger than {limit} bytes, the configured limit; send fewer instances "
        "per request.",
        headers={"Connection": "close"},
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def json_body_schema(ref: str, description: str) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for a JSON body whose schema is the component ``ref``."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
    }
