r"""Pure ASGI request body limit, and the refusal of text no database can store.

Built on Starlette's :class:`~starlette.middleware.body_limit.RequestBodyLimitMiddleware`
(what ``FastAPI(max_body_size=...)`` installs): the same scope protocol, so a route or
router declared with ``max_body_size=`` still narrows (or widens) the limit for its own
requests, and the same counting (the declared ``Content-Length`` is refused before a
byte is read; a chunked body is counted while it streams). What tempest changes:

- the 413 is the ``{detail, code, details}`` envelope (Starlette answers
  ``text/plain``, and replaces even the application's own 413 when the declared length
  is over the limit);
- a ``Content-Length`` that is not one non-negative integer (``-1``, ``abc``, two
  different values) is a 400 ``INVALID_CONTENT_LENGTH`` (uvicorn refuses it before the
  app; behind another server it must not slip past the count);
- a JSON body whose strings hold a NUL (``\u0000``) or a lone UTF-16 surrogate
  (``\ud800``) is a 422 before the route parses it: PostgreSQL cannot store either, and
  no UTF-8 encoder can write a lone surrogate. The check looks at the raw bytes only
  when they contain the escape ``\u`` at all, which most bodies do not.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitResponder
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.api.error_locale import LocalizedErrorResponse
from tempest.api.internals import body_limit_responder_scope_key, starlette_body_too_large_error

__all__ = [
    "BodySizeLimitMiddleware",
    "InvalidTextError",
    "RequestBodyTooLargeError",
    "body_too_large_response",
    "invalid_content_length_response",
    "invalid_text_response",
]

# Where Starlette's body limit finds the active responder (a private key of Starlette's).
_BODY_LIMIT_RESPONDER_SCOPE_KEY = body_limit_responder_scope_key()

INVALID_TEXT_MESSAGE = (
    "Text must not contain NUL (\\u0000) or unpaired surrogate (\\ud800-\\udfff) characters."
)

# Every backslash escape that matters, left to right: an escaped backslash (consumed, so
# "\\\\u0000" is the text \u0000 and not NUL), a valid surrogate pair (consumed), else a
# NUL or a lone surrogate (group 1).
_ESCAPES = re.compile(
    rb"\\(?:\\|u(?:[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(0000|[dD][89a-fA-F][0-9a-fA-F]{2})))"
)


def has_invalid_text(body: bytes) -> bool:
    """Whether a JSON document's strings hold a NUL or a lone surrogate escape.

    Args:
        body: The raw JSON bytes.
    """
    if b"\\u" not in body:
        return False
    return any(match.group(1) for match in _ESCAPES.finditer(body))


class RequestBodyTooLargeError(HTTPException):
    """The request body is over the limit: answered 413 ``CONTENT_TOO_LARGE``."""

    def __init__(self, limit: int) -> None:
        """Build the error for a limit of ``limit`` bytes."""
        super().__init__(status_code=413, detail=_too_large_detail(limit))
        self.limit = limit


class InvalidTextError(HTTPException):
    """A string of the request holds a NUL or a lone surrogate: answered 422."""

    def __init__(self, location: str = "body") -> None:
        """Build the error for the part of the request (``body``, ``query``, ``path``)."""
        super().__init__(status_code=422, detail=INVALID_TEXT_MESSAGE)
        self.location = location


def _too_large_detail(limit: int) -> str:
    return (
        f"The request body is larger than {limit} bytes, the limit of this endpoint "
        "(MAX_REQUEST_BODY_SIZE)."
    )


def body_too_large_response(limit: int) -> JSONResponse:
    """The 413 envelope for a body over ``limit`` bytes."""
    return LocalizedErrorResponse(
        {
            "detail": _too_large_detail(limit),
            "code": "CONTENT_TOO_LARGE",
            "details": {"limit": limit},
        },
        message_key="CONTENT_TOO_LARGE",
        message_params={"limit": limit},
        status_code=413,
        headers={"Connection": "close"},
    )


def invalid_content_length_response(value: bytes) -> JSONResponse:
    """The 400 envelope for a ``Content-Length`` that is not one non-negative integer."""
    return LocalizedErrorResponse(
        {
            "detail": "The Content-Length header must be one non-negative integer "
            "(send it once, or send Transfer-Encoding: chunked instead).",
            "code": "INVALID_CONTENT_LENGTH",
            "details": {"content_length": value[:40].decode("latin-1")},
        },
        message_key="INVALID_CONTENT_LENGTH",
        status_code=400,
        headers={"Connection": "close"},
    )


def invalid_text_response(location: str = "body") -> JSONResponse:
    """The 422 envelope for a NUL or lone surrogate in ``location``."""
    error = {"type": "string_invalid_character", "loc": [location], "msg": INVALID_TEXT_MESSAGE}
    return LocalizedErrorResponse(
        {"detail": "Validation error", "code": "VALIDATION_ERROR", "details": {"errors": [error]}},
        message_key="VALIDATION_ERROR",
        status_code=422,
    )


class _Responder(RequestBodyLimitResponder):
    """One request: Starlette's counting, tempest's answers, the JSON text check."""

    def __init__(self, app: ASGIApp, max_body_size: int, is_json: bool) -> None:
        super().__init__(app, max_body_size)
        self.is_json = is_json
        self.chunks: list[bytes] = []
        self.suspect = False

    async def run(self, scope: Scope, receive: Receive, send: Send, length: int | None) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self.content_length = length
        scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
        scope[_BODY_LIMIT_RESPONDER_SCOPE_KEY] = self
        try:
            await self.app(scope, self.receive_with_limit, self.send_with_limit)
        except HTTPException as error:
            # Raised where no exception handler sees it (a middleware reading the body).
            if self.response_started or not isinstance(error, _OURS + _STARLETTES):
                raise
            await self._refusal(error)(scope, receive, send)
        except _ResponseSent:
            pass
        finally:
            scope.pop(_BODY_LIMIT_RESPONDER_SCOPE_KEY, None)
            scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)

    def _refusal(self, error: HTTPException) -> JSONResponse:
        if isinstance(error, InvalidTextError):
            return invalid_text_response(error.location)
        return body_too_large_response(self.max_body_size)

    async def receive_with_limit(self) -> Message:
        limit = self.max_body_size  # a route's limit may have changed it since the start
        if self.content_length is not None and self.content_length > limit:
            raise RequestBodyTooLargeError(limit)
        message = await self._receive()  # type: ignore[misc]
        if message["type"] != "http.request":
            return message
        body: bytes = message.get("body", b"")
        self.total_size += len(body)
        if self.total_size > limit:
            raise RequestBodyTooLargeError(limit)
        if self.is_json:
            if not self.suspect and body:
                # An escape split across two chunks: "...\" then "u0000...".
                tail = self.chunks[-1][-1:] if self.chunks else b""
                self.suspect = b"\\u" in body or (tail == b"\\" and body[:1] == b"u")
            if body:
                self.chunks.append(body)
            if self.suspect and not message.get("more_body", False):
                whole = b"".join(self.chunks)
                self.chunks = []
                if has_invalid_text(whole):
                    raise InvalidTextError("body")
        return message

    async def send_with_limit(self, message: Message) -> None:
        if self.response_started:
            await self._send(message)  # type: ignore[misc]
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            if self.content_length is not None and self.content_length > self.max_body_size:
                # Whatever the app answered without reading the body, the declared
                # length alone is over the limit.
                response = body_too_large_response(self.max_body_size)
                await response(self.scope, self.receive, self.send)
                raise _ResponseSent
        await self.send(message)


class _ResponseSent(Exception):
    pass


_OURS: tuple[type[HTTPException], ...] = (RequestBodyTooLargeError, InvalidTextError)
# Starlette's own signal, raised by a route- or router-level limit nested inside ours.
_STARLETTES: tuple[type[HTTPException], ...] = (starlette_body_too_large_error(),)


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


# HTTP versions whose requests have a body only when a header announces it.
_FRAMED_BY_HEADERS = frozenset({"1.0", "1.1"})


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_body_size`` bytes (413) and bad JSON text (422).

    ``get_asgi_application()`` installs it from ``MAX_REQUEST_BODY_SIZE``, innermost of
    the ``MIDDLEWARE`` stack. Per request it reads the headers once; an HTTP/1.x request
    without a body (no ``Content-Length``, no ``Transfer-Encoding``) goes straight
    through, the others get the counting ``receive``.
    """

    def __init__(self, app: ASGIApp, max_body_size: int | None = 2_621_440) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            max_body_size: Largest request body in bytes; None: no limit (the JSON text
                check still runs).
        """
        if max_body_size is not None and (isinstance(max_body_size, bool) or max_body_size < 0):
            raise ValueError("max_body_size must be a non-negative integer or None")
        self.app = app
        self.max_body_size = max_body_size if max_body_size is not None else 2**63

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> BodySizeLimitMiddleware:
        """Build from ``MAX_REQUEST_BODY_SIZE``."""
        return cls(app, settings.MAX_REQUEST_BODY_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; HTTP requests go through the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        conflicting = False
        content_type = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                conflicting = conflicting or (declared is not None and value != declared)
                declared = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = True
        length: int | None = None
        if declared is not None:
            # uvicorn refuses these itself; another server (or a test client) may not, and
            # a length that is not one number must not bypass the count.
            if conflicting or not declared.isdigit():
                await invalid_content_length_response(declared)(scope, receive, send)
                return
            length = int(declared)
        if not length and not chunked and scope.get("http_version") in _FRAMED_BY_HEADERS:
            # HTTP/1.x without Content-Length or Transfer-Encoding: there is no body.
            await self.app(scope, receive, send)
            return
        is_json = bool(content_type) and _is_json(content_type)
        responder = _Responder(self.app, self.max_body_size, is_json)
        await responder.run(scope, receive, send, length)
