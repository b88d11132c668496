"""Where :class:`~tempest.mail.EmailUtils` delivers a built message: the email backends.

``EMAIL_BACKEND`` chooses one, as Django's setting of the same name does:

- ``"smtp"``: :class:`SMTPBackend`, through the server of the ``SMTP_*`` settings;
- ``"console"``: :class:`ConsoleBackend`, prints each message to standard output;
- ``"memory"``: :class:`MemoryBackend`, appends each message to :data:`outbox`;
- a dotted path ``package.module.ClassName``: a class of your own, built without
  arguments, with an ``async def send(self, message)`` method.

Empty (the default) means ``"console"`` when ``DEBUG`` is on and ``"smtp"`` otherwise, so a
new project can sign users up without a mail server.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tempest.mail.errors import EmailError

if TYPE_CHECKING:
    from tempest.conf import EmailSettings

__all__ = [
    "BACKENDS",
    "ConsoleBackend",
    "EmailBackend",
    "MemoryBackend",
    "SMTPBackend",
    "SentEmail",
    "backend_from_settings",
    "backend_name",
    "outbox",
]

BACKENDS = ("smtp", "console", "memory")
"""The names ``EMAIL_BACKEND`` accepts besides a dotted path."""


@dataclass(frozen=True)
class SentEmail:
    """One message the memory backend kept, with its parts decoded for assertions.

    Attributes:
        message: The whole message, as it would have been sent.
        subject: The ``Subject`` header.
        from_addr: The ``From`` header.
        to: The recipients' addresses, without display names.
        body: The plain-text body.
        html: The HTML body, or None when the message has none.
        headers: Every header, by name.
    """

    message: EmailMessage = field(repr=False)
    subject: str
    from_addr: str
    to: list[str]
    body: str
    html: str | None = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_message(cls, message: EmailMessage) -> SentEmail:
        """Decode ``message`` (built by :meth:`~tempest.mail.EmailUtils.build_message`)."""
        text, html = _parts(message)
        return cls(
            message=message,
            subject=str(message.get("Subject", "")),
            from_addr=str(message.get("From", "")),
            to=[address for _, address in getaddresses(message.get_all("To", []))],
            body=text,
            html=html,
            headers={name: str(value) for name, value in message.items()},
        )


outbox: list[SentEmail] = []
"""What the memory backend "sent", oldest first, as ``django.core.mail.outbox``.

Clear it with ``outbox.clear()`` (the ``mailoutbox`` fixture of the project pytest plugin
does before each test); the backend appends to ``tempest.mail.outbox`` whatever list it is.
"""


@runtime_checkable
class EmailBackend(Protocol):
    """Delivers one built message; raises :class:`~tempest.mail.EmailError` on failure."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``."""


class MemoryBackend:
    """Keeps each message in ``tempest.mail.outbox`` instead of sending it (for tests)."""

    async def send(self, message: EmailMessage) -> None:
        """Append ``message`` to ``tempest.mail.outbox`` as a :class:`SentEmail`."""
        import tempest.mail

        tempest.mail.outbox.append(SentEmail.from_message(message))

    def __repr__(self) -> str:
        return "MemoryBackend()"


class ConsoleBackend:
    """Prints each message to standard output instead of sending it (for development).

    The headers and the text body are written in one block between two rules; an HTML
    part is summarized by its size. Standard output is looked up at each send, so
    pytest's ``capsys`` sees it.
    """

    async def send(self, message: EmailMessage) -> None:
        """Write ``message`` to ``sys.stdout`` in one write, then flush."""
        stream = sys.stdout
        stream.write(format_message(message))
        stream.flush()

    def __repr__(self) -> str:
        return "ConsoleBackend()"


_RULE = "-" * 72


def format_message(message: EmailMessage) -> str:
    """The console backend's text of ``message``: headers, text body, HTML summary."""
    text, html = _parts(message)
    lines = [f"{_RULE}", "Email (EMAIL_BACKEND=console: printed, not sent)"]
    lines += [f"{name}: {value}" for name, value in message.items() if name != "Content-Type"]
    lines.append("")
    lines.append(text.rstrip("\n"))
    if html is not None:
        lines += ["", f"[HTML part: {len(html)} characters, not shown]"]
    lines.append(_RULE)
    return "\n".join(lines) + "\n"


def _parts(message: EmailMessage) -> tuple[str, str | None]:
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    text = plain.get_content() if isinstance(plain, EmailMessage) else ""
    html = rich.get_content() if isinstance(rich, EmailMessage) else None
    return str(text), None if html is None else str(html)


