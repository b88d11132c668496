"""Send to a user's subscriptions, pruning the ones the push service says are gone."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, select

from tempest.db import atomic
from tempest.webpush.dispatcher import Payload, WebPushDispatcher

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["WebPushSendReport", "get_dispatcher", "reset_dispatcher", "send_to_user"]

# (the settings object, its dispatcher): one HTTP connection pool per project settings.
_built: tuple[object, WebPushDispatcher] | None = None
_lock = threading.Lock()


def get_dispatcher() -> WebPushDispatcher:
    """The project's dispatcher, built once per settings object from the ``VAPID_*`` settings.

    The app closes its HTTP client when the application shuts down; elsewhere (a task
    worker, a script) call ``await get_dispatcher().aclose()`` when done.
    """
    global _built
    from tempest.conf import LazySettings, settings

    target = cast(LazySettings, settings).unwrap()
    with _lock:
        if _built is None or _built[0] is not target:
            _built = (target, WebPushDispatcher.from_settings(target))
        return _built[1]


async def reset_dispatcher() -> None:
    """Close the project's dispatcher's HTTP client (it reopens on the next send)."""
    if _built is not None:
        await _built[1].aclose()


@dataclass
class WebPushSendReport:
    """What :func:`send_to_user` did.

    Attributes:
        subscriptions: How many subscriptions the user had.
        removed: The endpoints answered 404/410, deleted from the table.
    """

    subscriptions: int = 0
    removed: list[str] = field(default_factory=list)


async def send_to_user(
    session: AsyncSession,
    user: Any,
    payload: Payload,
    *,
    dispatcher: WebPushDispatcher | None = None,
    **options: Any,
) -> WebPushSendReport:
    """Send ``payload`` to every subscription of ``user``; delete the gone ones.

    Messages go out concurrently (at most the dispatcher's ``concurrency`` at a time).
    Subscriptions the push service answers 404 or 410 are deleted in one transaction on
    ``session`` (:func:`tempest.db.atomic`); other failures are logged (logger
    ``tempest.webpush``) and their subscriptions kept.

    Args:
        session: A session of the project's database (a request's, or your own).
        user: The user, or its id.
        payload: The message (a ``WebPushPayloadSchema``, a dict, text or bytes).
        dispatcher: Default :func:`get_dispatcher`.
        **options: ``ttl_seconds``, ``urgency``, ``topic`` (see ``WebPushDispatcher.send``).

    Returns:
        How many subscriptions there were and which were removed.
    """
    from tempest.contrib.webpush.models import WebPushSubscription

    user_id = user if isinstance(user, uuid.UUID) else user.id
    rows = (
        await session.scalars(
            select(WebPushSubscription).where(WebPushSubscription.user_id == user_id)
        )
    ).all()
    report = WebPushSendReport(subscriptions=len(rows))
    if not rows:
        return report
    sender = dispatcher or get_dispatcher()
    report.removed = await sender.send_many([row.to_schema() for row in rows], payload, **options)
    if report.removed:
        async with atomic(session):
            await session.execute(
                delete(WebPushSubscription).where(WebPushSubscription.endpoint.in_(report.removed))
            )
    return report
