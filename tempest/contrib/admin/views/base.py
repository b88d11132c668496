"""ViewsBase: what every page of the admin needs (set-up, sign-in check, forms, rendering)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tempest.api.exception_handlers import is_unstorable_text_error
from tempest.contrib.admin.backends import AdminAuthBackend
from tempest.contrib.admin.formatting import cell_text
from tempest.contrib.admin.forms import form_fields, mapped_class
from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.queries import ListQuery, label_column, parse_filters
from tempest.contrib.admin.sessions import (
    AdminSession,
    RevokedSessions,
    RevokedSessionsUnavailable,
    SignedCookieSessionStore,
)
from tempest.contrib.admin.sites import AdminSite
from tempest.contrib.admin.views.auditing import audit_value
from tempest.contrib.admin.views.common import (
    NUL_MESSAGE,
    PAGE_HEADERS,
    STORE_DOWN,
    ModelInfo,
    Problem,
    Redirect,
    Visit,
    load_static,
    local_target,
    read_form,
    refuse_nul,
)
from tempest.contrib.auth.throttling import SignInThrottle
from tempest.db import Ordering
from tempest.db.outage import is_database_unavailable
from tempest.exceptions import ValidationException
from tempest.utils.client_ip import IPNetwork
from tempest.utils.context import Actor

__all__ = ["ViewsBase"]


_RETRY_LATER = {"Retry-After": "5"}
"""Sent with every 503 page: a store or the database is down, for a few seconds."""


class ViewsBase:
    """The state and helpers the admin's pages share; each page module extends it.

    Everything that does not depend on the request (templates, static files, form fields,
    foreign-key targets) is prepared here, when the views are built.
    """

    def __init__(
        self,
        site: AdminSite,
        *,
        auth_backend: AdminAuthBackend,
        store: SignedCookieSessionStore,
        prefix: str,
        show_metrics: bool,
        export_max_rows: int,
        throttle: SignInThrottle,
        revoked: RevokedSessions,
        trusted_proxies: tuple[IPNetwork, ...] = (),
    ) -> None:
        """Prepare templates, static files and each model's forms."""
        from jinja2 import Environment, PackageLoader, select_autoescape

        self.site = site
        self.backend = auth_backend
        self.store = store
        self.prefix = prefix.rstrip("/")
        self.show_metrics = show_metrics
        self.export_max_rows = export_max_rows
        self.throttle = throttle
        self.trusted_proxies = trusted_proxies
        self.revoked = revoked
        self.templates = Environment(
            loader=PackageLoader("tempest.contrib.admin", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )
        self.templates.globals.update(site=site, prefix=self.prefix, models=list(site))
        self.templates.filters["cell"] = cell_text
        self.templates.filters["audit_value"] = audit_value
        self.static = load_static(site)
        self.templates.globals["asset_version"] = self.static[1]
        self.models = {item.slug: self._prepare(item) for item in site}

    def _prepare(self, admin: AdminModel) -> ModelInfo:
        from tempest.db import check_cursor_column

        fields = form_fields(admin)
        fk_targets: dict[str, tuple[type[Any], Any, str]] = {}
        for name in admin.list_display_names:
            column = admin.columns[name]
            foreign = next(iter(column.foreign_keys), None)
            target = mapped_class(foreign.column.table) if foreign is not None else None
            if target is not None and foreign is not None:
                registered = self.site.for_model(target)
                fk_targets[name] = (target, label_column(target, registered), foreign.column.key)
        sortable: set[str] = set()
        for name in admin.list_display_names:
            try:
                check_cursor_column(Ordering(admin.model, name, False))
            except ValidationException:
                continue
            sortable.add(name)
        has_active = "is_active" in admin.columns
        bulk_actions = (("delete",) if admin.can_delete else ()) + (
            ("activate", "deactivate") if admin.can_edit and has_active else ()
        )
        return ModelInfo(
            admin=admin,
            fields=fields,
            fk_targets=fk_targets,
            sortable=sortable,
            has_audit=hasattr(admin.model, "stamp_created_by") and "created_by" in admin.columns,
            has_active=has_active,
            bulk_actions=bulk_actions,
        )

    def _model(self, request: Request, need: str | None = None) -> ModelInfo:
        # Checked before anything else (and before any SQL): a signed-out visitor learns
        # nothing, not even which models exist or which columns they have.
        session = self.store.load(request)
        if session is None or not session.principal_id:
            raise Redirect(self._login_url(request))
        if session.mfa_pending:
            raise Redirect(f"{self.prefix}/mfa")
        info = self.models.get(request.path_params["slug"])
        if info is None or (need is not None and not getattr(info.admin, need)):
            raise Problem(404, "There is no such page in the admin.")
        return info

    def _actor(self, visit: Visit) -> Actor:
        """The signed-in operator as the actor of the audit trail."""
        return Actor("user", self.backend.principal_id(visit.principal))

    async def _principal_name(self, db_session: AsyncSession, principal_id: str) -> str:
        """How pages name the operator with this id (the id, when it is no operator now)."""
        principal = await self.backend.load_principal(db_session, principal_id)
        return self.backend.display_name(principal) if principal is not None else principal_id

    def _list_query(self, info: ModelInfo, params: Mapping[str, str]) -> ListQuery:
        refuse_nul(params.items())
        admin = info.admin
        query = ListQuery(search=params.get("q", "").strip()[:200])
        try:
            query.filters = parse_filters(admin, params)
        except ValidationException as error:
            raise Problem(400, error.message) from None
        sort = params.get("sort", "")
        if sort:
            if sort not in info.sortable:
                allowed = ", ".join(sorted(info.sortable)) or "none"
                raise Problem(400, f"Cannot sort by {sort!r}; sortable columns: {allowed}.")
            direction = params.get("dir", "asc")
            if direction not in ("asc", "desc"):
                raise Problem(400, "dir must be asc or desc.")
            query.ordering = Ordering(admin.model, sort, direction == "desc")
        query.after = params.get("after") or None
        query.before = params.get("before") or None
        query.last = params.get("last") == "1"
        raw_page = params.get("page", "1")
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= 10**9:
            raise Problem(400, "page must be a positive whole number.")
        query.page = int(raw_page)
        return query

    async def _visit(
        self, request: Request, db_session: AsyncSession, session: AdminSession | None = None
    ) -> Visit:
        session = session or self.store.load(request)
        if session is None or not session.principal_id:
            raise Redirect(self._login_url(request))
        if session.mfa_pending:
            raise Redirect(f"{self.prefix}/mfa")
        if await self._ended(session):
            raise Redirect(self._login_url(request))
        principal = await self.backend.load_principal(db_session, session.principal_id)
        if principal is None or not self._same_version(session, principal):
            raise Redirect(self._login_url(request))
        versioned = self.backend.session_version(principal) is not None
        return Visit(principal, session, self.backend.display_name(principal), versioned)

    async def _ended(self, session: AdminSession) -> bool:
        """Whether a signed-in session was signed out ("Log out"), or predates session ids.

        Raises:
            Problem: The store of signed-out sessions cannot be reached (503): fail closed.
        """
        if session.session_id is None:
            return True
        try:
            return await self.revoked.is_revoked(session.session_id)
        except RevokedSessionsUnavailable:
            raise Problem(503, STORE_DOWN) from None

    def _same_version(self, session: AdminSession, principal: Any) -> bool:
        """Whether the principal's session version is still the one the session began with."""
        version = self.backend.session_version(principal)
        return version is None or version == session.version

    def _login_url(self, request: Request) -> str:
        here = request.url.path
        if request.method == "GET" and request.url.query:
            here += "?" + request.url.query
        return f"{self.prefix}/login?{urlencode({'next': here})}"

    def _next(self, target: str | None) -> str:
        """``target`` if it is a page of this admin, else the dashboard (no open redirect)."""
        home = f"{self.prefix}/"
        return target if target and local_target(target, home) else home

    async def _posted(self, request: Request, *, with_lists: bool = False) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise Problem(415, "Send the form as application/x-www-form-urlencoded.")
        body = await read_form(request)
        try:
            lists = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=2000)
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, "The form could not be read.") from None
        refuse_nul(lists.items())
        form = {key: values[-1] for key, values in lists.items()}
        session = self.store.load(request)
        if session is None or not session.accepts(form.get("csrf_token")):
            raise Problem(
                403,
                "The form's security token is missing or out of date: reload the page and "
                "send it again.",
            )
        return (form, session, lists) if with_lists else (form, session)

    async def _run(self, work: Any) -> Any:
        try:
            return await work
        except ValidationException as error:
            raise Problem(400, error.message) from None

    def _render(
        self, template: str, session: AdminSession, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("visit", None)
        html = self.templates.get_template(f"admin/{template}").render(
            csrf_token=session.csrf_token, **context
        )
        headers = PAGE_HEADERS if status != 503 else {**PAGE_HEADERS, **_RETRY_LATER}
        response = HTMLResponse(html, status, headers=headers)
        if session.principal_id is None:  # a visitor's token must reach the next request
            self.store.save(response, session)
        return response

    def _secure(self, response: Response) -> Response:
        response.headers.update(PAGE_HEADERS)
        return response

    @staticmethod
    def handles(error: Exception) -> bool:
        """Whether ``error`` is a redirect to sign-in or an error page of the admin.

        Text the database refused (a NUL on PostgreSQL) is an error page (400) too, and a
        database that cannot be reached the "Database unavailable, retrying" page (503).
        """
        return (
            isinstance(error, Redirect | Problem)
            or is_unstorable_text_error(error)
            or is_database_unavailable(error)
        )

    def problem_response(self, request: Request, error: Exception) -> Response:
        """The response for a redirect to sign-in or an error page."""
        if isinstance(error, Redirect):
            response = RedirectResponse(error.url, 303)
            session = self.store.load(request)
            # Keep a visitor's valid cookie (a sign-in form open in another tab uses its
            # token); drop one that expired, was tampered with or names a revoked admin.
            anonymous = session is not None and session.principal_id is None
            if "/login" in error.url and not anonymous:
                self.store.clear(response)
            return self._secure(response)
        if not isinstance(error, Problem) and is_database_unavailable(error):
            return self._database_unavailable(error)
        if not isinstance(error, Problem):  # text the database refused
            error = Problem(400, NUL_MESSAGE)
        session = self.store.load(request) or AdminSession.anonymous()
        return self._render("error.html", session, error.status, message=error.message)

    def _database_unavailable(self, error: Exception) -> Response:
        """A plain 503 page that reloads itself after ``Retry-After`` seconds.

        The outage is logged once per process, not per page (see tempest.db.outage).
        """
        from tempest.db.session import project_unavailable_exception

        unavailable = project_unavailable_exception(error)
        html = self.templates.get_template("admin/unavailable.html").render(
            visit=None, csrf_token="", retry_after=unavailable.retry_after
        )
        headers = {**PAGE_HEADERS, **unavailable.headers}
        return HTMLResponse(html, 503, headers=headers)
