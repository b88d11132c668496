"""Exception handlers that answer every error with the ``{detail, code, details}`` envelope."""

from __future__ import annotations

import contextlib
import logging
import math
import re
import traceback
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tempest.api.allow import allowed_methods
from tempest.api.error_locale import (
    LocalizedErrorResponse,
    install_error_messages,
    localize_envelope,
    localize_exception,
)
from tempest.api.middleware.body_limit import (
    InvalidTextError,
    RequestBodyTooLargeError,
    body_too_large_response,
    invalid_text_response,
)
from tempest.exceptions import AppException, MessageCatalog, default_message_catalog
from tempest.utils.context import UNCAUGHT_500_FLAG, get_request_id, set_request_id

__all__ = [
    "REDACTED",
    "app_exception_handler",
    "database_unavailable_response",
    "http_exception_handler",
    "is_secret_name",
    "is_unstorable_text_error",
    "make_validation_exception_handler",
    "register_exception_handlers",
    "validation_exception_handler",
]

logger = logging.getLogger("tempest.request")

# Statuses whose responses must not carry a body.
_BODYLESS_STATUSES = frozenset({204, 304})


def _envelope(detail: Any, code: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"detail": detail, "code": code, "details": details}


def _json_safe(value: Any) -> Any:
    """Turn pydantic error data (whose ``ctx`` may hold exceptions) into plain JSON.

    Text that no UTF-8 encoder can write (a lone surrogate) comes back with the surrogate
    as a backslash escape; ``NaN`` and the infinities (which JSON has no literal for)
    come back as the strings ``"nan"``, ``"inf"`` and ``"-inf"``.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {_encodable(str(key)): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return _encodable(str(value))


def _encodable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


REDACTED = "********"
"""What a 422 shows instead of the submitted value of a secret field."""

# A field is secret when its name holds one of these (password, new_password, apiToken,
# client_secret), or has one of the short words as a whole part (code, mfa_code, api_key,
# pin): better to hide a postal code than to echo a one-time code.
_SECRET_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "credential",
    "authorization", "cookie", "signature", "privatekey",
)  # fmt: skip
_SECRET_WORDS = frozenset({"code", "otp", "key", "pin", "pwd", "cvv", "cvc", "ssn", "hash"})
_WORD_BREAK = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field named ``name`` holds a secret whose value a 422 must not echo.

    The rule: the name, lower-cased without separators, contains ``password``,
    ``passwd``, ``passphrase``, ``secret``, ``token``, ``apikey``, ``credential``,
    ``authorization``, ``cookie``, ``signature`` or ``privatekey``; or one of its words
    (split at ``_``, ``-``, ``.`` and camelCase) is ``code``, ``otp``, ``key``, ``pin``,
    ``pwd``, ``cvv``, ``cvc``, ``ssn`` or ``hash``.

    Args:
        name: A field, parameter or JSON key name.
    """
    words = [word.lower() for word in _WORD_BREAK.split(name) if word]
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS) or any(
        word in _SECRET_WORDS for word in words
    )


def _secret_types() -> tuple[type[Any], ...]:
    from pydantic import SecretBytes, SecretStr

    return (SecretStr, SecretBytes)


def _annotation_types(annotation: Any) -> Iterable[Any]:
    from typing import get_args

    yield annotation
    for argument in get_args(annotation):
        yield from _annotation_types(argument)


def _route_secret_names(route: Any) -> frozenset[str]:
    """Names of the route's parameters and body fields typed ``SecretStr``/``SecretBytes``.

    Worked out on the route's first 422 and kept on the route.
    """
    found: frozenset[str] | None = getattr(route, "_tempest_secret_names", None)
    if found is None:
        found = _find_secret_names(route)
        with contextlib.suppress(AttributeError):  # a route class with __slots__
            route._tempest_secret_names = found
    return found


