"""EmailUtils against a real SMTP server (aiosmtpd, started on a free local port)."""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import tempest
import tempest.mail
from tempest.conf import AuthSettings, EmailSettings
from tempest.mail import EmailError, EmailTemplateNotFound, EmailUtils, RenderedEmail

pytestmark = pytest.mark.anyio

HOST = "127.0.0.1"
SENDER = "Shop <noreply@shop.test>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content.replace(b"\r\n", b"\n")  # SMTP line ends, as a client reads them
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SMTPServer:
    host: str
    port: int
    messages: list[Received]

    def mailer(self, **kwargs: Any) -> EmailUtils:
        kwargs.setdefault("from_addr", SENDER)
        kwargs.setdefault("use_starttls", False)
        return EmailUtils(self.host, self.port, **kwargs)

    @property
    def only(self) -> Received:
        assert len(self.messages) == 1, self.messages
        return self.messages[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(**smtp_options: Any) -> Iterator[SMTPServer]:
    collector = Collector()
    controller = Controller(collector, hostname=HOST, port=free_port(), **smtp_options)
    controller.start()
    try:
        yield SMTPServer(HOST, controller.port, collector.messages)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    yield from start_server()


def accept_mailer_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    ok = auth_data.login == b"mailer" and auth_data.password == b"right-password"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_with_login() -> Iterator[SMTPServer]:
    yield from start_server(authenticator=accept_mailer_login, auth_require_tls=False)


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    files = {
        "en-US/welcome.subject.txt": "Welcome, {{ name }}!\n",
        "en-US/welcome.txt": "Hello {{ name }},\nconfirm your account: {{ link }}\n",
        "en-US/welcome.html": '<p>Hello {{ name }}</p><a href="{{ link }}">Confirm</a>',
        "pt-BR/welcome.subject.txt": "Olá, {{ name }}!",
        "pt-BR/welcome.txt": "Olá {{ name }},\nconfirme sua conta: {{ link }}\n",
        "pt-BR/welcome.html": '<p>Olá {{ name }}</p><a href="{{ link }}">Confirmar</a>',
        "en-US/receipt.subject.txt": "Your receipt",
        "en-US/receipt.txt": "Total: {{ total }}",
        "notice.subject.txt": "Notice",
        "notice.txt": "Maintenance tonight.",
        "en-US/no_body.subject.txt": "Subject only",
        "en-US/uses_missing.subject.txt": "Hi",
        "en-US/uses_missing.txt": "Reset here: {{ reset_url }}",
        "en-US/bad_syntax.subject.txt": "Hi",
        "en-US/bad_syntax.txt": "{% if %}",
    }
    root = tmp_path / "templates"
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    return root


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]


