"""Account enumeration: signup, password reset and activation resend answer alike for
known and unknown emails, and no request waits for the SMTP server (the emails go out
after the response), so the answer's timing does not tell either."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build
from tests.mail.test_sender import HOST, Collector, SMTPServer, free_port, parts

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
SMTP_DELAY = 0.5


class SlowCollector(Collector):
    """Keeps every message, SMTP_DELAY seconds after it arrives; notes when each was kept."""

    def __init__(self) -> None:
        super().__init__()
        self.kept_at: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(SMTP_DELAY)
        answer = await super().handle_DATA(server, session, envelope)
        self.kept_at.append(time.monotonic())
        return answer


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SMTPServer, SlowCollector]]:
    collector = SlowCollector()
    controller = Controller(collector, hostname=HOST, port=free_port())
    controller.start()
    try:
        yield SMTPServer(HOST, controller.port, collector.messages), collector
    finally:
        controller.stop()


@pytest.fixture
async def served(build: Build, slow_smtp: tuple[SMTPServer, SlowCollector]) -> AsyncIterator[Any]:
    """The auth app behind a real uvicorn server (same event loop), mailing a slow SMTP."""
    import uvicorn

    server_info, collector = slow_smtp
    env = await build(SMTP_HOST=server_info.host, SMTP_PORT=server_info.port)
    env.smtp = server_info  # so that env.last_token() reads the slow server's messages
    config = uvicorn.Config(
        env.app, host=HOST, port=0, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    # The Host header the app allows in the tests (the ASGI client's), on a real socket.
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", headers={"Host": "testserver"}
    ) as http:
        yield env, http, collector
    server.should_exit = True
    await task


async def wait_for(collector: SlowCollector, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(collector.messages) < count:
        assert time.monotonic() < deadline, "the email never arrived"
        await asyncio.sleep(0.02)


async def test_known_and_unknown_emails_get_the_answer_before_any_smtp_send(served: Any) -> None:
    env, http, collector = served
    signed_up = await http.post(
        f"{AUTH}/signup", json={"email": "ana@example.com", "password": PASSWORD}
    )
    assert signed_up.status_code == 202, signed_up.text
    await wait_for(collector, 1)
    activation = env.last_token()
    for path in ("/activate/resend", "/password-reset/request"):
        if path == "/password-reset/request":
            assert (await http.post(f"{AUTH}/activate", json={"token": activation})).is_success
        answers = []
        for email in ("ana@example.com", "nobody@example.com"):
            before = len(collector.messages)
            response = await http.post(f"{AUTH}{path}", json={"email": email})
            answered_at = time.monotonic()
            answers.append((response.status_code, response.json()))
            if email == "ana@example.com":
                # The answer came back before the (slow) SMTP server had the message.
                assert len(collector.messages) == before, path
                await wait_for(collector, before + 1)
                assert collector.kept_at[-1] > answered_at
                assert collector.messages[-1].rcpt_tos == ["ana@example.com"]
            else:
                await asyncio.sleep(SMTP_DELAY + 0.3)
                assert len(collector.messages) == before  # nothing sent to nobody
        assert answers[0] == answers[1], path
        assert answers[0][0] == 202


async def test_signup_answers_alike_and_warns_the_owner(served: Any) -> None:
    _, http, collector = served
    body = {"email": "ana@example.com", "password": PASSWORD}
    first = await http.post(f"{AUTH}/signup", json=body)
    assert len(collector.messages) == 0  # answered before the activation email went out
    await wait_for(collector, 1)
    second = await http.post(
        f"{AUTH}/signup", json={"email": "ANA@example.com", "password": "another pass 9"}
    )
    assert len(collector.messages) == 1
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    assert first.status_code == 202
    await wait_for(collector, 2)
    notice = collector.messages[1]
    assert notice.rcpt_tos == ["ana@example.com"]
    text, html = parts(notice.message)
    assert "sign up" in text and html is not None
    assert "another pass 9" not in text
    # The first password still works: the second signup changed nothing.
    login = await http.post(f"{AUTH}/login", json=body)
    assert login.json()["code"] == "ACCOUNT_INACTIVE"


async def test_signup_notice_in_portuguese(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    again = await env.signup("ana@example.com", "outra senha 9", **{"Accept-Language": "pt-BR"})
    assert again.status_code == 202
    subject = env.smtp.messages[-1].message["Subject"]
    assert "cadastro" in subject.lower()


async def test_the_setting_keeps_the_explicit_409(build: Build) -> None:
    env = await build(AUTH_SIGNUP_REVEAL_EXISTING=True)
    assert (await env.signup("ana@example.com")).status_code == 202
    sent = len(env.smtp.messages)
    taken = await env.signup("ana@example.com")
    assert taken.status_code == 409
    assert taken.json()["code"] == "EMAIL_TAKEN"
    assert len(env.smtp.messages) == sent  # no notice when the answer tells


async def test_a_failed_send_is_logged_not_lost(
    build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    env = await build(SMTP_PORT=free_port())  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="tempest.contrib.auth"):
        response = await env.signup("ana@example.com")
        assert response.status_code == 202, response.text
        reset = await env.http.post(
            f"{AUTH}/password-reset/request", json={"email": "ana@example.com"}
        )
        assert reset.status_code == 202
        resend = await env.http.post(f"{AUTH}/activate/resend", json={"email": "ana@example.com"})
        assert resend.status_code == 202
    failures = [r for r in caplog.records if "not sent" in r.getMessage()]
    assert len(failures) == 2, caplog.text  # activation and its resend (reset: inactive)