def _find_secret_names(route: Any) -> frozenset[str]:
    from pydantic import BaseModel

    secret_types = _secret_types()
    names: set[str] = set()
    seen: set[type[Any]] = set()

    def visit(name: str, annotation: Any) -> None:
        for kind in _annotation_types(annotation):
            if isinstance(kind, type) and issubclass(kind, secret_types):
                names.add(name)
            elif isinstance(kind, type) and issubclass(kind, BaseModel) and kind not in seen:
                seen.add(kind)
                for field_name, field in kind.model_fields.items():
                    visit(field_name, field.annotation)
                    if field.alias:
                        visit(field.alias, field.annotation)

    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        for param in (
            *dependant.path_params,
            *dependant.query_params,
            *dependant.header_params,
            *dependant.cookie_params,
            *dependant.body_params,
        ):
            visit(param.name, param.field_info.annotation)
            if param.alias:
                visit(param.alias, param.field_info.annotation)
        stack.extend(dependant.dependencies)
    return frozenset(names)


def _redact(value: Any, secrets: frozenset[str]) -> Any:
    """``value`` with the values of secret keys (at any depth) replaced by REDACTED."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and (key in secrets or is_secret_name(key))
            else _redact(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value


def _public_error(error: dict[str, Any], secrets: frozenset[str], include_input: bool) -> Any:
    if "input" in error:
        if not include_input:
            error = {key: item for key, item in error.items() if key != "input"}
        elif any(
            isinstance(part, str) and (part in secrets or is_secret_name(part))
            for part in error.get("loc", ())
        ):
            error = {**error, "input": REDACTED}
        else:
            error = {**error, "input": _redact(error["input"], secrets)}
    return _json_safe(error)


def _status_code_name(status_code: int) -> str:
    if status_code == 413:  # RFC 9110's name; Python < 3.13 says REQUEST_ENTITY_TOO_LARGE
        return "CONTENT_TOO_LARGE"
    try:
        return HTTPStatus(status_code).name
    except ValueError:
        return f"HTTP_{status_code}"


async def app_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer an :class:`~tempest.exceptions.AppException` with its envelope.

    The ``detail`` is in the request's language when the application's handlers were
    registered with :func:`register_exception_handlers` (see
    :class:`~tempest.exceptions.MessageCatalog`).

    Args:
        request: The request being served.
        exc: The raised ``AppException``; anything else is re-raised.

    Returns:
        A JSON response with the exception's status code and headers.
    """
    if not isinstance(exc, AppException):
        raise exc
    return JSONResponse(
        jsonable_encoder(localize_exception(request.scope, exc)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def make_validation_exception_handler(
    *, include_input: bool = True
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of request validation failures: a 422 ``VALIDATION_ERROR`` envelope.

    Each of pydantic's errors keeps ``type``, ``loc``, ``msg`` and ``ctx``; its
    ``input`` (the submitted value) is echoed only when ``include_input`` is true, and
    never for a secret field: a field typed ``SecretStr``/``SecretBytes`` in the route,
    or named like a secret (see :func:`is_secret_name`), shows :data:`REDACTED`, at
    any depth of a submitted object. Lone surrogates and ``NaN`` in the echoed values
    are made JSON-safe, so the 422 itself can always be written. Each ``msg`` is
    translated by its ``type`` (catalog key ``validation.<type>``, its ``ctx`` filling
    the placeholders) into the request's language.

    Args:
        include_input: Echo the submitted values (``API_ERRORS_INCLUDE_INPUT``).

    Returns:
        An exception handler for ``RequestValidationError``.
    """

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        route = request.scope.get("route")
        secrets = _route_secret_names(route) if route is not None else frozenset()
        errors = [_public_error(dict(error), secrets, include_input) for error in exc.errors()]
        content = _envelope("Validation error", "VALIDATION_ERROR", {"errors": errors})
        return JSONResponse(
            localize_envelope(request.scope, content, "VALIDATION_ERROR"), status_code=422
        )

    handler.__name__ = handler.__qualname__ = "validation_exception_handler"
    return handler


validation_exception_handler = make_validation_exception_handler()
"""Answer a request validation failure with a 422 envelope, echoing non-secret input."""


# PostgreSQL's SQLSTATEs for text the server's encoding cannot hold (a NUL, for one).
_UNSTORABLE_SQLSTATES = frozenset({"22021", "22P05"})


def is_unstorable_text_error(exc: BaseException) -> bool:
    """Whether ``exc`` says that a submitted string cannot be stored or encoded.

    True for a NUL refused by PostgreSQL (asyncpg's ``CharacterNotInRepertoireError``
    and ``UntranslatableCharacterError``, psycopg's "cannot contain NUL"), and for a lone
    surrogate that a driver could not encode (``UnicodeEncodeError``, as raised by
    aiosqlite, or wrapped by asyncpg in a ``DataError``), anywhere in the chain of
    causes of a SQLAlchemy error.

    Args:
        exc: The exception raised while serving a request.
    """
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        if isinstance(current, UnicodeEncodeError):
            return current.reason == "surrogates not allowed"
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if state in _UNSTORABLE_SQLSTATES or "cannot contain NUL" in str(current)[:200]:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


async def unstorable_text_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a string the database (or its driver) refused with the 422 envelope.

    The last line of defence for routes that take text some other way than a JSON body
    (query, path, form fields, headers): anything else is re-raised (a 500).

    Args:
        request: The request being served.
        exc: A ``UnicodeEncodeError`` or a SQLAlchemy ``StatementError``.
    """
    if not is_unstorable_text_error(exc):
        raise exc
    return invalid_text_response("request")


def database_unavailable_response(exc: BaseException) -> JSONResponse | None:
    """The 503 for an error saying the database cannot be reached, else None.

    The envelope's code is ``SERVICE_UNAVAILABLE`` with ``details.service`` ``"database"``
    and a ``Retry-After`` header (``DATABASE_RETRY_AFTER``). The outage is logged once per
    process (``database unreachable at <masked URL>: <reason>``), not per request.

    Args:
        exc: What the request raised.
    """
    from tempest.db.outage import is_database_unavailable
    from tempest.db.session import project_unavailable_exception

    if not is_database_unavailable(exc):
        return None
    from tempest.db.outage import UNAVAILABLE_MESSAGE

    error = project_unavailable_exception(exc)
    return LocalizedErrorResponse(
        error.to_dict(),
        message_key="SERVICE_UNAVAILABLE:database"
        if error.message == UNAVAILABLE_MESSAGE
        else None,
        status_code=error.status_code,
        headers=error.headers,
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a database error: 503 when it cannot be reached, 422 for text it refused.

    Anything else (an integrity error a service did not turn into a 409, say) is
    re-raised, to become a logged 500.

    Args:
        request: The request being served.
        exc: An ``OSError`` or a SQLAlchemy error.
    """
    response = database_unavailable_response(exc)
    if response is not None:
        return response
    return await unstorable_text_handler(request, exc)


async def invalid_text_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer :class:`~tempest.api.middleware.body_limit.InvalidTextError` (a 422)."""
    if not isinstance(exc, InvalidTextError):
        raise exc
    return invalid_text_response(exc.location)


async def body_too_large_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer :class:`~tempest.api.middleware.body_limit.RequestBodyTooLargeError` (413)."""
    if not isinstance(exc, RequestBodyTooLargeError):
        raise exc
    return body_too_large_response(exc.limit)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer a Starlette/FastAPI ``HTTPException`` (404, 405, ...) with the envelope.

    The code is the status's ``http.HTTPStatus`` name (``METHOD_NOT_ALLOWED``); a
    ``detail`` that is the status's phrase (what routing raises) is translated into the
    request's language (catalog key ``http.<status>``); the exception's headers are
    kept, and a 405's ``Allow`` lists every method that a route of the path takes
    (Starlette names only the first matching route's).

    Args:
        request: The request being served.
        exc: The raised ``HTTPException``; anything else is re-raised.

    Returns:
        The error response.
    """
    if not isinstance(exc, HTTPException):
        raise exc
    headers = exc.headers
    if exc.status_code == 405 and "router" in request.scope:
        known = (headers or {}).get("Allow", "")
        allow = allowed_methods(request.scope, request.scope["router"].routes, known)
        headers = {**(headers or {}), "Allow": allow}
    if exc.status_code in _BODYLESS_STATUSES:
        return Response(status_code=exc.status_code, headers=headers)
    content = _envelope(jsonable_encoder(exc.detail), _status_code_name(exc.status_code), {})
    key = f"http.{exc.status_code}" if exc.detail == _status_phrase(exc.status_code) else None
    content = localize_envelope(request.scope, content, key)
    return JSONResponse(content, status_code=exc.status_code, headers=headers)


def _status_phrase(status_code: int) -> str | None:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return None


def _make_server_error_handler(
    debug: bool,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
        # Raised outside a route (by a middleware): a database outage is still a 503.
        unavailable = database_unavailable_response(exc)
        if unavailable is not None:
            return unavailable
        # This runs outside the middleware stack, after RequestIDMiddleware has reset
        # the context variable, so the ID comes from the request state it left behind.
        request_id = getattr(request.state, "request_id", None) or get_request_id()
        if request_id:
            # Back in the context for the lines logged after this one: the server logs
            # the exception again once this response is sent (uvicorn's "Exception in
            # ASGI application"), in this request's task.
            set_request_id(request_id)
        logger.error(
            "Unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
            extra={
                UNCAUGHT_500_FLAG: True,
                "request_id": request_id,
                "method": request.method,
                "path": request.url.path,
            },
        )
        details: dict[str, Any] = {}
        if debug:
            details = {
                "exception": f"{type(exc).__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc)).splitlines(),
            }
        # The middleware's response wrapper is gone too: echo the ID here.
        header = getattr(request.state, "request_id_header", None)
        headers = {header: request_id} if header and request_id else None
        content = _envelope("Internal server error", "INTERNAL_SERVER_ERROR", details)
        return JSONResponse(
            localize_envelope(request.scope, content, "INTERNAL_SERVER_ERROR"),
            status_code=500,
            headers=headers,
        )

    return server_error_handler


def register_exception_handlers(
    app: Starlette,
    *,
    debug: bool = False,
    include_input: bool = True,
    catalog: MessageCatalog | None = None,
    default_locale: str | None = None,
) -> None:
    """Install the envelope exception handlers on ``app``.

    Handles :class:`~tempest.exceptions.AppException` (its own status and headers),
    ``RequestValidationError`` (422), ``HTTPException`` (its status) and any other
    exception (500, logged to ``tempest.request`` and mirrored to ``500.log``).

    A string the database cannot store (a NUL on PostgreSQL, a lone surrogate anywhere)
    is a 422 ``VALIDATION_ERROR``, an oversized body a 413 ``CONTENT_TOO_LARGE``, a
    database that cannot be reached a 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``.

    Every envelope's ``detail`` (and each validation error's ``msg``) is answered in
    the language of the request's ``Accept-Language``, from ``catalog``; tempest ships
    ``en-US`` and ``pt-BR``. The catalog's files are read here, at start-up.

    Args:
        app: The FastAPI (or Starlette) application.
        debug: Put the exception and its traceback in the 500 envelope's ``details``.
            Never enable in production.
        include_input: Echo submitted values in 422 errors (never those of secret
            fields); ``API_ERRORS_INCLUDE_INPUT``.
        catalog: The error messages; :data:`~tempest.exceptions.default_message_catalog`
            (tempest's and the installed apps' ``locale/`` files) when None.
        default_locale: The language of a client whose languages the catalog does not
            have (the catalog's default, ``en-US``, when None).

    Raises:
        ValueError: ``default_locale`` is not a locale tag.
        ImproperlyConfigured: A catalog file is not valid.
    """
    from sqlalchemy.exc import SQLAlchemyError, StatementError

    install_error_messages(
        app, default_message_catalog if catalog is None else catalog, default_locale
    )
    app.add_exception_handler(AppException, app_exception_handler)
    app.add_exception_handler(
        RequestValidationError, make_validation_exception_handler(include_input=include_input)
    )
    app.add_exception_handler(InvalidTextError, invalid_text_handler)
    app.add_exception_handler(RequestBodyTooLargeError, body_too_large_handler)
    app.add_exception_handler(UnicodeEncodeError, unstorable_text_handler)
    app.add_exception_handler(StatementError, database_error_handler)
    app.add_exception_handler(SQLAlchemyError, database_error_handler)  # the pool's timeout
    app.add_exception_handler(OSError, database_error_handler)  # the driver's refused connect
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(Exception, _make_server_error_handler(debug))
