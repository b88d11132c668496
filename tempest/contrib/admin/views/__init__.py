"""The admin's pages: sign-in, dashboard, list, export, bulk actions, create, detail, edit.

Every page is one handler of :class:`AdminViews`; ``make_admin_router`` wires them to
URLs. Each page has its module (``signin``, ``dashboard``, ``lists``, ``export``,
``forms``), a mixin over :class:`~tempest.contrib.admin.views.base.ViewsBase`, which holds
what they share (set-up, the sign-in check, reading forms, rendering); ``common`` holds
the errors and records they pass around.
"""

from tempest.contrib.admin.views.dashboard import DashboardViews
from tempest.contrib.admin.views.export import ExportViews
from tempest.contrib.admin.views.forms import FK_SELECT_LIMIT, FormViews
from tempest.contrib.admin.views.lists import ListViews
from tempest.contrib.admin.views.logs import LogViews
from tempest.contrib.admin.views.signin import SignInViews

__all__ = ["FK_SELECT_LIMIT", "AdminViews"]


class AdminViews(SignInViews, DashboardViews, ListViews, ExportViews, FormViews, LogViews):
    """The admin's request handlers, bound to one site and auth backend.

    A handler that reads or writes takes the request's database session as its second
    argument (the router gets it from ``Depends``, so the test plugin's session is used in
    tests).
    """
