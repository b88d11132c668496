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

if TYPE_CHECKING:
    from tempest.contrib.admin.backends import (
        AdminAuthBackend,
        AdminAuthError,
        UserModelAuthBackend,
    )
    from tempest.contrib.admin.router import make_admin_router
    from tempest.contrib.admin.sessions import SignedCookieSessionStore

__all__ = [
    "AdminAuthBackend",
    "AdminAuthError",
    "AdminModel",
    "AdminSite",
    "AdminTheme",
    "SignedCookieSessionStore",
    "UserModelAuthBackend",
    "make_admin_router",
    "register",
    "site",
]

_LAZY = {
    "AdminAuthBackend": "tempest.contrib.admin.backends",
    "AdminAuthError": "tempest.contrib.admin.backends",
    "UserModelAuthBackend": "tempest.contrib.admin.backends",
    "make_admin_router": "tempest.contrib.admin.router",
    "SignedCookieSessionStore": "tempest.contrib.admin.sessions",
}


_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)
