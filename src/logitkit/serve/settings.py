"""Settings of the prediction service: one frozen dataclass, read from the environment.

Every setting has an environment variable (``LOGITKIT_*``); the command line overrides
them, and tests build :class:`Settings` directly. Nothing else in ``serve/`` reads the
environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["MIN_KEY_LENGTH", "Settings", "is_loopback", "read_keys"]

#: Shortest API key accepted: a guessable key is no key.
MIN_KEY_LENGTH = 16

_SYNC_MODES = ("full", "normal")


@dataclass(frozen=True)
class Settings:
    """How the service runs: model, prediction log, keys, limits and shutdown.

    Build it with :meth:`from_env` (environment variables, then keyword overrides) or
    directly. Every limit is enforced per request; the environment variable of each field
    is ``LOGITKIT_`` followed by its name in capitals (``LOGITKIT_MAX_BODY_BYTES``), except
    the keys (``LOGITKIT_API_KEYS``, ``LOGITKIT_API_KEYS_FILE``, ``LOGITKIT_ADMIN_KEYS``,
    ``LOGITKIT_ADMIN_KEYS_FILE``: comma-separated, or one per line in the file).

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
    max_body_bytes : int
        Largest request body (chunked bodies are counted as they arrive); more is 413.
    max_batch : int
        Most instances in one request; more is 422.
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

    Examples
    --------
    >>> s = Settings.from_env(model_path="model.json", api_keys=("k" * 16,), environ={})
    >>> s.max_body_bytes, s.db_url
    (1048576, 'sqlite:///predictions.db')
    """

    model_path: Path
    policy_path: Path | None = None
    model_name: str | None = None
    db_url: str = "sqlite:///predictions.db"
    db_table_prefix: str = "logitkit_"
    db_synchronous: str = "full"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    admin_keys: tuple[str, ...] = field(default=(), repr=False)
    allow_no_auth: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1 << 20
    max_batch: int = 10_000
    max_in_flight: int = 1024
    max_pending_rows: int = 200_000
    request_timeout_s: float = 10.0
    grace_period_s: float = 10.0
    drift_window: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_path", Path(self.model_path))
        if self.policy_path is not None:
            object.__setattr__(self, "policy_path", Path(self.policy_path))
        for name, low in (
            ("max_body_bytes", 1),
            ("max_batch", 1),
            ("max_in_flight", 1),
            ("max_pending_rows", 1),
            ("drift_window", 2),
            ("port", 0),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                msg = f"The {name!r} setting must be an int in [{low}, inf). Got {value!r} instead."
                raise ValueError(msg)
        for name in ("request_timeout_s", "grace_period_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < 86_400:
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
        for name in ("api_keys", "admin_keys"):
            for key in getattr(self, name):
                _check_key(key, name)

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
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``LOGITKIT_*`` variables; keyword arguments take precedence.

        Parameters
        ----------
        environ : mapping, optional
            The environment to read (default ``os.environ``).
        **overrides
            Field values that win over the environment (``None`` values are ignored, so a
            command line can pass its options through unchanged).

        Raises
        ------
        ValueError
            A value is malformed, or the model path is given nowhere.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"LOGITKIT_{f.name.upper()}")
            if raw is not None and f.name not in ("api_keys", "admin_keys"):
                values[f.name] = _PARSERS.get(f.name, _str)(raw.strip(), f.name)
        if "model_path" not in values:
            raw_model = env.get("LOGITKIT_MODEL")
            if raw_model:
                values["model_path"] = raw_model
        for name, var in (("api_keys", "LOGITKIT_API_KEYS"), ("admin_keys", "LOGITKIT_ADMIN_KEYS")):
            keys = _split_keys(env.get(var, ""))
            key_file = env.get(f"{var}_FILE")
            if key_file:
                keys += read_keys(Path(key_file))
            values[name] = tuple(dict.fromkeys(keys))
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        if "model_path" not in values:
            msg = "No model given: pass MODEL on the command line or set LOGITKIT_MODEL."
            raise ValueError(msg)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


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


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "port": _int,
    "max_body_bytes": _int,
    "max_batch": _int,
    "max_in_flight": _int,
    "max_pending_rows": _int,
    "drift_window": _int,
    "request_timeout_s": _float,
    "grace_period_s": _float,
    "allow_no_auth": _bool,
}
