"""The two steps of an OAuth sign-in, shared by the API and the admin.

:class:`OAuthSignIn` knows the configured providers (``AUTH_OAUTH_PROVIDERS``, built
once per settings object and value, so their discovery documents and keys stay cached),
sends the browser to a provider with a fresh pending sign-in in a signed cookie, and on
the callback checks the cookie, the ``state`` and the provider's answer, and returns the
:class:`~tempest.contrib.auth.oauth_clients.OAuthIdentity`. What happens next (tokens
for the API, a session for the admin) is the caller's.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tempest.contrib.auth.oauth_clients import (
    BaseOAuthProvider,
    GitHubOAuthClient,
    GoogleOAuthClient,
    OAuthIdentity,
    OIDCProvider,
)
from tempest.contrib.auth.oauth_state import PendingSignIn, StateCookie
from tempest.exceptions import AppException, NotFoundException

__all__ = ["OAuthSignIn", "build_provider", "configured_providers"]

_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_cache: dict[tuple[int, str], dict[str, BaseOAuthProvider]] = {}
_cache_lock = threading.Lock()


def build_provider(name: str, entry: dict[str, Any], settings: Any) -> BaseOAuthProvider:
    """The provider object of one ``AUTH_OAUTH_PROVIDERS`` entry.

    Args:
        name: The entry's name.
        entry: Its settings (checked by :class:`~tempest.conf.OAuthSettings`).
        settings: Where the timeouts and key-cache settings are read.
    """
    common: dict[str, Any] = {
        "client_id": entry["client_id"],
        "client_secret": entry["client_secret"],
        "scopes": entry.get("scopes"),
        "timeout": float(getattr(settings, "AUTH_OAUTH_HTTP_TIMEOUT_SECONDS", 10.0)),
    }
    if entry.get("title"):
        common["title"] = entry["title"]
    kind = entry.get("kind", "oidc")
    if kind == "github":
        names = ("authorize_url", "token_url", "api_url")
        endpoints = {key: entry[key] for key in names if entry.get(key)}
        return GitHubOAuthClient(name, **common, **endpoints)
    keys: dict[str, Any] = {
        "jwks_max_age": float(getattr(settings, "AUTH_OAUTH_JWKS_CACHE_SECONDS", 3600)),
        "jwks_cooldown": float(getattr(settings, "AUTH_OAUTH_JWKS_COOLDOWN_SECONDS", 60.0)),
    }
    if kind == "google":
        if entry.get("discovery_url"):
            keys["discovery_url"] = entry["discovery_url"]
        return GoogleOAuthClient(name, **common, **keys)
    return OIDCProvider(name, discovery_url=entry["discovery_url"], **common, **keys)


def configured_providers(settings: Any) -> dict[str, BaseOAuthProvider]:
    """The providers of ``settings``, built once per settings object and configuration."""
    config = dict(getattr(settings, "AUTH_OAUTH_PROVIDERS", None) or {})
    if not config:
        return {}
    tuning = [
        getattr(settings, name, None)
        for name in (
            "AUTH_OAUTH_HTTP_TIMEOUT_SECONDS",
            "AUTH_OAUTH_JWKS_CACHE_SECONDS",
            "AUTH_OAUTH_JWKS_COOLDOWN_SECONDS",
        )
    ]
    target = getattr(settings, "unwrap", lambda: settings)()
    key = (id(target), json.dumps([config, tuning], sort_keys=True, default=str))
    with _cache_lock:
        built = _cache.get(key)
        if built is None:
            for stale in [k for k in _cache if k[0] == key[0]]:
                del _cache[stale]
            built = {name: build_provider(name, entry, settings) for name, entry in config.items()}
            _cache[key] = built
        return built


class OAuthSignIn:
    """Start and finish sign-ins with the configured providers.

    Example:
        >>> flow = OAuthSignIn(settings)  # doctest: +SKIP
        >>> response = await flow.redirect("google", callback_url=url)  # doctest: +SKIP
    """

    def __init__(self, settings: Any) -> None:
        """Read providers and cookie settings from ``settings`` (on use)."""
        self.settings = settings

    @property
    def providers(self) -> dict[str, BaseOAuthProvider]:
        """The configured providers by name."""
        return configured_providers(self.settings)

    def provider(self, name: str) -> BaseOAuthProvider:
        """The provider ``name``.

        Raises:
            NotFoundException: No such provider is configured (404 ``OAUTH_UNKNOWN_PROVIDER``).
        """
        found = self.providers.get(name)
        if found is None:
            raise NotFoundException(
                "No sign-in provider has this name", code="OAUTH_UNKNOWN_PROVIDER"
            )
        return found

    def cookie(self) -> StateCookie:
        """The signed cookie of pending sign-ins."""
        return StateCookie(self.settings)

    async def redirect(self, name: str, *, callback_url: str, next: str = "") -> Response:
        """A redirect to the provider's sign-in page, carrying a new pending sign-in.

        Args:
            name: The provider.
            callback_url: The absolute URL of the callback (registered at the provider);
                the cookie is sent back to its path only.
            next: Where the caller goes after the sign-in (kept in the cookie).

        Raises:
            NotFoundException: Unknown provider (404).
            AppException: The provider cannot be reached (503) or its discovery document
                is unusable (502).
        """
        provider = self.provider(name)
        cookie = self.cookie()
        pending = PendingSignIn.new(name, next=next)
        url = await provider.authorization_url(
            redirect_uri=callback_url,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=pending.code_challenge,
        )
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        cookie.save(response, pending, path=urlsplit(callback_url).path)
        return response

    async def identity(
        self, request: Request, name: str, *, callback_url: str
    ) -> tuple[OAuthIdentity, PendingSignIn]:
        """Check the callback and ask the provider who signed in.

        Args:
            request: The callback request (``code``, ``state`` or ``error`` in its query).
            name: The provider of the callback's URL.
            callback_url: The same callback URL the sign-in started with.

        Returns:
            The identity, and the pending sign-in (its ``next``).

        Raises:
            NotFoundException: Unknown provider (404).
            AppException: 400 ``OAUTH_DENIED`` (the provider answered an error),
                ``OAUTH_NO_PENDING_SIGN_IN``, ``OAUTH_STATE_MISMATCH``,
                ``OAUTH_MISSING_CODE`` or ``OAUTH_SIGN_IN_REFUSED`` (a bad ID token or
                code); 502/503 from the provider.
        """
        provider = self.provider(name)
        query = request.query_params
        error = query.get("error")
        if error is not None:
            shown = error if _TOKEN.fullmatch(error) else "invalid_error"
            message = (
                "The sign-in was cancelled at the provider"
                if shown == "access_denied"
                else f"The provider refused the sign-in ({shown})"
            )
            raise AppException(
                message,
                code="OAUTH_DENIED",
                status_code=400,
                details={"provider": name, "error": shown},
            )
        pending = self.cookie().check(request, name)
        code = query.get("code")
        if not code or len(code) > 2048:
            raise AppException(
                "The provider's answer has no authorization code",
                code="OAUTH_MISSING_CODE",
                status_code=400,
            )
        identity = await provider.identity(
            code=code,
            redirect_uri=callback_url,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
        return identity, pending

    def forget(self, response: Response, *, callback_url: str) -> None:
        """Delete the pending sign-in's cookie on ``response``."""
        self.cookie().clear(response, path=urlsplit(callback_url).path)
