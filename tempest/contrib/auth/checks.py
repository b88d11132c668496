"""System checks of the auth app: the user model, and signing keys fit for production."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tempest.core.checks import Error, Tags, is_placeholder_secret, register_check
from tempest.exceptions import ImproperlyConfigured

_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


@register_check(Tags.models)
def check_user_model(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Error]:
    """AUTH_USER_MODEL names an installed BaseUserModel (auth.E001)."""
    from tempest.contrib.auth.users import get_user_model

    if not _auth_installed():
        return []
    try:
        get_user_model()
    except ImproperlyConfigured as error:
        return [Error(str(error), obj="AUTH_USER_MODEL", id="auth.E001")]
    return []


@register_check(Tags.security, deploy=True)
def check_jwt_secret(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Error]:
    """JWT_SECRET is long enough for JWT_ALGORITHM and not a placeholder (auth.E101)."""
    from tempest.conf import settings

    if not _auth_installed():
        return []
    algorithm = str(settings.JWT_ALGORITHM)
    secret = str(settings.JWT_SECRET)
    minimum = _HMAC_MIN_BYTES.get(algorithm)
    if minimum is None:  # an asymmetric key: its PEM is checked when tokens are made
        return []
    weak = len(secret.encode()) < minimum or is_placeholder_secret(secret)
    if not weak and len(set(secret)) >= 8:
        return []
    return [
        Error(
            f"JWT_SECRET is not fit to sign {algorithm} tokens: it needs at least {minimum} "
            "bytes of random data, not a placeholder or a repeated pattern.",
            hint='Generate one with python -c "import secrets; print(secrets.token_urlsafe(64))".',
            obj="JWT_SECRET",
            id="auth.E101",
        )
    ]


def _auth_installed() -> bool:
    """Checks stay registered once imported; they apply only to projects with this app."""
    from tempest.apps import apps

    return apps.ready and apps.is_installed("tempest.contrib.auth")
