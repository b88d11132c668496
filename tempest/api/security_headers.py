"""Security headers of the HTML pages tempest serves itself: the admin and the auth pages.

One definition, so that every page that can hold a secret (a session's CSRF token, an
emailed activation or password-reset token) gets the same protection: no framing
(clickjacking), no MIME sniffing, no caching, a Content-Security-Policy that runs only the
page's own scripts and styles, and a referrer policy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

__all__ = ["SECURITY_HEADERS", "csp_hash", "page_security_headers"]

_BASE_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": _BASE_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Headers of every response of an HTML app (pages and their static files)."""


def csp_hash(source: str) -> str:
    """The CSP source expression (``'sha256-...'``) that allows one inline script or style.

    Args:
        source: The exact text between the ``<script>`` (or ``<style>``) tags.
    """
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def page_security_headers(
    *,
    referrer_policy: str = "same-origin",
    inline_scripts: Iterable[str] = (),
    inline_styles: Iterable[str] = (),
) -> dict[str, str]:
    """The headers of an HTML page: :data:`SECURITY_HEADERS` plus ``Cache-Control: no-store``.

    Args:
        referrer_policy: ``no-referrer`` for a page whose URL carries a token.
        inline_scripts: Inline ``<script>`` texts the page needs; allowed by hash only.
        inline_styles: Inline ``<style>`` texts the page needs; allowed by hash only.

    Returns:
        A new dict of header names to values.
    """
    policy = _BASE_POLICY
    scripts = [csp_hash(text) for text in inline_scripts]
    styles = [csp_hash(text) for text in inline_styles]
    if scripts:
        policy += "; script-src 'self' " + " ".join(scripts)
    if styles:
        policy += "; style-src 'self' " + " ".join(styles)
    return {
        **SECURITY_HEADERS,
        "Content-Security-Policy": policy,
        "Referrer-Policy": referrer_policy,
        "Cache-Control": "no-store",
    }
