"""Exception handlers that answer every error with the ``{detail, code, details}`` envelope."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tempest.core.context import get_request_id
from tempest.core.logging import UNCAUGHT_500_FLAG
from tempest.exceptions import AppException

__all__ = [
    "app_exception_handler",
    "http_exception_handler",
    "register_exception_handlers",
    "validation_exception_handler",
]

logger = logging.getLogger("tempest.request")

# Statuses whose responses must not carry a body.
_BODYLESS_STATUSES = frozenset({204, 304})


def _envelope(detail: Any, code: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"detail": detail, "code": code, "details": details}


def _json_safe(value: Any) -> Any:
    """Turn pydantic error data (whose ``ctx`` may hold exceptions) into plain JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _status_code_name(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).name
    except ValueError:
        return f"HTTP_{status_code}"


async def app_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer an :class:`~tempest.exceptions.AppException` with its envelope.

    Args:
        request: The request being served.
        exc: The raised ``AppException``; anything else is re-raised.

    Returns:
        A JSON response with the exception's status code and headers.
    """
    if not isinstance(exc, AppException):
        raise exc
    return JSONResponse(
        jsonable_encoder(exc.to_dict()), status_code=exc.status_code, headers=exc.headers
    )


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a request validation failure with a 422 ``VALIDATION_ERROR`` envelope.

    Args:
        request: The request being served.
        exc: The raised ``RequestValidationError``; anything else is re-raised.

    Returns:
        A 422 JSON response listing the validation errors under ``details.errors``.
    """
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = _json_safe(list(exc.errors()))
    return JSONResponse(
        _envelope("Validation error", "VALIDATION_ERROR", {"errors": errors}), status_code=422
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer a Starlette/FastAPI ``HTTPException`` (404, 405, ...) with the envelope.

    The code is the status's ``http.HTTPStatus`` name (``METHOD_NOT_ALLOWED``); the
    exception's headers (e.g. ``Allow``) are kept.

    Args:
        request: The request being served.
        exc: The raised ``HTTPException``; anything else is re-raised.

    Returns:
        The error response.
    """
    if not isinstance(exc, HTTPException):
        raise exc
    if exc.status_code in _BODYLESS_STATUSES:
        return Response(status_code=exc.status_code, headers=exc.headers)
    content = _envelope(jsonable_encoder(exc.detail), _status_code_name(exc.status_code), {})
    return JSONResponse(content, status_code=exc.status_code, headers=exc.headers)


def _make_server_error_handler(
    debug: bool,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
        # This runs outside the middleware stack, after RequestIDMiddleware has reset
        # the context variable, so the ID comes from the request state it left behind.
        request_id = getattr(request.state, "request_id", None) or get_request_id()
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
        return JSONResponse(
            _envelope("Internal server error", "INTERNAL_SERVER_ERROR", details),
            status_code=500,
            headers=headers,
        )

    return server_error_handler


def register_exception_handlers(app: Starlette, *, debug: bool = False) -> None:
    """Install the envelope exception handlers on ``app``.

    Handles :class:`~tempest.exceptions.AppException` (its own status and headers),
    ``RequestValidationError`` (422), ``HTTPException`` (its status) and any other
    exception (500, logged to ``tempest.request`` and mirrored to ``500.log``).

    Args:
        app: The FastAPI (or Starlette) application.
        debug: Put the exception and its traceback in the 500 envelope's ``details``.
            Never enable in production.
    """
    app.add_exception_handler(AppException, app_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(Exception, _make_server_error_handler(debug))
