"""The HTTP endpoints of the bundled auth flow: :func:`make_auth_router`.

The router holds no rules: each endpoint reads the request, calls
:class:`~tempest.contrib.auth.service.UserAuthService` and shapes the answer.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and some name dependencies built inside make_auth_router.

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, cast

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL

from tempest.api.dependencies.bearer import BearerCredentials, bearer_claims
from tempest.conf import site_url
from tempest.contrib.auth.base import BaseUserModel
from tempest.contrib.auth.pages import (
    PAGE_HEADERS,
    activation_page,
    email_change_page,
    password_reset_page,
)
from tempest.contrib.auth.schemas import (
    ActivationResendSchema,
    ActivationSchema,
    DetailResponseSchema,
    EmailChangeSchema,
    EmailConfirmSchema,
    LoginSchema,
    LogoutSchema,
    MFAChallengeResponseSchema,
    MFAConfirmSchema,
    MFADisableSchema,
    MFAEnrollResponseSchema,
    MFAEnrollSchema,
    MFARecoveryCodesResponseSchema,
    MFAVerifySchema,
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    RefreshSchema,
    SignupSchema,
    TokenPairResponseSchema,
    UserResponseSchema,
)
from tempest.contrib.auth.service import LinkBuilder, UserAuthService
from tempest.db import get_session
from tempest.exceptions import ConflictException, UnauthorizedException
from tempest.schemas import error_responses

__all__ = ["ACTIVATION_RESENT", "PASSWORD_RESET_REQUESTED", "SIGNUP_ACCEPTED", "make_auth_router"]

Session = Annotated[AsyncSession, Depends(get_session)]

PASSWORD_RESET_REQUESTED = (
    "If an active account uses this email, a link to choose a new password was sent to it."
)
"""The one answer of ``POST /password-reset/request``, whether or not the account exists."""

ACTIVATION_RESENT = (
    "If an account that is not active yet uses this email, a new activation link was sent to it."
)
"""The one answer of ``POST /activate/resend``, whether or not the account exists."""

SIGNUP_ACCEPTED = (
    "Signup received: if this email can be used, the account was created. Check the inbox "
    "of this address for what to do next."
)
"""The one answer of ``POST /signup``, whether or not the email already had an account
(unless ``AUTH_SIGNUP_REVEAL_EXISTING``)."""

EMAIL_CHANGE_REQUESTED = (
    "If no other account uses the new email, a confirmation link was sent to it; the email "
    "changes when the link is followed."
)
"""The one answer of ``POST /email/change``."""

_LINK_PAGE_ERROR: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The link's token is missing, invalid or expired: a page that says so",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}
"""The 400 of the pages that emailed links open: HTML, not the JSON envelope."""

_ACTIVATE_PAGE = "auth_activate_page"
_RESET_PAGE = "auth_password_reset_page"
_RESET_CONFIRM = "auth_password_reset_confirm"
_EMAIL_CONFIRM_PAGE = "auth_email_confirm_page"


def _locale(service: UserAuthService, request: Request) -> str:
    return service.locale_for(request.headers.get("accept-language"))


def _link(
    service: UserAuthService, request: Request, path: str, page: str, *, eager: bool = True
) -> LinkBuilder:
    """Link to the frontend when ``AUTH_FRONTEND_URL`` is set, else to this router's page.

    The router's page is under ``SITE_URL`` (see :func:`tempest.conf.site_url`), never
    under the request's Host header, which the client chooses. Without a base URL,
    ``eager`` raises before the service does anything, so that the answer is the same
    whether or not the account exists; otherwise the first link raises.
    """
    if service.frontend_link(path, "") is not None:
        return lambda token: cast(str, service.frontend_link(path, token))

    def page_url() -> URL:
        # The page's path from the outermost router (mounts included), as url_for finds it.
        routes = request.scope.get("router") or request.app
        return URL(site_url(service.settings) + str(routes.url_path_for(page)))

    if eager:
        url = page_url()
        return lambda token: str(url.include_query_params(token=token))
    return lambda token: str(page_url().include_query_params(token=token))


def _page(html: str, *, ok: bool) -> HTMLResponse:
    """An emailed link's page: 200 when ``ok``, else 400; never cached (``PAGE_HEADERS``)."""
    return HTMLResponse(html, status_code=200 if ok else 400, headers=PAGE_HEADERS)


