"""The prediction service: ``create_app(settings)`` and ``run(settings)``.

Needs the ``serve`` extra (``pip install 'logitkit[serve]'``): FastAPI, uvicorn,
SQLAlchemy and a PostgreSQL driver, prometheus-client and orjson.
"""

from __future__ import annotations

try:
    from logitkit.serve.app import create_app
    from logitkit.serve.server import run
    from logitkit.serve.settings import Settings
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    msg = f"logitkit.serve needs the serve extra: install logitkit[serve] ({exc})."
    raise ImportError(msg) from exc

__all__ = ["Settings", "create_app", "run"]