class SMTPBackend:
    """Sends each message through an SMTP server with aiosmtplib.

    Each send opens a connection, delivers one message and closes it.

    Args:
        host: The server's host name or IP address.
        port: Its port.
        username: The login, when the server requires one.
        password: Its password; never appears in an error message.
        use_starttls: Upgrade the connection with STARTTLS (fails rather than continue
            in clear text).
        use_ssl: Connect over TLS from the start.
        timeout: Seconds to wait for the server on each step.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        use_starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.use_starttls = use_starttls
        self.use_ssl = use_ssl
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SMTPBackend(host={self.host!r}, port={self.port!r}, username={self.username!r})"

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``.

        Raises:
            EmailError: One line naming ``host:port``, what went wrong and the settings
                to check; never the password.
        """
        import aiosmtplib

        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                use_tls=self.use_ssl,
                start_tls=self.use_starttls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason, hint = self._reason(exc)
            where = f"{self.host}:{self.port}"
            raise EmailError(
                f"could not send email through SMTP at {where} ({reason}): {hint}",
                host=self.host,
                port=self.port,
            ) from exc

    def _reason(self, exc: BaseException) -> tuple[str, str]:
        """What went wrong, on one line, and which settings to check."""
        import aiosmtplib

        server = "check SMTP_HOST/SMTP_PORT, or set EMAIL_BACKEND=console for development"
        tls = "check SMTP_USE_TLS/SMTP_USE_SSL and SMTP_PORT"
        reason: str
        hint = server
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            reason = f"no answer within {self.timeout:g} seconds"
            hint = f"{server}; SMTP_TIMEOUT_SECONDS sets the wait"
        elif isinstance(exc, aiosmtplib.SMTPConnectError):
            reason = _connect_reason(exc)
        elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            reason = f"login as {self.username!r} refused: {exc.code} {exc.message}"
            hint = "check SMTP_USERNAME/SMTP_PASSWORD"
        elif isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            refused = ", ".join(f"{error.recipient} {error.code}" for error in exc.recipients)
            reason = f"recipients refused: {refused}"
            hint = "check the recipients' addresses"
        elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
            reason = f"sender refused: {exc.code} {exc.message}"
            hint = "check SMTP_FROM_ADDR"
        elif isinstance(exc, aiosmtplib.SMTPResponseException):
            reason = f"the server answered {exc.code} {exc.message}"
            hint = tls if "TLS" in exc.message.upper() else server
        elif isinstance(exc, aiosmtplib.SMTPException):
            reason = exc.message
            hint = tls if "TLS" in reason.upper() else server
        else:
            reason = str(exc) or type(exc).__name__
        reason = " ".join(reason.split())
        # A server may echo what it received; the password must not reach logs.
        if self._password:
            reason = reason.replace(self._password, "***")
        return reason, hint


def _connect_reason(exc: BaseException) -> str:
    cause: Any = exc.__cause__ or exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, OSError) and cause.strerror:
        return f"cannot connect: {cause.strerror}"
    return f"cannot connect: {cause}"


def backend_name(settings: EmailSettings) -> str:
    """The backend ``EMAIL_BACKEND`` chooses: its value, or the default for ``DEBUG``."""
    name = (getattr(settings, "EMAIL_BACKEND", "") or "").strip()
    if name:
        return name
    return "console" if getattr(settings, "DEBUG", False) else "smtp"


def backend_from_settings(settings: EmailSettings) -> EmailBackend:
    """Build the backend ``EMAIL_BACKEND`` names (see :func:`backend_name`).

    Raises:
        ImproperlyConfigured: The name is neither a known one nor an importable class
            with an ``async send(message)`` method; the message names ``EMAIL_BACKEND``.
    """
    from tempest.exceptions.framework import ImproperlyConfigured

    name = backend_name(settings)
    if name == "smtp":
        use_ssl = settings.SMTP_USE_SSL
        return SMTPBackend(
            settings.SMTP_HOST.strip(),
            settings.SMTP_PORT,
            username=settings.SMTP_USERNAME or None,
            password=settings.SMTP_PASSWORD or None,
            use_starttls=settings.SMTP_USE_TLS and not use_ssl,
            use_ssl=use_ssl,
            timeout=float(settings.SMTP_TIMEOUT_SECONDS),
        )
    if name == "console":
        return ConsoleBackend()
    if name == "memory":
        return MemoryBackend()
    if "." not in name:
        raise ImproperlyConfigured(
            f"EMAIL_BACKEND {name!r} is not a backend: use one of {', '.join(BACKENDS)} "
            "or the dotted path of a class"
        )
    from tempest.utils.imports import import_string

    backend = import_string(name, "EMAIL_BACKEND")()
    if not isinstance(backend, EmailBackend):
        raise ImproperlyConfigured(
            f"EMAIL_BACKEND {name!r} has no 'async def send(self, message)' method"
        )
    return backend
