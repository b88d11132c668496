"""``EmailUtils``: send plain, HTML and templated emails through an email backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from tempest.mail.backends import (
    ConsoleBackend,
    EmailBackend,
    MemoryBackend,
    SMTPBackend,
    backend_from_settings,
)
from tempest.mail.errors import EmailTemplateNotFound
from tempest.mail.locale import DEFAULT_LOCALE, SUPPORTED_LOCALES
from tempest.mail.templates import EmailTemplates, RenderedEmail

if TYPE_CHECKING:
    from tempest.conf import EmailSettings
    from tempest.mail.templates import TemplateSource

__all__ = ["EmailUtils"]

# Headers that send() sets from its own arguments; passing them in ``headers`` is a mistake.
_RESERVED_HEADERS = frozenset({"from", "to", "subject", "reply-to", "date", "message-id"})


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be on one line: it contains a line break")


def _check_address(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an email address string, not {type(value).__name__}")
    _check_header_value(name, value)
    if len(getaddresses([value])) > 1:
        raise ValueError(f"{name} {value!r} holds several addresses: pass them as a list")
    _, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError(
            f"{name} {value!r} is not an email address: use 'user@example.com' "
            "or 'Name <user@example.com>'"
        )
    return value


class EmailUtils:
    """Send transactional email over SMTP with aiosmtplib, or through another backend.

    Each call to :meth:`send` opens a connection, sends one message and closes it, so
    one instance can be shared by every request and task. ``backend`` replaces SMTP:
    ``"console"`` prints the messages, ``"memory"`` keeps them in ``tempest.mail.outbox``
    (see :mod:`tempest.mail.backends`); :meth:`from_settings` follows ``EMAIL_BACKEND``.

    Example:
        >>> mailer = EmailUtils(  # doctest: +SKIP
        ...     host="smtp.example.com", port=587, from_addr="Shop <noreply@shop.com>",
        ...     username="noreply@shop.com", password="...", use_starttls=True,
        ... )
        >>> await mailer.send(to="ana@example.com", subject="Hi", body="Hello!")  # doctest: +SKIP

    Args:
        host: The SMTP server's host name or IP address.
        port: The SMTP server's port: usually 587 with STARTTLS, 465 with SSL, 25 plain.
        username: The login, when the server requires authentication.
        password: The login's password. Never appears in an error message.
        from_addr: The sender, ``"noreply@shop.com"`` or ``"Shop <noreply@shop.com>"``.
        use_starttls: Upgrade the connection with STARTTLS before logging in. Sending
            fails, rather than continuing in clear text, if the server cannot.
        use_ssl: Connect over TLS from the start (implicit TLS, port 465).
        timeout: Seconds to wait for the server on each step.
        templates: Where :meth:`send_template` finds its templates: a directory, a list
            of directories or a Jinja2 loader. See :class:`~tempest.mail.EmailTemplates`.
        default_locale: The locale whose templates are used when the requested one has none.
        locales: The locales templates may be requested in.
        backend: Where messages go: ``"smtp"`` (the default: the server above),
            ``"console"``, ``"memory"`` or an :class:`~tempest.mail.backends.EmailBackend`.

    Raises:
        ValueError: A setting is missing or contradictory; the message names it.
        TypeError: An argument has the wrong type.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        from_addr: str,
        username: str | None = None,
        password: str | None = None,
        use_starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 10.0,
        templates: TemplateSource | None = None,
        default_locale: str = DEFAULT_LOCALE,
        locales: Sequence[str] = SUPPORTED_LOCALES,
        backend: str | EmailBackend = "smtp",
    ) -> None:
        if not isinstance(host, str) or not host.strip():
            raise ValueError("host must name the SMTP server, e.g. 'smtp.example.com'")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be an integer between 1 and 65535, not {port!r}")
        if use_starttls and use_ssl:
            raise ValueError(
                "use_starttls and use_ssl exclude each other: use_ssl=True for implicit TLS "
                "(usually port 465), use_starttls=True for STARTTLS (usually port 587)"
            )
        if password and not username:
            raise ValueError("password is set but username is not: pass both to log in")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.host = host.strip()
        self.port = port
        self.from_addr = _check_address("from_addr", from_addr)
        self.username = username or None
        self._password = password or None
        self.use_starttls = use_starttls
        self.use_ssl = use_ssl
        self.timeout = float(timeout)
        self.templates: EmailTemplates | None = (
            EmailTemplates(templates, default_locale=default_locale, locales=locales)
            if templates is not None
            else None
        )
        self.backend: EmailBackend
        if backend == "smtp":
            self.backend = SMTPBackend(
                self.host,
                self.port,
                username=self.username,
                password=self._password,
                use_starttls=use_starttls,
                use_ssl=use_ssl,
                timeout=self.timeout,
            )
        elif backend == "console":
            self.backend = ConsoleBackend()
        elif backend == "memory":
            self.backend = MemoryBackend()
        elif isinstance(backend, EmailBackend):
            self.backend = backend
        else:
            raise ValueError(
                f"backend must be 'smtp', 'console', 'memory' or an object with an "
                f"'async def send(self, message)' method, not {backend!r}"
            )

    @classmethod
    def from_settings(
        cls,
        settings: EmailSettings,
        *,
        templates: TemplateSource | None = None,
        locales: Sequence[str] = SUPPORTED_LOCALES,
    ) -> EmailUtils:
        """Build the sender from the ``EMAIL_BACKEND`` and ``SMTP_*`` settings.

        ``EMAIL_BACKEND`` chooses where messages go; empty means ``"console"`` in
        ``DEBUG`` and ``"smtp"`` otherwise (see :mod:`tempest.mail.backends`).
        ``SMTP_USE_SSL=True`` selects implicit TLS and wins over ``SMTP_USE_TLS``
        (STARTTLS). The default locale is ``AUTH_DEFAULT_LOCALE`` when the settings have it.

        Args:
            settings: Settings that include :class:`~tempest.conf.EmailSettings`.
            templates: Where :meth:`send_template` finds its templates.
            locales: The locales templates may be requested in.

        Returns:
            The configured sender.

        Raises:
            ImproperlyConfigured: ``EMAIL_BACKEND`` names no backend.
        """
        use_ssl = settings.SMTP_USE_SSL
        return cls(
            settings.SMTP_HOST,
            settings.SMTP_PORT,
            from_addr=settings.SMTP_FROM_ADDR,
            username=settings.SMTP_USERNAME,
            password=settings.SMTP_PASSWORD,
            use_starttls=settings.SMTP_USE_TLS and not use_ssl,
            use_ssl=use_ssl,
            timeout=settings.SMTP_TIMEOUT_SECONDS,
            templates=templates,
            default_locale=getattr(settings, "AUTH_DEFAULT_LOCALE", DEFAULT_LOCALE),
            locales=locales,
            backend=backend_from_settings(settings),
        )

    def __repr__(self) -> str:
        return (
            f"EmailUtils(host={self.host!r}, port={self.port!r}, from_addr={self.from_addr!r}, "
            f"username={self.username!r}, backend={self.backend!r})"
        )

    def build_message(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        html: str | None = None,
        *,
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        """Build the message :meth:`send` would send, without sending it.

        Args:
            to: One recipient or a list of recipients.
            subject: The subject, on one line.
            body: The plain-text body.
            html: An HTML body; the message becomes ``multipart/alternative``.
            reply_to: The address replies should go to.
            headers: Extra headers, e.g. ``{"List-Unsubscribe": "<...>"}``.

        Returns:
            The message, with ``Date`` and ``Message-ID`` set.

        Raises:
            ValueError: No recipient, an address that is not one, a header on several
                lines, or a header that has its own argument.
        """
        recipients = [to] if isinstance(to, str) else list(to)
        if not recipients:
            raise ValueError("to must name at least one recipient")
        for recipient in recipients:
            _check_address("to", recipient)
        if not isinstance(subject, str):
            raise TypeError(f"subject must be a string, not {type(subject).__name__}")
        _check_header_value("subject", subject)
        message = EmailMessage()
        message["From"] = self.from_addr
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        if reply_to is not None:
            message["Reply-To"] = _check_address("reply_to", reply_to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=parseaddr(self.from_addr)[1].rpartition("@")[2])
        for name, value in (headers or {}).items():
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(
                    f"header {name!r} has its own argument: pass it to send(), not in headers"
                )
            _check_header_value(f"header {name!r}", value)
            message[name] = value
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    async def send(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        html: str | None = None,
        *,
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send one email.

        Args:
            to: One recipient or a list of recipients.
            subject: The subject, on one line.
            body: The plain-text body.
            html: An HTML body, sent with ``body`` as ``multipart/alternative`` so that
                mail clients show the richest part they support.
            reply_to: The address replies should go to.
            headers: Extra headers, e.g. ``{"List-Unsubscribe": "<...>"}``.

        Raises:
            ValueError: The message is malformed (see :meth:`build_message`).
            EmailError: The server could not be reached, refused the login, the sender or
                the recipients, or timed out. The message names ``host:port`` and the
                settings to check.
        """
        message = self.build_message(to, subject, body, html, reply_to=reply_to, headers=headers)
        await self._deliver(message)

    def render_template(
        self, template: str, context: Mapping[str, Any] | None = None, *, locale: str | None = None
    ) -> RenderedEmail:
        """Render an email template without sending it, e.g. to preview it.

        Args:
            template: The template's name, e.g. ``"password_reset"``.
            context: The variables the template uses.
            locale: The wanted locale in any spelling; None for the default locale.

        Returns:
            The rendered subject, text and HTML.

        Raises:
            EmailTemplateNotFound: The template does not exist, or the sender was built
                without ``templates``.
            EmailError: The template is broken or uses a variable the context lacks.
        """
        if self.templates is None:
            raise EmailTemplateNotFound(
                f"email template {template!r} cannot be rendered: this EmailUtils has no "
                "templates; pass templates='<directory>' when building it",
                template=template,
                searched=(),
            )
        return self.templates.render(template, context, locale=locale)

    async def send_template(
        self,
        to: str | Sequence[str],
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RenderedEmail:
        """Render an email template in the best locale and send it.

        Args:
            to: One recipient or a list of recipients.
            template: The template's name, e.g. ``"password_reset"``.
            context: The variables the template uses.
            locale: The wanted locale in any spelling (``"pt_br"``), e.g. the result of
                :func:`~tempest.mail.negotiate_locale`; None for the default locale.
            reply_to: The address replies should go to.
            headers: Extra headers.

        Returns:
            What was sent.

        Raises:
            EmailTemplateNotFound: The template does not exist in any searched folder.
            EmailError: The template is broken, or sending failed.
        """
        rendered = self.render_template(template, context, locale=locale)
        await self.send(
            to,
            rendered.subject,
            rendered.text,
            rendered.html,
            reply_to=reply_to,
            headers=headers,
        )
        return rendered

    async def _deliver(self, message: EmailMessage) -> None:
        await self.backend.send(message)
