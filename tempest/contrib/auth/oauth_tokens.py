"""ID tokens of OpenID Connect providers: their signing keys (JWKS) and full validation.

:class:`JWKSCache` fetches a provider's key set (asynchronously, through the fetch
function it is given), keeps it ``max_age`` seconds, and refetches it once when a token
names a key it does not know, at most once per ``cooldown`` seconds: a stream of tokens
with made-up ``kid`` values cannot make it hammer the provider.
:func:`validate_id_token` checks an ID token the way OpenID Connect Core 3.1.3.7 asks:
the signature with a key of the set and an asymmetric algorithm of the allow-list
(``none`` and the HMAC algorithms are refused: a client secret is not a signing key
here), then ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and ``nonce``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

__all__ = ["ID_TOKEN_ALGORITHMS", "IDTokenError", "JWKSCache", "validate_id_token"]

ID_TOKEN_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""The signature algorithms an ID token may use: asymmetric ones only (never none or HS*)."""

JSONFetcher = Callable[[str], Awaitable[dict[str, Any]]]
"""Fetches a URL and returns its JSON object (raising the caller's error when it cannot)."""


class IDTokenError(Exception):
    """An ID token was refused; ``reason`` says why (for logs and the error's details)."""

    def __init__(self, reason: str) -> None:
        """Keep the reason."""
        super().__init__(reason)
        self.reason = reason


class JWKSCache:
    """A provider's signing keys, fetched on first use, cached, refreshed on an unknown key.

    Example:
        >>> cache = JWKSCache("https://idp.example/jwks", fetch_json)  # doctest: +SKIP
        >>> key = await cache.key("kid-1", "RS256")  # doctest: +SKIP
    """

    def __init__(
        self,
        uri: str,
        fetch: JSONFetcher,
        *,
        max_age: float = 3600.0,
        cooldown: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Fetch nothing yet.

        Args:
            uri: The provider's ``jwks_uri``.
            fetch: Fetches a URL's JSON (an async HTTP GET).
            max_age: Seconds a fetched key set is used before it is fetched again.
            cooldown: Minimum seconds between two fetches caused by unknown keys.
            clock: Monotonic seconds (tests pass their own).
        """
        self.uri = uri
        self._fetch = fetch
        self.max_age = max_age
        self.cooldown = cooldown
        self._clock = clock
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = float("-inf")
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.fetches = 0
        """How many times the key set was fetched (for tests and metrics)."""

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _refresh(self, *, unless_after: float) -> None:
        async with self._get_lock():
            if self._fetched_at > unless_after:  # another task fetched while we waited
                return
            document = await self._fetch(self.uri)
            keys = document.get("keys")
            if not isinstance(keys, list):
                raise IDTokenError("the provider's JWKS has no 'keys' list")
            self._keys = [key for key in keys if isinstance(key, dict)]
            self._fetched_at = self._clock()
            self.fetches += 1

    async def key(self, kid: str | None, algorithm: str) -> Any:
        """The verification key for a token header's ``kid`` and ``alg``.

        Args:
            kid: The header's key id; None matches the only key usable for ``algorithm``.
            algorithm: The header's algorithm, already on the allow-list.

        Returns:
            A key object pyjwt verifies with.

        Raises:
            IDTokenError: No such key, even after one allowed refetch, or the key does not
                fit the algorithm.
        """
        now = self._clock()
        if self._keys is None or now - self._fetched_at >= self.max_age:
            await self._refresh(unless_after=now - self.max_age)
        found = self._find(kid, algorithm)
        if found is None and self._clock() - self._fetched_at >= self.cooldown:
            await self._refresh(unless_after=self._clock() - self.cooldown)
            found = self._find(kid, algorithm)
        if found is None:
            raise IDTokenError(f"no signing key {kid!r} in the provider's JWKS")
        return _verification_key(found, algorithm)

    def _find(self, kid: str | None, algorithm: str) -> dict[str, Any] | None:
        candidates = [
            key
            for key in self._keys or ()
            if key.get("use", "sig") == "sig" and key.get("alg", algorithm) == algorithm
        ]
        if kid is None:
            return candidates[0] if len(candidates) == 1 else None
        return next((key for key in candidates if key.get("kid") == kid), None)


def _verification_key(jwk: dict[str, Any], algorithm: str) -> Any:
    from jwt import PyJWK
    from jwt.exceptions import PyJWKError

    try:
        return PyJWK(jwk, algorithm=algorithm).key
    except (PyJWKError, ValueError, TypeError) as error:
        raise IDTokenError(
            f"the key {jwk.get('kid')!r} cannot verify {algorithm}: {error}"
        ) from None


async def validate_id_token(
    token: str,
    *,
    keys: JWKSCache,
    issuers: Collection[str],
    client_id: str,
    nonce: str,
    algorithms: Collection[str] = ID_TOKEN_ALGORITHMS,
    leeway: float = 60.0,
) -> dict[str, Any]:
    """Check an ID token completely and return its claims.

    Args:
        token: The compact JWS from the token endpoint's ``id_token``.
        keys: The provider's key set.
        issuers: The accepted ``iss`` values (the discovery document's ``issuer``).
        client_id: This application's client id: ``aud`` must hold it (and ``azp``,
            when present or when ``aud`` holds several audiences, must be it).
        nonce: The nonce sent in the authorization request.
        algorithms: The accepted signature algorithms, asymmetric ones only.
        leeway: Seconds of clock skew tolerated on ``exp`` and ``iat``.

    Returns:
        The verified claims (``sub``, ``email``, ``email_verified``...).

    Raises:
        IDTokenError: The token is malformed, badly signed, for another client or issuer,
            expired, issued in the future, or does not carry the nonce.
    """
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise IDTokenError("the ID token is not a signed JWT") from None
    algorithm = header.get("alg")
    allowed = [name for name in algorithms if name in ID_TOKEN_ALGORITHMS]
    if not isinstance(algorithm, str) or algorithm not in allowed:
        raise IDTokenError(f"the ID token's algorithm {algorithm!r} is not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IDTokenError("the ID token's 'kid' is not a string")
    key = await keys.key(kid, algorithm)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=client_id,
            leeway=leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_iss": False},
        )
    except jwt.ExpiredSignatureError:
        raise IDTokenError("the ID token expired") from None
    except jwt.InvalidAudienceError:
        raise IDTokenError("the ID token is for another client (aud)") from None
    except jwt.ImmatureSignatureError:
        raise IDTokenError("the ID token is issued in the future (iat)") from None
    except jwt.InvalidTokenError as error:
        raise IDTokenError(f"the ID token is invalid: {error}") from None
    if claims.get("iss") not in issuers:
        raise IDTokenError("the ID token comes from another issuer (iss)")
    audience = claims["aud"]
    azp = claims.get("azp")
    if ((isinstance(audience, list) and len(audience) > 1) or azp is not None) and azp != client_id:
        raise IDTokenError("the ID token was issued to another party (azp)")
    if not isinstance(claims.get("iat"), int | float):
        raise IDTokenError("the ID token's 'iat' is not a number")
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise IDTokenError("the ID token does not carry this sign-in's nonce")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise IDTokenError("the ID token has no subject (sub)")
    return claims
