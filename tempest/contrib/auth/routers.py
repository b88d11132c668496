"""The auth flow's API, mounted under /api/auth: signup, login, tokens, password reset, MFA."""

import threading
from typing import Any, cast

from fastapi import APIRouter

from tempest.contrib.auth.router import make_auth_router

# (the settings object, the router built from it). Each application gets the router and
# service (its own mail sender) of the settings it starts with; reading `router` again
# under the same settings gives the same object. The login throttle is the project's,
# one per settings object and shared with the admin (get_sign_in_throttle): a process
# that builds several apps from different settings (tests) does not share lockouts.
_built: tuple[object, APIRouter] | None = None
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "router":
        return get_router()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_router() -> APIRouter:
    """The auth app's router for the current settings, built once per settings object.

    ``routers.router`` returns it. A new settings object (``override_settings``,
    ``settings.configure``) gets a new router built from it.
    """
    global _built
    from tempest.conf import LazySettings, settings

    target = cast(LazySettings, settings).unwrap()
    with _lock:
        if _built is None or _built[0] is not target:
            from tempest.contrib.auth.throttling import close_at_shutdown, get_sign_in_throttle

            router = make_auth_router()
            close_at_shutdown(router, get_sign_in_throttle(target).aclose)
            _built = (target, router)
        return _built[1]
