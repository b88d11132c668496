"""Transactional email: the sender, its backends, templates and locale negotiation.

Importing this package is cheap: aiosmtplib and Jinja2 are imported when a message is
first sent or rendered. ``outbox`` holds what the memory backend (``EMAIL_BACKEND=memory``,
used by the project pytest plugin) "sent", as ``django.core.mail.outbox``; the backends
are in :mod:`tempest.mail.backends`.
"""

from tempest.mail.backends import SentEmail as SentEmail, outbox as outbox
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
