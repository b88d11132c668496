"""System checks of the admin app: a signing secret, and a cookie fit for production."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tempest.core.checks import Error, Tags, Warning, is_placeholder_secret, register_check


@register_check(Tags.security)
def check_admin_secret(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The admin has a secret of 32 bytes to sign its cookie with (admin.W001)."""
    from tempest.conf import settings
    from tempest.contrib.admin.sessions import MIN_SECRET_BYTES

    if not _admin_installed():
        return []
    secret = settings.ADMIN_SECRET_KEY or settings.SECRET_KEY
    if len(secret.encode()) >= MIN_SECRET_BYTES:
        return []
    return [
        Warning(
            f"The admin is off: ADMIN_SECRET_KEY (or SECRET_KEY) has fewer than "
            f"{MIN_SECRET_BYTES} bytes, so /admin answers 503.",
            hint='Set SECRET_KEY in .env to the output of python -c "import secrets; '
            'print(secrets.token_urlsafe(50))".',
            obj="ADMIN_SECRET_KEY",
            id="admin.W001",
        )
    ]


@register_check(Tags.security, deploy=True)
def check_admin_cookie(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The admin's cookie is sent over HTTPS only in production (admin.E101)."""
    from tempest.conf import settings

    if not _admin_installed() or settings.ADMIN_COOKIE_SECURE is not False:
        return []
    return [
        Error(
            "ADMIN_COOKIE_SECURE is false: the admin's session cookie would travel over "
            "plain HTTP.",
            hint="Remove ADMIN_COOKIE_SECURE from the production settings (it follows DEBUG).",
            obj="ADMIN_COOKIE_SECURE",
            id="admin.E101",
        )
    ]


@register_check(Tags.security, deploy=True)
def check_admin_secret_placeholder(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[Any]:
    """ADMIN_SECRET_KEY is not a placeholder such as .env.example's (admin.E102)."""
    from tempest.conf import settings

    if not _admin_installed() or not is_placeholder_secret(settings.ADMIN_SECRET_KEY):
        return []
    return [
        Error(
            "ADMIN_SECRET_KEY is a placeholder ('change-me-...' or the like): anyone who "
            "knows it can forge the admin's session cookie.",
            hint='Set it to the output of python -c "import secrets; '
            'print(secrets.token_urlsafe(50))", or remove it to use SECRET_KEY.',
            obj="ADMIN_SECRET_KEY",
            id="admin.E102",
        )
    ]


def _admin_installed() -> bool:
    from tempest.apps import apps

    return apps.ready and apps.is_installed("tempest.contrib.admin")
