"""The OAuth sign-in endpoints of the auth API: ``/oauth/{provider}/start`` and ``/callback``.

:func:`add_oauth_routes` adds them to the router of
:func:`~tempest.contrib.auth.router.make_auth_router` (so under ``/api/auth``), with
``GET /oauth/providers`` listing the configured providers for a frontend's buttons.
The callback ends like ``POST /login``: a token pair, or the MFA challenge; with
``AUTH_OAUTH_SUCCESS_URL`` set, a redirect to that page with the same fields in the URL
fragment (which browsers never send to a server).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from tempest.conf import site_url
from tempest.contrib.auth.oauth_flow import OAuthSignIn
from tempest.contrib.auth.oauth_linking import finish_sign_in, user_for_identity
from tempest.contrib.auth.schemas import MFAChallengeResponseSchema, TokenPairResponseSchema
from tempest.contrib.auth.service import UserAuthService
from tempest.db import get_session
from tempest.schemas import error_responses

__all__ = ["OAuthProviderSchema", "add_oauth_routes"]

CALLBACK_ROUTE = "auth_oauth_callback"
START_ROUTE = "auth_oauth_start"

Session = Annotated[AsyncSession, Depends(get_session)]


class OAuthProviderSchema(BaseModel):
    """A provider users may sign in with."""

    name: str
    title: str
    start_url: str


def _callback_url(auth: UserAuthService, request: Request, provider: str) -> str:
    """The callback's absolute URL under ``SITE_URL`` (never the request's Host header)."""
    routes = request.scope.get("router") or request.app
    return site_url(auth.settings) + str(routes.url_path_for(CALLBACK_ROUTE, provider=provider))


def add_oauth_routes(router: APIRouter, auth: UserAuthService) -> None:
    """Add the OAuth sign-in endpoints to the auth ``router``.

    Args:
        router: The router of ``make_auth_router``.
        auth: Its service: the callback signs in through it.
    """
    flow = OAuthSignIn(auth.settings)

    @router.get(
        "/oauth/providers",
        response_model=list[OAuthProviderSchema],
        summary="Sign-in providers",
    )
    async def oauth_providers(request: Request) -> list[OAuthProviderSchema]:
        """The configured OAuth / OpenID Connect providers, with their start URLs."""
        routes = request.scope.get("router") or request.app
        return [
            OAuthProviderSchema(
                name=name,
                title=provider.title,
                start_url=str(routes.url_path_for(START_ROUTE, provider=name)),
            )
            for name, provider in flow.providers.items()
        ]

    @router.get(
        "/oauth/{provider}/start",
        name=START_ROUTE,
        status_code=303,
        response_class=RedirectResponse,
        responses=error_responses(404, 502, 503),
        summary="Sign in with a provider",
    )
    async def oauth_start(provider: str, request: Request) -> Response:
        """Send the browser to the provider (code flow with PKCE, state and nonce)."""
        flow.provider(provider)  # 404 before building a URL for an unknown name
        return await flow.redirect(provider, callback_url=_callback_url(auth, request, provider))

    @router.get(
        "/oauth/{provider}/callback",
        name=CALLBACK_ROUTE,
        response_model=TokenPairResponseSchema | MFAChallengeResponseSchema,
        responses=error_responses(400, 403, 404, 409, 502, 503),
        summary="Finish signing in with a provider",
    )
    async def oauth_callback(provider: str, request: Request, session: Session) -> Response:
        """Check the provider's answer; sign in (linking or creating the account)."""
        flow.provider(provider)
        callback_url = _callback_url(auth, request, provider)
        identity, _ = await flow.identity(request, provider, callback_url=callback_url)
        user = await user_for_identity(auth, session, identity)
        result = await finish_sign_in(auth, session, user)
        fields = result.model_dump(mode="json")
        target = str(auth._setting("AUTH_OAUTH_SUCCESS_URL", "") or "")
        response: Response
        if target:
            fragment = urlencode(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
            )
            response = RedirectResponse(f"{target}#{fragment}", status_code=303)
        else:
            response = JSONResponse(fields)
        response.headers["Cache-Control"] = "no-store"
        flow.forget(response, callback_url=callback_url)
        return response
