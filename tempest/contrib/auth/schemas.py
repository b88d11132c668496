"""Request and response bodies of the bundled auth flow (:mod:`tempest.contrib.auth.router`).

Emails and passwords are plain strings here: :class:`~tempest.contrib.auth.service.
UserAuthService` checks them and answers with an error that says what to fix. Passwords
are taken exactly as sent: unlike other strings of tempest's schemas, they are never
stripped (the admin and the commands do not strip them either).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from tempest.schemas import BaseSchema

__all__ = [
    "ActivationResendSchema",
    "ActivationSchema",
    "DetailResponseSchema",
    "EmailChangeSchema",
    "EmailConfirmSchema",
    "LoginSchema",
    "LogoutSchema",
    "MFAChallengeResponseSchema",
    "MFAConfirmSchema",
    "MFADisableSchema",
    "MFAEnrollResponseSchema",
    "MFAEnrollSchema",
    "MFARecoveryCodesResponseSchema",
    "MFAVerifySchema",
    "PasswordChangeSchema",
    "PasswordResetConfirmSchema",
    "PasswordResetRequestSchema",
    "RefreshSchema",
    "SignupSchema",
    "TokenPairResponseSchema",
    "UserResponseSchema",
]

# Generous bounds that keep absurd inputs (megabytes of "password") away from bcrypt.
_EMAIL = Field(min_length=1, max_length=320)
_TOKEN = Field(min_length=1, max_length=2048)

Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1024)]
"""A password as typed: never stripped, so ``" secret "`` stays ``" secret "``."""


class SignupSchema(BaseSchema):
    """``POST /signup``: the new account's email and password."""

    email: str = _EMAIL
    password: Password


class LoginSchema(BaseSchema):
    """``POST /login``: the account's email and password."""

    email: str = _EMAIL
    password: Password


class ActivationSchema(BaseSchema):
    """``POST /activate``: the token from the activation email."""

    token: str = _TOKEN


class RefreshSchema(BaseSchema):
    """``POST /refresh``: the refresh token of the last token pair."""

    refresh_token: str = _TOKEN


class LogoutSchema(BaseSchema):
    """``POST /logout``: the refresh token to revoke."""

    refresh_token: str = _TOKEN


class ActivationResendSchema(BaseSchema):
    """``POST /activate/resend``: the account that needs a new activation link."""

    email: str = _EMAIL


class PasswordResetRequestSchema(BaseSchema):
    """``POST /password-reset/request``: where to send the reset link."""

    email: str = _EMAIL


class PasswordResetConfirmSchema(BaseSchema):
    """``POST /password-reset/confirm``: the token from the email and the new password."""

    token: str = _TOKEN
    password: Password


class MFAConfirmSchema(BaseSchema):
    """``POST /mfa/confirm``: the first code the authenticator app shows."""

    code: str = Field(min_length=1, max_length=32)


class MFAVerifySchema(BaseSchema):
    """``POST /mfa/verify``: the login's ``mfa_token`` and a code or a recovery code."""

    mfa_token: str = _TOKEN
    code: str | None = Field(default=None, min_length=1, max_length=32)
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_second_factor(self) -> MFAVerifySchema:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send exactly one of 'code' (from the app) or 'recovery_code'")
        return self


class MFAEnrollSchema(BaseSchema):
    """``POST /mfa/enroll``: the password, unless the sign-in is recent."""

    password: Password | None = None


class MFADisableSchema(BaseSchema):
    """``POST /mfa/disable``: a code or a recovery code, and the password unless fresh."""

    code: str | None = Field(default=None, min_length=1, max_length=32)
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)
    password: Password | None = None

    @model_validator(mode="after")
    def _one_second_factor(self) -> MFADisableSchema:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send exactly one of 'code' (from the app) or 'recovery_code'")
        return self


class PasswordChangeSchema(BaseSchema):
    """``POST /password/change``: the new password, and the current one unless fresh."""

    current_password: Password | None = None
    new_password: Password


class EmailChangeSchema(BaseSchema):
    """``POST /email/change``: the new address, and the password unless fresh."""

    new_email: str = _EMAIL
    password: Password | None = None


class EmailConfirmSchema(BaseSchema):
    """``POST /email/confirm``: the token from the email sent to the new address."""

    token: str = _TOKEN


class TokenPairResponseSchema(BaseSchema):
    """A signed-in session: a short-lived access token and a refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class MFAChallengeResponseSchema(BaseSchema):
    """The password was right; the account needs its second factor at ``/mfa/verify``."""

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int = Field(description="Seconds until the mfa_token expires.")


class MFAEnrollResponseSchema(BaseSchema):
    """The new TOTP secret, to type or scan (``otpauth_uri`` as a QR code)."""

    secret: str
    otpauth_uri: str


class MFARecoveryCodesResponseSchema(BaseSchema):
    """One-time recovery codes, shown once: the server keeps only their digests."""

    recovery_codes: list[str]


class DetailResponseSchema(BaseSchema):
    """A short message for the user."""

    detail: str


class UserResponseSchema(BaseSchema):
    """The public view of a user."""

    id: uuid.UUID
    email: str
    is_active: bool
    is_admin: bool
    mfa_enabled: bool = False
    last_login_at: datetime | None = None
    created_at: datetime
