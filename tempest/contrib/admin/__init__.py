"""tempest.contrib.admin: the Django-style admin site, mounted at /admin.

Register models in an app's ``admin.py``::

    from tempest.contrib.admin import AdminModel, site

    site.register(AdminModel(model=OrderModel, list_display=["name", "created_at"]))

:data:`site` and :class:`AdminModel` cost little to import; the router and its
templates are loaded when the application is built.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.sites import AdminSite, register, site
from tempest.contrib.admin.theme import AdminTheme

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


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tempest.contrib.admin' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value
