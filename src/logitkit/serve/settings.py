"""Settings of the prediction service, read by pydantic-settings from three places.

Precedence, highest first:

1. **the command line** (``logitkit serve --port 9000``; in Python, the keyword
   arguments of :meth:`Settings.from_env`);
2. **the environment**: ``LOGITKIT_`` and the field's name in capitals
   (``LOGITKIT_MAX_BODY_BYTES``); the model may also be ``LOGITKIT_MODEL``, and the
   keys are ``LOGITKIT_API_KEYS`` / ``LOGITKIT_ADMIN_KEYS`` (comma-separated) plus
   ``LOGITKIT_API_KEYS_FILE`` / ``LOGITKIT_ADMIN_KEYS_FILE`` (one per line), merged;
3. **a settings file** in TOML (``logitkit serve --config serve.toml`` or
   ``LOGITKIT_CONFIG``), one key per field (``max_batch = 1000``); an unknown
   key is an error;
4. the defaults below.

``Settings(...)`` built directly reads neither the environment nor a file (tests
do that); nothing else in ``serve/`` reads the environment.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["CONFIG_ENV", "MIN_KEY_LENGTH", "Settings", "is_loopback", "read_keys"]

#: Shortest API key accepted: a guessable key is no key.
MIN_KEY_LENGTH = 16
#: The environment variable naming the settings file.
CONFIG_ENV = "LOGITKIT_CONFIG"

_SYNC_MODES = ("full", "normal")
_KEY_VARS = {"api_keys": "LOGITKIT_API_KEYS", "admin_keys": "LOGITKIT_ADMIN_KEYS"}

#: What :meth:`Settings.from_env` reads besides its arguments: (environment, file).
_SOURCES: contextvars.ContextVar[tuple[Mapping[str, str], Path | None] | None] = (
    contextvars.ContextVar("logitkit_settings_sources", default=None)
)


class Settings(BaseSettings):
    """How the service runs: model, prediction log, keys, limits and shutdown.

    Build it with :meth:`from_env` (command line over environment over settings file,
    see the module docstring) or directly. Every limit is enforced per request or per
    connection.

    Attributes
    ----------
    model_path : Path
        The model artifact (``logitkit train --out``); re-read on reload.
    policy_path : Path or None
        A policy file (``ThresholdPolicy.to_dict()`` JSON) overriding the artifact's;
        re-read on reload.
    model_name : str or None
        Name under the Open Inference Protocol (``/v2/models/{name}``); default: the
        model file's stem.
    db_url : str
        SQLAlchemy URL of the prediction log: ``sqlite:///predictions.db`` (default) or
        ``postgresql+psycopg://user@host/db``.
    db_table_prefix : str
        Prefix of the log's table names (``<prefix>predictions``, ``<prefix>feedback``).
    db_synchronous : str
        ``"full"`` (default): each group commit reaches the disk before its predictions
        are answered, so they survive power loss; ``"normal"``: they survive a killed
        process but not a crash of the machine holding the database (SQLite
        ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit=off``), for about twice the
        throughput where fsync is slow.
    api_keys, admin_keys : tuple of str
        Bearer keys for the API and for ``/admin``. With neither, the service is open,
        which it allows only on a loopback host or with ``allow_no_auth``.
    allow_no_auth : bool
        Serve a non-loopback host without keys anyway.
    host, port : str, int
        Where to listen.
    workers : int
        Processes serving the port (``logitkit serve --workers``); each has its own
        model, limits and connection to the prediction log.
    max_body_bytes : int
        Largest request body (chunked bodies are counted as they arrive); more is 413.
        The default, 16 MiB, is sized to ``max_batch``: it holds 10,000 instances of up
        to about 60 numeric features as ``json.dumps`` writes them (the demo model's 30
        features take 8.2 MB; 1 MiB held only about 1,280). Raise it with ``max_batch``,
        or for wider instances. While it is decoded, a body takes about three times its
        size in memory.
    max_batch : int
        Most instances in one request; more is 422. Sending this many needs a body
        limit to match (``max_body_bytes``).
    max_in_flight : int
        Requests served at once; more are refused with 503 and ``Retry-After``.
    max_pending_rows : int
        Log rows waiting for their commit; more and new predictions are refused with 503.
    request_timeout_s : float
        A request not answered by then is answered 503 (its row may still be committed:
        retry with the same ``X-Request-ID`` to get the logged answer).
    grace_period_s : float
        After SIGTERM, the time to drain in-flight requests, flush the log and exit.
    drift_window : int
        Default number of most recent log rows compared by ``/v1/drift``.
    docs_public : bool
        Whether ``/docs``, ``/redoc`` and ``/openapi.json`` are open when keys are
        configured (default ``False``: they need a key).
    metrics_public : bool
        Whether ``/metrics`` is open when keys are configured (default ``True``).
    otel : bool
        FastAPI's own OpenTelemetry spans and metrics, for a process whose OpenTelemetry
        providers are configured (e.g. run under ``opentelemetry-instrument``). Off by
        default: FastAPI then skips its per-request provider check (about 5 % of a
        single-row prediction's work); the service's own metrics are at ``/metrics``.
    max_header_bytes : int
        Largest request head (request line and headers); more is answered 431 and the
        connection closed, before the rest is read.
    header_timeout_s : float
        A connection whose request head is not complete this long after it began (or
        after the previous answer) is closed.
    max_connections : int
        Open connections per worker; a connection beyond it is answered 503 and closed
        at once.
    allow_schema_change : bool
        Let a reload (SIGHUP, or ``/admin/reload`` without its own flag) swap in a model
        whose request schema differs from the serving one's.
    canary_timeout_s : float
        Time budget of the canary prediction a model must answer before it is admitted.
    canary_max_bytes : int
        Memory budget (peak bytes allocated) of that canary prediction.

    Examples
    --------
    >>> s = Settings.from_env(model_path="model.json", api_keys=("k" * 16,), environ={})
    >>> s.max_body_bytes, s.max_batch, s.db_url
    (16777216, 10000, 'sqlite:///predictions.db')
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", protected_namespaces=(), validate_default=True
    )

    model_path: Path
    policy_path: Path | None = None
    model_name: str | None = None
    db_url: str = "sqlite:///predictions.db"
    db_table_prefix: str = "logitkit_"
    db_synchronous: str = "full"
    api_keys: tuple[str, ...] = Field(default=(), repr=False)
    admin_keys: tuple[str, ...] = Field(default=(), repr=False)
    allow_no_auth: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 16 << 20  # max_batch instances of ~60 features
    max_batch: int = 10_000
    max_in_flight: int = 1024
    max_pending_rows: int = 200_000
    request_timeout_s: float = 10.0
    grace_period_s: float = 10.0
    drift_window: int = 1000
    docs_public: bool = False
    metrics_public: bool = True
    otel: bool = False
    max_header_bytes: int = 16_384
    header_timeout_s: float = 10.0
    max_connections: int = 900
    allow_schema_change: bool = False
    canary_timeout_s: float = 5.0
    canary_max_bytes: int = 64 << 20

    _LOWER_BOUNDS: ClassVar[dict[str, int]] = {
        "max_body_bytes": 1,
        "max_batch": 1,
        "max_in_flight": 1,
        "max_pending_rows": 1,
        "drift_window": 2,
        "port": 0,
        "workers": 1,
        "max_header_bytes": 1024,
        "max_connections": 1,
        "canary_max_bytes": 1 << 20,
    }
    _SECONDS: ClassVar[tuple[str, ...]] = (
        "request_timeout_s",
        "grace_period_s",
        "header_timeout_s",
        "canary_timeout_s",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - replaced by our own
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no secrets dir
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then (only under :meth:`from_env`) environment, then file."""
        sources = _SOURCES.get()
        if sources is None:
            return (init_settings,)
        environ, config = sources
        chosen: list[PydanticBaseSettingsSource] = [
            init_settings,
            _EnvironmentSource(settings_cls, environ),
        ]
        if config is not None:
            chosen.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(chosen)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        for name, low in self._LOWER_BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                msg = f"The {name!r} setting must be an int in [{low}, inf). Got {value!r} instead."
                raise ValueError(msg)
        for name in self._SECONDS:
            value = getattr(self, name)
            if not 0 < value < 86_400:
                msg = f"The {name!r} setting must be a float in (0, 86400). Got {value!r} instead."
                raise ValueError(msg)
        if self.db_synchronous not in _SYNC_MODES:
            msg = f"The 'db_synchronous' setting must be one of 'full', 'normal'. Got {self.db_synchronous!r} instead."
            raise ValueError(msg)
        if (
            not self.db_table_prefix.replace("_", "").isalnum()
            or not self.db_table_prefix[0].isalpha()
        ):
            msg = (
                "The 'db_table_prefix' setting must start with a letter and hold only letters, "
                f"digits and underscores. Got {self.db_table_prefix!r} instead."
            )
            raise ValueError(msg)
        for name in _KEY_VARS:
            for key in getattr(self, name):
                _check_key(key, name)
        return self

    @property
    def name(self) -> str:
        """The model's name under the Open Inference Protocol."""
        return self.model_name or self.model_path.stem

    @property
    def auth_enabled(self) -> bool:
        """Whether requests must carry a key."""
        return bool(self.api_keys or self.admin_keys)

    def check_exposure(self) -> None:
        """Refuse to serve a non-loopback host without keys unless ``allow_no_auth``.

        Raises
        ------
        ValueError
            Saying how to set keys or to opt out explicitly.
        """
        if self.auth_enabled or self.allow_no_auth or is_loopback(self.host):
            return
        msg = (
            f"Refusing to serve {self.host} without API keys: anyone who can reach it could "
            "use the model. Set LOGITKIT_API_KEYS (or --api-keys-file), or pass "
            "--allow-no-auth if the network in front of it does authentication."
        )
        raise ValueError(msg)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Settings from keyword arguments over ``LOGITKIT_*`` variables over a TOML file.

        Parameters
        ----------
        environ : mapping, optional
            The environment to read (default ``os.environ``).
        config_file : str or Path, optional
            A TOML settings file (default: ``$LOGITKIT_CONFIG`` if set, else none).
        **overrides
            Field values that win over the environment and the file (``None`` values are
            ignored, so a command line can pass its options through unchanged).

        Raises
        ------
        ValueError
            A value is malformed (naming the setting and where it came from), the file
            cannot be read or holds an unknown key, or the model path is given nowhere.

        Examples
        --------
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "serve.toml"
        >>> _ = path.write_text('model_path = "m.json"\\nport = 9000\\nmax_batch = 50\\n')
        >>> s = Settings.from_env({"LOGITKIT_PORT": "9100"}, config_file=path, max_batch=None)
        >>> s.port, s.max_batch, str(s.model_path)
        (9100, 50, 'm.json')
        """
        env = os.environ if environ is None else environ
        raw_config = config_file if config_file is not None else env.get(CONFIG_ENV) or None
        config = None if raw_config is None else Path(raw_config)
        if config is not None and not config.is_file():
            msg = f"The settings file {config} does not exist (from --config or {CONFIG_ENV})."
            raise ValueError(msg)
        given = {k: v for k, v in overrides.items() if v is not None}
        token = _SOURCES.set((env, config))
        try:
            return cls(**given)
        except ValidationError as exc:
            raise ValueError(_one_message(exc, config)) from None
        except tomllib.TOMLDecodeError as exc:
            msg = f"The settings file {config} is not valid TOML: {exc}."
            raise ValueError(msg) from None
        finally:
            _SOURCES.reset(token)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return type(self)(**{**self.model_dump(), **changes})


class _EnvironmentSource(PydanticBaseSettingsSource):
    """``LOGITKIT_*`` variables of a mapping, each parsed with a message naming it."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        """Unused: :meth:`__call__` reads every field at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = self.environ
        values: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            raw = env.get(f"LOGITKIT_{name.upper()}")
            if raw is not None and name not in _KEY_VARS:
                values[name] = _parser(info.annotation)(raw.strip(), name)
        if "model_path" not in values and env.get("LOGITKIT_MODEL"):
            values["model_path"] = env["LOGITKIT_MODEL"]
        for name, var in _KEY_VARS.items():
            keys = _split_keys(env.get(var, ""))
            key_file = env.get(f"{var}_FILE")
            if key_file:
                keys += read_keys(Path(key_file))
            if keys:
                values[name] = tuple(dict.fromkeys(keys))
        return values


def _one_message(exc: ValidationError, config: Path | None) -> str:
    """The first error of a validation, as one sentence naming the setting."""
    error = exc.errors()[0]
    text = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "missing" and where == "model_path":
        return "No model given: pass MODEL on the command line or set LOGITKIT_MODEL."
    if error["type"] == "extra_forbidden":
        return (
            f"Unknown setting {where!r} in the settings file {config}; see logitkit serve --help."
        )
    if where and where not in text:
        source = f" (LOGITKIT_{where.upper()}, or {where} in the settings file)"
        return f"The {where!r} setting{source}: {text}. Got {error.get('input')!r}."
    return text


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_keys(path: Path) -> list[str]:
    """Keys from a file: one per line (or comma-separated); blank lines and ``#`` comments skipped.

    Raises
    ------
    ValueError
        The file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"Cannot read the API key file {path}: {exc.strerror or exc}."
        raise ValueError(msg) from None
    keys: list[str] = []
    for line in text.splitlines():
        keys += _split_keys(line.split("#", 1)[0])
    return keys


def _split_keys(text: str) -> list[str]:
    return [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]


def _check_key(key: str, name: str) -> None:
    if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key) or not key.isprintable():
        msg = (
            f"Every key in {name!r} must be at least {MIN_KEY_LENGTH} printable characters "
            f"without spaces (got one of {len(key)}). Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
        raise ValueError(msg)


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        msg = f"The {name!r} setting (LOGITKIT_{name.upper()}) must be an int. Got {raw!r} instead."
        raise ValueError(msg) from None


def _float(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        msg = (
            f"The {name!r} setting (LOGITKIT_{name.upper()}) must be a float. Got {raw!r} instead."
        )
        raise ValueError(msg) from None


def _bool(raw: str, name: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    msg = f"The {name!r} setting (LOGITKIT_{name.upper()}) must be true or false. Got {raw!r} instead."
    raise ValueError(msg)


def _str(raw: str, _name: str) -> str:
    return raw


def _parser(annotation: Any) -> Callable[[str, str], Any]:
    """The parser of an environment value for a field of this type."""
    return {int: _int, float: _float, bool: _bool}.get(annotation, _str)
