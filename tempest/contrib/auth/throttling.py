"""The project's sign-in throttle, shared by the auth API and the admin.

One :class:`SignInThrottle` per project (per settings object), built from the settings by
:func:`get_sign_in_throttle`, counts every sign-in attempt twice, atomically and *before*
the password is checked:

- per account (``login:<normalized email>``): ``AUTH_MAX_LOGIN_ATTEMPTS`` attempts per
  ``AUTH_LOCKOUT_SECONDS``; a success resets the account's count;
- per client (``login-client:<ip>``, an IPv6 client by its /64): at most
  ``AUTH_MAX_ATTEMPTS_PER_CLIENT`` attempts per ``AUTH_LOCKOUT_SECONDS``, whatever the
  accounts, so one client cannot try a password on many accounts. A success gives back
  only its own attempt (:meth:`AttemptThrottle.release`), never the failures before it:
  signing in to an account of one's own does not reset the client's count, while the
  users behind one shared address who sign in successfully do not use it up.

The auth API's ``POST /login`` and the admin's sign-in form use the same keys on the same
backend, so failures made through either add up. The second step (a TOTP or recovery
code) is counted per account too, under ``mfa:<user id>``.

``AUTH_THROTTLE_URL`` names the backend: a ``redis://`` URL shared by every process, or
``memory://`` (this process only); unset, it follows ``REDIS_URL`` (memory without it).
When Redis cannot be reached, sign-in fails closed: the API answers 503
``THROTTLE_UNAVAILABLE`` and the admin a 503 page; no password is checked unthrottled.
"""

from __future__ import annotations

import ipaddress
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tempest.contrib.auth.base import normalize_email
from tempest.exceptions import ImproperlyConfigured
from tempest.utils.throttle import (
    AttemptThrottle,
    MemoryThrottleBackend,
    RedisThrottleBackend,
    ThrottleBackend,
)

__all__ = [
    "SignInAttempt",
    "SignInThrottle",
    "account_key",
    "client_key",
    "get_sign_in_throttle",
    "mfa_key",
    "throttle_backend_from_url",
]

DEFAULT_MAX_ATTEMPTS_PER_CLIENT = 20
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def account_key(identifier: str) -> str:
    """The throttle key of an account: ``login:`` and the normalized email."""
    return f"login:{normalize_email(identifier)}"


def client_key(ip: str) -> str:
    """The throttle key of a client address; an IPv6 address counts by its /64 network.

    One IPv6 host usually holds a whole /64, so counting single addresses would let it
    rotate through them.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"login-client:{ip}"
    if address.version == 6:
        return f"login-client:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"login-client:{address}"


def mfa_key(principal_id: object) -> str:
    """The throttle key of the second sign-in step (one-time codes) of an account."""
    return f"mfa:{principal_id}"


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """The answer of :meth:`SignInThrottle.begin`.

    Attributes:
        allowed: Whether the password may be checked.
        retry_after_seconds: When refused, seconds until the lock expires; when allowed,
            non-zero only for the account's last attempt (the wait before the next one is
            sure to be allowed if this one fails).
        last: Allowed, and the account's last attempt of the window.
        account: The account's key.
        client: The client's key, or None when the client is not counted.
        client_attempt_id: The id of the client's counted attempt, for a release.
    """

    allowed: bool
    retry_after_seconds: int
    last: bool
    account: str
    client: str | None = None
    client_attempt_id: str = ""


class SignInThrottle:
    """Per-account and per-client limits on sign-in attempts, reserved before the check.

    Attributes:
        accounts: Counts attempts per account (``login:<email>``) and per MFA step.
        clients: Counts attempts per client address; None turns the client limit off.
    """

    def __init__(self, accounts: AttemptThrottle, clients: AttemptThrottle | None = None):
        """Use these two throttles (usually on one backend).

        Args:
            accounts: The per-account throttle.
            clients: The per-client throttle, or None.
        """
        self.accounts = accounts
        self.clients = clients

    @classmethod
    def for_accounts(
        cls,
        accounts: AttemptThrottle,
        *,
        max_attempts_per_client: int | None = DEFAULT_MAX_ATTEMPTS_PER_CLIENT,
    ) -> SignInThrottle:
        """Add a per-client limit on the same backend and window to ``accounts``.

        Args:
            accounts: The per-account throttle.
            max_attempts_per_client: Attempts per client and window; None: no client limit.
        """
        clients = None
        if max_attempts_per_client is not None:
            clients = AttemptThrottle(
                accounts.backend,
                max_attempts=max_attempts_per_client,
                window_seconds=accounts.window_seconds,
                lock_seconds=accounts.lock_seconds,
            )
        return cls(accounts, clients)

    async def begin(self, identifier: str, client_ip: str | None) -> SignInAttempt:
        """Reserve a sign-in attempt for ``identifier`` from ``client_ip``.

        Check the password only when the answer is ``allowed``; then call
        :meth:`succeeded` on success (a failure needs nothing more: it is counted).

        Args:
            identifier: The email typed.
            client_ip: The client's address (:func:`~tempest.utils.client_ip.get_client_ip`),
                or None to count the account only.

        Returns:
            The attempt.

        Raises:
            ThrottleUnavailableError: The backend could not be reached.
        """
        account = account_key(identifier)
        client = None
        client_result = None
        if self.clients is not None and client_ip:
            client = client_key(client_ip)
            client_result = await self.clients.attempt(client)
            if client_result.locked:
                return SignInAttempt(False, client_result.retry_after_seconds, False, account)
        result = await self.accounts.attempt(account)
        if result.locked:
            if self.clients is not None and client is not None and client_result is not None:
                await self.clients.release(client, client_result)  # nothing was checked
            return SignInAttempt(False, result.retry_after_seconds, False, account)
        return SignInAttempt(
            True,
            result.retry_after_seconds,
            result.attempts_left == 0,
            account,
            client,
            client_result.attempt_id if client_result is not None else "",
        )

    async def succeeded(self, attempt: SignInAttempt) -> None:
        """The password was right: reset the account, give the client its attempt back.

        Args:
            attempt: What :meth:`begin` answered.
        """
        await self.accounts.reset(attempt.account)
        if self.clients is not None and attempt.client is not None:
            await self.clients.release(attempt.client, attempt.client_attempt_id)

    async def aclose(self) -> None:
        """Close the backend's Redis client, if it made one."""
        backend = self.accounts.backend
        if isinstance(backend, RedisThrottleBackend):
            await backend.aclose()


