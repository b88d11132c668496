"""Error envelopes in the client's language: the request side of the message catalog.

:func:`~tempest.api.register_exception_handlers` installs an :class:`ErrorMessages` on the
application (its catalog and default locale); every envelope tempest writes then passes
through :func:`localize_envelope`, which negotiates the request's ``Accept-Language``
(one cached dictionary lookup per header value) and translates the ``detail`` and each
validation error's ``msg``. An application without it answers in English, as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tempest.exceptions.base import AppException
from tempest.exceptions.catalog import MessageCatalog, canonical_locale
from tempest.exceptions.catalog_format import format_message

__all__ = [
    "ErrorMessages",
    "LocalizedErrorResponse",
    "error_messages_for",
    "install_error_messages",
    "localize_envelope",
    "localize_exception",
    "localized_body",
]

_STATE_NAME = "tempest_error_messages"
# Validation messages say "1 character" and "2 characters": pydantic works the plural out
# from these context values and leaves it out of the ctx, so it is worked out here too.
_COUNTS = ("min_length", "max_length", "max_digits", "whole_digits", "decimal_places")


@dataclass(frozen=True, slots=True)
class ErrorMessages:
    """The catalog and default locale an application's error envelopes are written with.

    Attributes:
        catalog: Where the messages come from.
        default_locale: The locale for a client whose languages are all unknown.
    """

    catalog: MessageCatalog
    default_locale: str

    def locale_for(self, scope: Scope) -> str:
        """The locale of the request's ``Accept-Language`` (the default when unknown)."""
        header: str | None = None
        for name, value in scope.get("headers") or ():
            if name == b"accept-language":
                header = value.decode("latin-1")
                break
        return self.catalog.negotiate(header, self.default_locale)

    def translate(
        self, key: str | None, locale: str, params: Mapping[str, Any] | None, message: str
    ) -> str:
        """The message of ``key`` in ``locale``, ``message`` when there is none."""
        text = self.catalog.translate(
            key, locale, params, default=message, default_locale=self.default_locale
        )
        return message if text is None else text

    def validation_errors(self, errors: list[Any], locale: str) -> list[Any]:
        """Each validation error with its ``msg`` translated by its ``type``."""
        translated: list[Any] = []
        for error in errors:
            if isinstance(error, dict) and isinstance(error.get("msg"), str):
                kind = error.get("type")
                params = _validation_params(error.get("ctx"))
                key = f"validation.{kind}" if isinstance(kind, str) else None
                msg = self.translate(key, locale, params, error["msg"])
                if msg != error["msg"]:
                    error = {**error, "msg": msg}
            translated.append(error)
        return translated


def _validation_params(ctx: Any) -> dict[str, Any]:
    params: dict[str, Any] = dict(ctx) if isinstance(ctx, Mapping) else {}
    for name in _COUNTS:
        if name in params and "expected_plural" not in params:
            params["expected_plural"] = "" if params[name] == 1 else "s"
            break
    return params


def install_error_messages(
    app: Any, catalog: MessageCatalog, default_locale: str | None = None
) -> ErrorMessages:
    """Make ``app``'s error envelopes speak the request's language, from ``catalog``.

    The catalog's pending files are read now, not on a request.

    Args:
        app: The Starlette or FastAPI application.
        catalog: The message catalog.
        default_locale: The locale for unknown languages (the catalog's default if None).

    Returns:
        What was installed.

    Raises:
        ValueError: ``default_locale`` is not a locale tag.
        ImproperlyConfigured: A catalog file is broken.
    """
    catalog.prepare()
    locale = canonical_locale(default_locale) if default_locale else catalog.default_locale
    messages = ErrorMessages(catalog, locale)
    setattr(app.state, _STATE_NAME, messages)
    return messages


def error_messages_for(scope: Scope) -> ErrorMessages | None:
    """The :class:`ErrorMessages` of the application serving ``scope``, if installed."""
    state = getattr(scope.get("app"), "state", None)
    found: ErrorMessages | None = getattr(state, _STATE_NAME, None)
    return found


