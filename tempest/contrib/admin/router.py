"""make_admin_router: the admin's pages as a FastAPI router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from tempest.contrib.admin.backends import AdminAuthBackend, UserModelAuthBackend
from tempest.contrib.admin.sessions import (
    DEFAULT_MAX_AGE,
    MemoryRevokedSessions,
    RevokedSessions,
    SignedCookieSessionStore,
)
from tempest.contrib.admin.sites import AdminSite
from tempest.contrib.auth.throttling import SignInThrottle
from tempest.db import AsyncDatabaseManager
from tempest.utils.client_ip import parse_trusted_proxies
from tempest.utils.throttle import AttemptThrottle

__all__ = ["make_admin_router"]

_Handler = Callable[[Request], Awaitable[Response]]
_DatabaseHandler = Callable[[Request, AsyncSession], Awaitable[Response]]


def make_admin_router(
    site: AdminSite,
    *,
    secret_key: str,
    db: AsyncDatabaseManager | None = None,
    auth_backend: AdminAuthBackend | None = None,
    prefix: str = "/admin",
    cookie_secure: bool = True,
    cookie_samesite: Literal["lax", "strict", "none"] = "lax",
    session_max_age: int = DEFAULT_MAX_AGE,
    show_metrics: bool = True,
    export_max_rows: int = 5000,
    throttle: AttemptThrottle | SignInThrottle | None = None,
    revoked_sessions: RevokedSessions | None = None,
    trusted_proxies: Iterable[str] | None = None,
    log_dir: str | None = None,
) -> APIRouter:
    """Build the admin of ``site`` as a router to include in a FastAPI app.

    Args:
        site: The registered models.
        secret_key: Signs the session cookie; at least 32 bytes.
        db: The database; default the project's, through the request's session
            (``Depends(tempest.db.get_session)``, which tests can override).
        auth_backend: Who may sign in; default :class:`UserModelAuthBackend` on the
            project's user model.
        prefix: Where the admin lives (``/admin``).
        cookie_secure: Send the cookie over HTTPS only; turn off for local HTTP.
        cookie_samesite: The cookie's SameSite attribute.
        session_max_age: Seconds a sign-in lasts (8 hours).
        show_metrics: Show CPU, memory and disk on the dashboard (needs psutil).
        export_max_rows: Most rows one CSV or JSON export holds.
        throttle: Counts sign-in attempts before the password is checked: a
            :class:`~tempest.contrib.auth.throttling.SignInThrottle` (per account and per
            client; the project's admin gets the one the auth API uses), or an
            :class:`~tempest.utils.throttle.AttemptThrottle` per account, to which 20
            attempts per client and window are added on its backend. Default: 5 attempts
            in 5 minutes lock an email for 15 minutes, in this process.
        revoked_sessions: Remembers signed-out sessions until their cookies expire;
            default :class:`~tempest.contrib.admin.sessions.MemoryRevokedSessions` (this
            process). Give a :class:`~tempest.contrib.admin.sessions.RedisRevokedSessions`
            when several processes serve the admin.
        trusted_proxies: Networks (CIDRs) of the reverse proxies whose ``Forwarded`` /
            ``X-Forwarded-For`` headers name the client for the per-client limit; default
            none: the socket peer is the client.
        log_dir: The directory of the log files the Logs page reads; default
            ``settings.LOG_DIR``, read on each visit.

    Returns:
        The router; its routes are not part of the OpenAPI schema.

    Raises:
        ValueError: ``secret_key`` is shorter than 32 bytes, or another argument is out of
            range.
    """
    from tempest.contrib.admin.views import AdminViews

    if export_max_rows < 1:
        raise ValueError(f"export_max_rows must be at least 1, got {export_max_rows}")
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    store = SignedCookieSessionStore(
        secret_key,
        secure=cookie_secure,
        same_site=cookie_samesite,
        max_age=session_max_age,
        path=prefix or "/",
    )
    views = AdminViews(
        site,
        auth_backend=auth_backend or UserModelAuthBackend(),
        store=store,
        prefix=prefix,
        show_metrics=show_metrics,
        export_max_rows=export_max_rows,
        throttle=throttle
        if isinstance(throttle, SignInThrottle)
        else SignInThrottle.for_accounts(throttle or AttemptThrottle()),
        trusted_proxies=parse_trusted_proxies(trusted_proxies),
        revoked=revoked_sessions or MemoryRevokedSessions(),
    )
    views.log_dir = log_dir
    router = APIRouter(prefix=prefix, include_in_schema=False)
    get_session = _session_dependency(db)

    def add(path: str, handler: _Handler, method: str, name: str) -> None:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                if not views.handles(error):
                    raise
                return views.problem_response(request, error)

        _route(router, path, endpoint, method, name)

    def add_db(path: str, handler: _DatabaseHandler, method: str, name: str) -> None:
        async def endpoint(
            request: Request, session: AsyncSession = Depends(get_session)
        ) -> Response:
            try:
                return await handler(request, session)
            except Exception as error:
                if not views.handles(error):
                    raise
                if session.new or session.dirty or session.deleted:
                    await session.rollback()  # an error page saves nothing
                return views.problem_response(request, error)

        _route(router, path, endpoint, method, name)

    add_db("/", views.dashboard, "GET", "index")
    add_db("/logs", views.logs, "GET", "logs")
    add("/login", views.login_form, "GET", "login_form")
    add_db("/login", views.login, "POST", "login")
    add("/mfa", views.mfa_form, "GET", "mfa_form")
    add_db("/mfa", views.mfa, "POST", "mfa")
    add("/oauth/{provider}/start", views.oauth_start, "GET", "oauth_start")
    add_db("/oauth/{provider}/callback", views.oauth_callback, "GET", "oauth_callback")
    add("/logout", views.logout, "POST", "logout")
    add_db("/logout/all", views.logout_all, "POST", "logout_all")
    add("/static/{name}", views.static_file, "GET", "static")
    add_db("/m/{slug}/", views.list_rows, "GET", "list")
    add_db("/m/{slug}/export.{kind:str}", views.export, "GET", "export")
    add_db("/m/{slug}/bulk", views.bulk, "POST", "bulk")
    add_db("/m/{slug}/new", views.create_form, "GET", "create_form")
    add_db("/m/{slug}/new", views.create, "POST", "create")
    add_db("/m/{slug}/autocomplete", views.autocomplete, "GET", "autocomplete")
    add_db("/m/{slug}/{identity}", views.detail, "GET", "detail")
    add_db("/m/{slug}/{identity}/edit", views.edit_form, "GET", "edit_form")
    add_db("/m/{slug}/{identity}/edit", views.edit, "POST", "edit")
    add_db("/m/{slug}/{identity}/delete", views.delete, "POST", "delete")
    add_db("/m/{slug}/{identity}/file/{field}", views.file_download, "GET", "file")
    return router


def _session_dependency(db: AsyncDatabaseManager | None) -> Callable[..., Any]:
    if db is not None:
        return db.session_dependency
    from tempest.db import get_session

    return get_session


def _route(
    router: APIRouter, path: str, endpoint: Callable[..., Any], method: str, name: str
) -> None:
    endpoint.__name__ = name
    router.add_api_route(path, endpoint, methods=[method], name=f"admin:{name}")
