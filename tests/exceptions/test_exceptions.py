import subprocess
import sys

import pytest

import tempest.exceptions.framework
from tempest.exceptions import (
    AppException,
    ConflictException,
    ExpiredTokenException,
    FileTooLargeException,
    ForbiddenException,
    ImproperlyConfigured,
    InvalidFileTypeException,
    InvalidTokenException,
    NotFoundException,
    TooManyRequestsException,
    UnauthorizedException,
    ValidationException,
)


@pytest.mark.parametrize(
    ("exception_class", "status_code", "code"),
    [
        (AppException, 500, "INTERNAL_SERVER_ERROR"),
        (NotFoundException, 404, "NOT_FOUND"),
        (ConflictException, 409, "CONFLICT"),
        (ValidationException, 422, "VALIDATION_ERROR"),
        (UnauthorizedException, 401, "UNAUTHORIZED"),
        (InvalidTokenException, 401, "INVALID_TOKEN"),
        (ExpiredTokenException, 401, "TOKEN_EXPIRED"),
        (ForbiddenException, 403, "FORBIDDEN"),
        (FileTooLargeException, 413, "FILE_TOO_LARGE"),
        (InvalidFileTypeException, 415, "INVALID_FILE_TYPE"),
        (TooManyRequestsException, 429, "TOO_MANY_REQUESTS"),
    ],
)
def test_class_defaults(exception_class: type[AppException], status_code: int, code: str) -> None:
    exc = exception_class()

    assert isinstance(exc, AppException)
    assert exc.status_code == status_code
    assert exc.code == code
    assert exc.message == exception_class.message
    assert exc.message
    assert str(exc) == exc.message
    assert exc.details == {}
    assert exc.headers == {}


def test_constructor_overrides_every_default() -> None:
    exc = NotFoundException(
        "Order not found",
        code="ORDER_NOT_FOUND",
        details={"order_id": "42"},
        status_code=410,
        headers={"X-Thing": "1"},
    )

    assert exc.message == "Order not found"
    assert exc.code == "ORDER_NOT_FOUND"
    assert exc.status_code == 410
    assert exc.details == {"order_id": "42"}
    assert exc.headers == {"X-Thing": "1"}
    assert exc.to_dict() == {
        "detail": "Order not found",
        "code": "ORDER_NOT_FOUND",
        "details": {"order_id": "42"},
    }


def test_overrides_do_not_touch_the_class_defaults() -> None:
    NotFoundException("Other", code="OTHER", status_code=400)

    assert NotFoundException.message == "Resource not found"
    assert NotFoundException.code == "NOT_FOUND"
    assert NotFoundException.status_code == 404


def test_details_are_copied() -> None:
    details = {"a": 1}
    exc = ConflictException(details=details)
    details["b"] = 2

    assert exc.details == {"a": 1}


def test_domain_subclass_uses_its_class_attributes() -> None:
    class UserNotFoundError(NotFoundException):
        message = "User not found"
        code = "USER_NOT_FOUND"

    exc = UserNotFoundError()

    assert isinstance(exc, NotFoundException)
    assert (exc.message, exc.code, exc.status_code) == ("User not found", "USER_NOT_FOUND", 404)


def test_token_exceptions_are_unauthorized() -> None:
    assert issubclass(InvalidTokenException, UnauthorizedException)
    assert issubclass(ExpiredTokenException, UnauthorizedException)


def test_too_many_requests_sets_retry_after_header() -> None:
    exc = TooManyRequestsException(retry_after=30, headers={"X-RateLimit-Limit": "10"})

    assert exc.retry_after == 30
    assert exc.headers == {"X-RateLimit-Limit": "10", "Retry-After": "30"}


def test_too_many_requests_without_retry_after_has_no_header() -> None:
    exc = TooManyRequestsException("Slow down")

    assert exc.retry_after is None
    assert exc.headers == {}
    assert exc.message == "Slow down"


def test_repr_names_class_code_and_status() -> None:
    text = repr(ForbiddenException("Nope"))

    assert text == "ForbiddenException(message='Nope', code='FORBIDDEN', status_code=403)"


def test_improperly_configured_is_a_plain_exception() -> None:
    assert ImproperlyConfigured is tempest.exceptions.framework.ImproperlyConfigured
    assert issubclass(ImproperlyConfigured, Exception)
    assert not issubclass(ImproperlyConfigured, AppException)


def test_importing_exceptions_does_not_import_web_or_orm_libraries() -> None:
    code = (
        "import sys, tempest.exceptions, tempest.core.context, tempest.core.logging\n"
        "heavy = {'fastapi', 'starlette', 'sqlalchemy', 'pydantic'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
