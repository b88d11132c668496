"""The resilient outgoing HTTP client: :class:`HTTPClient`, a typed wrapper of httpx."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

try:
    import httpx
except ImportError as error:  # pragma: no cover - the extra is missing
    raise ImportError(
        'HTTPClient needs the httpx package: pip install "tempest-framework[http]"'
    ) from error

from tempest.utils.http_client.breaker import CircuitBreaker
from tempest.utils.http_client.propagation import propagate_context
from tempest.utils.http_client.retry import IDEMPOTENCY_KEY_HEADER, RetryPolicy

__all__ = ["HTTPClient"]

logger = logging.getLogger("tempest.http_client")


class HTTPClient:
    """An ``httpx.AsyncClient`` that retries safely, gives up in time and stops hammering.

    Every call:

    - carries the ID of the request being served (``X-Request-ID``) and, when an
      OpenTelemetry span is current, its ``traceparent``;
    - is retried by ``retry`` (a :class:`RetryPolicy`) only when sending it twice is safe:
      an idempotent method, or a POST/PATCH with an ``Idempotency-Key`` (the same key on
      every attempt), after connection errors, timeouts and 429/502/503/504 answers,
      waiting ``Retry-After`` or a jittered backoff, within the policy's total deadline;
    - goes through the circuit breaker of its upstream (scheme, host and port): after
      ``breaker_failures`` consecutive failures (connection errors, timeouts, 5xx) calls
      to that upstream fail fast with :class:`CircuitOpenError` for ``breaker_reset``
      seconds, then one probe decides whether it is back.

    The last answer is returned whatever its status (call ``raise_for_status()`` on it);
    the last connection error or timeout is raised. Streaming responses are not retried:
    use :attr:`httpx_client` (the underlying client) for them.

    Use it as ``async with HTTPClient(...) as client:``, or call :meth:`aclose`. A project
    gets one pooled client from ``get_http_client()``, closed by the app's lifespan.

    Args:
        base_url: Prefix of relative URLs.
        timeout: Seconds (or an ``httpx.Timeout``) for each attempt's connect, read,
            write and pool waits.
        retry: The retry policy; default ``RetryPolicy()`` (3 attempts, 30 s deadline).
        breaker_failures: Consecutive failures that open an upstream's breaker; 0: no breaker.
        breaker_reset: Seconds an open breaker waits before letting a probe through.
        headers: Headers sent with every request.
        max_connections: Connections in the pool, all upstreams together.
        max_keepalive_connections: Idle connections kept for reuse.
        propagate_request_id: Send the current request ID upstream.
        propagate_trace: Send the current trace context upstream.
        transport: An httpx transport (tests, proxies, Unix sockets).
        clock: A monotonic clock in seconds, for the breakers.
        **client_options: More ``httpx.AsyncClient`` options (``verify``, ``auth``,
            ``follow_redirects``, ``http2``...).
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        propagate_request_id: bool = True,
        propagate_trace: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        **client_options: Any,
    ) -> None:
        self.retry = retry if retry is not None else RetryPolicy()
        self.breaker_failures = breaker_failures
        self.breaker_reset = breaker_reset
        self.propagate_request_id = propagate_request_id
        self.propagate_trace = propagate_trace
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers=dict(headers) if headers else None,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
            ),
            transport=transport,
            **client_options,
        )

    @property
    def httpx_client(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient`` (no retries, no breaker), e.g. to stream."""
        return self._client

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._client.is_closed

    def breaker(self, url: str | httpx.URL) -> CircuitBreaker:
        """The circuit breaker of the upstream of ``url`` (created on first use).

        Args:
            url: A URL of the upstream, absolute or relative to ``base_url``.

        Returns:
            The breaker its calls go through.
        """
        key = _upstream(self._client.base_url.join(url))
        found = self._breakers.get(key)
        if found is None:
            found = self._breakers[key] = CircuitBreaker(
                key,
                failure_threshold=self.breaker_failures,
                reset_timeout=self.breaker_reset,
                clock=self._clock,
            )
        return found

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        idempotency_key: str | None = None,
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Send a request with retries, deadline and circuit breaker; return the answer.

        Args:
            method: The HTTP method.
            url: Absolute, or relative to ``base_url``.
            idempotency_key: Sent as ``Idempotency-Key``: makes a POST/PATCH retryable.
            retry: This call's policy instead of the client's.
            **options: ``httpx`` request options: ``params``, ``headers``, ``json``,
                ``content``, ``data``, ``files``, ``cookies``, ``timeout``, ``extensions``.

        Returns:
            The last answer (its body read).

        Raises:
            CircuitOpenError: The upstream's breaker is open.
            httpx.TransportError: The last attempt's connection error or timeout
                (``httpx.TimeoutException`` when the deadline ran out).
        """
        request = self._client.build_request(method, url, **options)
        if idempotency_key is not None:
            request.headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        propagate_context(
            request.headers,
            request_id=self.propagate_request_id,
            trace=self.propagate_trace,
        )
        return await self._send(request, retry if retry is not None else self.retry)

    async def get(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``GET url``; see :meth:`request`."""
        return await self.request("GET", url, **options)

    async def head(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``HEAD url``; see :meth:`request`."""
        return await self.request("HEAD", url, **options)

    async def options(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``OPTIONS url``; see :meth:`request`."""
        return await self.request("OPTIONS", url, **options)

    async def delete(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``DELETE url``; see :meth:`request`."""
        return await self.request("DELETE", url, **options)

    async def put(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``PUT url``; see :meth:`request`."""
        return await self.request("PUT", url, **options)

    async def post(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``POST url``: sent once unless ``idempotency_key`` is given; see :meth:`request`."""
        return await self.request("POST", url, **options)

    async def patch(self, url: str | httpx.URL, **options: Any) -> httpx.Response:
        """``PATCH url``: sent once unless ``idempotency_key`` is given; see :meth:`request`."""
        return await self.request("PATCH", url, **options)

    async def _send(self, request: httpx.Request, policy: RetryPolicy) -> httpx.Response:
        deadline = None if policy.deadline is None else time.monotonic() + policy.deadline
        # A body httpx can send again (bytes, JSON, a form): a generator is sent once.
        replayable = isinstance(request.stream, httpx.ByteStream)
        attempts = (
            policy.max_attempts
            if replayable and policy.allows(request.method, request.headers)
            else 1
        )
        breaker = self.breaker(request.url)
        attempt = 0
        while True:
            attempt += 1
            probe = breaker.acquire()
            try:
                response = await self._attempt(request, deadline, policy)
            except httpx.TransportError as error:
                breaker.record(success=False, probe=probe)
                if attempt >= attempts:
                    raise
                wait = policy.backoff(attempt)
                if not _fits(wait, deadline):
                    raise
                logger.info(
                    "%s %s: %s; attempt %d of %d in %.2fs",
                    request.method, request.url, type(error).__name__,
                    attempt + 1, attempts, wait,
                )  # fmt: skip
            except BaseException:
                breaker.release(probe=probe)
                raise
            else:
                breaker.record(success=response.status_code < 500, probe=probe)
                if attempt >= attempts or not policy.retries_status(response.status_code):
                    return response
                delay = policy.delay(attempt, response.headers.get("Retry-After"))
                if delay is None or not _fits(delay, deadline):
                    return response
                wait = delay
                await response.aclose()
                logger.info(
                    "%s %s: %d; attempt %d of %d in %.2fs",
                    request.method, request.url, response.status_code,
                    attempt + 1, attempts, wait,
                )  # fmt: skip
            await asyncio.sleep(wait)

    async def _attempt(
        self, request: httpx.Request, deadline: float | None, policy: RetryPolicy
    ) -> httpx.Response:
        if deadline is None:
            return await self._client.send(request)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException(
                f"the {policy.deadline}s deadline ran out before the request was sent",
                request=request,
            )
        try:
            async with asyncio.timeout(remaining):
                return await self._client.send(request)
        except TimeoutError:
            raise httpx.TimeoutException(
                f"no answer within the {policy.deadline}s deadline", request=request
            ) from None

    async def aclose(self) -> None:
        """Close the pooled connections; the client cannot be used afterwards."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, traceback)

    def __repr__(self) -> str:
        return f"HTTPClient(base_url={str(self._client.base_url)!r}, retry={self.retry!r})"


def _upstream(url: httpx.URL) -> str:
    """The breaker key of ``url``: scheme, host and port (``https://api.example.com:443``)."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}"


def _fits(wait: float, deadline: float | None) -> bool:
    """Whether waiting ``wait`` seconds still leaves time before ``deadline``."""
    return deadline is None or time.monotonic() + wait < deadline
