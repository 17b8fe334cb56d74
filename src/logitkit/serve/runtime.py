"""What a running app holds: settings, the current model, the log, metrics and its state.

The current :class:`~logitkit.serve.predictor.Predictor` is one attribute, replaced in a
single assignment by :meth:`Runtime.reload`; a request reads it once, so a swap can
never mix two models in one answer, and a model that fails to load, or to answer its
canary prediction, never replaces the one serving. Nor does one that would refuse
requests the serving model accepts (a feature added, removed, renamed or retyped, a
level dropped), unless the reload says ``allow_schema_change``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass

from logitkit.exceptions import ArtifactError
from logitkit.serve.log import PredictionLog
from logitkit.serve.metrics import Metrics
from logitkit.serve.predictor import Predictor, load_predictor
from logitkit.serve.settings import Settings

__all__ = ["Keyring", "ReloadOutcome", "Runtime", "SchemaChangeError"]

logger = logging.getLogger("logitkit.serve")


class Keyring:
    """A set of bearer keys, checked in constant time.

    Every key is compared (by SHA-256 digest, so lengths do not show), whatever matches.

    Examples
    --------
    >>> ring = Keyring(["a" * 16, "b" * 16])
    >>> ring.check("b" * 16), ring.check("c" * 16), bool(Keyring([]))
    (True, False, False)
    """

    def __init__(self, keys: tuple[str, ...] | list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, candidate: str) -> bool:
        """Whether ``candidate`` is one of the keys."""
        digest = hashlib.sha256(candidate.encode("utf-8", "surrogatepass")).digest()
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(known, digest)
        return found


class SchemaChangeError(ArtifactError):
    """Raised when a reload would change the request schema and was not allowed to.

    Attributes
    ----------
    changes : list of str
        Each change (``"feature 'age' removed"``).
    """

    def __init__(self, message: str, *, changes: list[str], path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.changes = changes


@dataclass(frozen=True)
class ReloadOutcome:
    """The versions before and after a reload."""

    previous: str
    current: str


def configured_predictor(settings: Settings) -> Predictor:
    """The artifact and policy the settings name, loaded, verified and canary-checked."""
    return load_predictor(
        settings.model_path,
        name=settings.name,
        policy_path=settings.policy_path,
        max_batch=settings.max_batch,
        canary_timeout_s=settings.canary_timeout_s,
        canary_max_bytes=settings.canary_max_bytes,
    )


class Runtime:
    """The state of one app: the model serving now, the log, keys, limits and shutdown.

    Attributes
    ----------
    predictor : Predictor
        The model serving now (replaced whole by :meth:`reload`).
    draining : bool
        SIGTERM arrived: readiness fails, in-flight requests finish.
    hurry : bool
        A second SIGTERM arrived: requests not yet committed are answered 503.
    in_flight : int
        Requests being served (the overload limit counts these).
    """

    def __init__(
        self, settings: Settings, predictor: Predictor, log: PredictionLog, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.predictor = predictor
        self.log = log
        self.metrics = metrics
        self.api_keys = Keyring(settings.api_keys)
        self.admin_keys = Keyring(settings.admin_keys)
        self.draining = False
        self.hurry = False
        self.in_flight = 0
        self._reload_lock = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        metrics.set_model(predictor.name, predictor.version)
        # Read when scraped (counting each request into a gauge would cost every request).
        metrics.in_flight.set_function(lambda: self.in_flight)
        metrics.pending_rows.set_function(lambda: log.pending_rows)

    def load(self) -> Predictor:
        """Load the configured artifact and policy (does not swap it in)."""
        return configured_predictor(self.settings)

    async def reload(self, *, allow_schema_change: bool | None = None) -> ReloadOutcome:
        """Load the artifact again and swap it in atomically if it verifies.

        Parameters
        ----------
        allow_schema_change : bool, optional
            Swap in a model whose request schema differs from the serving one's (default:
            the setting ``allow_schema_change``).

        Raises
        ------
        SchemaChangeError
            The new model would refuse requests the serving one accepts.
        ArtifactError
            The new file was refused (tampered, unreadable, incompatible policy, failed
            its canary prediction); the model serving before keeps serving.
        """
        if allow_schema_change is None:
            allow_schema_change = self.settings.allow_schema_change
        async with self._reload_lock:
            previous = self.predictor
            try:
                fresh = await asyncio.to_thread(self.load)
                changes = previous.schema_changes(fresh)
                if changes and not allow_schema_change:
                    msg = (
                        f"The model file {fresh.path} changes the request schema ("
                        + "; ".join(changes)
                        + "), so requests written for the serving model would fail. Reload "
                        "with allow_schema_change=true (POST /admin/reload?"
                        "allow_schema_change=true, or LOGITKIT_ALLOW_SCHEMA_CHANGE=true for "
                        "SIGHUP) once the clients send the new schema."
                    )
                    raise SchemaChangeError(msg, changes=changes, path=str(fresh.path))
            except ArtifactError as exc:
                self.metrics.reloads.labels("refused").inc()
                logger.error("Reload refused, still serving %s: %s", previous.version[:12], exc)
                raise
            self.predictor = fresh  # the swap: one assignment
            self.metrics.set_model(fresh.name, fresh.version)
            self.metrics.reloads.labels("ok").inc()
            logger.info("Reloaded the model: %s -> %s", previous.version[:12], fresh.version[:12])
            return ReloadOutcome(previous.version, fresh.version)

    async def reload_quietly(self) -> None:
        """:meth:`reload`, logging instead of raising (for SIGHUP)."""
        with contextlib.suppress(ArtifactError):  # reload() logged why
            await self.reload()

    def start_draining(self) -> None:
        """First SIGTERM: report not ready; keep serving what arrives until the end."""
        self.draining = True

    def hurry_up(self) -> None:
        """Second SIGTERM: refuse new requests and answer queued ones 503 now."""
        self.draining = True
        self.hurry = True
        aborted = self.log.abort_pending()
        logger.warning("Second SIGTERM: %d queued requests answered 503.", aborted)
