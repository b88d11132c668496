"""The rules of the bundled auth flow: :class:`UserAuthService`.

Signup with email activation, login with brute-force throttling and an optional TOTP
step, refresh tokens stored as peppered digests and rotated on every use (a reused one
revokes its whole family), logout, password reset by email, and MFA enrolment with
one-time recovery codes. :func:`~tempest.contrib.auth.router.make_auth_router` exposes
these methods as HTTP endpoints; every method takes the request's ``session``.

The service is one class assembled from one mixin per concern, as
:class:`~tempest.db.BaseRepository` is. Each module holds one part of the rules:

====================================  =====================================================
:mod:`~tempest.contrib.auth.core`     the parts built from the settings, checks, user look-ups
:mod:`~tempest.contrib.auth.sessions` login, token pairs, refresh, logout, re-authentication,
                                      ``current_user_dependency``
:mod:`~tempest.contrib.auth.passwords`  password reset by email, change, ``set_password``
:mod:`~tempest.contrib.auth.mfa`      MFA enrolment, the login's second step, recovery codes
:mod:`~tempest.contrib.auth.signup`   signup, activation, email change
:mod:`~tempest.contrib.auth.emails`   emailed tokens and sending after the response
====================================  =====================================================

and :mod:`~tempest.contrib.auth.repositories` holds their SQL. Methods call each other
through ``self``, so a subclass that overrides one (``set_password``, say) changes every
flow that uses it.
"""

from __future__ import annotations

from tempest.contrib.auth.core import DEFAULT_EMAIL_TEMPLATES, LinkBuilder
from tempest.contrib.auth.mfa import MFAMethods
from tempest.contrib.auth.passwords import PasswordMethods
from tempest.contrib.auth.signup import SignupMethods

__all__ = ["DEFAULT_EMAIL_TEMPLATES", "LinkBuilder", "UserAuthService"]


class UserAuthService(SignupMethods, PasswordMethods, MFAMethods):
    """Signup, activation, login, refresh, logout, password reset, MFA and ``/me``.

    Everything left out comes from the settings (``JWT_*``, ``AUTH_*``, ``SMTP_*``) the
    first time it is needed, so a service can be built before the settings are complete:
    a missing ``JWT_SECRET`` is reported when a request needs it.

    Example:
        >>> auth = UserAuthService()  # doctest: +SKIP
        >>> current_user = auth.current_user_dependency()  # doctest: +SKIP
    """
