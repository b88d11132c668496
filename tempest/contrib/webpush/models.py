"""The table of push subscriptions."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import BaseModel
from tempest.webpush.schemas import MAX_ENDPOINT_LENGTH, WebPushSubscriptionSchema

__all__ = ["WebPushSubscription"]


class WebPushSubscription(BaseModel):
    """One browser's push subscription, owned by a user (or by nobody).

    The endpoint is unique: a browser that subscribes again, or under another account,
    updates the same row.
    """

    __tablename__ = "webpush_subscription"

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("auth_user.id", ondelete="CASCADE"), index=True, nullable=True
    )
    endpoint: Mapped[str] = mapped_column(String(MAX_ENDPOINT_LENGTH), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))

    def to_schema(self) -> WebPushSubscriptionSchema:
        """The subscription as the dispatcher takes it (keys not validated again)."""
        from tempest.webpush.schemas import WebPushKeysSchema

        return WebPushSubscriptionSchema.model_construct(
            endpoint=self.endpoint,
            expiration_time=None,
            keys=WebPushKeysSchema.model_construct(p256dh=self.p256dh, auth=self.auth),
        )
