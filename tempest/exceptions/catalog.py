"""The error-message catalog: the ``detail`` of an error envelope in the client's language.

A :class:`MessageCatalog` maps a locale (``"pt-BR"``) to messages by key. The key of an
:class:`~tempest.exceptions.AppException` is its ``message_key``, or else its ``code``;
HTTP errors use ``http.<STATUS_NAME>`` (``http.NOT_FOUND``) and request validation errors
``validation.<pydantic error type>`` (``validation.missing``). Messages are
:meth:`str.format` templates filled from the exception's ``message_params`` (a validation
error's ``ctx``); a placeholder without a value is left as written, never an error.

Looking a message up tries the request's locale, then (when that is the language the
exception's own message is written in, English for tempest) the message itself, then the
catalog's default locale, then the message: a missing key is never an error.

:data:`default_message_catalog` holds tempest's messages in ``en-US`` and ``pt-BR``
(loaded on first use, from the JSON files next to this module) and the apps' own: each
installed app's ``locale/<locale>.json`` files are added when the app registry is ready.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tempest.exceptions.catalog_format import format_message
from tempest.utils.locale import DEFAULT_LOCALE, negotiate_locale, parse_accept_language

if TYPE_CHECKING:
    from tempest.exceptions.base import AppException

__all__ = [
    "DEFAULT_LOCALE",
    "MessageCatalog",
    "default_message_catalog",
    "format_message",
    "parse_accept_language",
]

SHIPPED_LOCALE_DIR = Path(__file__).with_name("locale")
"""The folder of tempest's own catalogs: ``en-US.json`` and ``pt-BR.json``."""

_TAG = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")
_NEGOTIATION_CACHE_SIZE = 1024
_FORMATTER = string.Formatter()


def canonical_locale(tag: str) -> str:
    """Spell a locale tag the BCP 47 way: ``pt_br`` -> ``pt-BR``, ``zh-hant`` -> ``zh-Hant``.

    Args:
        tag: A locale tag, such as a catalog file's name.

    Raises:
        ValueError: ``tag`` is not a locale tag.
    """
    if not isinstance(tag, str) or not _TAG.fullmatch(tag.strip()):
        raise ValueError(f"{tag!r} is not a locale tag such as 'pt-BR' or 'en'")
    language, *rest = tag.strip().replace("_", "-").split("-")
    parts = [language.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def _check_template(locale: str, key: str, template: object) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"catalog {locale}: message keys must be non-empty strings, not {key!r}")
    if not isinstance(template, str):
        raise TypeError(
            f"catalog {locale}: the message of {key!r} must be a string, "
            f"not {type(template).__name__}"
        )
    try:
        fields = [field for _, field, _, _ in _FORMATTER.parse(template) if field is not None]
    except ValueError as error:
        raise ValueError(
            f"catalog {locale}: the message of {key!r} is not a valid template ({error}); "
            "write a literal brace as {{ or }}"
        ) from None
    for field in fields:
        if not field.isidentifier():
            raise ValueError(
                f"catalog {locale}: the message of {key!r} has the placeholder {{{field}}}; "
                "placeholders are names, such as {limit}"
            )
    return template


def _template_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching what ``template`` reads once its fields are filled."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, _, _ in _FORMATTER.parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
        seen.add(field)
    return re.compile("".join(parts), re.DOTALL)


