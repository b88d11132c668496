"""The sign-in pages: ``/login``, ``/mfa``, ``/logout``, ``/logout/all`` and ``/oauth/...``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tempest.contrib.admin.backends import AdminAuthBackend, AdminAuthError, UserModelAuthBackend
from tempest.contrib.admin.sessions import AdminSession, RevokedSessionsUnavailable
from tempest.contrib.admin.views.base import ViewsBase
from tempest.contrib.admin.views.common import STORE_DOWN, Problem
from tempest.contrib.auth.throttling import mfa_key
from tempest.db import atomic
from tempest.utils.client_ip import get_client_ip_from_scope
from tempest.utils.throttle import ThrottleUnavailableError

if TYPE_CHECKING:
    from tempest.contrib.auth.oauth_flow import OAuthSignIn

__all__ = ["SignInViews"]

_THROTTLE_DOWN = (
    "Sign-in is unavailable right now: the attempt counter (AUTH_THROTTLE_URL) cannot be "
    "reached. Try again in a moment."
)


class SignInViews(ViewsBase):
    """Sign in (password, then the one-time code when the account has one) and out."""

    async def login_form(self, request: Request) -> Response:
        """``GET /login``: the sign-in form (and a session cookie whose token it carries)."""
        session = self.store.load(request)
        if session is not None and session.principal_id and not session.mfa_pending:
            try:
                if not await self._ended(session):
                    return RedirectResponse(self._next(request.query_params.get("next")), 303)
            except Problem:  # cannot tell: show the form
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
        response = await self._start_session(db_session, principal, target)
        return self._secure(response)

    async def _start_session(
        self, db_session: AsyncSession, principal: Any, target: str
    ) -> Response:
        """A new session for ``principal`` (MFA pending when it has MFA), and its redirect."""
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
        return response

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
                message = "You are signed out in this browser only. " + STORE_DOWN
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
            raise Problem(404, "There is no such page in the admin.")
        async with atomic(db_session):
            await self.backend.end_sessions(db_session, visit.principal)
        response = RedirectResponse(f"{self.prefix}/login", 303)
        self.store.clear(response)
        return self._secure(response)

    # -- sign-in with an OAuth / OpenID Connect provider (AUTH_OAUTH_PROVIDERS) --------------

    def _render(
        self, template: str, session: AdminSession, status: int = 200, **context: Any
    ) -> HTMLResponse:
        if template == "login.html":  # a button per provider under the password form
            context.setdefault("oauth_providers", _oauth_buttons(self.backend))
        return super()._render(template, session, status, **context)

    def _oauth_callback_url(self, name: str) -> str:
        from tempest.conf import settings, site_url

        return f"{site_url(settings)}{self.prefix}/oauth/{name}/callback"

    async def oauth_start(self, request: Request) -> Response:
        """``GET /oauth/{provider}/start``: off to the provider, with a pending sign-in."""
        from tempest.exceptions import AppException

        name = request.path_params["provider"]
        flow = _oauth_flow(self.backend, name)
        session = self.store.load(request) or AdminSession.anonymous()
        try:
            response = await flow.redirect(
                name,
                callback_url=self._oauth_callback_url(name),
                next=self._next(request.query_params.get("next")),
            )
        except AppException as error:
            return self._render("login.html", session, error.status_code, error=error.message)
        return self._secure(response)

    async def oauth_callback(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /oauth/{provider}/callback``: a session for a linked, active admin.

        Only existing accounts sign in here (none is created); a first sign-in links the
        account whose email the provider verified, as the API does.
        """
        from tempest.contrib.auth.oauth_linking import user_for_identity
        from tempest.contrib.auth.service import UserAuthService
        from tempest.exceptions import AppException

        name = request.path_params["provider"]
        flow = _oauth_flow(self.backend, name)
        callback_url = self._oauth_callback_url(name)
        session = self.store.load(request) or AdminSession.anonymous()
        try:
            identity, pending = await flow.identity(request, name, callback_url=callback_url)
            service = UserAuthService(user_model=self.backend.user_model)  # type: ignore[attr-defined]
            user = await user_for_identity(service, db_session, identity, create=False)
        except AppException as error:
            response: Response = self._render(
                "login.html", session, error.status_code, error=error.message
            )
            flow.forget(response, callback_url=callback_url)
            return response
        principal = await self.backend.load_principal(db_session, str(user.id))
        if principal is None:
            message = "This account may not use the admin."
            response = self._render("login.html", session, 403, error=message)
            flow.forget(response, callback_url=callback_url)
            return response
        target = self._next(pending.next)
        response = await self._start_session(db_session, principal, target)
        flow.forget(response, callback_url=callback_url)
        return self._secure(response)


def _oauth_buttons(backend: AdminAuthBackend) -> list[tuple[str, str]]:
    """(name, title) of each provider, when the backend signs in rows of the user model."""
    from tempest.conf import settings

    if not isinstance(backend, UserModelAuthBackend):
        return []
    from tempest.contrib.auth.oauth_flow import configured_providers
    from tempest.exceptions import ImproperlyConfigured

    try:
        providers = configured_providers(settings)
    except ImproperlyConfigured:  # an admin mounted without project settings
        return []
    return [(name, provider.title) for name, provider in providers.items()]


def _oauth_flow(backend: AdminAuthBackend, name: str) -> OAuthSignIn:
    """The sign-in flow for provider ``name``; a 404 page for an unknown one."""
    from tempest.conf import settings
    from tempest.contrib.auth.oauth_flow import OAuthSignIn

    flow = OAuthSignIn(settings)
    if name not in dict(_oauth_buttons(backend)):
        raise Problem(404, "There is no such page in the admin.")
    return flow
