"""The admin's session: one signed, timestamped cookie, and the CSRF token it carries.

The cookie holds ``{"p": principal id or None, "c": CSRF token, "m": True while the
one-time code is pending, "v": the principal's session version at sign-in, "s": a random
session id}``, serialised and signed with HMAC-SHA256 by itsdangerous. It is not
encrypted: it holds nothing secret, only what the server must trust. Its age is signed
too, so a cookie older than ``max_age`` is refused however it is presented. A visitor who
is not signed in still gets a cookie (``p`` None) whose token protects the login form.

A cookie stays valid until it expires, so ending a session needs state on the server:
"Log out" remembers the session id in a :class:`RevokedSessions` store until the cookie
would expire, and raising the principal's session version (a password change, a
deactivation, "Sign out everywhere") ends every cookie that carries an older one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "AdminSession",
    "MemoryRevokedSessions",
    "RedisRevokedSessions",
    "RevokedSessions",
    "RevokedSessionsUnavailable",
    "SignedCookieSessionStore",
    "revoked_sessions_from_url",
]

MIN_SECRET_BYTES = 32
DEFAULT_MAX_AGE = 8 * 3600


@dataclass(frozen=True, slots=True)
class AdminSession:
    """What the cookie says.

    Attributes:
        principal_id: The signed-in principal, or None before sign-in.
        csrf_token: The token every form of this session must send back.
        mfa_pending: True between a correct password and a correct one-time code.
        version: The principal's session version when it signed in (None: the backend
            keeps none, or the cookie predates versions).
        session_id: A random id of this sign-in, which "Log out" revokes; None before
            sign-in.
    """

    principal_id: str | None
    csrf_token: str
    mfa_pending: bool = False
    version: int | None = None
    session_id: str | None = None

    @classmethod
    def anonymous(cls) -> AdminSession:
        """A session for a visitor who has not signed in, with a fresh token."""
        return cls(None, secrets.token_urlsafe(32))

    @classmethod
    def signed_in(
        cls, principal_id: str, *, mfa_pending: bool = False, version: int | None = None
    ) -> AdminSession:
        """A new session (a new token and session id) for ``principal_id``."""
        return cls(
            principal_id, secrets.token_urlsafe(32), mfa_pending, version, secrets.token_urlsafe(16)
        )

    def accepts(self, token: object) -> bool:
        """Whether ``token`` (from a form) is this session's CSRF token."""
        return isinstance(token, str) and hmac.compare_digest(
            token.encode(), self.csrf_token.encode()
        )


class SignedCookieSessionStore:
    """Reads and writes :class:`AdminSession` in a signed cookie.

    Attributes:
        cookie_name: The cookie's name.
        max_age: Lifetime in seconds; older cookies are refused.
        secure: Whether the cookie is sent only over HTTPS.
        same_site: The SameSite attribute.
        path: The cookie's path (the admin's prefix).
    """

    def __init__(
        self,
        secret_key: str,
        *,
        cookie_name: str = "tempest_admin",
        max_age: int = DEFAULT_MAX_AGE,
        secure: bool = True,
        same_site: Literal["lax", "strict", "none"] = "lax",
        path: str = "/admin",
    ) -> None:
        """Check the secret and prepare the signer.

        Raises:
            ValueError: ``secret_key`` is shorter than 32 bytes, or ``same_site`` is not
                lax, strict or none.
        """
        from itsdangerous import URLSafeTimedSerializer

        if len(secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"The admin's secret key must be at least {MIN_SECRET_BYTES} bytes (got "
                f"{len(secret_key.encode())}); make one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
            )
        if same_site not in ("lax", "strict", "none"):
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', got {same_site!r}")
        self._serializer = URLSafeTimedSerializer(
            secret_key,
            salt="tempest.contrib.admin.session",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.secure = secure
        self.same_site = same_site
        self.path = path or "/"

    def load(self, connection: HTTPConnection) -> AdminSession | None:
        """The request's session; None when the cookie is missing, tampered with or expired."""
        from itsdangerous import BadSignature

        raw = connection.cookies.get(self.cookie_name)
        if not raw:
            return None
        try:
            data: Any = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict):
            return None
        principal, token, pending = data.get("p"), data.get("c"), data.get("m", False)
        version, session_id = data.get("v"), data.get("s")
        if not isinstance(token, str) or not (principal is None or isinstance(principal, str)):
            return None
        if type(version) is not int:
            version = None
        if not isinstance(session_id, str):
            session_id = None
        return AdminSession(principal, token, bool(pending), version, session_id)

    def save(self, response: Response, session: AdminSession) -> None:
        """Set the cookie holding ``session`` on ``response``."""
        data: dict[str, Any] = {
            "p": session.principal_id,
            "c": session.csrf_token,
            "m": session.mfa_pending,
        }
        if session.session_id is not None:
            data.update(v=session.version, s=session.session_id)
        value = self._serializer.dumps(data)
        response.set_cookie(
            self.cookie_name,
            value,
            max_age=self.max_age,
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite=self.same_site,
        )

    def clear(self, response: Response) -> None:
        """Delete the cookie."""
        response.delete_cookie(
            self.cookie_name,
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite=self.same_site,
        )


