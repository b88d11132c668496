"""A sign-in in progress, bound to the browser that started it.

Starting a sign-in draws a random ``state``, ``nonce`` and PKCE ``code_verifier``; they
travel to the callback in a short-lived cookie signed with the project's secret
(HttpOnly, ``SameSite=Lax``, ``Secure`` unless DEBUG or ``AUTH_OAUTH_COOKIE_SECURE``
says otherwise), restricted to the callback's path. The callback accepts the provider's
answer only when its ``state`` equals the cookie's: a code obtained by an attacker and
pasted into a victim's browser (login CSRF) is refused, since the victim's browser has
no matching cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tempest.api.cookies import clear_cookie, set_cookie
from tempest.exceptions import AppException, ImproperlyConfigured

__all__ = ["COOKIE_NAME", "PendingSignIn", "StateCookie", "pkce_challenge"]

COOKIE_NAME = "tempest_oauth"
"""The cookie holding the pending sign-in (one per callback path)."""
_SALT = "tempest.contrib.auth.oauth.pending"


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PendingSignIn:
    """What the callback needs from the start of a sign-in."""

    provider: str
    state: str
    nonce: str
    verifier: str
    next: str = ""

    @classmethod
    def new(cls, provider: str, *, next: str = "") -> PendingSignIn:
        """Fresh random values for a sign-in with ``provider``."""
        return cls(
            provider=provider,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters: within RFC 7636's 43-128
            next=next,
        )

    @property
    def code_challenge(self) -> str:
        """The PKCE S256 challenge sent to the provider."""
        return pkce_challenge(self.verifier)


def _refused(message: str, code: str) -> AppException:
    return AppException(message, code=code, status_code=400)


class StateCookie:
    """Writes and reads the signed cookie of a pending sign-in."""

    def __init__(self, settings: Any) -> None:
        """Read the secret, lifetime and ``Secure`` flag from ``settings``.

        Raises:
            ImproperlyConfigured: Neither ``SECRET_KEY`` nor ``JWT_SECRET`` is set.
        """
        secret = str(getattr(settings, "SECRET_KEY", "") or getattr(settings, "JWT_SECRET", ""))
        if not secret:
            raise ImproperlyConfigured(
                "Sign-in with OAuth providers needs SECRET_KEY (or JWT_SECRET) to sign its "
                "cookie: set it in the settings or the environment."
            )
        from itsdangerous import URLSafeTimedSerializer

        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age = int(getattr(settings, "AUTH_OAUTH_STATE_TTL_SECONDS", 600))
        secure = getattr(settings, "AUTH_OAUTH_COOKIE_SECURE", None)
        self.secure = (not getattr(settings, "DEBUG", False)) if secure is None else bool(secure)

    def save(self, response: Response, pending: PendingSignIn, *, path: str) -> None:
        """Put ``pending`` in the response's cookie, sent back only to ``path``."""
        value = self._serializer.dumps(asdict(pending))
        set_cookie(
            response, COOKIE_NAME, value, max_age=self.max_age, path=path, secure=self.secure
        )

    def clear(self, response: Response, *, path: str) -> None:
        """Delete the cookie (the sign-in is over, whatever its outcome)."""
        clear_cookie(response, COOKIE_NAME, path=path, secure=self.secure)

    def check(self, request: Request, provider: str) -> PendingSignIn:
        """The pending sign-in of ``request``, after checking the callback's ``state``.

        Args:
            request: The callback request.
            provider: The provider of the callback's URL.

        Raises:
            AppException: 400 ``OAUTH_NO_PENDING_SIGN_IN`` (no cookie, expired, forged or
                for another provider) or ``OAUTH_STATE_MISMATCH`` (``state`` missing or
                not the cookie's).
        """
        from itsdangerous import BadSignature, SignatureExpired

        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            raise _refused(
                "No sign-in was started in this browser (or it took too long): start again",
                "OAUTH_NO_PENDING_SIGN_IN",
            )
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
            pending = PendingSignIn(**data)
        except SignatureExpired:
            raise _refused(
                "This sign-in took too long: start again", "OAUTH_NO_PENDING_SIGN_IN"
            ) from None
        except (BadSignature, TypeError, ValueError):
            raise _refused(
                "The pending sign-in cookie is not valid: start again",
                "OAUTH_NO_PENDING_SIGN_IN",
            ) from None
        if not all(isinstance(value, str) for value in asdict(pending).values()):
            raise _refused("The pending sign-in cookie is not valid", "OAUTH_NO_PENDING_SIGN_IN")
        if pending.provider != provider:
            raise _refused(
                "The sign-in in progress is with another provider: start again",
                "OAUTH_NO_PENDING_SIGN_IN",
            )
        state = request.query_params.get("state") or ""
        if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise _refused(
                "The sign-in's state does not match the one this browser started; refused",
                "OAUTH_STATE_MISMATCH",
            )
        return pending
