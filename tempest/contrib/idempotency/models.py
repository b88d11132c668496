"""The idempotency-key table used by ``IDEMPOTENCY_URL = "database://"``."""

from tempest.db import BaseIdempotencyKeyModel


class IdempotencyKey(BaseIdempotencyKeyModel):
    """One idempotency key in use or answered (see ``BaseIdempotencyKeyModel``)."""

    __tablename__ = "idempotency_key"
