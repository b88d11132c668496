"""tempest.contrib.auth: users, sign-in and the commands that manage them.

Add ``"tempest.contrib.auth"`` to INSTALLED_APPS (new projects have it). The user model is
``AUTH_USER_MODEL`` (default ``"auth.User"``); :func:`get_user_model` returns it.
:class:`UserAuthService` and :func:`make_auth_router` are the bundled auth flow; they are
imported on first use.
"""

from typing import TYPE_CHECKING, Any

from tempest.contrib.auth.users import get_user_model
from tempest.utils.imports import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "UserAuthService": "tempest.contrib.auth.service",
    "make_auth_router": "tempest.contrib.auth.router",
    "validate_password": "tempest.contrib.auth.password_validation",
    "OIDCProvider": "tempest.contrib.auth.oauth_clients",
    "GoogleOAuthClient": "tempest.contrib.auth.oauth_clients",
    "GitHubOAuthClient": "tempest.contrib.auth.oauth_clients",
    "make_user_oauth_account_model": "tempest.contrib.auth.oauth_models",
}

__all__ = ["get_user_model", *_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.contrib.auth.oauth_clients import (
        GitHubOAuthClient as GitHubOAuthClient,
        GoogleOAuthClient as GoogleOAuthClient,
        OIDCProvider as OIDCProvider,
    )
    from tempest.contrib.auth.oauth_models import (
        make_user_oauth_account_model as make_user_oauth_account_model,
    )
    from tempest.contrib.auth.password_validation import validate_password as validate_password
    from tempest.contrib.auth.router import make_auth_router as make_auth_router
    from tempest.contrib.auth.service import UserAuthService as UserAuthService
