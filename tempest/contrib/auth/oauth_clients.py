"""The OAuth2 / OpenID Connect providers users sign in with.

:class:`OIDCProvider` is any OpenID Connect provider, configured from its discovery URL;
:class:`GoogleOAuthClient` is Google's. :class:`GitHubOAuthClient` speaks GitHub's plain
OAuth2 and asks its API for the user's emails: only a verified primary email counts.
Each provider builds the authorization URL (code flow with PKCE S256, ``state`` and, for
OpenID Connect, ``nonce``) and turns the callback's ``code`` into an
:class:`OAuthIdentity`. Nothing is fetched before the first sign-in: an application
starts while its providers are down, and a provider that cannot be reached is a 503
(``OAUTH_PROVIDER_UNAVAILABLE``), one that answers nonsense a 502
(``OAUTH_PROVIDER_ERROR``), never a 500.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tempest.contrib.auth.oauth_tokens import IDTokenError, JWKSCache, validate_id_token
from tempest.exceptions import AppException

__all__ = [
    "BaseOAuthProvider",
    "GitHubOAuthClient",
    "GoogleOAuthClient",
    "OAuthIdentity",
    "OIDCProvider",
    "provider_error",
    "provider_unavailable",
]

logger = logging.getLogger("tempest.contrib.auth.oauth")


@dataclass(frozen=True)
class OAuthIdentity:
    """Who the provider says signed in.

    Attributes:
        provider: The provider's name in ``AUTH_OAUTH_PROVIDERS``.
        subject: The provider's stable id of the user (``sub``; GitHub's numeric id).
        email: The email the provider gives, or None.
        email_verified: Whether the provider vouches that the user owns ``email``.
        name: A display name, when given.
    """

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None


def provider_unavailable(name: str, error: Exception | str) -> AppException:
    """The 503 of a provider that cannot be reached (logged with the cause)."""
    logger.warning("OAuth provider %r unreachable: %s", name, error)
    return AppException(
        f"Sign-in with {name} is unavailable right now; try again in a moment",
        code="OAUTH_PROVIDER_UNAVAILABLE",
        status_code=503,
        headers={"Retry-After": "30"},
        details={"provider": name},
    )


def provider_error(name: str, problem: str) -> AppException:
    """The 502 of a provider that answered something unusable (logged)."""
    logger.warning("OAuth provider %r answered badly: %s", name, problem)
    return AppException(
        f"Sign-in with {name} failed: the provider's answer could not be used",
        code="OAUTH_PROVIDER_ERROR",
        status_code=502,
        details={"provider": name, "reason": problem[:200]},
    )


def _refused(name: str, reason: str) -> AppException:
    return AppException(
        f"Sign-in with {name} was refused: {reason}",
        code="OAUTH_SIGN_IN_REFUSED",
        status_code=400,
        details={"provider": name, "reason": reason[:200]},
    )


class BaseOAuthProvider(ABC):
    """What every provider has: a name, client credentials, scopes and an HTTP client."""

    default_scopes: tuple[str, ...] = ()
    uses_nonce: bool = False
    """Whether the provider issues ID tokens (OpenID Connect): then a nonce is sent."""

    def __init__(
        self,
        name: str,
        *,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] | None = None,
        title: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Configure; nothing is fetched.

        Args:
            name: The provider's name in URLs (``/api/auth/oauth/<name>/start``).
            client_id: The client id registered at the provider.
            client_secret: Its secret.
            scopes: The scopes asked for; default :attr:`default_scopes`.
            title: The button's label; default the name, capitalized.
            timeout: Seconds allowed for each call to the provider.
        """
        self.name = name
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = tuple(scopes or self.default_scopes)
        self.title = title or name.capitalize()
        self.timeout = timeout

    # -- HTTP --------------------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        """Call the provider; the JSON answer, or a 503/502 :class:`AppException`."""
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise provider_unavailable(self.name, f"{method} {url}: {error!r}") from None
        if response.status_code >= 500:
            raise provider_unavailable(self.name, f"{method} {url}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise provider_error(
                self.name, f"{url} answered HTTP {response.status_code}, not JSON"
            ) from None
        if response.status_code >= 400 and not (isinstance(body, dict) and "error" in body):
            raise provider_error(self.name, f"{url} answered HTTP {response.status_code}")
        return body

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        body = await self._request("GET", url, **kwargs)
        if not isinstance(body, dict):
            raise provider_error(self.name, f"{url} did not answer a JSON object")
        return body

    async def _exchange_code(
        self, token_url: str, *, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        """The token endpoint's answer to the authorization code (with the PKCE verifier)."""
        body = await self._request(
            "POST",
            token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
                "client_id": self.client_id,
            },
            auth=(self.client_id, self.client_secret),
            headers={"Accept": "application/json"},
        )
        if not isinstance(body, dict):
            raise provider_error(self.name, "the token endpoint did not answer a JSON object")
        if "error" in body:  # a used or forged code, a wrong verifier...
            raise _refused(self.name, f"the code was not accepted ({str(body['error'])[:60]})")
        if not isinstance(body.get("access_token"), str):
            raise provider_error(self.name, "the token endpoint gave no access_token")
        return body

    # -- the flow ----------------------------------------------------------------------------

    @abstractmethod
    async def authorization_endpoint(self) -> str:
        """Where the browser is sent to sign in (may fetch the discovery document)."""

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """The URL of the provider's sign-in page for this sign-in.

        Args:
            redirect_uri: This application's callback URL, registered at the provider.
            state: The random value the callback must carry back.
            nonce: The random value the ID token must carry (OpenID Connect only).
            code_challenge: The PKCE S256 challenge of the sign-in's verifier.
        """
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if self.uses_nonce:
            params["nonce"] = nonce
        endpoint = await self.authorization_endpoint()
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"

    @abstractmethod
    async def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> OAuthIdentity:
        """Exchange the callback's code and say who signed in.

        Raises:
            AppException: 400 ``OAUTH_SIGN_IN_REFUSED`` (bad code or ID token), 502 or 503
                (the provider).
        """


