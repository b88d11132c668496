"""Calling other services over HTTP: retries, deadlines and circuit breakers.

:class:`HTTPClient` wraps ``httpx.AsyncClient`` (the ``http`` extra); httpx loads when
the client is first used, not when this package is imported.
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.utils.http_client.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from tempest.utils.http_client.project import close_http_client, get_http_client
from tempest.utils.http_client.propagation import REQUEST_ID_HEADER, TRACEPARENT_HEADER
from tempest.utils.http_client.retry import IDEMPOTENCY_KEY_HEADER, RetryPolicy

_LAZY: dict[str, str] = {"HTTPClient": "tempest.utils.http_client.client"}

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "REQUEST_ID_HEADER",
    "TRACEPARENT_HEADER",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "RetryPolicy",
    "close_http_client",
    "get_http_client",
    *_LAZY,
]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.utils.http_client.client import HTTPClient as HTTPClient
