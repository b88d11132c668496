"""Signed JSON Web Tokens with safe defaults: :class:`JWTUtils`.

The rules this module enforces, so that a project cannot weaken them by accident:

* Tokens are verified with exactly the algorithm the instance was built with. The token
  header's ``alg`` is never trusted, which defeats ``alg: none`` and the algorithm-confusion
  attack (an HS256 token signed with an RS256 public key).
* ``none`` is refused when the instance is built and when a token is decoded.
* HMAC secrets shorter than the hash output (32 bytes for HS256, 48 for HS384, 64 for
  HS512) are refused when the instance is built.
* Every token carries ``iat``, ``nbf``, ``exp``, ``jti`` and a ``type`` claim
  (``"access"``, ``"refresh"``, ...); decoding requires ``exp`` and ``iat``, checks ``nbf``,
  the issuer and the audience, and the type the caller expects.

PyJWT does the cryptography. RSA, RSA-PSS, EC and EdDSA keys also need the ``cryptography``
package (``pip install "tempest-framework[auth]"``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from jwt.algorithms import Algorithm, get_default_algorithms, has_crypto, requires_cryptography

from tempest.exceptions import ExpiredTokenException, InvalidTokenException

__all__ = ["JWTUtils"]

_HMAC_MINIMUM_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

# Claims JWTUtils.encode sets itself; a caller passing one of them is making a mistake.
_MANAGED_CLAIMS = frozenset({"iat", "nbf", "exp", "type", "iss", "aud"})


class JWTUtils:
    """Encode and decode signed JWTs for one algorithm and one key.

    Build one instance per signing key at start-up and share it. With an HMAC algorithm
    (``HS256``, ``HS384``, ``HS512``) ``secret`` is the shared secret. With an asymmetric
    algorithm (``RS256``, ``PS256``, ``ES256``, ``EdDSA``, ...) ``secret`` is the PEM private
    key that signs and ``public_key`` the PEM public key that verifies; ``public_key`` may
    be left out (it is derived from the private key), and ``secret`` may be ``""`` for an
    instance that only verifies tokens issued elsewhere.

    Attributes:
        algorithm: The one algorithm tokens are signed and verified with.
        default_ttl: Lifetime of a token when :meth:`encode` gets no ``ttl``.
        issuer: Value of the ``iss`` claim, required on decode; ``None`` to leave it out.
        audience: Value of the ``aud`` claim, required on decode; ``None`` to leave it out.
        leeway: Clock skew tolerated when checking ``exp``, ``nbf`` and ``iat``.

    Key rotation: ``fallback_secrets`` lists previous HMAC secrets, each with the time
    until which tokens signed with it still verify. They never sign; a token whose
    signature does not match ``secret`` is tried against each of them whose time has not
    passed (``secrets rotate`` keeps the old ``JWT_SECRET`` there for a grace period).
    """

    def __init__(
        self,
        secret: str,
        algorithm: str = "HS256",
        *,
        default_ttl: timedelta = timedelta(minutes=15),
        issuer: str | None = None,
        audience: str | None = None,
        public_key: str | None = None,
        leeway: timedelta = timedelta(0),
        fallback_secrets: Iterable[tuple[str, datetime]] = (),
    ) -> None:
        """Check the algorithm and keys, and prepare them once.

        Args:
            secret: HMAC secret, or PEM private key for an asymmetric algorithm.
            algorithm: JWS algorithm name, e.g. ``"HS256"`` or ``"RS256"``.
            default_ttl: Token lifetime used when :meth:`encode` gets no ``ttl``.
            issuer: ``iss`` claim to set and to require.
            audience: ``aud`` claim to set and to require.
            public_key: PEM public key for an asymmetric algorithm.
            leeway: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
            fallback_secrets: ``(secret, until)`` pairs of previous HMAC secrets that
                still verify tokens until ``until`` (a timezone-aware time).

        Raises:
            ValueError: The algorithm is ``none`` or unknown, an HMAC secret is too short,
                a key cannot be parsed or does not fit the algorithm, or a duration is
                out of range.
            TypeError: An argument has the wrong type.
            ImportError: An asymmetric algorithm was chosen without ``cryptography``.
        """
        if not isinstance(algorithm, str):
            raise TypeError(f"JWTUtils algorithm must be a string, got {type(algorithm).__name__}")
        if algorithm.strip().lower() == "none":
            raise ValueError(
                "JWTUtils refuses algorithm 'none': unsigned tokens can be forged by anyone. "
                "Use HS256 with a secret of 32+ bytes, or RS256/ES256 with a key pair."
            )
        if not isinstance(secret, str):
            raise TypeError(f"JWTUtils secret must be a string, got {type(secret).__name__}")
        self.algorithm = algorithm
        self.default_ttl = _check_ttl(default_ttl, "default_ttl")
        self.issuer = _check_optional_text(issuer, "issuer")
        self.audience = _check_optional_text(audience, "audience")
        self.leeway = _check_leeway(leeway)

        algorithm_object = _algorithm_object(algorithm)
        self._signing_key: Any
        self._verifying_key: Any
        if algorithm in _HMAC_MINIMUM_BYTES:
            if public_key is not None:
                raise ValueError(
                    f"JWTUtils public_key is only for asymmetric algorithms; {algorithm} uses "
                    "the shared secret alone: remove public_key"
                )
            key = _hmac_key(secret, algorithm, algorithm_object)
            self._signing_key = self._verifying_key = key
            self._fallbacks = [
                (_hmac_key(old, algorithm, algorithm_object), until.timestamp())
                for old, until in fallback_secrets
            ]
        else:
            if list(fallback_secrets):
                raise ValueError(
                    f"fallback_secrets are previous HMAC secrets; {algorithm} verifies with "
                    "public_key: rotate key pairs by verifying with the new public key"
                )
            self._fallbacks = []
            self._signing_key, self._verifying_key = _key_pair(
                secret, public_key, algorithm, algorithm_object
            )

        self._jwt = jwt.PyJWT(
            options={"require": ["exp", "iat"], "enforce_minimum_key_length": True}
        )

    def encode(
        self,
        claims: Mapping[str, Any],
        *,
        ttl: timedelta | None = None,
        token_type: str = "access",
    ) -> str:
        """Sign a token holding ``claims`` plus the registered claims this class manages.

        Adds ``iat`` and ``nbf`` (now), ``exp`` (now + ``ttl``), ``jti`` (a random id,
        unless ``claims`` has one), ``iss`` / ``aud`` when configured and ``type``.

        Args:
            claims: Application claims, e.g. ``{"sub": str(user.id), "roles": ["admin"]}``.
                Values must be JSON-serialisable; ``sub`` and ``jti`` must be strings.
            ttl: Lifetime of this token; defaults to ``default_ttl``.
            token_type: Value of the ``type`` claim that :meth:`decode` checks.

        Returns:
            The compact serialised token.

        Raises:
            ValueError: ``claims`` sets a managed claim, ``ttl`` is shorter than a second,
                ``token_type`` is empty, or this instance has no private key.
            TypeError: ``claims`` is not a mapping, ``sub`` or ``jti`` is not a string, or
                a value cannot be serialised to JSON.
        """
        if self._signing_key is None:
            raise ValueError(
                "this JWTUtils only verifies tokens (it was built without a private key): "
                "pass the PEM private key as secret= to sign tokens"
            )
        if not isinstance(claims, Mapping):
            raise TypeError(f"JWT claims must be a mapping, got {type(claims).__name__}")
        managed = sorted(_MANAGED_CLAIMS.intersection(claims))
        if managed:
            raise ValueError(
                f"JWTUtils.encode sets {', '.join(managed)} itself: pass ttl= for the lifetime "
                "and token_type= for 'type'; configure issuer= and audience= on JWTUtils"
            )
        for name in ("sub", "jti"):  # PyJWT rejects other types when decoding
            if name in claims and not isinstance(claims[name], str):
                raise TypeError(
                    f"the {name!r} claim must be a string, got {type(claims[name]).__name__}: "
                    "convert it with str(), e.g. str(user.id)"
                )
        if not isinstance(token_type, str) or not token_type:
            raise ValueError("token_type must be a non-empty string such as 'access'")
        lifetime = self.default_ttl if ttl is None else _check_ttl(ttl, "ttl")

        now = int(time.time())
        payload = dict(claims)
        payload.setdefault("jti", uuid.uuid4().hex)
        payload.update(iat=now, nbf=now, exp=now + int(lifetime.total_seconds()), type=token_type)
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        return self._jwt.encode(payload, self._signing_key, algorithm=self.algorithm)

    def decode(self, token: str, *, token_type: str | None = "access") -> dict[str, Any]:
        """Verify ``token`` and return its claims.

        Args:
            token: The compact serialised token, without a ``Bearer`` prefix.
            token_type: The ``type`` claim the token must carry; ``None`` accepts any type.

        Returns:
            The token's claims.

        Raises:
            ExpiredTokenException: The token is authentic but its ``exp`` has passed.
            InvalidTokenException: Anything else is wrong: the signature, the format, the
                algorithm, the issuer or audience, a missing ``exp`` / ``iat``, an ``nbf``
                or ``iat`` in the future, or the token type.
        """
        if not isinstance(token, str) or not token:
            raise InvalidTokenException()
        now = time.time()
        keys = [self._verifying_key, *(key for key, until in self._fallbacks if now < until)]
        for index, key in enumerate(keys):
            try:
                claims: dict[str, Any] = self._jwt.decode(
                    token,
                    key,
                    algorithms=[self.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway,
                )
                break
            except jwt.InvalidSignatureError as exc:
                if index == len(keys) - 1:  # no key left to try
                    raise InvalidTokenException() from exc
            except jwt.ExpiredSignatureError as exc:
                raise ExpiredTokenException() from exc
            except jwt.PyJWTError as exc:
                raise InvalidTokenException() from exc
        if token_type is not None and claims.get("type") != token_type:
            raise InvalidTokenException()
        return claims

    def decode_or_none(
        self, token: str, *, token_type: str | None = "access"
    ) -> dict[str, Any] | None:
        """Like :meth:`decode`, but return ``None`` for an expired or invalid token.

        Args:
            token: The compact serialised token.
            token_type: The ``type`` claim the token must carry; ``None`` accepts any type.

        Returns:
            The token's claims, or ``None``.
        """
        try:
            return self.decode(token, token_type=token_type)
        except (ExpiredTokenException, InvalidTokenException):
            return None


def _check_ttl(value: timedelta, name: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a datetime.timedelta, got {type(value).__name__}")
    if value.total_seconds() < 1:
        raise ValueError(f"{name} must be at least one second, got {value}")
    return value


def _check_leeway(value: timedelta) -> timedelta:
    if not isinstance(value, timedelta):
        raise TypeError(f"leeway must be a datetime.timedelta, got {type(value).__name__}")
    if value < timedelta(0):
        raise ValueError(f"leeway must not be negative, got {value}")
    return value


def _check_optional_text(value: str | None, name: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
    return value


def _algorithm_object(algorithm: str) -> Algorithm:
    if algorithm in requires_cryptography and not has_crypto:
        raise ImportError(
            f"JWT algorithm {algorithm} needs the cryptography package: "
            'pip install "tempest-framework[auth]"'
        )
    available = get_default_algorithms()
    available.pop("none", None)
    if algorithm not in available:
        raise ValueError(
            f"unknown JWT algorithm {algorithm!r}; choose one of {', '.join(sorted(available))}"
        )
    return available[algorithm]


def _hmac_key(secret: str, algorithm: str, algorithm_object: Algorithm) -> bytes:
    key = secret.encode("utf-8")
    minimum = _HMAC_MINIMUM_BYTES[algorithm]
    if len(key) < minimum:
        raise ValueError(
            f"the {algorithm} secret is {len(key)} bytes long; it must be at least {minimum} "
            f'bytes. Generate one with: python -c "import secrets; '
            f'print(secrets.token_urlsafe({minimum}))"'
        )
    try:
        prepared: bytes = algorithm_object.prepare_key(key)
    except jwt.PyJWTError as exc:  # PyJWT refuses PEM or JWK text as an HMAC secret
        raise ValueError(f"the {algorithm} secret is not usable: {exc}") from exc
    return prepared


def _key_pair(
    secret: str, public_key: str | None, algorithm: str, algorithm_object: Algorithm
) -> tuple[Any, Any]:
    """Return (private key or None, public key) as cryptography objects, checked."""
    from cryptography.hazmat.primitives import serialization

    private: Any = None
    if secret:
        try:
            private = serialization.load_pem_private_key(secret.encode("utf-8"), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{algorithm} needs secret= to be an unencrypted PEM private key "
                "('-----BEGIN PRIVATE KEY-----...'), or '' with public_key= to only verify"
            ) from exc
        private = _fit(algorithm_object, private, algorithm, "secret")
    elif public_key is None:
        raise ValueError(
            f"{algorithm} needs a PEM private key as secret= (to sign) or a PEM public key as "
            "public_key= (to verify)"
        )

    if public_key is None:
        public = private.public_key()
    else:
        if not isinstance(public_key, str):
            raise TypeError(
                f"JWTUtils public_key must be a PEM string, got {type(public_key).__name__}"
            )
        try:
            public = serialization.load_pem_public_key(public_key.encode("utf-8"))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{algorithm} needs public_key= to be a PEM public key "
                "('-----BEGIN PUBLIC KEY-----...')"
            ) from exc
        if private is not None and _spki(private.public_key()) != _spki(public):
            raise ValueError(
                "public_key does not belong to the private key given as secret=: "
                "tokens signed by this instance would never verify"
            )
    public = _fit(algorithm_object, public, algorithm, "public_key")
    return private, public


def _fit(algorithm_object: Algorithm, key: Any, algorithm: str, name: str) -> Any:
    try:
        prepared = algorithm_object.prepare_key(key)
    except (jwt.PyJWTError, TypeError) as exc:  # PyJWT raises TypeError for a foreign key type
        raise ValueError(
            f"the key given as {name}= ({type(key).__name__}) does not fit {algorithm}: use "
            "a key of its family (RSA for RS*/PS*, EC on the matching curve for ES*, "
            "Ed25519/Ed448 for EdDSA)"
        ) from exc
    too_weak = algorithm_object.check_key_length(prepared)
    if too_weak:
        raise ValueError(f"the key given as {name}= is too weak for {algorithm}: {too_weak}")
    return prepared


def _spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    encoded: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return encoded
