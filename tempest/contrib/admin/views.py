"""The admin's pages: sign-in, dashboard, list, export, bulk actions, create, detail, edit.

Every page is one handler of :class:`AdminViews`; ``make_admin_router`` wires them to
URLs. Everything that does not depend on the request (templates, static
files, form fields, foreign-key targets) is prepared when the views are built.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tempest.api.exception_handlers import is_unstorable_text_error
from tempest.api.security_headers import SECURITY_HEADERS, page_security_headers
from tempest.contrib.admin.backends import AdminAuthBackend, AdminAuthError
from tempest.contrib.admin.formatting import (
    cell_text,
    csv_value,
    integrity_message,
    json_value,
)
from tempest.contrib.admin.forms import (
    FormField,
    display_value,
    form_fields,
    mapped_class,
    parse_form,
)
from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.queries import (
    Count,
    ListQuery,
    count_rows,
    filtered_select,
    label_column,
    load_page,
    parse_filters,
)
from tempest.contrib.admin.sessions import (
    AdminSession,
    RevokedSessions,
    RevokedSessionsUnavailable,
    SignedCookieSessionStore,
)
from tempest.contrib.admin.sites import AdminSite
from tempest.contrib.auth.throttling import SignInThrottle, mfa_key
from tempest.db import Ordering, atomic, escape_like
from tempest.exceptions import ValidationException
from tempest.utils.client_ip import IPNetwork, get_client_ip_from_scope
from tempest.utils.throttle import ThrottleUnavailableError

__all__ = ["AdminViews"]

_PAGE_HEADERS = page_security_headers()
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_MAX_FORM_BYTES = 1_000_000
_BULK_ACTIONS = ("delete", "activate", "deactivate")
FK_SELECT_LIMIT = 100
_THROTTLE_DOWN = (
    "Sign-in is unavailable right now: the attempt counter (AUTH_THROTTLE_URL) cannot be "
    "reached. Try again in a moment."
)
_STORE_DOWN = (
    "The admin cannot check whether this session was signed out: the store of signed-out "
    "sessions (ADMIN_REVOKED_SESSIONS_URL) cannot be reached. Try again in a moment."
)
"""A foreign key whose target has more rows than this gets a search box, not a select."""


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class _Problem(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


@dataclass(slots=True)
class _Visit:
    """The signed-in operator of a request."""

    principal: Any
    session: AdminSession
    name: str
    versioned: bool = False  # the backend keeps session versions: "Sign out everywhere" works


@dataclass(slots=True)
class _ModelInfo:
    """What the views prepared about one registered model."""

    admin: AdminModel
    fields: list[FormField]
    fk_targets: dict[str, tuple[type[Any], Any, str]]
    sortable: set[str]
    has_audit: bool
    has_active: bool


class AdminViews:
    """The admin's request handlers, bound to one site and auth backend.

    A handler that reads or writes takes the request's database session as its second
    argument (the router gets it from ``Depends``, so the test plugin's session is used in
    tests).
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
        self.static = _load_static(site)
        self.templates.globals["asset_version"] = self.static[1]
        self.models = {item.slug: self._prepare(item) for item in site}

    # -- sign-in ----------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """``GET /login``: the sign-in form (and a session cookie whose token it carries)."""
        session = self.store.load(request)
        if session is not None and session.principal_id and not session.mfa_pending:
            try:
                if not await self._ended(session):
                    return RedirectResponse(self._next(request.query_params.get("next")), 303)
            except _Problem:  # cannot tell: show the form
                pass
            session = None
        session = session or AdminSession.anonymous()
        return self._render(
            "login.html", session, next=self._next(request.query_params.get("next")), visit=None
        )

    async def login(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /login``: check the credentials; on success a new session."""
        form, session = await self._posted(request)
        email = form.get("username", "").strip()
        target = self._next(form.get("next"))
        # Counted before the password is checked, on the same keys as the auth API's.
        client_ip = get_client_ip_from_scope(request.scope, trusted_proxies=self.trusted_proxies)
        try:
            attempt = await self.throttle.begin(email, client_ip)
        except ThrottleUnavailableError:
            return self._render(
                "login.html", session, 503, error=_THROTTLE_DOWN, email=email, next=target
            )
        if not attempt.allowed:
            minutes = max(1, math.ceil(attempt.retry_after_seconds / 60))
            message = f"Too many failed attempts: try again in {minutes} minute(s)."
            return self._render("login.html", session, 429, error=message, email=email, next=target)
        try:
            principal = await self.backend.authenticate(
                db_session, identifier=email, password=form.get("password", "")
            )
        except AdminAuthError:
            message = "Wrong email or password, or this account may not use the admin."
            return self._render("login.html", session, 400, error=message, email=email, next=target)
        try:
            await self.throttle.succeeded(attempt)
        except ThrottleUnavailableError:
            return self._render(
                "login.html", session, 503, error=_THROTTLE_DOWN, email=email, next=target
            )
        pid = self.backend.principal_id(principal)
        version = self.backend.session_version(principal)
        if self.backend.requires_mfa(principal):
            new = AdminSession.signed_in(pid, mfa_pending=True, version=version)
            response = RedirectResponse(f"{self.prefix}/mfa?{urlencode({'next': target})}", 303)
        else:
            async with atomic(db_session):
                await self.backend.on_login(db_session, principal)
            new = AdminSession.signed_in(pid, version=version)
            response = RedirectResponse(target, 303)
        self.store.save(response, new)
        return self._secure(response)

    async def mfa_form(self, request: Request) -> Response:
        """``GET /mfa``: the one-time code form."""
        session = self.store.load(request)
        if session is None or not session.principal_id or not session.mfa_pending:
            return self._secure(RedirectResponse(f"{self.prefix}/login", 303))
        return self._render("mfa.html", session, next=self._next(request.query_params.get("next")))

    async def mfa(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /mfa``: check the code; on success the session is complete."""
        form, session = await self._posted(request)
        if not session.principal_id or not session.mfa_pending:
            return self._secure(RedirectResponse(f"{self.prefix}/login", 303))
        target = self._next(form.get("next"))
        key = mfa_key(session.principal_id)  # the auth API's key: one count per account
        try:
            reserved = await self.throttle.accounts.attempt(key)  # before the code is checked
        except ThrottleUnavailableError:
            return self._render("mfa.html", session, 503, error=_THROTTLE_DOWN, next=target)
        if reserved.locked:
            message = "Too many wrong codes: sign in again later."
            return self._render("mfa.html", session, 429, error=message, next=target)
        principal = await self.backend.load_principal(db_session, session.principal_id)
        if principal is None or not self._same_version(session, principal):
            response = RedirectResponse(f"{self.prefix}/login", 303)
            self.store.clear(response)
            return self._secure(response)
        async with atomic(db_session):
            accepted = await self.backend.verify_mfa(db_session, principal, form.get("code", ""))
            if accepted:
                await self.backend.on_login(db_session, principal)
        if not accepted:
            message = "That code is wrong or was already used."
            return self._render("mfa.html", session, 400, error=message, next=target)
        try:
            await self.throttle.accounts.reset(key)
        except ThrottleUnavailableError:
            return self._render("mfa.html", session, 503, error=_THROTTLE_DOWN, next=target)
        response = RedirectResponse(target, 303)
        version = self.backend.session_version(principal)
        self.store.save(response, AdminSession.signed_in(session.principal_id, version=version))
        return self._secure(response)

    async def logout(self, request: Request) -> Response:
        """``POST /logout``: end this session; its cookie is refused from now on.

        The session id is remembered in the store of signed-out sessions until the cookie
        would expire; the operator's other sessions stay open.
        """
        _, session = await self._posted(request)
        response: Response = RedirectResponse(f"{self.prefix}/login", 303)
        if session.principal_id and session.session_id:
            try:
                await self.revoked.revoke(session.session_id, self.store.max_age)
            except RevokedSessionsUnavailable:
                message = "You are signed out in this browser only. " + _STORE_DOWN
                response = self._render("error.html", session, 503, message=message)
        self.store.clear(response)
        return self._secure(response)

    async def logout_all(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /logout/all``: end every session of the operator, here and elsewhere.

        Raises the operator's session version (the backend's :meth:`end_sessions`), which
        also ends their API tokens with the user-model backend.
        """
        _, session = await self._posted(request)
        visit = await self._visit(request, db_session, session)
        if not visit.versioned:
            raise _Problem(404, "There is no such page in the admin.")
        async with atomic(db_session):
            await self.backend.end_sessions(db_session, visit.principal)
        response = RedirectResponse(f"{self.prefix}/login", 303)
        self.store.clear(response)
        return self._secure(response)

    # -- pages ------------------------------------------------------------------------------

    async def dashboard(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /``: a card per model with its row count, and the server's metrics."""
        visit = await self._visit(request, db_session)
        counts = {
            slug: await count_rows(db_session, info.admin) for slug, info in self.models.items()
        }
        metrics = await _metrics() if self.show_metrics else None
        return self._render(
            "dashboard.html", visit.session, visit=visit, counts=counts, metrics=metrics
        )

    async def list_rows(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/``: one page of rows, searched, filtered and sorted."""
        info = self._model(request)
        params = request.query_params
        query = self._list_query(info, params)
        visit = await self._visit(request, db_session)
        page = await self._run(load_page(db_session, info.admin, query, info.fk_targets))
        first = not (query.after or query.before or query.last) and query.page == 1
        if first and page.next_cursor is None:  # the first page shows where the rows end
            count = Count(len(page.rows))
        else:
            count = await count_rows(db_session, info.admin, query)
        base = {
            key: value
            for key, value in params.items()
            if key in ("q", "sort", "dir") or key.startswith("filter_")
        }
        return self._render(
            "list.html",
            visit.session,
            visit=visit,
            info=info,
            admin=info.admin,
            page=page,
            count=count,
            query=query,
            params=base,
            link=lambda **changes: _link(base, changes),
            filters=self._filter_choices(info, params),
        )

    async def export(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/export.csv`` and ``export.json``: the current rows, all columns."""
        info = self._model(request)
        kind = request.path_params["kind"]
        if kind not in ("csv", "json"):
            raise _Problem(404, "Exports are export.csv and export.json.")
        query = self._list_query(info, request.query_params)
        ordering = query.ordering or Ordering(
            info.admin.model, info.admin.order_key, info.admin.order_descending
        )
        await self._visit(request, db_session)
        statement = filtered_select(info.admin, query).order_by(*ordering.clauses())
        rows = (await db_session.scalars(statement.limit(self.export_max_rows))).all()
        names = list(info.admin.columns)
        filename = f"{info.admin.slug}.{kind}"
        headers = {**_PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
        if kind == "json":
            data = [{name: json_value(getattr(row, name)) for name in names} for row in rows]
            body = json.dumps(data, ensure_ascii=False, indent=2)
            return Response(body, media_type="application/json", headers=headers)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_value(getattr(row, name)) for name in names])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

    async def bulk(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/bulk``: delete, activate or deactivate the ticked rows."""
        info = self._model(request)
        form, session, lists = await self._posted(request, with_lists=True)
        action = form.get("action", "")
        allowed = [a for a in _BULK_ACTIONS if self._bulk_allowed(info, a)]
        if action not in allowed:
            actions = ", ".join(allowed) or "none"
            raise _Problem(400, f"Unknown action {action!r}; actions here: {actions}.")
        ids = [_pk(info, raw) for raw in lists.get("ids", [])]
        if not ids:
            raise _Problem(400, "Tick at least one row.")
        visit = await self._visit(request, db_session, session)
        try:
            await self._apply_bulk(db_session, info, visit, action, ids)
        except IntegrityError:
            raise _Problem(
                409,
                "Some of these rows are still referenced by other rows; delete or change "
                "those first. Nothing was changed.",
            ) from None
        back = form.get("back", "")
        target = (
            back
            if _local(back, f"{self.prefix}/m/{info.admin.slug}/")
            else (f"{self.prefix}/m/{info.admin.slug}/")
        )
        return self._secure(RedirectResponse(target, 303))

    async def _apply_bulk(
        self, db_session: AsyncSession, info: _ModelInfo, visit: _Visit, action: str, ids: list[Any]
    ) -> None:
        model = info.admin.model
        async with atomic(db_session):
            condition = model.id.in_(ids)
            if action == "delete":
                await db_session.execute(delete(model).where(condition))
            else:
                values: dict[str, Any] = {"is_active": action == "activate"}
                if action == "deactivate" and "session_version" in model.__table__.columns:
                    # A user model: deactivation ends the users' sessions (see end_sessions).
                    values["session_version"] = model.session_version + 1
                if info.has_audit:
                    values["updated_by"] = self.backend.audit_id(visit.principal)
                await db_session.execute(update(model).where(condition).values(**values))

    async def create_form(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/new``: an empty form."""
        info = self._model(request, need="can_create")
        visit = await self._visit(request, db_session)
        choices = await self._fk_choices(db_session, info)
        values = {item.name: display_value(item, _default(item)) for item in info.fields}
        return self._form_page(visit, info, values, {}, None, choices)

    async def create(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/new``: validate and save a new row."""
        info = self._model(request, need="can_create")
        form, session = await self._posted(request)
        model = info.admin.model
        visit = await self._visit(request, db_session, session)
        values, errors = parse_form(info.fields, form)
        errors.update(_unpicked_searches(info, form, errors))
        errors.update(await self._check_targets(db_session, info, values, errors))
        instance = None
        if not errors:
            instance = model(**values)
            if info.has_audit:
                instance.stamp_created_by(self.backend.audit_id(visit.principal))
            errors = await self._save(db_session, instance)
        if errors:
            choices = await self._fk_choices(db_session, info, chosen=values)
            return self._form_page(visit, info, dict(form), errors, None, choices, 422)
        assert instance is not None
        return self._secure(
            RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/{instance.id}", 303)
        )

    async def detail(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/{identity}``: every column, and who created and changed the row."""
        info = self._model(request)
        visit = await self._visit(request, db_session)
        instance = await self._instance(db_session, info, request)
        related = await self._related_labels(db_session, info, instance)
        audit = await self._audit(db_session, instance) if info.has_audit else {}
        return self._render(
            "detail.html",
            visit.session,
            visit=visit,
            info=info,
            admin=info.admin,
            instance=instance,
            related=related,
            audit=audit,
            fields=info.fields,
        )

    async def edit_form(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/{identity}/edit``: the form filled with the row."""
        info = self._model(request, need="can_edit")
        visit = await self._visit(request, db_session)
        instance = await self._instance(db_session, info, request)
        choices = await self._fk_choices(db_session, info, instance)
        values = {
            item.name: display_value(item, getattr(instance, item.name)) for item in info.fields
        }
        return self._form_page(visit, info, values, {}, instance, choices)

    async def edit(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/{identity}/edit``: validate and save the changes."""
        info = self._model(request, need="can_edit")
        form, session = await self._posted(request)
        visit = await self._visit(request, db_session, session)
        instance = await self._instance(db_session, info, request)
        values, errors = parse_form(info.fields, form)
        errors.update(_unpicked_searches(info, form, errors))
        errors.update(await self._check_targets(db_session, info, values, errors))
        if not errors:
            for name, value in values.items():
                setattr(instance, name, value)
            if info.has_audit:
                instance.stamp_updated_by(self.backend.audit_id(visit.principal))
            errors = await self._save(db_session, instance)
            if errors:  # rolled back: the row's attributes are expired, load them again
                await db_session.refresh(instance)
        if errors:
            choices = await self._fk_choices(db_session, info, instance, chosen=values)
            shown = {
                item.name: display_value(item, getattr(instance, item.name))
                for item in info.fields
                if item.readonly
            }
            values = {**shown, **dict(form)}
            return self._form_page(visit, info, values, errors, instance, choices, 422)
        return self._secure(
            RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/{instance.id}", 303)
        )

    async def delete(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/{identity}/delete``: delete the row."""
        info = self._model(request, need="can_delete")
        _, session = await self._posted(request)
        await self._visit(request, db_session, session)
        instance = await self._instance(db_session, info, request)
        try:
            async with atomic(db_session):
                await db_session.delete(instance)
        except IntegrityError:
            raise _Problem(
                409, "This row is still referenced by other rows; delete or change those first."
            ) from None
        return self._secure(RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/", 303))

    async def autocomplete(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/autocomplete?q=``: up to 20 rows whose label matches, as options."""
        info = self._model(request)
        params = request.query_params
        _refuse_nul(params.items())
        field_name = params.get("field", "")
        text = (params.get(f"{field_name}__search") or params.get("q", "")).strip()
        label = label_column(info.admin.model, info.admin)
        visit = await self._visit(request, db_session)
        statement = select(info.admin.model.id, label)
        if text:
            statement = filtered_select(info.admin, ListQuery(search=text), statement)
            if not info.admin.search_field_names:
                statement = statement.where(label.ilike(f"%{escape_like(text)}%", escape="\\"))
        rows = (await db_session.execute(statement.order_by(label).limit(20))).all()
        return self._render(
            "autocomplete.html", visit.session, rows=rows, field=field_name, text=text
        )

    async def static_file(self, request: Request) -> Response:
        """``GET /static/{name}``: the admin's stylesheet, script and htmx."""
        name = request.path_params["name"]
        files_by_name, _ = self.static
        found = files_by_name.get(name)
        if found is None:
            return Response("Not found", 404, headers=SECURITY_HEADERS)
        body, media_type, etag = found
        headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    # -- helpers ----------------------------------------------------------------------------

    def _prepare(self, admin: AdminModel) -> _ModelInfo:
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
        return _ModelInfo(
            admin=admin,
            fields=fields,
            fk_targets=fk_targets,
            sortable=sortable,
            has_audit=hasattr(admin.model, "stamp_created_by") and "created_by" in admin.columns,
            has_active="is_active" in admin.columns,
        )

    def _model(self, request: Request, need: str | None = None) -> _ModelInfo:
        # Checked before anything else (and before any SQL): a signed-out visitor learns
        # nothing, not even which models exist or which columns they have.
        session = self.store.load(request)
        if session is None or not session.principal_id:
            raise _Redirect(self._login_url(request))
        if session.mfa_pending:
            raise _Redirect(f"{self.prefix}/mfa")
        info = self.models.get(request.path_params["slug"])
        if info is None or (need is not None and not getattr(info.admin, need)):
            raise _Problem(404, "There is no such page in the admin.")
        return info

    def _list_query(self, info: _ModelInfo, params: Mapping[str, str]) -> ListQuery:
        _refuse_nul(params.items())
        admin = info.admin
        query = ListQuery(search=params.get("q", "").strip()[:200])
        try:
            query.filters = parse_filters(admin, params)
        except ValidationException as error:
            raise _Problem(400, error.message) from None
        sort = params.get("sort", "")
        if sort:
            if sort not in info.sortable:
                allowed = ", ".join(sorted(info.sortable)) or "none"
                raise _Problem(400, f"Cannot sort by {sort!r}; sortable columns: {allowed}.")
            direction = params.get("dir", "asc")
            if direction not in ("asc", "desc"):
                raise _Problem(400, "dir must be asc or desc.")
            query.ordering = Ordering(admin.model, sort, direction == "desc")
        query.after = params.get("after") or None
        query.before = params.get("before") or None
        query.last = params.get("last") == "1"
        raw_page = params.get("page", "1")
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= 10**9:
            raise _Problem(400, "page must be a positive whole number.")
        query.page = int(raw_page)
        return query

    def _filter_choices(self, info: _ModelInfo, params: Mapping[str, str]) -> list[dict[str, Any]]:
        from sqlalchemy import Boolean, Enum

        result = []
        for name in info.admin.list_filter_names:
            column = info.admin.columns[name]
            if isinstance(column.type, Boolean):
                options = [("true", "Yes"), ("false", "No")]
            elif isinstance(column.type, Enum):
                field = next(item for item in info.fields if item.name == name)
                options = field.choices
            else:
                options = []
            result.append(
                {"name": name, "options": options, "value": params.get(f"filter_{name}", "")}
            )
        return result

    async def _visit(
        self, request: Request, db_session: AsyncSession, session: AdminSession | None = None
    ) -> _Visit:
        session = session or self.store.load(request)
        if session is None or not session.principal_id:
            raise _Redirect(self._login_url(request))
        if session.mfa_pending:
            raise _Redirect(f"{self.prefix}/mfa")
        if await self._ended(session):
            raise _Redirect(self._login_url(request))
        principal = await self.backend.load_principal(db_session, session.principal_id)
        if principal is None or not self._same_version(session, principal):
            raise _Redirect(self._login_url(request))
        versioned = self.backend.session_version(principal) is not None
        return _Visit(principal, session, self.backend.display_name(principal), versioned)

    async def _ended(self, session: AdminSession) -> bool:
        """Whether a signed-in session was signed out ("Log out"), or predates session ids.

        Raises:
            _Problem: The store of signed-out sessions cannot be reached (503): fail closed.
        """
        if session.session_id is None:
            return True
        try:
            return await self.revoked.is_revoked(session.session_id)
        except RevokedSessionsUnavailable:
            raise _Problem(503, _STORE_DOWN) from None

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
        return target if target and _local(target, home) else home

    async def _posted(self, request: Request, *, with_lists: bool = False) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise _Problem(415, "Send the form as application/x-www-form-urlencoded.")
        body = await _read_form(request)
        try:
            lists = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=2000)
        except (UnicodeDecodeError, ValueError):
            raise _Problem(400, "The form could not be read.") from None
        _refuse_nul(lists.items())
        form = {key: values[-1] for key, values in lists.items()}
        session = self.store.load(request)
        if session is None or not session.accepts(form.get("csrf_token")):
            raise _Problem(
                403,
                "The form's security token is missing or out of date: reload the page and "
                "send it again.",
            )
        return (form, session, lists) if with_lists else (form, session)

    async def _instance(self, db_session: AsyncSession, info: _ModelInfo, request: Request) -> Any:
        key = _pk(info, request.path_params["identity"])
        instance = await db_session.get(info.admin.model, key)
        if instance is None:
            raise _Problem(
                404, f"No {info.admin.verbose_name} with id {request.path_params['identity']}."
            )
        return instance

    async def _save(self, db_session: AsyncSession, instance: Any) -> dict[str, str]:
        try:
            async with atomic(db_session):
                db_session.add(instance)
        except IntegrityError as error:
            await db_session.rollback()
            return {"__all__": integrity_message(error)}
        return {}

    async def _check_targets(
        self,
        db_session: AsyncSession,
        info: _ModelInfo,
        values: dict[str, Any],
        errors: dict[str, str],
    ) -> dict[str, str]:
        problems = {}
        for item in info.fields:
            value = values.get(item.name)
            if item.target is None or item.name in errors or value is None:
                continue
            if await db_session.get(item.target, value) is None:
                problems[item.name] = f"No {item.target.__name__} with id {value}."
        return problems

    async def _fk_choices(
        self,
        db_session: AsyncSession,
        info: _ModelInfo,
        instance: Any = None,
        chosen: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """For each foreign key: a list of options, or the search URL and current label.

        The current row is ``chosen``'s value (a form sent again with errors shows what was
        picked), else ``instance``'s.
        """
        result: dict[str, dict[str, Any]] = {}
        for item in info.fields:
            if item.target is None or item.readonly:
                continue
            registered = self.site.for_model(item.target)
            if registered is None:
                continue
            label = label_column(item.target, registered)
            rows = (
                await db_session.execute(
                    select(item.target.id, label).order_by(label).limit(FK_SELECT_LIMIT + 1)
                )
            ).all()
            if chosen is not None:
                current = chosen.get(item.name)
            else:
                current = getattr(instance, item.name, None) if instance is not None else None
            if len(rows) <= FK_SELECT_LIMIT:
                options = [(str(row[0]), str(row[1])) for row in rows]
                result[item.name] = {"options": options}
            else:
                current_label = ""
                if current is not None:
                    current_label = str(
                        await db_session.scalar(select(label).where(item.target.id == current))
                        or current
                    )
                url = f"{self.prefix}/m/{registered.slug}/autocomplete"
                result[item.name] = {"search": url, "label": current_label}
        return result

    async def _related_labels(
        self, db_session: AsyncSession, info: _ModelInfo, instance: Any
    ) -> dict[str, tuple[str, str | None]]:
        """Foreign keys of the detail page: name -> (label, link to the related row)."""
        result = {}
        for item in info.fields:
            value = getattr(instance, item.name)
            if item.target is None or value is None:
                continue
            registered = self.site.for_model(item.target)
            label = label_column(item.target, registered)
            text = await db_session.scalar(select(label).where(item.target.id == value))
            link = f"{self.prefix}/m/{registered.slug}/{value}" if registered else None
            result[item.name] = (str(text if text is not None else value), link)
        return result

    async def _audit(self, db_session: AsyncSession, instance: Any) -> dict[str, str]:
        """``created_by`` / ``updated_by`` as the operators' names."""
        ids = {instance.created_by, instance.updated_by} - {None}
        names: dict[Any, str] = {}
        for principal_id in ids:
            principal = await self.backend.load_principal(db_session, str(principal_id))
            names[principal_id] = (
                self.backend.display_name(principal) if principal else str(principal_id)
            )
        return {
            "created_by": names.get(instance.created_by, "—"),
            "updated_by": names.get(instance.updated_by, "—"),
        }

    def _bulk_allowed(self, info: _ModelInfo, action: str) -> bool:
        if action == "delete":
            return info.admin.can_delete
        return info.admin.can_edit and info.has_active

    async def _run(self, work: Any) -> Any:
        try:
            return await work
        except ValidationException as error:
            raise _Problem(400, error.message) from None

    def _form_page(
        self,
        visit: _Visit,
        info: _ModelInfo,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        instance: Any,
        choices: dict[str, dict[str, Any]],
        status: int = 200,
    ) -> HTMLResponse:
        """The create form (``instance`` None) or the edit form, with ``errors`` shown."""
        return self._render(
            "form.html",
            visit.session,
            status,
            visit=visit,
            info=info,
            admin=info.admin,
            values=values,
            errors=errors,
            instance=instance,
            choices=choices,
            fields=info.fields,
        )

    def _render(
        self, template: str, session: AdminSession, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("visit", None)
        html = self.templates.get_template(f"admin/{template}").render(
            csrf_token=session.csrf_token, **context
        )
        response = HTMLResponse(html, status, headers=_PAGE_HEADERS)
        if session.principal_id is None:  # a visitor's token must reach the next request
            self.store.save(response, session)
        return response

    def _secure(self, response: Response) -> Response:
        response.headers.update(_PAGE_HEADERS)
        return response

    @staticmethod
    def handles(error: Exception) -> bool:
        """Whether ``error`` is a redirect to sign-in or an error page of the admin.

        Text the database refused (a NUL on PostgreSQL) is an error page (400) too.
        """
        return isinstance(error, _Redirect | _Problem) or is_unstorable_text_error(error)

    def problem_response(self, request: Request, error: Exception) -> Response:
        """The response for a redirect to sign-in or an error page."""
        if isinstance(error, _Redirect):
            response = RedirectResponse(error.url, 303)
            session = self.store.load(request)
            # Keep a visitor's valid cookie (a sign-in form open in another tab uses its
            # token); drop one that expired, was tampered with or names a revoked admin.
            anonymous = session is not None and session.principal_id is None
            if "/login" in error.url and not anonymous:
                self.store.clear(response)
            return self._secure(response)
        if not isinstance(error, _Problem):  # text the database refused
            error = _Problem(400, _NUL_MESSAGE)
        session = self.store.load(request) or AdminSession.anonymous()
        return self._render("error.html", session, error.status, message=error.message)


_NUL_MESSAGE = "The text contains a NUL character (\\0), which cannot be stored."


async def _read_form(request: Request) -> bytes:
    """The form body, refused (413) past ``_MAX_FORM_BYTES`` while it streams in.

    A declared ``Content-Length`` over the limit is refused before reading anything.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_FORM_BYTES:
        raise _Problem(413, "The form is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            raise _Problem(413, "The form is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_nul(items: Iterable[tuple[str, Any]]) -> None:
    """A 400 page when a form or query field (name or value) holds a NUL character."""
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        if "\x00" in key or any("\x00" in item for item in values):
            raise _Problem(400, _NUL_MESSAGE)


def _load_static(site: AdminSite) -> tuple[dict[str, tuple[bytes, str, str]], str]:
    folder = files("tempest.contrib.admin").joinpath("static/admin")
    result: dict[str, tuple[bytes, str, str]] = {}
    for name in ("admin.css", "admin.js", "htmx.min.js"):
        body = folder.joinpath(name).read_bytes()
        result[name] = (body, _STATIC_TYPES[name[name.rindex(".") :]], "")
    result["theme.css"] = (site.theme.css().encode(), _STATIC_TYPES[".css"], "")
    digest = hashlib.sha256()
    for name, (body, media_type, _) in list(result.items()):
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        result[name] = (body, media_type, etag)
        digest.update(body)
    return result, digest.hexdigest()[:12]


def _link(base: Mapping[str, str], changes: Mapping[str, Any]) -> str:
    params = {**base}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


def _local(target: str, home: str) -> bool:
    return (
        target.startswith(home)
        and not target.startswith("//")
        and "\\" not in target
        and all(ord(char) > 31 for char in target)
    )


def _unpicked_searches(
    info: _ModelInfo, form: Mapping[str, str], errors: Mapping[str, str]
) -> dict[str, str]:
    """Search boxes holding text that no click on a result turned into a row."""
    return {
        item.name: "Choose one of the rows the search offers, or empty the box."
        for item in info.fields
        if item.widget == "fk"
        and item.name not in errors
        and not form.get(item.name, "").strip()
        and form.get(f"{item.name}__search", "").strip()
    }


def _pk(info: _ModelInfo, raw: str) -> Any:
    column = info.admin.columns["id"]
    from sqlalchemy import Integer, Uuid

    try:
        if isinstance(column.type, Uuid):
            return uuid.UUID(raw)
        if isinstance(column.type, Integer):
            return int(raw)
    except ValueError:
        raise _Problem(404, f"No {info.admin.verbose_name} with id {raw}.") from None
    return raw


def _default(item: FormField) -> Any:
    default = item.column.default
    if default is not None and getattr(default, "is_scalar", False):
        return getattr(default, "arg", None)
    return None


async def _metrics() -> dict[str, Any] | None:
    try:
        from tempest.utils.metrics import MetricsUtils
    except ImportError:
        return None
    try:
        snapshot = await MetricsUtils.snapshot_async(cpu_interval=None)
    except ImportError:
        return None
    result: dict[str, Any] = snapshot.to_dict()
    return result
