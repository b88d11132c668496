"""EMAIL_BACKEND: console in DEBUG, SMTP otherwise, memory for tests, or a class of one's own."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import tempest
import tempest.mail
from tempest.conf import Settings
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.mail import EmailError, EmailUtils
from tempest.mail.backends import ConsoleBackend, MemoryBackend, SMTPBackend
from tests.helpers import free_port
from tests.mail.test_sender import HOST, SENDER, SMTPServer, start_server

pytestmark = pytest.mark.anyio

TEMPLATES = Path(tempest.__file__).parent / "contrib" / "auth" / "templates" / "email"


def mailer(**values: Any) -> EmailUtils:
    return EmailUtils.from_settings(Settings(**values), templates=TEMPLATES)


@pytest.fixture(autouse=True)
def empty_outbox() -> None:
    tempest.mail.outbox.clear()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    yield from start_server()


@pytest.mark.parametrize(
    ("values", "backend"),
    [
        ({"DEBUG": True}, ConsoleBackend),
        ({"DEBUG": False}, SMTPBackend),
        ({"DEBUG": True, "EMAIL_BACKEND": "smtp"}, SMTPBackend),
        ({"DEBUG": False, "EMAIL_BACKEND": "console"}, ConsoleBackend),
        ({"DEBUG": False, "EMAIL_BACKEND": " Memory "}, MemoryBackend),
    ],
)
def test_the_setting_chooses_the_backend(values: dict[str, Any], backend: type) -> None:
    assert type(mailer(**values).backend) is backend


async def test_console_prints_the_whole_message_in_one_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sender = mailer(DEBUG=True, SMTP_FROM_ADDR="Shop <noreply@shop.test>")
    await sender.send(
        ["ana@shop.test", "Bo <bo@shop.test>"],
        "Olá, Ana",
        "Open https://shop.test/activate?token=abc\nThanks",
        "<p>Open <a href='https://shop.test/activate?token=abc'>this</a></p>",
        reply_to="help@shop.test",
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == lines[-1] == "-" * 72
    assert "From: Shop <noreply@shop.test>" in lines
    assert "To: ana@shop.test, Bo <bo@shop.test>" in lines
    assert "Subject: Olá, Ana" in lines  # decoded, not =?utf-8?...
    assert "Reply-To: help@shop.test" in lines
    assert any(line.startswith("Message-ID: <") for line in lines)
    assert "Open https://shop.test/activate?token=abc" in lines and "Thanks" in lines
    assert "[HTML part: 68 characters, not shown]" in lines
    assert "<p>" not in out


async def test_console_prints_a_template_with_its_link(capsys: pytest.CaptureFixture[str]) -> None:
    link = "http://127.0.0.1:8000/api/auth/activate?token=t0k"
    await mailer(DEBUG=True).send_template(
        "ana@shop.test", "activation", {"link": link, "email": "ana@shop.test", "app_name": "S"}
    )
    assert link in capsys.readouterr().out.splitlines()


async def test_memory_keeps_decoded_messages_in_the_module_outbox() -> None:
    sender = mailer(EMAIL_BACKEND="memory", SMTP_FROM_ADDR="Shop <noreply@shop.test>")
    await sender.send(["Ana <ana@shop.test>", "bo@shop.test"], "Hi", "Hello", "<b>Hello</b>")
    await sender.send("cy@shop.test", "Second", "Text only")
    first, second = tempest.mail.outbox
    assert first.to == ["ana@shop.test", "bo@shop.test"]
    assert (first.subject, first.body.strip(), first.html) == ("Hi", "Hello", "<b>Hello</b>\n")
    assert first.from_addr == "Shop <noreply@shop.test>"
    assert first.headers["To"] == "Ana <ana@shop.test>, bo@shop.test"
    assert isinstance(first.message, EmailMessage)
    assert (second.to, second.html) == (["cy@shop.test"], None)


async def test_memory_follows_a_rebound_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh: list[Any] = []
    monkeypatch.setattr(tempest.mail, "outbox", fresh)  # as Django's test runner does
    await mailer(EMAIL_BACKEND="memory").send("ana@shop.test", "Hi", "Hello")
    assert len(fresh) == 1


class Collector:
    sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


class NoSend:
    pass


async def test_a_dotted_path_names_a_backend_class() -> None:
    sender = mailer(EMAIL_BACKEND=f"{__name__}.Collector")
    await sender.send("ana@shop.test", "Hi", "Hello")
    assert [message["To"] for message in Collector.sent] == ["ana@shop.test"]


def test_a_wrong_backend_names_the_setting() -> None:
    with pytest.raises(ValidationError, match="'consol' is not an email backend: use smtp"):
        Settings(EMAIL_BACKEND="consol")
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_BACKEND entry 'shop\.nowhere\.B'"):
        mailer(EMAIL_BACKEND="shop.nowhere.B")
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_BACKEND '.*NoSend' has no 'async"):
        mailer(EMAIL_BACKEND=f"{__name__}.NoSend")
    with pytest.raises(ValueError, match="backend must be 'smtp', 'console', 'memory' or"):
        EmailUtils(HOST, 25, from_addr=SENDER, backend="consol")


async def test_smtp_from_settings_names_the_settings_when_unreachable() -> None:
    port = free_port()
    sender = mailer(EMAIL_BACKEND="smtp", SMTP_HOST=HOST, SMTP_PORT=port, SMTP_USE_TLS=False)
    with pytest.raises(EmailError) as caught:
        await sender.send("ana@shop.test", "Hi", "Hello")
    assert str(caught.value) == (
        f"could not send email through SMTP at {HOST}:{port} (connection refused): "
        "check SMTP_HOST/SMTP_PORT, or set EMAIL_BACKEND=console for development"
    )


async def test_smtp_backend_from_settings_delivers(smtp: SMTPServer) -> None:
    sender = mailer(
        DEBUG=True,
        EMAIL_BACKEND="smtp",
        SMTP_HOST=smtp.host,
        SMTP_PORT=smtp.port,
        SMTP_USE_TLS=False,
    )
    await sender.send("ana@shop.test", "Hi", "Hello")
    assert [message.message["Subject"] for message in smtp.messages] == ["Hi"]
    assert tempest.mail.outbox == []
