"""Locale tags for emails and pages: the names of :mod:`tempest.utils.locale`, kept here.

Emails, the auth pages and the error-message catalog share one negotiation mechanism,
:func:`tempest.utils.locale.negotiate_locale`; this module re-exports it under the names
``tempest.mail`` has always offered.
"""

from __future__ import annotations

from tempest.utils.locale import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    negotiate_locale,
    normalize_locale,
    parse_accept_language,
)

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "negotiate_locale",
    "normalize_locale",
    "parse_accept_language",
]
