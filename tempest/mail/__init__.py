"""Transactional email: the SMTP sender, its templates and locale negotiation.

Importing this package is cheap: aiosmtplib and Jinja2 are imported when a message is
first sent or rendered.
"""

from tempest.mail.errors import EmailError, EmailTemplateNotFound
from tempest.mail.locale import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    negotiate_locale,
    normalize_locale,
)
from tempest.mail.sender import EmailUtils
from tempest.mail.templates import EmailTemplates, RenderedEmail

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "EmailError",
    "EmailTemplateNotFound",
    "EmailTemplates",
    "EmailUtils",
    "RenderedEmail",
    "negotiate_locale",
    "normalize_locale",
]