class MessageCatalog:
    """Messages by locale and key, with ``Accept-Language`` negotiation and fallbacks.

    Example:
        >>> catalog = MessageCatalog({"pt-BR": {"ORDER_NOT_FOUND": "Pedido {id} não existe"}})
        >>> catalog.translate("ORDER_NOT_FOUND", "pt-BR", {"id": 7}, default="Order 7 not found")
        'Pedido 7 não existe'
        >>> catalog.translate("ORDER_NOT_FOUND", "en-US", {"id": 7}, default="Order 7 not found")
        'Order 7 not found'

    Args:
        messages: Initial messages: ``{locale: {key: template}}``.
        default_locale: The locale used when the client's languages are all unknown.
        source_locale: The language the exceptions' own messages are written in.
    """

    def __init__(
        self,
        messages: Mapping[str, Mapping[str, str]] | None = None,
        *,
        default_locale: str = DEFAULT_LOCALE,
        source_locale: str = DEFAULT_LOCALE,
    ) -> None:
        self.default_locale = canonical_locale(default_locale)
        self.source_locale = canonical_locale(source_locale)
        self._messages: dict[str, dict[str, str]] = {self.default_locale: {}}
        self._messages.setdefault(self.source_locale, {})
        self._pending: list[Path] = []
        self._loaded: set[Path] = set()
        self._negotiated: dict[tuple[str, str], str] = {}
        self._patterns: dict[str, tuple[str, re.Pattern[str]]] = {}
        self._variant_index: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.RLock()
        for locale, entries in (messages or {}).items():
            self.add(locale, entries)

    # -- filling the catalog ------------------------------------------------------------

    def add(self, locale: str, messages: Mapping[str, str]) -> None:
        """Add (or replace) messages of one locale.

        Args:
            locale: The locale tag, in any spelling (``pt_br``, ``pt-BR``).
            messages: ``{key: template}``; templates use ``{name}`` placeholders.

        Raises:
            TypeError: A key or message is not a string.
            ValueError: The locale is not a locale tag, or a template is malformed.
        """
        tag = canonical_locale(locale)
        if not isinstance(messages, Mapping):
            raise TypeError(
                f"catalog {tag}: messages must be a mapping of key to text, "
                f"not {type(messages).__name__}"
            )
        checked = {key: _check_template(tag, key, text) for key, text in messages.items()}
        with self._lock:
            self._messages.setdefault(tag, {}).update(checked)
            self._negotiated.clear()
            self._variant_index.clear()

    def load_file(self, path: str | Path, locale: str | None = None) -> str:
        """Add the messages of a JSON file ``{"KEY": "message", ...}``.

        Args:
            path: The file; its name without ``.json`` is the locale unless given.
            locale: The locale of the file's messages.

        Returns:
            The locale the messages were added to.

        Raises:
            ImproperlyConfigured: The file cannot be read, or is not a JSON object of
                strings, or its name is not a locale tag.
        """
        from tempest.exceptions.framework import ImproperlyConfigured

        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            tag = canonical_locale(locale if locale is not None else file.stem)
            self.add(tag, data)
        except (OSError, ValueError, TypeError) as error:
            raise ImproperlyConfigured(
                f"Cannot load the message catalog {file}: {error}. A catalog is a JSON "
                'object of messages, {"ORDER_NOT_FOUND": "Pedido não encontrado"}, in a '
                "file named after its locale (pt-BR.json)."
            ) from None
        return tag

    def load_directory(self, path: str | Path, *, lazy: bool = False) -> None:
        """Add every ``<locale>.json`` file of a folder (an app's ``locale/``).

        Args:
            path: The folder; a folder that does not exist adds nothing.
            lazy: Read the files on the catalog's first use instead of now.

        Raises:
            ImproperlyConfigured: A file is not a valid catalog (when not lazy).
        """
        folder = Path(path).resolve()
        with self._lock:
            if folder in self._loaded or folder in self._pending:
                return
            self._pending.append(folder)
        if not lazy:
            self._load_pending()

    def _load_pending(self) -> None:
        with self._lock:
            while self._pending:
                folder = self._pending.pop(0)
                self._loaded.add(folder)
                if folder.is_dir():
                    for file in sorted(folder.glob("*.json")):
                        self.load_file(file)

    def prepare(self) -> None:
        """Read every catalog file still pending; called at start-up, not per request."""
        if self._pending:
            self._load_pending()

    # -- reading it -----------------------------------------------------------------------

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales that have messages, the default locale first."""
        self.prepare()
        others = sorted(tag for tag in self._messages if tag != self.default_locale)
        return (self.default_locale, *others)

    def messages(self, locale: str) -> dict[str, str]:
        """A copy of one locale's messages (empty for an unknown locale)."""
        self.prepare()
        return dict(self._messages.get(locale, {}))

    def get(self, key: str, locale: str) -> str | None:
        """The template of ``key`` in exactly ``locale``, or None."""
        self.prepare()
        entries = self._messages.get(locale)
        return None if entries is None else entries.get(key)

    def negotiate(self, accept_language: str | None, default: str | None = None) -> str:
        """The catalog locale a client prefers, from its ``Accept-Language``; never raises.

        Args:
            accept_language: The header's value, or None.
            default: The locale when nothing matches (the catalog's default if None).

        Returns:
            One of :attr:`locales`, or ``default``.
        """
        fallback = self.default_locale if default is None else default
        if not isinstance(accept_language, str) or not accept_language:
            return fallback
        cache_key = (accept_language, fallback)
        found = self._negotiated.get(cache_key)
        if found is None:
            locales = self.locales
            supported = locales if fallback in locales else (*locales, fallback)
            try:
                found = negotiate_locale(accept_language, supported, fallback)
            except (TypeError, ValueError):
                found = fallback
            if len(self._negotiated) >= _NEGOTIATION_CACHE_SIZE:
                self._negotiated.clear()
            self._negotiated[cache_key] = found
        return found

    def translate(
        self,
        key: str | None,
        locale: str,
        params: Mapping[str, Any] | None = None,
        *,
        default: str | None = None,
        default_locale: str | None = None,
    ) -> str | None:
        """The message of ``key`` for ``locale``, with its fallbacks; never raises.

        Tries ``locale``; then ``default`` when ``locale`` is the catalog's source locale
        (the language ``default`` is written in); then ``default_locale``; then
        ``default``.

        Args:
            key: The message key; None looks nothing up.
            locale: The locale the client asked for.
            params: Values of the template's placeholders.
            default: The message to fall back on (the exception's own).
            default_locale: The fallback locale (the catalog's default if None).

        Returns:
            The message, or ``default`` (None when nothing matched and no default).
        """
        if key is not None:
            self.prepare()
            entries = self._messages.get(locale)
            template = entries.get(key) if entries is not None else None
            if template is not None:
                return format_message(template, params)
            if default is not None and locale == self.source_locale:
                return default
            fallback = self._messages.get(default_locale or self.default_locale)
            template = fallback.get(key) if fallback is not None else None
            if template is not None:
                return format_message(template, params)
        return default

    def exception_key(self, exc: AppException) -> str | None:
        """The key ``exc`` is translated by, or None when its message has no translation.

        An explicit ``message_key`` always counts. Otherwise the key is the ``code``, or
        one of its variants ``CODE:name``, whose source-locale message reads what the
        exception says (a placeholder reading anything, its value then filling the
        translation); or the ``code`` when no source-locale message exists and the
        exception kept its class's message. ``NotFoundException("Order 7 not found")``
        keeps its own words.

        Args:
            exc: The exception.
        """
        return self._resolve(exc)[0]

    def _resolve(self, exc: AppException) -> tuple[str | None, dict[str, Any]]:
        params: dict[str, Any] = dict(getattr(exc, "message_params", None) or {})
        explicit: str | None = getattr(exc, "message_key", None)
        if explicit:
            return explicit, params
        code = exc.code
        source = self.get(code, self.source_locale)
        if source == exc.message:
            return code, params
        for key, text in self._variants(code, source):
            found = self._match_source(key, text, exc.message)
            if found is not None:
                return key, {**found, **params}
        if source is None and exc.message == type(exc).message:
            return code, params
        return None, params

    def _variants(self, code: str, source: str | None) -> list[tuple[str, str]]:
        """The source-locale messages of ``code``: its own, then ``CODE:variant`` ones."""
        found = self._variant_index.get(code)
        if found is None:
            prefix = code + ":"
            entries = self._messages.get(self.source_locale, {})
            found = [(key, text) for key, text in entries.items() if key.startswith(prefix)]
            self._variant_index[code] = found
        return found if source is None else [(code, source), *found]

    def _match_source(self, key: str, source: str, message: str) -> dict[str, str] | None:
        """The placeholder values that make the template ``source`` read ``message``."""
        if source == message:
            return {}
        if "{" not in source:
            return None
        pattern = self._patterns.get(key)
        if pattern is None or pattern[0] != source:
            pattern = (source, _template_pattern(source))
            self._patterns[key] = pattern
        match = pattern[1].fullmatch(message)
        return None if match is None else match.groupdict()

    def translate_exception(
        self, exc: AppException, locale: str, *, default_locale: str | None = None
    ) -> str:
        """The ``detail`` of ``exc``'s envelope in ``locale``.

        Args:
            exc: The exception.
            locale: The negotiated locale.
            default_locale: The fallback locale (the catalog's default if None).
        """
        key, params = self._resolve(exc)
        text = self.translate(
            key, locale, params, default=exc.message, default_locale=default_locale
        )
        return exc.message if text is None else text

    def missing(self, keys: Iterable[str], locale: str) -> list[str]:
        """The keys among ``keys`` that ``locale`` has no message for."""
        self.prepare()
        entries = self._messages.get(locale, {})
        return [key for key in keys if key not in entries]

    def __repr__(self) -> str:
        return f"MessageCatalog(locales={list(self._messages)!r}, default={self.default_locale!r})"


default_message_catalog = MessageCatalog()
"""The process-wide catalog: tempest's ``en-US`` and ``pt-BR`` messages and the apps'."""
default_message_catalog.load_directory(SHIPPED_LOCALE_DIR, lazy=True)