class OIDCProvider(BaseOAuthProvider):
    """Any OpenID Connect provider, found through its discovery document.

    The document (``/.well-known/openid-configuration``) and the signing keys are fetched
    on the first sign-in and cached; the ID token is fully validated
    (:func:`~tempest.contrib.auth.oauth_tokens.validate_id_token`).

    Example:
        >>> corp = OIDCProvider(
        ...     "corp",
        ...     client_id="tempest-app",
        ...     client_secret="...",
        ...     discovery_url="https://login.corp.example/.well-known/openid-configuration",
        ... )
    """

    default_scopes = ("openid", "email", "profile")
    uses_nonce = True
    extra_issuers: tuple[str, ...] = ()
    """Issuer spellings accepted besides the discovery document's ``issuer``."""

    def __init__(
        self,
        name: str,
        *,
        client_id: str,
        client_secret: str,
        discovery_url: str,
        scopes: Sequence[str] | None = None,
        title: str | None = None,
        timeout: float = 10.0,
        jwks_max_age: float = 3600.0,
        jwks_cooldown: float = 60.0,
        leeway: float = 60.0,
    ) -> None:
        """Configure; nothing is fetched.

        Args:
            name: The provider's name in URLs.
            client_id: The client id registered at the provider.
            client_secret: Its secret.
            discovery_url: The provider's ``.well-known/openid-configuration`` URL.
            scopes: The scopes; default ``openid email profile`` (``openid`` is added).
            title: The button's label.
            timeout: Seconds allowed for each call to the provider.
            jwks_max_age: Seconds the signing keys are cached.
            jwks_cooldown: Minimum seconds between refetches caused by unknown keys.
            leeway: Seconds of clock skew tolerated on the ID token's times.
        """
        scopes = tuple(scopes or self.default_scopes)
        if "openid" not in scopes:
            scopes = ("openid", *scopes)
        super().__init__(
            name,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            title=title,
            timeout=timeout,
        )
        self.discovery_url = discovery_url
        self.jwks_max_age = jwks_max_age
        self.jwks_cooldown = jwks_cooldown
        self.leeway = leeway
        self._metadata: dict[str, Any] | None = None
        self._keys: JWKSCache | None = None

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once (again after a failed fetch)."""
        if self._metadata is None:
            document = await self._get_json(self.discovery_url)
            for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(key), str) or not document[key]:
                    raise provider_error(self.name, f"the discovery document has no {key!r}")
            self._metadata = document
        return self._metadata

    async def keys(self) -> JWKSCache:
        """The provider's signing keys (cached; see :class:`JWKSCache`)."""
        if self._keys is None:
            uri = str((await self.metadata())["jwks_uri"])
            self._keys = JWKSCache(
                uri, self._get_json, max_age=self.jwks_max_age, cooldown=self.jwks_cooldown
            )
        return self._keys

    async def authorization_endpoint(self) -> str:
        """The discovery document's ``authorization_endpoint``."""
        return str((await self.metadata())["authorization_endpoint"])

    async def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> OAuthIdentity:
        """Exchange the code; validate the ID token; the identity it states."""
        metadata = await self.metadata()
        answer = await self._exchange_code(
            str(metadata["token_endpoint"]),
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise provider_error(self.name, "the token endpoint gave no id_token")
        signing_algorithms = metadata.get("id_token_signing_alg_values_supported")
        try:
            claims = await validate_id_token(
                id_token,
                keys=await self.keys(),
                issuers={str(metadata["issuer"]), *self.extra_issuers},
                client_id=self.client_id,
                nonce=nonce,
                algorithms=signing_algorithms
                if isinstance(signing_algorithms, list) and signing_algorithms
                else ("RS256",),
                leeway=self.leeway,
            )
        except IDTokenError as error:
            logger.warning("ID token from %r refused: %s", self.name, error.reason)
            raise _refused(self.name, error.reason) from None
        email = claims.get("email")
        verified = claims.get("email_verified")
        return OAuthIdentity(
            provider=self.name,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) and email else None,
            email_verified=verified is True or verified == "true",
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        )


