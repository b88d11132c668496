"""Locale tags: normalising a spelling, parsing and negotiating ``Accept-Language``.

The one locale mechanism of tempest: the error-message catalog
(:mod:`tempest.exceptions.catalog`), emails and the auth pages all negotiate with
:func:`negotiate_locale`. :func:`normalize_locale` and :func:`negotiate_locale` always
answer with one of the supported locales, spelled the supported way (``"pt-BR"``), so
the result can name a template folder directly. User input never
raises: an unknown or malformed value gives the default. Only programmer mistakes (a
default that is not supported, a value of the wrong type) raise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "negotiate_locale",
    "normalize_locale",
    "parse_accept_language",
]

SUPPORTED_LOCALES: tuple[str, ...] = ("en-US", "pt-BR")
"""The locales tempest ships error messages, emails and pages in."""

DEFAULT_LOCALE = "en-US"
"""The locale used when nothing better is known."""

# RFC 9110 language-range: "*" or 1-8 letters followed by "-" and 1-8 alphanumerics.
_LANGUAGE_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
# RFC 9110 qvalue: 0, 1, 0.xxx or 1.000.
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# A header is read up to this many characters and ranges; the rest is ignored (a real
# browser sends a handful of ranges, a hostile client may send thousands).
_MAX_HEADER_LENGTH = 4096
_MAX_RANGES = 64


def _resolve_supported(supported: Sequence[str], default: str) -> tuple[tuple[str, ...], str]:
    """Check the programmer's choices and return them with the default spelled as supported."""
    if isinstance(supported, str):
        raise TypeError("supported must be a sequence of locale tags such as ('en-US', 'pt-BR')")
    locales = tuple(supported)
    if not locales:
        raise ValueError("supported must name at least one locale, e.g. ('en-US', 'pt-BR')")
    wanted = default.replace("_", "-").lower()
    for locale in locales:
        if locale.lower() == wanted:
            return locales, locale
    raise ValueError(
        f"default {default!r} is not one of the supported locales {locales!r}: "
        "pass one of them as default, or add it to supported"
    )


def _split_tag(value: str) -> tuple[str, str | None]:
    """Split ``"pt_BR.UTF-8"`` into ``("pt", "br")``; an empty language means unusable."""
    tag = re.split(r"[.@]", value.strip(), maxsplit=1)[0].replace("_", "-").lower()
    parts = tag.split("-")
    language = parts[0] if parts[0].isalpha() and 2 <= len(parts[0]) <= 8 else ""
    region = parts[1] if len(parts) > 1 and parts[1] else None
    return language, region


def _match(tag: str, locales: tuple[str, ...]) -> str | None:
    """The supported locale for ``tag``: same tag first, then same language."""
    language, region = _split_tag(tag)
    if not language:
        return None
    if region is not None:
        exact = f"{language}-{region}"
        for locale in locales:
            if locale.lower() == exact:
                return locale
    for locale in locales:
        if _split_tag(locale)[0] == language:
            return locale
    return None


def _refuses(language_range: str, locale: str) -> bool:
    """Whether a ``q=0`` range rules out ``locale``: same tag, or a bare same language."""
    language, region = _split_tag(language_range)
    if region is None:
        return language == _split_tag(locale)[0]
    return language_range.replace("_", "-").lower() == locale.lower()


def normalize_locale(
    value: str | None,
    *,
    default: str = DEFAULT_LOCALE,
    supported: Sequence[str] = SUPPORTED_LOCALES,
) -> str:
    """Map any spelling of a locale to one of the supported locales.

    Case, ``_`` versus ``-`` and an encoding suffix do not matter; a bare language or a
    region that is not supported picks the supported locale of that language.

    Example:
        >>> normalize_locale("pt_br"), normalize_locale("pt"), normalize_locale("en_us")
        ('pt-BR', 'pt-BR', 'en-US')
        >>> normalize_locale("fr")
        'en-US'

    Args:
        value: The locale as a user, a setting or a database column spells it.
        default: Returned when ``value`` is empty or names no supported language.
        supported: The locales to choose from.

    Returns:
        One of ``supported``, spelled as it is spelled there.

    Raises:
        TypeError: ``value`` is neither a string nor None.
        ValueError: ``default`` is not one of ``supported``, or ``supported`` is empty.
    """
    locales, fallback = _resolve_supported(supported, default)
    if value is None:
        return fallback
    if not isinstance(value, str):
        raise TypeError(f"locale must be a string or None, not {type(value).__name__}")
    return _match(value, locales) or fallback


