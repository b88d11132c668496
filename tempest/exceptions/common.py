"""The stock domain exceptions, one per common HTTP failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tempest.exceptions.base import AppException

__all__ = [
    "ConflictException",
    "ExpiredTokenException",
    "FileTooLargeException",
    "ForbiddenException",
    "InvalidFileTypeException",
    "InvalidTokenException",
    "NotFoundException",
    "ServiceUnavailableException",
    "TooManyRequestsException",
    "UnauthorizedException",
    "ValidationException",
]


class NotFoundException(AppException):
    """The requested resource does not exist (404)."""

    message = "Resource not found"
    code = "NOT_FOUND"
    status_code = 404


class ConflictException(AppException):
    """The request conflicts with the current state, e.g. a duplicate key (409)."""

    message = "Resource conflict"
    code = "CONFLICT"
    status_code = 409


class ValidationException(AppException):
    """The input is well-formed but breaks a business rule (422)."""

    message = "Validation error"
    code = "VALIDATION_ERROR"
    status_code = 422


class UnauthorizedException(AppException):
    """The request lacks valid credentials (401)."""

    message = "Authentication required"
    code = "UNAUTHORIZED"
    status_code = 401


class InvalidTokenException(UnauthorizedException):
    """The presented token is malformed or its signature does not verify (401)."""

    message = "Invalid token"
    code = "INVALID_TOKEN"


class ExpiredTokenException(UnauthorizedException):
    """The presented token was valid but has expired (401)."""

    message = "Token expired"
    code = "TOKEN_EXPIRED"


class ForbiddenException(AppException):
    """The caller is authenticated but not allowed to do this (403)."""

    message = "Permission denied"
    code = "FORBIDDEN"
    status_code = 403


class FileTooLargeException(AppException):
    """An uploaded file exceeds the size limit (413)."""

    message = "File too large"
    code = "FILE_TOO_LARGE"
    status_code = 413


class InvalidFileTypeException(AppException):
    """An uploaded file has a type that is not accepted (415)."""

    message = "Unsupported file type"
    code = "INVALID_FILE_TYPE"
    status_code = 415


class TooManyRequestsException(AppException):
    """The caller exceeded a rate limit (429), optionally saying when to retry."""

    message = "Too many requests"
    code = "TOO_MANY_REQUESTS"
    status_code = 429

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        message_key: str | None = None,
        message_params: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the exception.

        Args:
            message: Overrides the class-level ``message``.
            retry_after: Seconds the client should wait; sent as ``Retry-After``.
            code: Overrides the class-level ``code``.
            details: Structured context added to the envelope's ``details``.
            status_code: Overrides the class-level ``status_code``.
            headers: Extra headers sent with the error response.
            message_key: The catalog key of the message.
            message_params: Values of the message's ``{placeholders}``.
        """
        merged_headers = dict(headers) if headers else {}
        if retry_after is not None:
            merged_headers["Retry-After"] = str(retry_after)
        super().__init__(
            message,
            code=code,
            details=details,
            status_code=status_code,
            headers=merged_headers,
            message_key=message_key,
            message_params=message_params,
        )
        self.retry_after = retry_after


class ServiceUnavailableException(AppException):
    """A service the request needs (database, Redis, broker) is unreachable right now (503).

    The answer is temporary: it carries ``Retry-After`` (``retry_after`` seconds, 5 unless
    told) and, when ``service`` is given, ``details["service"]`` names what is down.
    """

    message = "Service temporarily unavailable"
    code = "SERVICE_UNAVAILABLE"
    status_code = 503
    retry_after_default = 5

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        service: str | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        message_key: str | None = None,
        message_params: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the exception.

        Args:
            message: Overrides the class-level ``message``.
            retry_after: Seconds the client should wait; sent as ``Retry-After``
                (``retry_after_default`` when None).
            service: What is unavailable, e.g. ``"database"``; added to ``details``.
            code: Overrides the class-level ``code``.
            details: Structured context added to the envelope's ``details``.
            status_code: Overrides the class-level ``status_code``.
            headers: Extra headers sent with the error response.
            message_key: The catalog key of the message.
            message_params: Values of the message's ``{placeholders}``.
        """
        seconds = self.retry_after_default if retry_after is None else max(0, int(retry_after))
        merged_headers = dict(headers) if headers else {}
        merged_headers["Retry-After"] = str(seconds)
        merged_details = dict(details) if details else {}
        if service is not None:
            merged_details.setdefault("service", service)
        super().__init__(
            message,
            code=code,
            details=merged_details,
            status_code=status_code,
            headers=merged_headers,
            message_key=message_key,
            message_params=message_params,
        )
        self.retry_after = seconds
        self.service = service
