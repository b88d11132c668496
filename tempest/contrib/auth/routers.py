"""The auth flow's API, mounted under /api/auth: signup, login, tokens, password reset, MFA."""

from typing import Any

from fastapi import APIRouter

from tempest.contrib.auth.router import make_auth_router


def __getattr__(name: str) -> Any:
    # Each application gets its own router and service (its own mail sender), built from
    # the settings it starts with. The login throttle is the project's, one per settings
    # object and shared with the admin (get_sign_in_throttle): a process that builds
    # several apps from different settings (tests) does not share lockouts between them.
    if name == "router":
        router: APIRouter = make_auth_router()
        return router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