class RevokedSessionsUnavailable(Exception):
    """The store of signed-out sessions could not be reached."""


class RevokedSessions(ABC):
    """Signed-out admin sessions, remembered until their cookies would have expired.

    Consulted on every signed-in page, so it must answer fast. Subclass it to keep the
    records elsewhere; each method raises :class:`RevokedSessionsUnavailable` when the
    store cannot be reached.
    """

    @abstractmethod
    async def revoke(self, session_id: str, seconds: int) -> None:
        """Remember ``session_id`` as signed out for ``seconds``."""

    @abstractmethod
    async def is_revoked(self, session_id: str) -> bool:
        """Whether ``session_id`` was signed out (and its record has not expired)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to close by default
        """Release what the store holds (connections); called when the app shuts down."""


class MemoryRevokedSessions(RevokedSessions):
    """Records in this process's memory: right for one process (``runserver``, tests).

    With several processes, a session signed out in one is still open in the others:
    use :class:`RedisRevokedSessions` there. Expired records are dropped at most once a
    minute, when a new one comes.
    """

    PRUNE_SECONDS = 60.0

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Keep records in a dict; ``clock`` gives seconds (tests pass a fake one)."""
        self._clock = clock
        self._until: dict[str, float] = {}
        self._next_prune = clock() + self.PRUNE_SECONDS

    def __len__(self) -> int:
        """How many records are held (expired ones included until the next prune)."""
        return len(self._until)

    async def revoke(self, session_id: str, seconds: int) -> None:
        """Remember ``session_id`` for ``seconds``."""
        now = self._clock()
        if now >= self._next_prune:
            self._until = {key: until for key, until in self._until.items() if until > now}
            self._next_prune = now + self.PRUNE_SECONDS
        self._until[session_id] = now + seconds

    async def is_revoked(self, session_id: str) -> bool:
        """Whether ``session_id`` is remembered and its record is current."""
        until = self._until.get(session_id)
        return until is not None and until > self._clock()


class RedisRevokedSessions(RevokedSessions):
    """Records in Redis, shared by every process: one key per session, expiring with it.

    One ``EXISTS`` per signed-in page, one ``SET ... EX`` per sign-out. When Redis cannot
    be reached the admin fails closed: pages answer 503 naming
    ``ADMIN_REVOKED_SESSIONS_URL`` rather than let a signed-out cookie in. A client made
    from a URL answers within ``timeout_seconds`` (no retries), logs the outage once and
    the recovery once, and reconnects by itself.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "tempest:admin:signed-out:",
        timeout_seconds: float = 2.0,
        max_connections: int = 50,
    ) -> None:
        """Connect lazily to ``url_or_client`` (a ``redis://`` URL or a client).

        Args:
            url_or_client: The Redis URL, or a ``redis.asyncio.Redis`` to use.
            prefix: Prepended to each session id to make its key.
            timeout_seconds: Connect, pool-wait and read timeout of a client made from a URL.
            max_connections: Connections a client made from a URL opens at most.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            self._redis: Redis = blocking_redis_client(
                url_or_client,
                needed_by="RedisRevokedSessions",
                who="admin signed-out sessions",
                timeout=timeout_seconds,
                max_connections=max_connections,
                consequence="signed-in admin pages answer 503 until it is back",
            )
        else:
            self._redis = url_or_client
        self._prefix = prefix

    async def aclose(self) -> None:
        """Close the connections of a client made from a URL (it reconnects if used again)."""
        if self._owns_client:
            await self._redis.aclose(close_connection_pool=True)

    async def revoke(self, session_id: str, seconds: int) -> None:
        """``SET prefix+id 1 EX seconds``."""
        await self._call(self._redis.set(self._prefix + session_id, b"1", ex=max(1, seconds)))

    async def is_revoked(self, session_id: str) -> bool:
        """``EXISTS prefix+id``."""
        return bool(await self._call(self._redis.exists(self._prefix + session_id)))

    async def _call(self, command: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await command
        except (RedisError, OSError) as error:
            raise RevokedSessionsUnavailable(str(error)) from error


def revoked_sessions_from_url(url: str) -> RevokedSessions:
    """The store named by ``ADMIN_REVOKED_SESSIONS_URL``.

    Args:
        url: Empty or ``memory://`` for this process's memory; ``redis://``,
            ``rediss://`` or ``unix://`` for Redis.

    Raises:
        ValueError: Another scheme.
    """
    if not url or url == "memory://":
        return MemoryRevokedSessions()
    if url.split("://", 1)[0] in ("redis", "rediss", "unix"):
        return RedisRevokedSessions(url)
    raise ValueError(
        "ADMIN_REVOKED_SESSIONS_URL must be empty (memory), memory:// or a redis:// URL, "
        f"got {url.split('://', 1)[0]}://..."
    )
