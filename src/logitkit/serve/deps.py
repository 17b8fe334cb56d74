"""Typed dependencies of the routes: the runtime, the current model, and the key checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from logitkit.serve.errors import ApiError
from logitkit.serve.predictor import Predictor
from logitkit.serve.runtime import Runtime

__all__ = [
    "API_SCHEME",
    "CurrentModel",
    "RuntimeDep",
    "check_key",
    "require_admin_key",
    "require_api_key",
]

API_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key from LOGITKIT_API_KEYS, sent as 'Authorization: Bearer <key>'.",
)
_admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="admin_bearer",
    description="An admin key from LOGITKIT_ADMIN_KEYS, sent as 'Authorization: Bearer <key>'.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_runtime(request: Request) -> Runtime:
    """The app's :class:`~logitkit.serve.runtime.Runtime`."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_model(runtime: RuntimeDep) -> Predictor:
    """The model serving now, read once for the whole request (a reload cannot mix two)."""
    return runtime.predictor


CurrentModel = Annotated[Predictor, Depends(current_model)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(API_SCHEME)]
AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)]


def check_key(runtime: Runtime, authorization: str | None, *, admin: bool = False) -> None:
    """Raise 401 (or 403) unless ``authorization`` carries a valid key; keys in constant time.

    An admin key also opens the API. With no keys configured everything is open (allowed
    only on a loopback host or with ``allow_no_auth``).
    """
    if not runtime.settings.auth_enabled:
        return
    kind = "an admin key" if admin else "an API key"
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            f"Send {kind} as 'Authorization: Bearer <key>'.",
            headers=_CHALLENGE,
        )
    token = token.strip()
    valid = runtime.admin_keys.check(token)
    if not admin:
        valid |= runtime.api_keys.check(token)
    elif not runtime.admin_keys:
        raise ApiError(
            403, "forbidden", "Admin endpoints are off: set LOGITKIT_ADMIN_KEYS to use them."
        )
    if not valid:
        raise ApiError(401, "unauthorized", f"The key is not {kind}.", headers=_CHALLENGE)


async def require_api_key(runtime: RuntimeDep, request: Request, _scheme: Credentials) -> None:
    """401 unless the request carries an API key (or an admin key)."""
    check_key(runtime, request.headers.get("authorization"))


async def require_admin_key(
    runtime: RuntimeDep, request: Request, _scheme: AdminCredentials
) -> None:
    """401 unless the request carries an admin key; 403 if admin keys are not configured."""
    check_key(runtime, request.headers.get("authorization"), admin=True)