async def _token_page(
    token: str | None,
    action: Callable[[str], Awaitable[object]],
    render: Callable[[bool], str],
    *,
    failures: tuple[type[Exception], ...] = (UnauthorizedException,),
) -> HTMLResponse:
    """Run an emailed link's token action and show whether it worked.

    Args:
        token: The link's token; a missing one fails like an invalid one.
        action: Applies the token; raises one of ``failures`` when it cannot.
        render: The page's HTML, given whether the action worked.
        failures: The exceptions that mean the link is invalid, expired or used.

    Returns:
        The page, 200 when the action worked, else 400.
    """
    try:
        if not token:
            raise UnauthorizedException()
        await action(token)
    except failures:
        return _page(render(False), ok=False)
    return _page(render(True), ok=True)


def make_auth_router(
    service: UserAuthService | None = None, *, tags: Sequence[str] = ("auth",)
) -> APIRouter:
    """Build the auth endpoints around ``service``.

    Mount it where the API should live; the auth app mounts ``make_auth_router()`` under
    ``/api/auth``::

        app.include_router(make_auth_router(), prefix="/api/auth")

    Building the router reads no setting: a missing ``JWT_SECRET`` is reported by the
    first request that needs it.

    Args:
        service: The service with the rules; default ``UserAuthService()``, configured
            from the settings.
        tags: OpenAPI tags of the endpoints.

    Returns:
        The router.

    Raises:
        TypeError: ``service`` is not a :class:`UserAuthService`.
    """
    if service is None:
        service = UserAuthService()
    elif not isinstance(service, UserAuthService):
        raise TypeError(f"service must be a UserAuthService, got {type(service).__name__}")
    auth = service
    router = APIRouter(tags=list(tags))
    current_user = auth.current_user_dependency()

    async def signed_in(user: BaseUserModel | None = Depends(current_user)) -> BaseUserModel:
        if user is None:  # only a soft dependency returns None; this one raises instead
            raise UnauthorizedException()
        return user

    def token_claims(credentials: BearerCredentials) -> dict[str, Any]:
        # The access token's claims (auth_time), for the changes that need a recent sign-in;
        # `signed_in` has already checked the token and its user.
        return bearer_claims(auth.tokens, credentials)

    Claims = Annotated[dict[str, Any], Depends(token_claims)]

    @router.post(
        "/signup",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        responses=error_responses(409),
        summary="Create an account",
    )
    async def signup(
        data: SignupSchema, request: Request, session: Session, background: BackgroundTasks
    ) -> DetailResponseSchema:
        """Create an account; the answer is the same whether or not the email was taken."""
        await auth.signup(
            session,
            data.email,
            data.password,
            activation_link=_link(auth, request, "/activate", _ACTIVATE_PAGE, eager=False),
            locale=_locale(auth, request),
            background=background,
        )
        return DetailResponseSchema(detail=SIGNUP_ACCEPTED)

    @router.post(
        "/activate",
        response_model=DetailResponseSchema,
        responses=error_responses(401),
        summary="Activate an account",
    )
    async def activate(data: ActivationSchema, session: Session) -> DetailResponseSchema:
        """Activate the account with the token from the activation email."""
        await auth.activate(session, data.token)
        return DetailResponseSchema(detail="The account is active.")

    @router.get(
        "/activate",
        name=_ACTIVATE_PAGE,
        response_class=HTMLResponse,
        responses=_LINK_PAGE_ERROR,
        summary="Activation page (the emailed link)",
    )
    async def activate_page(
        request: Request, session: Session, token: str | None = None
    ) -> HTMLResponse:
        """Activate the account and show the result, in the browser's language."""
        locale = _locale(auth, request)
        return await _token_page(
            token,
            lambda value: auth.activate(session, value),
            lambda ok: activation_page(locale, activated=ok),
        )

    @router.post(
        "/login",
        response_model=TokenPairResponseSchema | MFAChallengeResponseSchema,
        responses=error_responses(401, 403, 429, 503),
        summary="Sign in",
    )
    async def login(
        data: LoginSchema, session: Session, request: Request
    ) -> TokenPairResponseSchema | MFAChallengeResponseSchema:
        """Exchange email and password for a token pair (or an MFA challenge)."""
        return await auth.login(
            session, data.email, data.password, client_ip=auth.client_ip(request)
        )

    @router.post(
        "/refresh",
        response_model=TokenPairResponseSchema,
        responses=error_responses(401),
        summary="Rotate tokens",
    )
    async def refresh(data: RefreshSchema, session: Session) -> TokenPairResponseSchema:
        """Exchange a refresh token for a new pair; the old refresh token is used up."""
        return await auth.refresh(session, data.refresh_token)

    @router.post(
        "/logout",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401),
        summary="Sign out",
    )
    async def logout(data: LogoutSchema, session: Session) -> Response:
        """Revoke the refresh token (and the rest of its session)."""
        await auth.logout(session, data.refresh_token)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/logout/all",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401),
        summary="Sign out everywhere",
    )
    async def logout_all(session: Session, user: BaseUserModel = Depends(signed_in)) -> Response:
        """End every session of the signed-in user: access and refresh tokens, admin too."""
        await auth.logout_all(session, user)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/activate/resend",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        responses=error_responses(503),
        summary="Email a new activation link",
    )
    async def activation_resend(
        data: ActivationResendSchema,
        request: Request,
        session: Session,
        background: BackgroundTasks,
    ) -> DetailResponseSchema:
        """Send a new activation link; the answer is the same whether or not it was sent."""
        await auth.resend_activation(
            session,
            data.email,
            activation_link=_link(auth, request, "/activate", _ACTIVATE_PAGE),
            locale=_locale(auth, request),
            background=background,
        )
        return DetailResponseSchema(detail=ACTIVATION_RESENT)

    @router.post(
        "/password-reset/request",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        responses=error_responses(503),
        summary="Email a password reset link",
    )
    async def password_reset_request(
        data: PasswordResetRequestSchema,
        request: Request,
        session: Session,
        background: BackgroundTasks,
    ) -> DetailResponseSchema:
        """Send a reset link; the answer is the same whether or not the account exists."""
        await auth.request_password_reset(
            session,
            data.email,
            reset_link=_link(auth, request, "/password-reset", _RESET_PAGE),
            locale=_locale(auth, request),
            background=background,
        )
        return DetailResponseSchema(detail=PASSWORD_RESET_REQUESTED)

    @router.post(
        "/password-reset/confirm",
        name=_RESET_CONFIRM,
        response_model=DetailResponseSchema,
        responses=error_responses(401),
        summary="Set a new password",
    )
    async def password_reset_confirm(
        data: PasswordResetConfirmSchema, session: Session
    ) -> DetailResponseSchema:
        """Set the new password with the emailed token; every session is signed out."""
        await auth.confirm_password_reset(session, data.token, data.password)
        return DetailResponseSchema(detail="The password was changed.")

    @router.get(
        "/password-reset",
        name=_RESET_PAGE,
        response_class=HTMLResponse,
        responses=_LINK_PAGE_ERROR,
        summary="Password reset page (the emailed link)",
    )
    async def password_reset_form(request: Request, token: str | None = None) -> HTMLResponse:
        """A form for the new password, posting to ``/password-reset/confirm``."""
        page = password_reset_page(
            _locale(auth, request), token=token, action=str(request.url_for(_RESET_CONFIRM))
        )
        return _page(page, ok=bool(token))

    @router.get(
        "/me",
        response_model=UserResponseSchema,
        responses=error_responses(401),
        summary="The signed-in user",
    )
    async def me(user: BaseUserModel = Depends(signed_in)) -> BaseUserModel:
        """The user of the bearer access token."""
        return user

    @router.post(
        "/mfa/enroll",
        response_model=MFAEnrollResponseSchema,
        responses=error_responses(401, 403, 409, 429),
        summary="Start MFA",
    )
    async def mfa_enroll(
        session: Session,
        claims: Claims,
        user: BaseUserModel = Depends(signed_in),
        data: Annotated[MFAEnrollSchema | None, Body()] = None,
    ) -> MFAEnrollResponseSchema:
        """A new TOTP secret for the authenticator app; confirm it with a code.

        Needs a recent sign-in (``AUTH_REAUTH_SECONDS``) or the password in the body.
        """
        password = data.password if data is not None else None
        return await auth.mfa_enroll(session, user, claims=claims, password=password)

    @router.post(
        "/mfa/confirm",
        response_model=MFARecoveryCodesResponseSchema,
        responses=error_responses(400, 401, 409),
        summary="Turn MFA on",
    )
    async def mfa_confirm(
        data: MFAConfirmSchema, session: Session, user: BaseUserModel = Depends(signed_in)
    ) -> MFARecoveryCodesResponseSchema:
        """Turn MFA on with a first code; the answer holds the recovery codes, once."""
        return await auth.mfa_confirm(session, user, data.code)

    @router.post(
        "/mfa/verify",
        response_model=TokenPairResponseSchema,
        responses=error_responses(401, 429, 503),
        summary="Finish an MFA login",
    )
    async def mfa_verify(data: MFAVerifySchema, session: Session) -> TokenPairResponseSchema:
        """Exchange the login's mfa_token and a code (or a recovery code) for a token pair."""
        return await auth.mfa_verify(
            session, data.mfa_token, code=data.code, recovery_code=data.recovery_code
        )

    @router.post(
        "/mfa/disable",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 409, 429),
        summary="Turn MFA off",
    )
    async def mfa_disable(
        data: MFADisableSchema,
        session: Session,
        claims: Claims,
        user: BaseUserModel = Depends(signed_in),
    ) -> Response:
        """Turn MFA off with a code or a recovery code (and the password, unless fresh)."""
        await auth.mfa_disable(
            session,
            user,
            code=data.code,
            recovery_code=data.recovery_code,
            password=data.password,
            claims=claims,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/password/change",
        response_model=TokenPairResponseSchema,
        responses=error_responses(401, 403, 429),
        summary="Change the password",
    )
    async def password_change(
        data: PasswordChangeSchema,
        session: Session,
        claims: Claims,
        user: BaseUserModel = Depends(signed_in),
    ) -> TokenPairResponseSchema:
        """Change the password; every other session ends, the answer is a new token pair.

        The current password is needed unless the sign-in is recent.
        """
        return await auth.change_password(
            session,
            user,
            data.new_password,
            current_password=data.current_password,
            claims=claims,
        )

    @router.post(
        "/email/change",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        responses=error_responses(401, 403, 409, 429),
        summary="Change the email",
    )
    async def email_change(
        data: EmailChangeSchema,
        request: Request,
        session: Session,
        claims: Claims,
        background: BackgroundTasks,
        user: BaseUserModel = Depends(signed_in),
    ) -> DetailResponseSchema:
        """Email a confirmation link to the new address; the old address is told.

        The password is needed unless the sign-in is recent.
        """
        await auth.request_email_change(
            session,
            user,
            data.new_email,
            password=data.password,
            claims=claims,
            confirm_link=_link(auth, request, "/email/confirm", _EMAIL_CONFIRM_PAGE),
            locale=_locale(auth, request),
            background=background,
        )
        return DetailResponseSchema(detail=EMAIL_CHANGE_REQUESTED)

    @router.post(
        "/email/confirm",
        response_model=DetailResponseSchema,
        responses=error_responses(401, 409),
        summary="Confirm an email change",
    )
    async def email_confirm(data: EmailConfirmSchema, session: Session) -> DetailResponseSchema:
        """Apply the email change with the token emailed to the new address."""
        await auth.confirm_email_change(session, data.token)
        return DetailResponseSchema(detail="The email was changed.")

    @router.get(
        "/email/confirm",
        name=_EMAIL_CONFIRM_PAGE,
        response_class=HTMLResponse,
        responses=_LINK_PAGE_ERROR,
        summary="Email change page (the emailed link)",
    )
    async def email_confirm_page(
        request: Request, session: Session, token: str | None = None
    ) -> HTMLResponse:
        """Apply the email change and show the result, in the browser's language."""
        locale = _locale(auth, request)
        return await _token_page(
            token,
            lambda value: auth.confirm_email_change(session, value),
            lambda ok: email_change_page(locale, changed=ok),
            failures=(UnauthorizedException, ConflictException),
        )

    from tempest.contrib.auth.oauth_routes import add_oauth_routes

    add_oauth_routes(router, auth)  # /oauth/{provider}/start and /callback
    return router
