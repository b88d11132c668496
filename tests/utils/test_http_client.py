"""HTTPClient against a scripted fault-injection server on loopback: retries only when safe,
Retry-After, deadlines, circuit breakers, request-id and trace propagation, the project's client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

import tempest
from tempest.api import register_exception_handlers
from tempest.apps import apps
from tempest.conf import HTTPClientSettings, Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database
from tempest.utils.context import request_id_ctx, set_request_id
from tempest.utils.http_client import (
    REQUEST_ID_HEADER,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    HTTPClient,
    RetryPolicy,
    close_http_client,
    get_http_client,
)
from tempest.utils.http_client.project import http_client_from_settings
from tempest.utils.http_client.retry import parse_retry_after
from tests.helpers import free_port
from tests.utils.fault_server import FaultServer, Reply

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05, deadline=5.0)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    fault.start()
    yield fault
    fault.stop()


@pytest.fixture
async def client() -> AsyncIterator[HTTPClient]:
    async with HTTPClient(timeout=2.0, retry=FAST) as http:
        yield http


def path() -> str:
    return f"/{uuid.uuid4().hex}"


# -- retries: only when sending twice is safe ------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_a_get_is_retried_after_a_retryable_status(
    server: FaultServer, client: HTTPClient, status: int
) -> None:
    p = path()
    url = server.script(p, Reply(status), Reply(status), Reply(200, body=b"done"))
    response = await client.get(url)
    assert (response.status_code, response.content) == (200, b"done")
    assert len(server.seen(p)) == 3


async def test_a_get_is_retried_after_a_dropped_connection(
    server: FaultServer, client: HTTPClient
) -> None:
    p = path()
    url = server.script(p, Reply(drop=True), Reply(200))
    assert (await client.get(url)).status_code == 200
    assert len(server.seen(p)) == 2


async def test_other_statuses_are_not_retried(server: FaultServer, client: HTTPClient) -> None:
    p = path()
    url = server.script(p, Reply(500), Reply(200))
    assert (await client.get(url)).status_code == 500
    assert len(server.seen(p)) == 1


async def test_the_last_answer_is_returned_when_attempts_run_out(
    server: FaultServer, client: HTTPClient
) -> None:
    p = path()
    url = server.script(p, Reply(503))
    assert (await client.put(url, json={"a": 1})).status_code == 503
    assert len(server.seen(p)) == 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("fault", [Reply(503), Reply(drop=True)])
async def test_a_post_without_idempotency_key_reaches_the_server_exactly_once(
    server: FaultServer, client: HTTPClient, method: str, fault: Reply
) -> None:
    p = path()
    url = server.script(p, fault, Reply(201))
    if fault.drop:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.request(method, url, json={"amount": 5})
    else:
        assert (await client.request(method, url, json={"amount": 5})).status_code == 503
    await asyncio.sleep(0.05)  # a retry, if one were sent, would have arrived
    assert len(server.seen(p)) == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(
    server: FaultServer, client: HTTPClient, method: str
) -> None:
    p = path()
    url = server.script(p, Reply(503), Reply(drop=True), Reply(201, body=b"created"))
    response = await client.request(
        method, url, json={"amount": 5}, idempotency_key="order-42-charge"
    )
    assert (response.status_code, response.content) == (201, b"created")
    seen = server.seen(p)
    assert len(seen) == 3
    assert {request.headers["idempotency-key"] for request in seen} == {"order-42-charge"}
    assert {request.body for request in seen} == {b'{"amount":5}'}


async def test_an_idempotency_key_header_counts_too(
    server: FaultServer, client: HTTPClient
) -> None:
    p = path()
    url = server.script(p, Reply(502), Reply(201))
    response = await client.post(url, content=b"x", headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 201
    assert [request.headers["idempotency-key"] for request in server.seen(p)] == ["k-1", "k-1"]


async def test_a_streamed_body_is_sent_once(server: FaultServer, client: HTTPClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"part"

    p = path()
    url = server.script(p, Reply(503), Reply(200))
    assert (await client.put(url, content=chunks())).status_code == 503
    assert len(server.seen(p)) == 1


async def test_retry_policy_per_call(server: FaultServer, client: HTTPClient) -> None:
    p = path()
    url = server.script(p, Reply(503), Reply(200))
    assert (await client.get(url, retry=RetryPolicy.never())).status_code == 503
    assert len(server.seen(p)) == 1


# -- connection refused, timeouts, deadline ---------------------------------------------------


async def test_connection_refused_is_retried_then_raised(client: HTTPClient) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{free_port()}/")
    assert time.monotonic() - started < 1.0


async def test_a_slow_answer_times_out_on_each_attempt(server: FaultServer) -> None:
    p = path()
    url = server.script(p, Reply(200, delay=1.0))
    policy = RetryPolicy(max_attempts=2, backoff_base=0, deadline=None)
    async with HTTPClient(timeout=0.2, retry=policy) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)
    assert 0.4 <= time.monotonic() - started < 1.5  # the server would take 2 s
    assert len(server.seen(p)) == 2


async def test_the_deadline_stops_retries(server: FaultServer) -> None:
    p = path()
    url = server.script(p, Reply(503, delay=0.3))
    policy = RetryPolicy(max_attempts=10, backoff_base=0, deadline=1.0)
    async with HTTPClient(timeout=5.0, retry=policy) as http:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException, match="deadline"):
            await http.get(url)
    assert 0.95 <= time.monotonic() - started < 1.5  # not 10 attempts of 0.3 s
    assert len(server.seen(p)) in (3, 4)  # the fourth cut short by the deadline


# -- Retry-After ------------------------------------------------------------------------------


async def test_retry_after_seconds_is_waited(server: FaultServer, client: HTTPClient) -> None:
    p = path()
    url = server.script(p, Reply(503, headers={"Retry-After": "1"}), Reply(200))
    started = time.monotonic()
    assert (await client.get(url)).status_code == 200
    assert 1.0 <= time.monotonic() - started < 2.5
    assert len(server.seen(p)) == 2


async def test_a_retry_after_past_the_deadline_returns_the_answer_at_once(
    server: FaultServer,
) -> None:
    p = path()
    url = server.script(p, Reply(503, headers={"Retry-After": "10"}), Reply(200))
    async with HTTPClient(retry=RetryPolicy(deadline=2.0)) as http:
        started = time.monotonic()
        response = await http.get(url)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    assert time.monotonic() - started < 0.5
    assert len(server.seen(p)) == 1


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("120") == 120.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0)
    assert all(0 <= policy.backoff(1) <= 0.5 for _ in range(200))
    assert all(0 <= policy.backoff(10) <= 3.0 for _ in range(200))
    assert max(policy.backoff(3) for _ in range(200)) > 1.0  # spread up to 2.0, not fixed


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"backoff_base": -1}, {"deadline": 0}, {"deadline": -3}],
)
def test_bad_policies_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**options)


# -- the circuit breaker ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_breaker_opens_and_one_probe_of_50_callers_closes_it(
    server: FaultServer,
) -> None:
    clock = Clock()
    p = path()
    url = server.script(p, Reply(503), Reply(503), Reply(503), Reply(200, delay=0.2))
    async with HTTPClient(
        retry=RetryPolicy.never(), breaker_failures=3, breaker_reset=30, clock=clock
    ) as http:
        for _ in range(3):
            assert (await http.get(url)).status_code == 503
        assert http.breaker(url).state is BreakerState.OPEN

        results = await asyncio.gather(*(http.get(url) for _ in range(50)), return_exceptions=True)
        assert all(isinstance(result, CircuitOpenError) for result in results)
        assert len(server.seen(p)) == 3  # open: nothing reached the server

        clock.now += 30  # the cool-down is over: half-open
        assert http.breaker(url).state is BreakerState.HALF_OPEN
        results = await asyncio.gather(*(http.get(url) for _ in range(50)), return_exceptions=True)
        answers = [result for result in results if isinstance(result, httpx.Response)]
        refused = [result for result in results if isinstance(result, CircuitOpenError)]
        assert [answer.status_code for answer in answers] == [200]
        assert len(refused) == 49
        assert len(server.seen(p)) == 4  # exactly one probe reached the server

        assert http.breaker(url).state is BreakerState.CLOSED
        assert (await http.get(url)).status_code == 200


async def test_a_failed_probe_opens_the_breaker_again(server: FaultServer) -> None:
    clock = Clock()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    async with HTTPClient(
        retry=RetryPolicy.never(), breaker_failures=2, breaker_reset=10, clock=clock
    ) as http:
        for _ in range(2):
            with pytest.raises(httpx.ConnectError):
                await http.get(url)
        clock.now += 10
        with pytest.raises(httpx.ConnectError):  # the probe, refused
            await http.get(url)
        assert http.breaker(url).state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError) as refused:
            await http.get(url)
        assert refused.value.retry_after == 10
        assert refused.value.service == f"http://127.0.0.1:{port}"


async def test_breakers_are_per_upstream(server: FaultServer) -> None:
    clock = Clock()
    async with HTTPClient(
        retry=RetryPolicy.never(), breaker_failures=1, breaker_reset=10, clock=clock
    ) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{free_port()}/")
        p = path()
        assert (await http.get(server.script(p, Reply(200)))).status_code == 200


async def test_retries_stop_when_the_breaker_opens(server: FaultServer) -> None:
    p = path()
    url = server.script(p, Reply(503))
    policy = RetryPolicy(max_attempts=5, backoff_base=0.01, deadline=5)
    async with HTTPClient(retry=policy, breaker_failures=2) as http:
        with pytest.raises(CircuitOpenError):
            await http.get(url)
    assert len(server.seen(p)) == 2


async def test_4xx_and_429_do_not_count_as_failures(server: FaultServer) -> None:
    p = path()
    url = server.script(p, Reply(404), Reply(429), Reply(404), Reply(200))
    async with HTTPClient(retry=RetryPolicy.never(), breaker_failures=1) as http:
        for _ in range(3):
            await http.get(url)
        assert http.breaker(url).state is BreakerState.CLOSED


async def test_a_cancelled_probe_lets_another_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker("svc", failure_threshold=1, reset_timeout=5, clock=clock)

    async def fail() -> None:
        raise OSError("down")

    with pytest.raises(OSError):
        await breaker.call(fail)
    clock.now += 5
    probe = asyncio.ensure_future(breaker.call(asyncio.sleep, 10))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await breaker.call(asyncio.sleep, 0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    async def answer(value: str) -> str:
        return value

    assert await breaker.call(answer, "back") == "back"
    assert breaker.state is BreakerState.CLOSED


def test_bad_breaker_options_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=-1)
    with pytest.raises(ValueError, match="reset_timeout"):
        CircuitBreaker(reset_timeout=-1)


async def test_an_open_circuit_in_a_route_answers_503() -> None:
    clock = Clock()
    breaker = CircuitBreaker("https://payments.example:443", failure_threshold=1, clock=clock)
    breaker.record(success=False, probe=False)
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/pay")
    async def pay() -> None:
        breaker.acquire()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/pay")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "CIRCUIT_OPEN"
    assert response.json()["details"] == {"service": "https://payments.example:443"}


# -- propagation ------------------------------------------------------------------------------


async def test_the_request_id_is_propagated(server: FaultServer, client: HTTPClient) -> None:
    p = path()
    url = server.script(p, Reply(200))
    token = set_request_id("req-123")
    try:
        await client.get(url)
        await client.get(url, headers={REQUEST_ID_HEADER: "mine"})
    finally:
        request_id_ctx.reset(token)
    await client.get(url)
    assert [seen.headers.get("x-request-id") for seen in server.seen(p)] == [
        "req-123",
        "mine",
        None,
    ]


async def test_the_trace_context_is_propagated(server: FaultServer, client: HTTPClient) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    p = path()
    url = server.script(p, Reply(200))
    context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(context)):
        await client.get(url)
    await client.get(url)
    traced, untraced = server.seen(p)
    assert traced.headers["traceparent"] == (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
    assert "traceparent" not in untraced.headers


# -- the project's client ---------------------------------------------------------------------


def test_exported_from_tempest() -> None:
    assert tempest.HTTPClient is HTTPClient
    assert tempest.RetryPolicy is RetryPolicy
    assert tempest.CircuitOpenError is CircuitOpenError
    assert tempest.REQUEST_ID_HEADER == "X-Request-ID"
    assert tempest.get_http_client is get_http_client


async def test_the_client_follows_the_settings() -> None:
    configured = Settings(
        HTTP_CLIENT_TIMEOUT=3,
        HTTP_CLIENT_DEADLINE=9,
        HTTP_CLIENT_MAX_ATTEMPTS=4,
        HTTP_CLIENT_BREAKER_FAILURES=7,
        HTTP_CLIENT_BREAKER_RESET=11,
        HTTP_CLIENT_USER_AGENT="shop/1.0",
    )
    async with http_client_from_settings(configured) as http:
        assert http.retry.max_attempts == 4
        assert http.retry.deadline == 9
        assert (http.breaker_failures, http.breaker_reset) == (7, 11)
        assert http.httpx_client.timeout.read == 3
        assert http.httpx_client.headers["user-agent"] == "shop/1.0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_CLIENT_TIMEOUT", "0"),
        ("HTTP_CLIENT_DEADLINE", "-1"),
        ("HTTP_CLIENT_MAX_ATTEMPTS", "0"),
        ("HTTP_CLIENT_BREAKER_FAILURES", "-1"),
        ("HTTP_CLIENT_MAX_CONNECTIONS", "many"),
    ],
)
def test_bad_settings_are_refused(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        HTTPClientSettings()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[FastAPI]:
    settings.configure(  # type: ignore[attr-defined]
        Settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    )
    yield get_asgi_application()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


@pytest.mark.usefixtures("restore_root_logging")
async def test_the_lifespan_closes_the_projects_client(
    server: FaultServer, project: FastAPI
) -> None:
    p = path()
    url = server.script(p, Reply(200))
    async with project.router.lifespan_context(project):
        http = get_http_client()
        assert get_http_client() is http  # one pooled client
        assert (await http.get(url)).status_code == 200
    assert http.is_closed
    fresh = get_http_client()  # the next use builds a new one
    assert fresh is not http and not fresh.is_closed
    await close_http_client()
