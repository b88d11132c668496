"""The project's public address: the base of every link that leaves a request."""

from __future__ import annotations

from typing import Any

from tempest.exceptions.framework import ImproperlyConfigured

DEBUG_SITE_URL = "http://127.0.0.1:8000"
"""The default base of links in DEBUG with the default SERVER_HOST and SERVER_PORT."""

_WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})


def site_url(settings: Any = None) -> str:
    """The base URL of absolute links sent outside a request (emails, for instance).

    Built from settings only, never from the request's ``Host`` or ``X-Forwarded-Host``
    header, which the client chooses: ``SITE_URL`` when it is set; in DEBUG, the
    development server ``http://SERVER_HOST:SERVER_PORT`` (``127.0.0.1`` when SERVER_HOST
    binds every address), so ``http://127.0.0.1:8000`` by default.

    Args:
        settings: Where to read ``SITE_URL``, ``DEBUG``, ``SERVER_HOST`` and
            ``SERVER_PORT``; default :data:`tempest.conf.settings`.

    Returns:
        The URL without a trailing slash, e.g. ``"https://shop.example.com"``.

    Raises:
        ImproperlyConfigured: DEBUG is off and SITE_URL is not set.
    """
    if settings is None:
        from tempest.conf import settings as project_settings

        settings = project_settings
    configured = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    if configured:
        return configured
    if not getattr(settings, "DEBUG", False):
        raise ImproperlyConfigured(
            "SITE_URL is not set, and links in emails are never built from the request's Host "
            "header: set SITE_URL to the site's public URL, e.g. SITE_URL=https://shop.example.com."
        )
    host = str(getattr(settings, "SERVER_HOST", "") or "")
    if host in _WILDCARD_ADDRESSES:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{getattr(settings, 'SERVER_PORT', 8000)}"
