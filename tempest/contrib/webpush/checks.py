"""System checks of the Web Push app: the VAPID settings can sign what browsers accept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tempest.core.checks import Error, Tags, register_check


def _installed() -> bool:
    """Checks stay registered once imported; they apply only to projects with this app."""
    from tempest.apps import apps

    return apps.ready and apps.is_installed("tempest.contrib.webpush")


@register_check(Tags.settings)
def check_vapid_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Error]:
    """VAPID_PRIVATE_KEY, when set, is a P-256 key matching VAPID_PUBLIC_KEY (webpush.E001)."""
    from tempest.conf import settings
    from tempest.webpush.errors import WebPushError
    from tempest.webpush.vapid import VapidSigner

    if not _installed() or not settings.VAPID_PRIVATE_KEY:
        return []
    try:
        VapidSigner(
            settings.VAPID_PRIVATE_KEY,
            settings.VAPID_SUBJECT,
            public_key=settings.VAPID_PUBLIC_KEY or None,
        )
    except WebPushError as error:
        return [
            Error(
                str(error),
                hint="python manage.py webpush keys prints a new pair to paste into .env.",
                obj="VAPID_PRIVATE_KEY",
                id="webpush.E001",
            )
        ]
    return []


@register_check(Tags.settings, deploy=True)
def check_vapid_keys_set(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Error]:
    """VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY are set in production (webpush.E101)."""
    from tempest.conf import settings

    if not _installed() or (settings.VAPID_PRIVATE_KEY and settings.VAPID_PUBLIC_KEY):
        return []
    return [
        Error(
            "tempest.contrib.webpush is installed but VAPID_PRIVATE_KEY or VAPID_PUBLIC_KEY "
            "is empty: no push message can be sent.",
            hint="python manage.py webpush keys prints a pair to paste into the environment.",
            obj="VAPID_PRIVATE_KEY",
            id="webpush.E101",
        )
    ]