def links_in(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


def parts(message: EmailMessage) -> tuple[str, str | None]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    return str(text.get_content()), str(html.get_content()) if html is not None else None


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"host": ""}, ValueError, "host must name the SMTP server"),
        ({"port": 0}, ValueError, "port must be an integer between 1 and 65535, not 0"),
        ({"port": 70000}, ValueError, "port must be an integer between 1 and 65535"),
        ({"port": "25"}, ValueError, "port must be an integer"),
        ({"use_ssl": True, "use_starttls": True}, ValueError, "use_starttls and use_ssl exclude"),
        ({"password": "secret"}, ValueError, "password is set but username is not"),
        ({"from_addr": "noreply"}, ValueError, "from_addr 'noreply' is not an email address"),
        ({"from_addr": "a@b.test\nBcc: x@y.test"}, ValueError, "from_addr must be on one line"),
        ({"timeout": 0}, ValueError, "timeout must be a positive number of seconds"),
        ({"templates": "/nonexistent/emails"}, ValueError, "'/nonexistent/emails' does not exist"),
        ({"templates": 42}, TypeError, "templates must be a Jinja2 loader, a directory"),
        ({"default_locale": "fr-FR"}, ValueError, "default 'fr-FR' is not one of the supported"),
    ],
)
def test_construction_refuses_bad_settings(
    kwargs: dict[str, Any], error: type[Exception], match: str, templates: Path
) -> None:
    arguments: dict[str, Any] = {"host": "smtp.test", "port": 587, "from_addr": SENDER}
    if "default_locale" in kwargs:
        arguments["templates"] = templates
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        EmailUtils(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"to": []}, "to must name at least one recipient"),
        ({"to": "not-an-address"}, "to 'not-an-address' is not an email address"),
        ({"to": ["ana@shop.test", "bob"]}, "to 'bob' is not an email address"),
        ({"to": "ana@shop.test, eve@evil.test"}, "holds several addresses: pass them as a list"),
        ({"subject": "Hi\r\nBcc: victim@evil.test"}, "subject must be on one line"),
        ({"reply_to": "nobody"}, "reply_to 'nobody' is not an email address"),
        ({"headers": {"X-Campaign": "a\nb"}}, "header 'X-Campaign' must be on one line"),
        ({"headers": {"From": "ceo@shop.test"}}, "header 'From' has its own argument"),
    ],
)
async def test_send_refuses_malformed_messages_before_connecting(
    smtp: SMTPServer, kwargs: dict[str, Any], match: str
) -> None:
    arguments: dict[str, Any] = {"to": "ana@shop.test", "subject": "Hi", "body": "Hello"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        await smtp.mailer().send(**arguments)
    assert smtp.messages == []


async def test_connection_refused_is_one_line_naming_the_server_and_settings() -> None:
    port = free_port()  # closed again: nothing listens there
    mailer = EmailUtils(HOST, port, from_addr=SENDER, username="mailer", password="hunter2-secret")
    with pytest.raises(EmailError) as caught:
        await mailer.send("ana@shop.test", "Hi", "Hello")
    message = str(caught.value)
    assert message == (
        f"could not send email through SMTP at {HOST}:{port} (connection refused): "
        "check SMTP_HOST/SMTP_PORT, or set EMAIL_BACKEND=console for development"
    )
    assert "\n" not in message
    assert "hunter2-secret" not in message
    assert (caught.value.host, caught.value.port) == (HOST, port)


async def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections, never greets
        silent.bind((HOST, 0))
        silent.listen()
        port = silent.getsockname()[1]
        mailer = EmailUtils(HOST, port, from_addr=SENDER, use_starttls=False, timeout=0.5)
        expected = rf"{HOST}:{port} \(no answer within 0.5 seconds\): check SMTP_HOST/SMTP_PORT"
        with pytest.raises(EmailError, match=expected):
            await mailer.send("ana@shop.test", "Hi", "Hello")


async def test_starttls_is_required_by_default(smtp: SMTPServer) -> None:
    mailer = EmailUtils(smtp.host, smtp.port, from_addr=SENDER)
    expected = rf"{HOST}:{smtp.port} \(.*STARTTLS.*\): check SMTP_USE_TLS/SMTP_USE_SSL"
    with pytest.raises(EmailError, match=expected):
        await mailer.send("ana@shop.test", "Hi", "Hello")
    assert smtp.messages == []


async def test_a_refused_login_names_the_user_but_not_the_password(
    smtp_with_login: SMTPServer,
) -> None:
    mailer = smtp_with_login.mailer(username="mailer", password="wrong-password")
    with pytest.raises(EmailError) as caught:
        await mailer.send("ana@shop.test", "Hi", "Hello")
    message = str(caught.value)
    assert f"{HOST}:{smtp_with_login.port} (login as 'mailer' refused: 535" in message
    assert message.endswith("): check SMTP_USERNAME/SMTP_PASSWORD")
    assert "wrong-password" not in message
    assert "\n" not in message
    assert smtp_with_login.messages == []


async def test_send_template_without_templates(smtp: SMTPServer) -> None:
    with pytest.raises(EmailTemplateNotFound, match="pass templates='<directory>'"):
        await smtp.mailer().send_template("ana@shop.test", "welcome", {})


async def test_a_missing_template_names_the_files_and_folders_searched(
    smtp: SMTPServer, templates: Path
) -> None:
    mailer = smtp.mailer(templates=templates)
    with pytest.raises(EmailTemplateNotFound) as caught:
        await mailer.send_template("ana@shop.test", "invoice", {}, locale="pt-BR")
    assert str(caught.value) == (
        "email template 'invoice' not found: looked for pt-BR/invoice.subject.txt, "
        f"en-US/invoice.subject.txt, invoice.subject.txt in {templates}"
    )
    assert caught.value.searched == (
        "pt-BR/invoice.subject.txt",
        "en-US/invoice.subject.txt",
        "invoice.subject.txt",
    )
    assert smtp.messages == []


def test_a_template_without_text_body_is_refused(templates: Path) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    with pytest.raises(
        EmailTemplateNotFound, match=r"has en-US/no_body\.subject\.txt but no en-US/no_body\.txt"
    ):
        mailer.render_template("no_body")


@pytest.mark.parametrize("name", ["", "../secrets", "/etc/passwd", "en-US/../../x"])
def test_template_names_cannot_leave_the_folder(templates: Path, name: str) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    with pytest.raises(ValueError, match="template"):
        mailer.render_template(name)


def test_a_variable_missing_from_the_context_is_an_error(templates: Path) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    with pytest.raises(EmailError, match=r"'en-US/uses_missing.txt': 'reset_url' is undefined"):
        mailer.render_template("uses_missing", {})


def test_a_template_syntax_error_names_the_file_and_line(templates: Path) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    with pytest.raises(EmailError, match=r"'en-US/bad_syntax.txt' line 1: "):
        mailer.render_template("bad_syntax")


# -- sending --------------------------------------------------------------------------


async def test_send_plain_text(smtp: SMTPServer) -> None:
    await smtp.mailer().send("ana@shop.test", "Your order", "It ships today.")

    received = smtp.only
    assert received.mail_from == "noreply@shop.test"
    assert received.rcpt_tos == ["ana@shop.test"]
    message = received.message
    assert message["From"] == SENDER
    assert message["To"] == "ana@shop.test"
    assert message["Subject"] == "Your order"
    assert message["Message-ID"].endswith("@shop.test>")
    assert message["Date"]
    assert not message.is_multipart()
    assert message.get_content() == "It ships today.\n"


async def test_send_html_as_multipart_alternative(smtp: SMTPServer) -> None:
    link = "https://shop.test/reset?token=abc&user=7"
    await smtp.mailer().send(
        to=["ana@shop.test", "Bob <bob@shop.test>"],
        subject="Reset your password",
        body=f"Reset it here: {link}",
        html=f'<p>Click <a href="{link}">here</a> to reset.</p>',
        reply_to="support@shop.test",
        headers={"X-Campaign": "reset"},
    )

    received = smtp.only
    assert received.rcpt_tos == ["ana@shop.test", "bob@shop.test"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "ana@shop.test, Bob <bob@shop.test>"
    assert message["Reply-To"] == "support@shop.test"
    assert message["X-Campaign"] == "reset"
    text, html = parts(message)
    assert text == f"Reset it here: {link}\n"
    assert html is not None
    assert links_in(html) == [link]


async def test_non_ascii_subject_and_body_arrive_intact(smtp: SMTPServer) -> None:
    await smtp.mailer().send("joão@shop.test", "Ação necessária", "Olá, João — até já.")

    message = smtp.only.message
    assert message["Subject"] == "Ação necessária"
    assert message.get_content() == "Olá, João — até já.\n"


async def test_login_with_the_right_password(smtp_with_login: SMTPServer) -> None:
    mailer = smtp_with_login.mailer(username="mailer", password="right-password")
    await mailer.send("ana@shop.test", "Hi", "Hello")
    assert smtp_with_login.only.message["Subject"] == "Hi"


async def test_from_settings(smtp: SMTPServer, templates: Path) -> None:
    class MailSettings(EmailSettings, AuthSettings):
        pass

    settings = MailSettings(
        SMTP_HOST=smtp.host,
        SMTP_PORT=smtp.port,
        SMTP_FROM_ADDR="Shop <hello@shop.test>",
        SMTP_USE_TLS=False,
        SMTP_TIMEOUT_SECONDS=5,
        AUTH_DEFAULT_LOCALE="pt-BR",
    )
    mailer = EmailUtils.from_settings(settings, templates=templates)
    sent = await mailer.send_template("ana@shop.test", "welcome", {"name": "Ana", "link": "x"})

    assert sent.locale == "pt-BR"
    assert smtp.only.message["From"] == "Shop <hello@shop.test>"
    assert smtp.only.message["Subject"] == "Olá, Ana!"


def test_from_settings_prefers_ssl_over_starttls() -> None:
    settings = EmailSettings(SMTP_PORT=465, SMTP_USE_SSL=True, SMTP_USE_TLS=True)
    mailer = EmailUtils.from_settings(settings)
    assert (mailer.use_ssl, mailer.use_starttls) == (True, False)


def test_repr_hides_the_password() -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, username="u", password="s3cr3t!")
    assert "s3cr3t!" not in repr(mailer)


# -- templates ------------------------------------------------------------------------


async def test_send_template_in_english(smtp: SMTPServer, templates: Path) -> None:
    link = "https://shop.test/activate?token=t0k3n&next=/home"
    sent = await smtp.mailer(templates=templates).send_template(
        "ana@shop.test", "welcome", {"name": "Ana", "link": link}
    )

    message = smtp.only.message
    assert message["Subject"] == "Welcome, Ana!"
    text, html = parts(message)
    assert text == f"Hello Ana,\nconfirm your account: {link}\n"
    assert html is not None
    assert links_in(html) == [link]
    assert "&amp;next=" in html  # the href was escaped, and parses back to the link
    assert sent == RenderedEmail(subject="Welcome, Ana!", text=text, html=sent.html, locale="en-US")


@pytest.mark.parametrize("locale", ["pt-BR", "pt_br", "pt"])
async def test_send_template_in_portuguese(smtp: SMTPServer, templates: Path, locale: str) -> None:
    link = "https://shop.test/ativar?token=abc"
    await smtp.mailer(templates=templates).send_template(
        "ana@shop.test", "welcome", {"name": "Ana", "link": link}, locale=locale
    )

    message = smtp.only.message
    assert message["Subject"] == "Olá, Ana!"
    text, html = parts(message)
    assert text == f"Olá Ana,\nconfirme sua conta: {link}\n"
    assert html is not None
    assert "Confirmar" in html
    assert links_in(html) == [link]


async def test_a_locale_without_the_template_falls_back_to_the_default(
    smtp: SMTPServer, templates: Path
) -> None:
    sent = await smtp.mailer(templates=templates).send_template(
        "ana@shop.test", "receipt", {"total": "R$ 10,00"}, locale="pt-BR"
    )

    assert sent.locale == "en-US"
    assert smtp.only.message["Subject"] == "Your receipt"
    assert parts(smtp.only.message) == ("Total: R$ 10,00\n", None)


def test_an_unsupported_locale_uses_the_default(templates: Path) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    rendered = mailer.render_template("welcome", {"name": "Ana", "link": "x"}, locale="fr-FR")
    assert (rendered.locale, rendered.subject) == ("en-US", "Welcome, Ana!")


def test_templates_at_the_root_serve_every_locale(templates: Path) -> None:
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=templates)
    rendered = mailer.render_template("notice", locale="pt-BR")
    assert rendered == RenderedEmail(
        subject="Notice", text="Maintenance tonight.", html=None, locale=None
    )


