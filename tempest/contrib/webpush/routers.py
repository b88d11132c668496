"""The Web Push API, mounted under /api/webpush: the public key, subscribe, unsubscribe."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any, cast

from fastapi import APIRouter, Depends, Response, status
from pydantic import Field
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import atomic, get_session
from tempest.exceptions import AppException
from tempest.schemas.base import BaseSchema
from tempest.webpush.schemas import MAX_ENDPOINT_LENGTH, WebPushSubscriptionSchema

__all__ = ["get_router", "make_webpush_router"]


class VapidPublicKeyOut(BaseSchema):
    """The key browsers pass as ``applicationServerKey`` to ``pushManager.subscribe``."""

    public_key: str


class SubscriptionOut(BaseSchema):
    """A stored subscription."""

    id: uuid.UUID
    endpoint: str
    created_at: datetime


class UnsubscribeIn(BaseSchema):
    """Which subscription to remove."""

    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT_LENGTH)


class WebPushNotConfigured(AppException):
    """The VAPID settings are missing or invalid (503)."""

    message = "Web Push is not configured on this server"
    code = "WEBPUSH_NOT_CONFIGURED"
    status_code = 503


def _public_key() -> str:
    from tempest.contrib.webpush.sending import get_dispatcher
    from tempest.webpush.errors import WebPushError

    try:
        return get_dispatcher().vapid_public_key
    except WebPushError as error:
        raise WebPushNotConfigured(str(error)) from error


def _insert(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    return None


def make_webpush_router() -> APIRouter:
    """The app's router; the signed-in user is the auth app's ``current_user``."""
    from tempest.contrib.auth.service import UserAuthService
    from tempest.contrib.webpush.models import WebPushSubscription

    current_user = UserAuthService().current_user_dependency()
    router = APIRouter(tags=["webpush"])
    table = WebPushSubscription.__table__

    @router.get("/vapid-public-key", response_model=VapidPublicKeyOut)
    async def vapid_public_key() -> VapidPublicKeyOut:
        """The server's VAPID public key (``applicationServerKey``)."""
        return VapidPublicKeyOut(public_key=_public_key())

    @router.post(
        "/subscriptions",
        response_model=SubscriptionOut,
        status_code=status.HTTP_201_CREATED,
        responses={200: {"description": "Already stored: updated", "model": SubscriptionOut}},
    )
    async def subscribe(
        subscription: WebPushSubscriptionSchema,
        response: Response,
        user: Any = Depends(current_user),
        session: AsyncSession = Depends(get_session),
    ) -> WebPushSubscription:
        """Store the signed-in user's subscription (the JSON of ``PushSubscription``).

        Subscribing again with the same endpoint updates the row (and hands it to this
        user): 200 instead of 201.
        """
        values = {
            "endpoint": subscription.endpoint,
            "p256dh": subscription.keys.p256dh,
            "auth": subscription.keys.auth,
            "user_id": user.id,
        }
        query = select(WebPushSubscription).where(
            WebPushSubscription.endpoint == subscription.endpoint
        )
        async with atomic(session):
            existed = (await session.scalars(query)).first() is not None
            insert = _insert(session)
            if insert is not None:
                changed = values | {"updated_at": datetime.now().astimezone(), "is_active": True}
                await session.execute(
                    insert(table)
                    .values(**values)
                    .on_conflict_do_update(index_elements=[table.c.endpoint], set_=changed)
                )
            elif existed:
                await session.execute(
                    update(WebPushSubscription)
                    .where(WebPushSubscription.endpoint == subscription.endpoint)
                    .values(**values)
                )
            else:
                session.add(WebPushSubscription(**values))
        # The upsert bypassed the identity map: read the row as the database has it.
        row = (await session.scalars(query.execution_options(populate_existing=True))).one()
        if existed:
            response.status_code = status.HTTP_200_OK
        return row

    @router.delete("/subscriptions", status_code=status.HTTP_204_NO_CONTENT)
    async def unsubscribe(
        body: UnsubscribeIn,
        user: Any = Depends(current_user),
        session: AsyncSession = Depends(get_session),
    ) -> Response:
        """Remove the signed-in user's subscription with this endpoint (204 even if none)."""
        async with atomic(session):
            await session.execute(
                delete(WebPushSubscription).where(
                    WebPushSubscription.endpoint == body.endpoint,
                    WebPushSubscription.user_id == user.id,
                )
            )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


# (the settings object, the router built from it), as the auth app does: a new settings
# object (tests, ``settings.configure``) gets a new router and dispatcher.
_built: tuple[object, APIRouter] | None = None
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name == "router":
        return get_router()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_router() -> APIRouter:
    """The app's router for the current settings; it closes the dispatcher at shutdown."""
    global _built
    from tempest.conf import LazySettings, settings

    target = cast(LazySettings, settings).unwrap()
    with _lock:
        if _built is None or _built[0] is not target:
            from tempest.contrib.auth.throttling import close_at_shutdown
            from tempest.contrib.webpush.sending import reset_dispatcher

            router = make_webpush_router()
            close_at_shutdown(router, reset_dispatcher)
            _built = (target, router)
        return _built[1]
