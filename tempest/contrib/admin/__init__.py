"""tempest.contrib.admin: the Django-style admin site, mounted at /admin.

Register models in an app's ``admin.py``::

    from tempest.contrib.admin import AdminModel, site

    site.register(AdminModel(model=OrderModel, list_display=["name", "created_at"]))

:data:`site` and :class:`AdminModel` cost little to import; the router and its
templates are loaded when the application is built.
"""

from typing import TYPE_CHECKING, Any

from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.sites import AdminSite, register, site
from tempest.contrib.admin.theme import AdminTheme
from tempest.utils.imports import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "AdminAuthBackend": "tempest.contrib.admin.backends",
    "AdminAuthError": "tempest.contrib.admin.backends",
    "UserModelAuthBackend": "tempest.contrib.admin.backends",
    "make_admin_router": "tempest.contrib.admin.router",
    "SignedCookieSessionStore": "tempest.contrib.admin.sessions",
}

__all__ = ["AdminModel", "AdminSite", "AdminTheme", "register", "site", *_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.contrib.admin.backends import (
        AdminAuthBackend as AdminAuthBackend,
        AdminAuthError as AdminAuthError,
        UserModelAuthBackend as UserModelAuthBackend,
    )
    from tempest.contrib.admin.router import make_admin_router as make_admin_router
    from tempest.contrib.admin.sessions import SignedCookieSessionStore as SignedCookieSessionStore