def localize_envelope(
    scope: Scope,
    content: dict[str, Any],
    key: str | None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``{detail, code, details}`` envelope in the request's language.

    Args:
        scope: The request's ASGI scope.
        content: The envelope, in English.
        key: The catalog key of its ``detail`` (None leaves the detail as it is).
        params: Values of the message's placeholders.

    Returns:
        The translated envelope (``content`` itself when nothing changes).
    """
    messages = error_messages_for(scope)
    if messages is None:
        return content
    locale = messages.locale_for(scope)
    detail = content.get("detail")
    result = content
    if isinstance(detail, str) and key is not None:
        text = messages.translate(key, locale, params, detail)
        if text != detail:
            result = {**result, "detail": text}
    details = content.get("details")
    errors = details.get("errors") if isinstance(details, dict) else None
    if isinstance(errors, list) and isinstance(details, dict):
        result = {
            **result,
            "details": {**details, "errors": messages.validation_errors(errors, locale)},
        }
    return result


def localize_exception(scope: Scope, exc: AppException) -> dict[str, Any]:
    """``exc``'s envelope with its ``detail`` in the request's language.

    The key is the exception's ``message_key``, else its ``code`` when its message is
    the catalog's (see :meth:`~tempest.exceptions.MessageCatalog.exception_key`).

    Args:
        scope: The request's ASGI scope.
        exc: The exception.
    """
    envelope = exc.to_dict()
    messages = error_messages_for(scope)
    if messages is not None:
        locale = messages.locale_for(scope)
        envelope["detail"] = messages.catalog.translate_exception(
            exc, locale, default_locale=messages.default_locale
        )
        _translate_problems(messages, locale, envelope)
    return envelope


def _translate_problems(messages: ErrorMessages, locale: str, envelope: dict[str, Any]) -> None:
    """Translate a list of problems, ``details.errors`` of ``{code, message, **params}``.

    A problem's message is translated by its ``code`` when it reads the catalog's own
    message (a validator's custom words are kept); a ``detail`` made of the problems'
    messages joined by spaces (``PASSWORD_INVALID``) is joined again from the
    translations.
    """
    details = envelope.get("details")
    problems = details.get("errors") if isinstance(details, dict) else None
    if not isinstance(details, dict) or not isinstance(problems, list) or not problems:
        return
    source = messages.catalog.messages(messages.catalog.source_locale)
    entries: list[Any] = []
    originals: list[str] = []
    translations: list[str] = []
    for entry in problems:
        code = entry.get("code") if isinstance(entry, dict) else None
        message = entry.get("message") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and isinstance(code, str) and isinstance(message, str):
            params = {name: value for name, value in entry.items() if name not in _PROBLEM_KEYS}
            key = _problem_key(source, code, message, params)
            text = message if key is None else messages.translate(key, locale, params, message)
            if text != message:
                entry = {**entry, "message": text}
            originals.append(message)
            translations.append(text)
        entries.append(entry)
    if translations == originals:
        return
    envelope["details"] = {**details, "errors": entries}
    if envelope.get("detail") == " ".join(originals):
        envelope["detail"] = " ".join(translations)


_PROBLEM_KEYS = frozenset({"code", "message"})


def _problem_key(
    source: Mapping[str, str], code: str, message: str, params: Mapping[str, Any]
) -> str | None:
    """The key (``code`` or a ``code:variant``) whose source message reads ``message``.

    A message written word for word wins over one whose placeholders the problem's
    params fill (``PASSWORD_TOO_SIMILAR:first_name`` before ``PASSWORD_TOO_SIMILAR``).
    """
    keys = [key for key in source if key == code or key.startswith(code + ":")]
    for key in keys:
        if source[key] == message:
            return key
    for key in keys:
        if "{" in source[key] and format_message(source[key], params) == message:
            return key
    return None


def _render(content: Any) -> bytes:
    """JSON bytes the way :class:`~starlette.responses.JSONResponse` writes them."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def localized_body(
    scope: Scope,
    envelope: dict[str, Any],
    key: str | None,
    params: Mapping[str, Any] | None = None,
    *,
    english: bytes | None = None,
) -> bytes:
    """The JSON body of ``envelope`` in the request's language, for a middleware's answer.

    For middleware that sends its refusal with raw ASGI messages (the rate limit's 429,
    the allowed hosts' 400).

    Args:
        scope: The request's ASGI scope.
        envelope: The ``{detail, code, details}`` envelope, in English.
        key: The catalog key of its ``detail``.
        params: Values of the message's placeholders.
        english: ``envelope`` already rendered, returned when nothing is translated.

    Returns:
        UTF-8 JSON.
    """
    translated = localize_envelope(scope, envelope, key, params)
    if translated is envelope and english is not None:
        return english
    return _render(translated)


class LocalizedErrorResponse(JSONResponse):
    """An envelope response built where no request is at hand (a middleware's 413).

    It is written in English and translated when sent, from the scope it is sent for.

    Args:
        content: The ``{detail, code, details}`` envelope, in English.
        message_key: The catalog key of its ``detail``.
        message_params: Values of the message's placeholders.
        status_code: The HTTP status.
        headers: Extra headers.
    """

    def __init__(
        self,
        content: dict[str, Any],
        *,
        message_key: str | None,
        message_params: Mapping[str, Any] | None = None,
        status_code: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, status_code=status_code, headers=headers)
        self.envelope = content
        self.message_key = message_key
        self.message_params = dict(message_params) if message_params else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Translate the body for ``scope``'s request, then send it.

        The response itself is left as built: one instance may answer many requests
        (a middleware's ready-made refusal), each in its own language.
        """
        translated = localize_envelope(scope, self.envelope, self.message_key, self.message_params)
        if translated is self.envelope:
            await super().__call__(scope, receive, send)
            return
        body = self.render(translated)
        response = Response(body, status_code=self.status_code, background=self.background)
        response.raw_headers = [
            *((name, value) for name, value in self.raw_headers if name != b"content-length"),
            (b"content-length", str(len(body)).encode("latin-1")),
        ]
        await response(scope, receive, send)
