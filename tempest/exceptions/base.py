"""The root of the domain exception family and its error envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tempest.exceptions.catalog_format import format_message

__all__ = ["AppException"]


class AppException(Exception):
    """A domain error that the API turns into the ``{detail, code, details}`` envelope.

    Subclasses set ``message``, ``code`` and ``status_code`` as class attributes; each
    raise site may override any of them through the constructor.

    The envelope's ``detail`` is translated by the request's ``Accept-Language`` through
    the :class:`~tempest.exceptions.MessageCatalog`: the key is ``message_key`` when
    given, else ``code`` (see :meth:`MessageCatalog.exception_key
    <tempest.exceptions.MessageCatalog.exception_key>`), and ``message_params`` fill the
    message's ``{placeholders}``.

    Attributes:
        message: Human-readable, possibly translated, description of the error.
        code: Stable machine-readable code that clients branch on.
        status_code: HTTP status the error is answered with.
        details: Structured, JSON-serialisable context about the error.
        headers: Extra HTTP headers for the error response.
        message_key: The catalog key of the message, or None to use ``code``.
        message_params: Values of the message's ``{placeholders}``.
    """

    message: str = "Internal server error"
    code: str = "INTERNAL_SERVER_ERROR"
    status_code: int = 500
    message_key: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        message_key: str | None = None,
        message_params: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the exception, falling back to the class-level defaults.

        Args:
            message: Overrides the class-level ``message``.
            code: Overrides the class-level ``code``.
            details: Structured context added to the envelope's ``details``.
            status_code: Overrides the class-level ``status_code``.
            headers: Extra headers sent with the error response.
            message_key: The catalog key of the message (``"ORDER_NOT_FOUND"``).
            message_params: Values of the message's ``{placeholders}``, in the
                catalog's messages and in ``message`` itself; a placeholder without a
                value stays as written.
        """
        self.message_params: dict[str, Any] = dict(message_params) if message_params else {}
        text = message if message is not None else type(self).message
        self.message = format_message(text, self.message_params)
        self.message_key = message_key if message_key is not None else type(self).message_key
        self.code = code if code is not None else type(self).code
        self.status_code = status_code if status_code is not None else type(self).status_code
        self.details: dict[str, Any] = dict(details) if details else {}
        self.headers: dict[str, str] = dict(headers) if headers else {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return the error envelope for this exception.

        Returns:
            ``{"detail": message, "code": code, "details": details}``.
        """
        return {"detail": self.message, "code": self.code, "details": self.details}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"status_code={self.status_code!r})"
        )
