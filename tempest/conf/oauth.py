"""The settings of sign-in with OAuth2 / OpenID Connect providers: :class:`OAuthSettings`.

Part of :class:`~tempest.conf.Settings`; read by ``tempest.contrib.auth`` (the
``/api/auth/oauth/{provider}/...`` routes and the admin's sign-in page).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings

__all__ = ["OAUTH_PROVIDER_KINDS", "OAuthSettings"]

OAUTH_PROVIDER_KINDS = ("oidc", "google", "github")
"""The ``kind`` values of an ``AUTH_OAUTH_PROVIDERS`` entry."""

_KNOWN_KEYS = {
    "kind",
    "client_id",
    "client_secret",
    "discovery_url",
    "scopes",
    "title",
    "authorize_url",
    "token_url",
    "api_url",
}


def _check_provider(name: str, entry: Any) -> dict[str, Any]:
    """One ``AUTH_OAUTH_PROVIDERS`` entry, checked; raises ValueError naming the problem."""
    if not name or not name.replace("-", "").replace("_", "").isalnum() or not name.isascii():
        raise ValueError(
            f"AUTH_OAUTH_PROVIDERS: provider name {name!r} must be letters, digits, - and _ "
            "(it is part of the URL /api/auth/oauth/<name>/start)"
        )
    if not isinstance(entry, dict):
        raise ValueError(f"AUTH_OAUTH_PROVIDERS[{name!r}] must be a dict, got {entry!r}")
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"AUTH_OAUTH_PROVIDERS[{name!r}]: unknown key(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_KNOWN_KEYS))}"
        )
    default_kind = name if name in ("google", "github") else "oidc"
    kind = entry.get("kind", default_kind)
    if kind not in OAUTH_PROVIDER_KINDS:
        raise ValueError(
            f"AUTH_OAUTH_PROVIDERS[{name!r}]: kind must be one of "
            f"{', '.join(OAUTH_PROVIDER_KINDS)}, got {kind!r}"
        )
    for key in ("client_id", "client_secret"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ValueError(f"AUTH_OAUTH_PROVIDERS[{name!r}] needs a non-empty {key!r}")
    if kind == "oidc" and not entry.get("discovery_url"):
        raise ValueError(
            f"AUTH_OAUTH_PROVIDERS[{name!r}] (an OpenID Connect provider) needs "
            "'discovery_url', e.g. https://login.example.com/.well-known/openid-configuration"
        )
    scopes = entry.get("scopes")
    if scopes is not None and (
        not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes)
    ):
        raise ValueError(f"AUTH_OAUTH_PROVIDERS[{name!r}]: 'scopes' must be a list of strings")
    return {**entry, "kind": kind}


class OAuthSettings(BaseAppSettings):
    """Sign-in with Google, GitHub or any OpenID Connect provider (``tempest.contrib.auth``)."""

    AUTH_OAUTH_PROVIDERS: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The providers users may sign in with: name -> {'client_id', "
        "'client_secret', and for kind 'oidc' (the default except for the names 'google' "
        "and 'github') 'discovery_url'; optional 'title', 'scopes'}. Each gets "
        "/api/auth/oauth/<name>/start and /callback, and a button on the admin's sign-in page.",
    )

    @field_validator("AUTH_OAUTH_PROVIDERS")
    @classmethod
    def _check_providers(cls, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {name: _check_provider(name, entry) for name, entry in value.items()}

    AUTH_OAUTH_CREATE_USERS: bool = Field(
        default=True,
        description="A first sign-in whose verified email has no account creates one; "
        "off: only existing accounts (matched by verified email, or linked before) sign in.",
    )
    AUTH_OAUTH_SUCCESS_URL: str = Field(
        default="",
        description="Where the API's callback sends the browser after a sign-in, with the "
        "tokens in the URL fragment (#access_token=...); empty: the callback answers the "
        "token pair as JSON, like POST /login.",
    )

    @field_validator("AUTH_OAUTH_SUCCESS_URL")
    @classmethod
    def _check_success_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(
                f"AUTH_OAUTH_SUCCESS_URL must be an absolute http(s) URL, got {value!r}"
            )
        return value

    AUTH_OAUTH_STATE_TTL_SECONDS: int = Field(
        default=600,
        ge=30,
        description="How long a started sign-in may take at the provider (lifetime of the "
        "signed cookie holding state, nonce and PKCE verifier).",
    )
    AUTH_OAUTH_COOKIE_SECURE: bool | None = Field(
        default=None,
        description="Send the pending sign-in cookie over HTTPS only; default: yes unless DEBUG.",
    )
    AUTH_OAUTH_HTTP_TIMEOUT_SECONDS: float = Field(
        default=10.0,
        gt=0,
        description="Timeout of each call to a provider (discovery, keys, token, user API).",
    )
    AUTH_OAUTH_JWKS_CACHE_SECONDS: int = Field(
        default=3600,
        ge=0,
        description="How long a provider's signing keys (JWKS) are kept before they are "
        "fetched again.",
    )
    AUTH_OAUTH_JWKS_COOLDOWN_SECONDS: float = Field(
        default=60.0,
        ge=0,
        description="An ID token signed by an unknown key refetches the keys at most once "
        "per this many seconds (no refetch storm from forged tokens).",
    )
