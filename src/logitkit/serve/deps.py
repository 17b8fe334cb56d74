"""What routes rely on: the runtime, the current model, and who may call what.

:func:`access` is the one rule of who may call a path, and :func:`check_key` the one key
check; the app's guard applies both to every request before any route runs
(:mod:`logitkit.serve.middleware`), and the OpenAPI schema documents the same rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from logitkit.serve.errors import ApiError
from logitkit.serve.predictor import Predictor
from logitkit.serve.runtime import Runtime
from logitkit.serve.settings import Settings

__all__ = [
    "DOCS_ASSETS",
    "DOCS_PATHS",
    "OPEN_PATHS",
    "SCHEME_OF",
    "SECURITY_SCHEMES",
    "Access",
    "CurrentModel",
    "RuntimeDep",
    "access",
    "check_key",
]

Access = Literal["open", "api", "admin"]

#: Paths anyone may call: health, for load balancers and orchestrators.
OPEN_PATHS = frozenset({"/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready"})
#: The interactive documentation and the schema (they show each feature's training range).
DOCS_PATHS = frozenset({"/docs", "/redoc", "/openapi.json"})
#: The documentation's own scripts and styles (generic files: they reveal nothing).
DOCS_ASSETS = "/docs/static/"
#: The keys as the OpenAPI schema names them, by :data:`Access` rule.
SCHEME_OF = {"api": "bearer", "admin": "admin_bearer"}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from LOGITKIT_API_KEYS (an admin key also opens the API), "
        "sent as 'Authorization: Bearer <key>'.",
    },
    "admin_bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin key from LOGITKIT_ADMIN_KEYS, sent as 'Authorization: Bearer <key>'.",
    },
}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def access(settings: Settings, path: str) -> Access:
    """Who may call ``path``: anyone, an API (or admin) key, or an admin key only.

    With no keys configured everything is open. Health and the documentation's assets are
    always open; ``/docs``, ``/redoc`` and ``/openapi.json`` are open with
    ``docs_public``, ``/metrics`` with ``metrics_public``.

    Examples
    --------
    >>> s = Settings(model_path="m.json", api_keys=("k" * 16,))
    >>> access(s, "/health/ready"), access(s, "/v1/predict"), access(s, "/admin/reload")
    ('open', 'api', 'admin')
    >>> access(s, "/openapi.json"), access(s.with_(docs_public=True), "/openapi.json")
    ('api', 'open')
    """
    if not settings.auth_enabled or path in OPEN_PATHS or path.startswith(DOCS_ASSETS):
        return "open"
    if path in DOCS_PATHS:
        return "open" if settings.docs_public else "api"
    if path == "/metrics":
        return "open" if settings.metrics_public else "api"
    if path == "/admin" or path.startswith("/admin/"):
        return "admin"
    return "api"


async def get_runtime(request: Request) -> Runtime:
    """The app's :class:`~logitkit.serve.runtime.Runtime`."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_model(runtime: RuntimeDep) -> Predictor:
    """The model serving now, read once for the whole request (a reload cannot mix two)."""
    return runtime.predictor


CurrentModel = Annotated[Predictor, Depends(current_model)]


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