def _parse_accept_language(header: str) -> list[tuple[str, float]]:
    """The header's language ranges with their quality, best first; malformed ones dropped."""
    ranges: list[tuple[str, float]] = []
    for item in header[:_MAX_HEADER_LENGTH].split(",", _MAX_RANGES)[:_MAX_RANGES]:
        language_range, *parameters = (part.strip() for part in item.split(";"))
        if not _LANGUAGE_RANGE.fullmatch(language_range):
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, raw = parameter.partition("=")
            if name.strip().lower() != "q":
                continue
            raw = raw.strip()
            quality = float(raw) if _QVALUE.fullmatch(raw) else -1.0
        if quality >= 0:
            ranges.append((language_range, quality))
    # sorted() is stable: ranges of equal quality keep the client's order.
    return sorted(ranges, key=lambda pair: pair[1], reverse=True)


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges an ``Accept-Language`` header accepts, most preferred first.

    Ranges are ordered by quality value (RFC 9110), the client's order breaking ties;
    ranges with ``q=0`` (not acceptable) and malformed ones are left out, and only the
    first 64 ranges of the first 4096 characters are read. Never raises: anything that
    is not a string gives an empty list.

    Example:
        >>> parse_accept_language("en;q=0.8, pt-BR, pt;q=0.9, fr;q=0")
        ['pt-BR', 'pt', 'en']
        >>> parse_accept_language("garbage;;q=x, ,")
        []

    Args:
        header: The header's value, or None when the request had none.

    Returns:
        The acceptable language ranges as the client spelled them (``*`` included).
    """
    if not isinstance(header, str):
        return []
    return [language_range for language_range, quality in _parse_accept_language(header) if quality]


def negotiate_locale(
    accept_language: str | None,
    supported: Sequence[str] = SUPPORTED_LOCALES,
    default: str = DEFAULT_LOCALE,
) -> str:
    """Pick the supported locale a client prefers, from an ``Accept-Language`` header.

    Ranges are tried by quality value (RFC 9110), the client's order breaking ties. A
    range matches a supported locale with the same tag, or else one of the same language
    (``pt`` and ``pt-PT`` both pick ``pt-BR``). ``q=0`` marks a language as not
    acceptable; ``*`` accepts any. Malformed ranges are ignored.

    Example:
        >>> negotiate_locale("pt-BR,pt;q=0.9,en;q=0.8")
        'pt-BR'
        >>> negotiate_locale("fr-CA, en;q=0.5")
        'en-US'

    Args:
        accept_language: The header's value, or None when the request had none.
        supported: The locales to choose from.
        default: Returned when no range matches.

    Returns:
        One of ``supported``.

    Raises:
        TypeError: ``accept_language`` is neither a string nor None.
        ValueError: ``default`` is not one of ``supported``, or ``supported`` is empty.
    """
    locales, fallback = _resolve_supported(supported, default)
    if accept_language is None:
        return fallback
    if not isinstance(accept_language, str):
        raise TypeError(
            f"accept_language must be a string or None, not {type(accept_language).__name__}"
        )
    ranges = _parse_accept_language(accept_language)
    refused = {
        locale
        for language_range, quality in ranges
        if quality == 0
        for locale in locales
        if _refuses(language_range, locale)
    }
    for language_range, quality in ranges:
        if quality == 0:
            break
        if language_range == "*":
            acceptable = [fallback, *(locale for locale in locales if locale != fallback)]
            for locale in acceptable:
                if locale not in refused:
                    return locale
            continue
        match = _match(language_range, locales)
        if match is not None and match not in refused:
            return match
    return fallback
