"""The project's HTTP client: one pooled :class:`HTTPClient` built from the settings.

``get_http_client()`` builds it on first use from the ``HTTP_CLIENT_*`` settings (so a
project that never calls out never imports httpx) and returns the same client after
that, which keeps connections to each upstream alive between calls. The app's lifespan
closes it at shutdown (:func:`close_http_client`). Its circuit breakers live in this
client, so in each process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tempest.utils.http_client.client import HTTPClient

__all__ = ["close_http_client", "get_http_client", "http_client_from_settings"]

_client: HTTPClient | None = None


def http_client_from_settings(settings: Any) -> HTTPClient:
    """A new :class:`HTTPClient` configured by the ``HTTP_CLIENT_*`` settings.

    Args:
        settings: The project's settings (missing fields take their defaults).

    Returns:
        The client; the caller closes it.
    """
    from tempest.utils.http_client.client import HTTPClient
    from tempest.utils.http_client.retry import RetryPolicy

    def setting(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    deadline = setting("HTTP_CLIENT_DEADLINE", 30.0)
    return HTTPClient(
        timeout=float(setting("HTTP_CLIENT_TIMEOUT", 10.0)),
        retry=RetryPolicy(
            max_attempts=int(setting("HTTP_CLIENT_MAX_ATTEMPTS", 3)),
            backoff_base=float(setting("HTTP_CLIENT_BACKOFF_BASE", 0.2)),
            backoff_max=float(setting("HTTP_CLIENT_BACKOFF_MAX", 5.0)),
            deadline=None if deadline is None else float(deadline),
            max_retry_after=float(setting("HTTP_CLIENT_MAX_RETRY_AFTER", 60.0)),
        ),
        breaker_failures=int(setting("HTTP_CLIENT_BREAKER_FAILURES", 5)),
        breaker_reset=float(setting("HTTP_CLIENT_BREAKER_RESET", 30.0)),
        max_connections=int(setting("HTTP_CLIENT_MAX_CONNECTIONS", 100)),
        max_keepalive_connections=int(setting("HTTP_CLIENT_MAX_KEEPALIVE", 20)),
        headers={"User-Agent": str(setting("HTTP_CLIENT_USER_AGENT", "tempest"))},
    )


def get_http_client() -> HTTPClient:
    """The project's HTTP client, built from the settings on first use.

    Also a FastAPI dependency: ``client: HTTPClient = Depends(get_http_client)``.

    Returns:
        The same pooled client until :func:`close_http_client`.
    """
    global _client
    if _client is None or _client.is_closed:
        from tempest.conf import settings

        _client = http_client_from_settings(settings)
    return _client


async def close_http_client() -> None:
    """Close the project's HTTP client, if it was built; the next use builds a new one."""
    global _client
    client, _client = _client, None
    if client is not None:
        await client.aclose()