async def test_html_is_autoescaped_but_text_is_not(smtp: SMTPServer, templates: Path) -> None:
    name = "<script>alert('x')</script>"
    await smtp.mailer(templates=templates).send_template(
        "ana@shop.test", "welcome", {"name": name, "link": "https://shop.test/"}
    )

    text, html = parts(smtp.only.message)
    assert html is not None
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert text.startswith(f"Hello {name},")
    assert smtp.only.message["Subject"] == f"Welcome, {name}!"


def test_a_jinja_loader_can_supply_the_templates() -> None:
    from jinja2 import DictLoader

    loader = DictLoader(
        {
            "pt-BR/ping.subject.txt": "Ping {{ n }}",
            "pt-BR/ping.txt": "pong",
            "pt-BR/ping.html": "<b>{{ n }}</b>",
        }
    )
    mailer = EmailUtils(
        "smtp.test", 587, from_addr=SENDER, templates=loader, default_locale="pt-BR"
    )
    assert mailer.render_template("ping", {"n": "<1>"}) == RenderedEmail(
        subject="Ping <1>", text="pong", html="<b>&lt;1&gt;</b>", locale="pt-BR"
    )
    with pytest.raises(EmailTemplateNotFound, match=r"pong.subject.txt in DictLoader$"):
        mailer.render_template("pong")


def test_several_template_directories_are_searched_in_order(
    templates: Path, tmp_path: Path
) -> None:
    overrides = tmp_path / "overrides"
    (overrides / "en-US").mkdir(parents=True)
    (overrides / "en-US" / "receipt.subject.txt").write_text("Receipt (custom)")
    (overrides / "en-US" / "receipt.txt").write_text("Custom total: {{ total }}")
    mailer = EmailUtils("smtp.test", 587, from_addr=SENDER, templates=[overrides, templates])
    assert mailer.render_template("receipt", {"total": "3"}).text == "Custom total: 3"
    assert mailer.render_template("notice").subject == "Notice"


def test_importing_tempest_mail_stays_cheap() -> None:
    code = (
        "import sys, tempest.mail;"
        "print(sorted({'jinja2', 'aiosmtplib', 'pydantic', 'fastapi'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_the_mail_names_are_exported_from_tempest() -> None:
    for name in tempest.mail.__all__:
        if name not in {"DEFAULT_LOCALE", "SUPPORTED_LOCALES"}:
            assert getattr(tempest, name) is getattr(tempest.mail, name)
