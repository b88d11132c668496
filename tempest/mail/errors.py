"""Errors raised while rendering or sending an email."""

from __future__ import annotations

__all__ = ["EmailError", "EmailTemplateNotFound"]


class EmailError(Exception):
    """An email could not be rendered or sent.

    The message is one line that says what failed and where (the SMTP server's
    ``host:port`` or the template file); it never contains the SMTP password.

    Attributes:
        host: The SMTP server's host, when the failure happened while sending.
        port: The SMTP server's port, when the failure happened while sending.
    """

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None):
        super().__init__(message)
        self.host = host
        self.port = port


class EmailTemplateNotFound(EmailError, LookupError):
    """No locale (nor the template folders' root) has the requested email template.

    Attributes:
        template: The template's name, e.g. ``"password_reset"``.
        searched: The file names that were looked for, in order.
    """

    def __init__(self, message: str, *, template: str, searched: tuple[str, ...]) -> None:
        super().__init__(message)
        self.template = template
        self.searched = searched
