"""The admin's session: one signed, timestamped cookie, and the CSRF token it carries.

The cookie holds ``{"p": principal id or None, "c": CSRF token, "m": True while the
one-time code is pending}``, serialised and signed with HMAC-SHA256 by itsdangerous. It
is not encrypted: it holds nothing secret, only what the server must trust. Its age is
signed too, so a cookie older than ``max_age`` is refused however it is presented.
A visitor who is not signed in still gets a cookie (``p`` None) whose token protects the
login form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

__all__ = ["AdminSession", "SignedCookieSessionStore"]

MIN_SECRET_BYTES = 32
DEFAULT_MAX_AGE = 8 * 3600


@dataclass(frozen=True, slots=True)
class AdminSession:
    """What the cookie says.

    Attributes:
        principal_id: The signed-in principal, or None before sign-in.
        csrf_token: The token every form of this session must send back.
        mfa_pending: True between a correct password and a correct one-time code.
    """

    principal_id: str | None
    csrf_token: str
    mfa_pending: bool = False

    @classmethod
    def anonymous(cls) -> AdminSession:
        """A session for a visitor who has not signed in, with a fresh token."""
        return cls(None, secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, principal_id: str, *, mfa_pending: bool = False) -> AdminSession:
        """A new session (and a new token) for ``principal_id``."""
        return cls(principal_id, secrets.token_urlsafe(32), mfa_pending)

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
        if not isinstance(token, str) or not (principal is None or isinstance(principal, str)):
            return None
        return AdminSession(principal, token, bool(pending))

    def save(self, response: Response, session: AdminSession) -> None:
        """Set the cookie holding ``session`` on ``response``."""
        value = self._serializer.dumps(
            {"p": session.principal_id, "c": session.csrf_token, "m": session.mfa_pending}
        )
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
