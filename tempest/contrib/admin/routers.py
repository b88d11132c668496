"""The project's admin at /admin: the default ``site`` with every installed app's admin.py."""

import threading
from typing import Any, cast

from fastapi import APIRouter

# (the settings object, the router built from it): reading `router` again under the same
# settings gives the same object; a new settings object gets a router built from it.
_built: tuple[object, APIRouter] | None = None
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "router":
        return get_router()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_router() -> APIRouter:
    """The admin router for the current settings, built once per settings object.

    ``routers.router`` returns it; :func:`build_router` builds a new one.
    """
    global _built
    from tempest.conf import LazySettings, settings

    target = cast(LazySettings, settings).unwrap()
    with _lock:
        if _built is None or _built[0] is not target:
            _built = (target, build_router())
        return _built[1]


def build_router() -> APIRouter:
    """The admin router of the configured project.

    Imports each installed app's ``admin`` module, then serves the models of installed
    apps registered on :data:`tempest.contrib.admin.site`. Without a secret of 32 bytes
    (``ADMIN_SECRET_KEY`` or ``SECRET_KEY``) every admin page answers 503 with the fix;
    ``manage.py check`` warns about it (admin.W001).
    """
    from tempest.apps import apps
    from tempest.conf import settings, shared_state_url
    from tempest.contrib.admin.router import make_admin_router
    from tempest.contrib.admin.sessions import MIN_SECRET_BYTES, revoked_sessions_from_url
    from tempest.contrib.admin.sites import site
    from tempest.contrib.auth.throttling import close_at_shutdown, get_sign_in_throttle

    prefix = apps.get_app_config("admin").api_prefix
    apps.import_app_modules("admin")
    models = set(apps.get_models())
    installed = site.copy(lambda item: item.model in models)
    if installed.title == "Administration" and settings.TITLE != "tempest":
        installed.title = f"{settings.TITLE} admin"
    secret = settings.ADMIN_SECRET_KEY or settings.SECRET_KEY
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return _unconfigured_router(prefix)
    secure = settings.ADMIN_COOKIE_SECURE
    throttle = get_sign_in_throttle()  # the auth API's: one count per account
    revoked = revoked_sessions_from_url(
        shared_state_url(settings, settings.ADMIN_REVOKED_SESSIONS_URL)
    )
    router = make_admin_router(
        installed,
        secret_key=secret,
        prefix=prefix,
        cookie_secure=not settings.DEBUG if secure is None else secure,
        show_metrics=settings.ADMIN_SHOW_METRICS,
        throttle=throttle,
        trusted_proxies=settings.TRUSTED_PROXIES,
        revoked_sessions=revoked,
    )
    close_at_shutdown(router, throttle.aclose, revoked.aclose)
    return router


def _unconfigured_router(prefix: str) -> APIRouter:
    from starlette.responses import PlainTextResponse

    router = APIRouter(prefix=prefix, include_in_schema=False)
    message = (
        "The admin is off: it signs its session cookie with ADMIN_SECRET_KEY (or SECRET_KEY), "
        'which must be at least 32 bytes. Set SECRET_KEY in .env (python -c "import secrets; '
        'print(secrets.token_urlsafe(50))" makes one) and restart.\n'
    )

    async def unconfigured() -> PlainTextResponse:
        return PlainTextResponse(message, 503)

    for path in ("/", "/{rest:path}"):
        router.add_api_route(path, unconfigured, methods=["GET", "POST"])
    return router
