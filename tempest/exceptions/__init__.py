"""Domain exceptions and framework errors.

Every :class:`AppException` is answered by the API with the error envelope
``{"detail": ..., "code": ..., "details": {...}}``; clients branch on ``code``.
"""

from tempest.exceptions.base import AppException
from tempest.exceptions.catalog import (
    DEFAULT_LOCALE,
    MessageCatalog,
    default_message_catalog,
    parse_accept_language,
)
from tempest.exceptions.common import (
    ConflictException,
    ExpiredTokenException,
    FileTooLargeException,
    ForbiddenException,
    InvalidFileTypeException,
    InvalidTokenException,
    NotFoundException,
    ServiceUnavailableException,
    TooManyRequestsException,
    UnauthorizedException,
    ValidationException,
)
from tempest.exceptions.framework import ImproperlyConfigured

__all__ = [
    "DEFAULT_LOCALE",
    "AppException",
    "ConflictException",
    "ExpiredTokenException",
    "FileTooLargeException",
    "ForbiddenException",
    "ImproperlyConfigured",
    "InvalidFileTypeException",
    "InvalidTokenException",
    "MessageCatalog",
    "NotFoundException",
    "ServiceUnavailableException",
    "TooManyRequestsException",
    "UnauthorizedException",
    "ValidationException",
    "default_message_catalog",
    "parse_accept_language",
]
