"""``logitkit serve``: the prediction service (FastAPI on uvicorn) for one model file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from logitkit.cli._common import EXIT_BAD_INPUT, error_console, one_line_errors

__all__ = ["require_serve_extra", "serve"]

_SERVE_MODULES = (
    "fastapi",
    "uvicorn",
    "httptools",
    "sqlalchemy",
    "prometheus_client",
    "orjson",
    "pydantic_settings",
)


def require_serve_extra(command: str) -> None:
    """Exit with a one-line hint if the ``serve`` extra is not installed."""
    missing = [m for m in _SERVE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        error_console.print(
            f"[bold red]error:[/] logitkit {command} needs {', '.join(missing)}: "
            + escape("install logitkit[serve] (pip install 'logitkit[serve]')."),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)


def serve(
    model: Annotated[Path, typer.Argument(help="The model file (logitkit train --out).")],
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on (default: LOGITKIT_HOST, else 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: LOGITKIT_PORT, else 8000).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="Prediction log: sqlite:///predictions.db (default) or postgresql+psycopg://...",
            envvar="LOGITKIT_DB_URL",
        ),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="A policy JSON file overriding the artifact's.")
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(help="API keys, one per line (also: LOGITKIT_API_KEYS, comma-separated)."),
    ] = None,
    admin_keys_file: Annotated[
        Path | None,
        typer.Option(help="Admin keys for /admin (also: LOGITKIT_ADMIN_KEYS)."),
    ] = None,
    allow_no_auth: Annotated[
        bool,
        typer.Option(
            "--allow-no-auth", help="Serve a non-loopback host without keys (auth is elsewhere)."
        ),
    ] = False,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            help="Largest request body in bytes; more is 413 (default 16 MiB: 10000 "
            "instances of up to about 60 features)."
        ),
    ] = None,
    max_batch: Annotated[
        int | None,
        typer.Option(
            help="Most instances per request; more is 422 (default 10000; raise "
            "--max-body-bytes with it)."
        ),
    ] = None,
    max_in_flight: Annotated[
        int | None, typer.Option(help="Requests served at once; more get 503 (default 1024).")
    ] = None,
    request_timeout: Annotated[
        float | None, typer.Option(help="Seconds before a request is answered 503 (default 10).")
    ] = None,
    grace_period: Annotated[
        float | None, typer.Option(help="Seconds to drain and exit after SIGTERM (default 10).")
    ] = None,
    db_sync: Annotated[
        str | None,
        typer.Option(
            help="'full': answered predictions survive power loss (default); 'normal': they "
            "survive a killed process, not a crash of the database's machine (faster)."
        ),
    ] = None,
    db_table_prefix: Annotated[
        str | None, typer.Option(help="Prefix of the log's tables (default logitkit_).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes serving the port (default 1), sharing the --db log (PostgreSQL, "
            "or a SQLite file on a local disk); each drains on SIGTERM as one does."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A TOML settings file, one key per setting (also: LOGITKIT_CONFIG). Options "
            "here win over LOGITKIT_* variables, which win over the file."
        ),
    ] = None,
    max_header_bytes: Annotated[
        int | None,
        typer.Option(help="Largest request line plus headers; more is 431 (default 16384)."),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a request's headers may take to arrive; then 408 (default 10)."),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Open connections per worker; more are answered 503 and closed (default "
            "900; keep it below ulimit -n less 100)."
        ),
    ] = None,
    allow_schema_change: Annotated[
        bool | None,
        typer.Option(
            "--allow-schema-change",
            help="Let SIGHUP (and /admin/reload) swap in a model with other features.",
        ),
    ] = None,
    canary_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a model's canary prediction may take (default 5)."),
    ] = None,
    canary_max_bytes: Annotated[
        int | None,
        typer.Option(help="Bytes a model's canary prediction may allocate (default 64 MiB)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve MODEL over HTTP: predictions logged before they are answered, drift, v2.

    Endpoints: /v1/predict, /v1/explain, /v1/model, /v1/drift, /v1/feedback, /metrics,
    /health/live, /health/ready, /admin/reload and the Open Inference Protocol under /v2;
    the OpenAPI schema is at /openapi.json and the docs at /docs. SIGTERM drains and exits
    within the grace period; SIGHUP reloads the model. A model (at start and on reload)
    is admitted only after it answers a canary prediction; a reload that changes the
    features is refused without --allow-schema-change. Settings: options over LOGITKIT_*
    variables over the --config file.
    """
    require_serve_extra("serve")
    from logitkit.serve.server import run  # noqa: PLC0415 - needs the optional extra
    from logitkit.serve.settings import Settings, read_keys  # noqa: PLC0415

    with one_line_errors():
        settings = Settings.from_env(
            config_file=config,
            model_path=model,
            host=host,
            port=port,
            db_url=db,
            policy_path=policy,
            allow_no_auth=allow_no_auth or None,
            max_body_bytes=max_body_bytes,
            max_batch=max_batch,
            max_in_flight=max_in_flight,
            request_timeout_s=request_timeout,
            grace_period_s=grace_period,
            db_synchronous=db_sync,
            db_table_prefix=db_table_prefix,
            workers=workers,
            max_header_bytes=max_header_bytes,
            header_timeout_s=header_timeout,
            max_connections=max_connections,
            allow_schema_change=allow_schema_change,
            canary_timeout_s=canary_timeout,
            canary_max_bytes=canary_max_bytes,
        )
        extra = {}
        if api_keys_file is not None:
            extra["api_keys"] = tuple(
                dict.fromkeys([*settings.api_keys, *read_keys(api_keys_file)])
            )
        if admin_keys_file is not None:
            extra["admin_keys"] = tuple(
                dict.fromkeys([*settings.admin_keys, *read_keys(admin_keys_file)])
            )
        if extra:
            settings = settings.with_(**extra)
        settings.check_exposure()
    with one_line_errors():
        run(settings, log_level=log_level, access_log=access_log)
