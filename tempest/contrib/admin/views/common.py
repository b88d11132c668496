"""What the admin's pages share: their errors, the signed-in visit, form reading.

The names here are the views package's own; the package exports only ``AdminViews``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from starlette.requests import Request

from tempest.api.security_headers import page_security_headers
from tempest.contrib.admin.forms import FormField
from tempest.contrib.admin.options import AdminModel
from tempest.contrib.admin.sessions import AdminSession
from tempest.contrib.admin.sites import AdminSite

PAGE_HEADERS = page_security_headers()
"""The security headers of every admin page."""

STORE_DOWN = (
    "The admin cannot check whether this session was signed out: the store of signed-out "
    "sessions (ADMIN_REVOKED_SESSIONS_URL) cannot be reached. Try again in a moment."
)
"""The 503 message when the store of signed-out sessions cannot be reached."""

NUL_MESSAGE = "The text contains a NUL character (\\0), which cannot be stored."
"""The 400 message for text holding a NUL character."""

_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_MAX_FORM_BYTES = 1_000_000


class Redirect(Exception):
    """Send the browser elsewhere (303), usually to sign-in."""

    def __init__(self, url: str) -> None:
        """Redirect to ``url``."""
        self.url = url


class Problem(Exception):
    """Answer with the admin's error page."""

    def __init__(self, status: int, message: str) -> None:
        """Show ``message`` with the HTTP ``status``."""
        self.status = status
        self.message = message


@dataclass(slots=True)
class Visit:
    """The signed-in operator of a request."""

    principal: Any
    session: AdminSession
    name: str
    versioned: bool = False  # the backend keeps session versions: "Sign out everywhere" works


@dataclass(slots=True)
class ModelInfo:
    """What the views prepared about one registered model."""

    admin: AdminModel
    fields: list[FormField]
    fk_targets: dict[str, tuple[type[Any], Any, str]]
    sortable: set[str]
    has_audit: bool
    has_active: bool
    bulk_actions: tuple[str, ...] = ()  # the bulk actions allowed; none: no ticks, no menu


async def read_form(request: Request) -> bytes:
    """The form body, refused (413) past ``_MAX_FORM_BYTES`` while it streams in.

    A declared ``Content-Length`` over the limit is refused before reading anything.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_FORM_BYTES:
        raise Problem(413, "The form is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            raise Problem(413, "The form is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def refuse_nul(items: Iterable[tuple[str, Any]]) -> None:
    """A 400 page when a form or query field (name or value) holds a NUL character."""
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        if "\x00" in key or any("\x00" in item for item in values):
            raise Problem(400, NUL_MESSAGE)


def load_static(site: AdminSite) -> tuple[dict[str, tuple[bytes, str, str]], str]:
    """The static files by name (body, media type, ETag), and a version of them all.

    The version goes into the pages' asset URLs, so a browser fetches changed files.
    """
    folder = files("tempest.contrib.admin").joinpath("static/admin")
    result: dict[str, tuple[bytes, str, str]] = {}
    for name in ("admin.css", "admin.js", "htmx.min.js"):
        body = folder.joinpath(name).read_bytes()
        result[name] = (body, _STATIC_TYPES[name[name.rindex(".") :]], "")
    result["theme.css"] = (site.theme.css().encode(), _STATIC_TYPES[".css"], "")
    digest = hashlib.sha256()
    for name, (body, media_type, _) in list(result.items()):
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        result[name] = (body, media_type, etag)
        digest.update(body)
    return result, digest.hexdigest()[:12]


def local_target(target: str, home: str) -> bool:
    """Whether ``target`` is a path under ``home`` of this site (no open redirect)."""
    return (
        target.startswith(home)
        and not target.startswith("//")
        and "\\" not in target
        and all(ord(char) > 31 for char in target)
    )


def primary_key(info: ModelInfo, raw: str) -> Any:
    """``raw`` (from a URL or a form) as the model's id; a 404 page when it cannot be one."""
    column = info.admin.columns["id"]
    from sqlalchemy import Integer, Uuid

    try:
        if isinstance(column.type, Uuid):
            return uuid.UUID(raw)
        if isinstance(column.type, Integer):
            return int(raw)
    except ValueError:
        raise Problem(404, f"No {info.admin.verbose_name} with id {raw}.") from None
    return raw
