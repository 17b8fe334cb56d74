"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served offline.

Their scripts, styles and icon come from the ``fastapi-offline`` package, installed with
``logitkit[serve]``, and are served by the app under ``/docs/static/``: the pages load
nothing from another host, so they work where the server has no internet (and no third
party sees who reads them). Who may read the pages and ``/openapi.json`` is set by
``docs_public`` (see :func:`logitkit.serve.deps.access`); the assets are open.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from logitkit.serve.deps import DOCS_ASSETS

__all__ = ["ASSETS", "assets", "router"]

#: The folder holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png.
ASSETS = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    """The app's path prefix (``root_path`` behind a proxy), so the pages' links resolve."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on this server's OpenAPI schema."""
    base = _base(request)
    return get_swagger_ui_html(
        openapi_url=f"{base}/openapi.json",
        title="logitkit - Swagger UI",
        swagger_js_url=f"{base}{DOCS_ASSETS}swagger-ui-bundle.js",
        swagger_css_url=f"{base}{DOCS_ASSETS}swagger-ui.css",
        swagger_favicon_url=f"{base}{DOCS_ASSETS}favicon.png",
        # No validator badge: it would send the schema to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on this server's OpenAPI schema."""
    base = _base(request)
    return get_redoc_html(
        openapi_url=f"{base}/openapi.json",
        title="logitkit - ReDoc",
        redoc_js_url=f"{base}{DOCS_ASSETS}redoc.standalone.js",
        redoc_favicon_url=f"{base}{DOCS_ASSETS}favicon.png",
        with_google_fonts=False,
    )


#: The assets, mounted by the app beside :data:`router`.
assets = Mount(DOCS_ASSETS.rstrip("/"), StaticFiles(directory=ASSETS), name="docs-assets")