def close_at_shutdown(router: Any, *closers: Callable[[], Awaitable[None]]) -> None:
    """Run ``closers`` when an application that includes ``router`` shuts down.

    FastAPI merges an included router's lifespan into the application's: the Redis
    clients of the throttle and of the admin's signed-out sessions are closed with the
    app (they reconnect if the same router serves another app later).
    """
    inner = router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                for close in closers:
                    await close()

    router.lifespan_context = lifespan


def throttle_backend_from_url(url: str, *, setting: str = "AUTH_THROTTLE_URL") -> ThrottleBackend:
    """The backend a URL names: ``memory://`` or a ``redis://`` (``rediss://``, ``unix://``).

    Args:
        url: The URL.
        setting: The setting it comes from, for the error message.

    Raises:
        ImproperlyConfigured: Another scheme.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory" or not url:
        return MemoryThrottleBackend()
    if scheme in _REDIS_SCHEMES:
        return RedisThrottleBackend.from_url(url)
    got = f"{scheme}://..." if scheme else repr(url)
    raise ImproperlyConfigured(
        f"{setting} must be 'memory://' or a redis:// URL, got {got}; "
        "fix it in the settings or the environment."
    )


def build_sign_in_throttle(settings: Any) -> SignInThrottle:
    """A new sign-in throttle from the settings.

    Reads ``AUTH_THROTTLE_URL`` (unset: ``REDIS_URL``, else memory),
    ``AUTH_MAX_LOGIN_ATTEMPTS``, ``AUTH_LOCKOUT_SECONDS`` and ``AUTH_MAX_ATTEMPTS_PER_CLIENT``.
    """
    from tempest.conf.shared_state import shared_state_url

    lockout = int(getattr(settings, "AUTH_LOCKOUT_SECONDS", 900))
    url = shared_state_url(settings, getattr(settings, "AUTH_THROTTLE_URL", None))
    backend = throttle_backend_from_url(url)
    accounts = AttemptThrottle(
        backend,
        max_attempts=int(getattr(settings, "AUTH_MAX_LOGIN_ATTEMPTS", 5)),
        window_seconds=lockout,
        lock_seconds=lockout,
    )
    per_client = int(
        getattr(settings, "AUTH_MAX_ATTEMPTS_PER_CLIENT", DEFAULT_MAX_ATTEMPTS_PER_CLIENT)
    )
    return SignInThrottle.for_accounts(accounts, max_attempts_per_client=per_client)


_SETTINGS_KEYS = (
    "AUTH_THROTTLE_URL",
    "REDIS_URL",
    "AUTH_MAX_LOGIN_ATTEMPTS",
    "AUTH_LOCKOUT_SECONDS",
    "AUTH_MAX_ATTEMPTS_PER_CLIENT",
)
_built: dict[int, tuple[Any, tuple[Any, ...], SignInThrottle]] = {}
_built_lock = threading.Lock()


def get_sign_in_throttle(settings: Any = None) -> SignInThrottle:
    """The project's sign-in throttle: one per settings object, shared by API and admin.

    Built on first use from the settings (see :func:`build_sign_in_throttle`) and kept as
    long as that settings object lives, so every part of an application built from the
    same settings counts on the same store.

    Args:
        settings: The settings; default :data:`tempest.conf.settings`.

    Raises:
        ImproperlyConfigured: ``AUTH_THROTTLE_URL`` names an unknown backend.
    """
    if settings is None:
        from tempest.conf import settings as project_settings

        settings = project_settings
    unwrap = getattr(settings, "unwrap", None)
    target = unwrap() if callable(unwrap) else settings
    values = tuple(getattr(target, name, None) for name in _SETTINGS_KEYS)
    key = id(target)
    with _built_lock:
        cached = _built.get(key)
        if cached is not None:
            holder, cached_values, throttle = cached
            alive = holder() if isinstance(holder, weakref.ref) else holder
            if alive is target and cached_values == values:
                return throttle
        throttle = build_sign_in_throttle(target)
        try:
            holder = weakref.ref(target, lambda _: _built.pop(key, None))
        except TypeError:  # not weakly referenceable: keep it alive with its throttle
            holder = target
        _built[key] = (holder, values, throttle)
        return throttle
