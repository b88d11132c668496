"""Configuration of the idempotency app."""

from tempest.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """The idempotency-key table; no routes."""

    name = "tempest.contrib.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