class GoogleOAuthClient(OIDCProvider):
    """Sign in with Google (OpenID Connect).

    Register a "Web application" OAuth client in the Google Cloud console, with the
    redirect URI ``<SITE_URL>/api/auth/oauth/google/callback`` (and
    ``<SITE_URL>/admin/oauth/google/callback`` for the admin).
    """

    DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
    extra_issuers = ("accounts.google.com", "https://accounts.google.com")

    def __init__(
        self,
        name: str = "google",
        *,
        client_id: str,
        client_secret: str,
        discovery_url: str = DISCOVERY_URL,
        scopes: Sequence[str] | None = None,
        title: str | None = "Google",
        **options: Any,
    ) -> None:
        """Google's discovery URL unless told otherwise; see :class:`OIDCProvider`."""
        super().__init__(
            name,
            client_id=client_id,
            client_secret=client_secret,
            discovery_url=discovery_url,
            scopes=scopes,
            title=title,
            **options,
        )


class GitHubOAuthClient(BaseOAuthProvider):
    """Sign in with GitHub (OAuth2; the email comes from ``GET /user/emails``).

    GitHub issues no ID token. The user's id is GitHub's numeric id, and the email is
    the account's primary email only when GitHub has verified it; an unverified primary
    email signs nobody in (a GitHub user can type any address there).
    """

    default_scopes = ("read:user", "user:email")
    AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
    TOKEN_URL = "https://github.com/login/oauth/access_token"
    API_URL = "https://api.github.com"

    def __init__(
        self,
        name: str = "github",
        *,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] | None = None,
        title: str | None = "GitHub",
        timeout: float = 10.0,
        authorize_url: str = AUTHORIZE_URL,
        token_url: str = TOKEN_URL,
        api_url: str = API_URL,
    ) -> None:
        """GitHub's endpoints unless told otherwise (GitHub Enterprise, tests).

        Args:
            name: The provider's name in URLs.
            client_id: The OAuth app's client id.
            client_secret: Its secret.
            scopes: Default ``read:user user:email``.
            title: The button's label.
            timeout: Seconds allowed for each call.
            authorize_url: The authorization page.
            token_url: The token endpoint.
            api_url: The REST API's base URL.
        """
        super().__init__(
            name,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            title=title,
            timeout=timeout,
        )
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.api_url = api_url.rstrip("/")

    async def authorization_endpoint(self) -> str:
        """GitHub's authorization page."""
        return self.authorize_url

    async def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> OAuthIdentity:
        """Exchange the code; read ``/user`` and ``/user/emails``."""
        answer = await self._exchange_code(
            self.token_url, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "Authorization": f"Bearer {answer['access_token']}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        user = await self._get_json(f"{self.api_url}/user", headers=headers)
        if "error" in user or not isinstance(user.get("id"), int):
            raise provider_error(self.name, "GET /user gave no numeric id")
        emails = await self._request("GET", f"{self.api_url}/user/emails", headers=headers)
        if not isinstance(emails, list):
            raise provider_error(self.name, "GET /user/emails did not answer a list")
        primary = next(
            (
                entry
                for entry in emails
                if isinstance(entry, dict)
                and entry.get("primary") is True
                and isinstance(entry.get("email"), str)
            ),
            None,
        )
        name = user.get("name") or user.get("login")
        return OAuthIdentity(
            provider=self.name,
            subject=str(user["id"]),
            email=primary["email"] if primary is not None else None,
            email_verified=primary is not None and primary.get("verified") is True,
            name=name if isinstance(name, str) else None,
        )
