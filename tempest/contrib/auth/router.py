"""The HTTP endpoints of the bundled auth flow: :func:`make_auth_router`.

The router holds no rules: each endpoint reads the request, calls
:class:`~tempest.contrib.auth.service.UserAuthService` and shapes the answer.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and some name dependencies built inside make_auth_router.

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.base import BaseUserModel
from tempest.contrib.auth.pages import activation_page, password_reset_page
from tempest.contrib.auth.schemas import (
    ActivationResendSchema,
    ActivationSchema,
    DetailResponseSchema,
    LoginSchema,
    LogoutSchema,
    MFAChallengeResponseSchema,
    MFAConfirmSchema,
    MFADisableSchema,
    MFAEnrollResponseSchema,
    MFARecoveryCodesResponseSchema,
    MFAVerifySchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    RefreshSchema,
    SignupSchema,
    TokenPairResponseSchema,
    UserResponseSchema,
)
from tempest.contrib.auth.service import LinkBuilder, UserAuthService
from tempest.db import get_session
from tempest.exceptions import UnauthorizedException

__all__ = ["PASSWORD_RESET_REQUESTED", "make_auth_router"]

Session = Annotated[AsyncSession, Depends(get_session)]

PASSWORD_RESET_REQUESTED = (
    "If an active account uses this email, a link to choose a new password was sent to it."
)
"""The one answer of ``POST /password-reset/request``, whether or not the account exists."""

ACTIVATION_RESENT = (
    "If an account that is not active yet uses this email, a new activation link was sent to it."
)
"""The one answer of ``POST /activate/resend``, whether or not the account exists."""

_ACTIVATE_PAGE = "auth_activate_page"
_RESET_PAGE = "auth_password_reset_page"
_RESET_CONFIRM = "auth_password_reset_confirm"


def _locale(service: UserAuthService, request: Request) -> str:
    return service.locale_for(request.headers.get("accept-language"))


def _link(service: UserAuthService, request: Request, path: str, page: str) -> LinkBuilder:
    """Link to the frontend when ``AUTH_FRONTEND_URL`` is set, else to this router's page."""

    def build(token: str) -> str:
        frontend = service.frontend_link(path, token)
        if frontend is not None:
            return frontend
        return str(request.url_for(page).include_query_params(token=token))

    return build


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

    @router.post(
        "/signup",
        status_code=status.HTTP_201_CREATED,
        response_model=UserResponseSchema,
        summary="Create an account",
    )
    async def signup(data: SignupSchema, request: Request, session: Session) -> BaseUserModel:
        """Create an account; with activation on, it is inactive until the emailed link."""
        return await auth.signup(
            session,
            data.email,
            data.password,
            activation_link=_link(auth, request, "/activate", _ACTIVATE_PAGE),
            locale=_locale(auth, request),
        )

    @router.post("/activate", response_model=DetailResponseSchema, summary="Activate an account")
    async def activate(data: ActivationSchema, session: Session) -> DetailResponseSchema:
        """Activate the account with the token from the activation email."""
        await auth.activate(session, data.token)
        return DetailResponseSchema(detail="The account is active.")

    @router.get(
        "/activate",
        name=_ACTIVATE_PAGE,
        response_class=HTMLResponse,
        summary="Activation page (the emailed link)",
    )
    async def activate_page(
        request: Request, session: Session, token: str | None = None
    ) -> HTMLResponse:
        """Activate the account and show the result, in the browser's language."""
        locale = _locale(auth, request)
        try:
            if not token:
                raise UnauthorizedException()
            await auth.activate(session, token)
        except UnauthorizedException:
            return HTMLResponse(activation_page(locale, activated=False), status_code=400)
        return HTMLResponse(activation_page(locale, activated=True))

    @router.post(
        "/login",
        response_model=TokenPairResponseSchema | MFAChallengeResponseSchema,
        summary="Sign in",
    )
    async def login(
        data: LoginSchema, session: Session
    ) -> TokenPairResponseSchema | MFAChallengeResponseSchema:
        """Exchange email and password for a token pair (or an MFA challenge)."""
        return await auth.login(session, data.email, data.password)

    @router.post("/refresh", response_model=TokenPairResponseSchema, summary="Rotate tokens")
    async def refresh(data: RefreshSchema, session: Session) -> TokenPairResponseSchema:
        """Exchange a refresh token for a new pair; the old refresh token is used up."""
        return await auth.refresh(session, data.refresh_token)

    @router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
    async def logout(data: LogoutSchema, session: Session) -> Response:
        """Revoke the refresh token (and the rest of its session)."""
        await auth.logout(session, data.refresh_token)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/activate/resend",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        summary="Email a new activation link",
    )
    async def activation_resend(
        data: ActivationResendSchema, request: Request, session: Session
    ) -> DetailResponseSchema:
        """Send a new activation link; the answer is the same whether or not it was sent."""
        await auth.resend_activation(
            session,
            data.email,
            activation_link=_link(auth, request, "/activate", _ACTIVATE_PAGE),
            locale=_locale(auth, request),
        )
        return DetailResponseSchema(detail=ACTIVATION_RESENT)

    @router.post(
        "/password-reset/request",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DetailResponseSchema,
        summary="Email a password reset link",
    )
    async def password_reset_request(
        data: PasswordResetRequestSchema, request: Request, session: Session
    ) -> DetailResponseSchema:
        """Send a reset link; the answer is the same whether or not the account exists."""
        await auth.request_password_reset(
            session,
            data.email,
            reset_link=_link(auth, request, "/password-reset", _RESET_PAGE),
            locale=_locale(auth, request),
        )
        return DetailResponseSchema(detail=PASSWORD_RESET_REQUESTED)

    @router.post(
        "/password-reset/confirm",
        name=_RESET_CONFIRM,
        response_model=DetailResponseSchema,
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
        summary="Password reset page (the emailed link)",
    )
    async def password_reset_form(request: Request, token: str | None = None) -> HTMLResponse:
        """A form for the new password, posting to ``/password-reset/confirm``."""
        page = password_reset_page(
            _locale(auth, request), token=token, action=str(request.url_for(_RESET_CONFIRM))
        )
        return HTMLResponse(page, status_code=200 if token else 400)

    @router.get("/me", response_model=UserResponseSchema, summary="The signed-in user")
    async def me(user: BaseUserModel = Depends(signed_in)) -> BaseUserModel:
        """The user of the bearer access token."""
        return user

    @router.post("/mfa/enroll", response_model=MFAEnrollResponseSchema, summary="Start MFA")
    async def mfa_enroll(
        session: Session, user: BaseUserModel = Depends(signed_in)
    ) -> MFAEnrollResponseSchema:
        """A new TOTP secret for the authenticator app; confirm it with a code."""
        return await auth.mfa_enroll(session, user)

    @router.post(
        "/mfa/confirm", response_model=MFARecoveryCodesResponseSchema, summary="Turn MFA on"
    )
    async def mfa_confirm(
        data: MFAConfirmSchema, session: Session, user: BaseUserModel = Depends(signed_in)
    ) -> MFARecoveryCodesResponseSchema:
        """Turn MFA on with a first code; the answer holds the recovery codes, once."""
        return await auth.mfa_confirm(session, user, data.code)

    @router.post(
        "/mfa/verify", response_model=TokenPairResponseSchema, summary="Finish an MFA login"
    )
    async def mfa_verify(data: MFAVerifySchema, session: Session) -> TokenPairResponseSchema:
        """Exchange the login's mfa_token and a code (or a recovery code) for a token pair."""
        return await auth.mfa_verify(
            session, data.mfa_token, code=data.code, recovery_code=data.recovery_code
        )

    @router.post("/mfa/disable", status_code=status.HTTP_204_NO_CONTENT, summary="Turn MFA off")
    async def mfa_disable(
        data: MFADisableSchema, session: Session, user: BaseUserModel = Depends(signed_in)
    ) -> Response:
        """Turn MFA off, proven by a current code or the password."""
        await auth.mfa_disable(session, user, code=data.code, password=data.password)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
