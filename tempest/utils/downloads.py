"""``DownloadUtils``: serve stored files through an endpoint, behind its auth checks.

:meth:`DownloadUtils.file_response` returns a response that, when sent, stats the key
in its storage and streams it: one ``Range`` gives a 206 (several ranges or a malformed or
unsatisfiable one give a 416 with ``Content-Range: bytes */SIZE``), ``If-None-Match``
matching the ETag gives a 304, ``If-Range`` is honoured, ``HEAD`` sends the headers only.
An unsafe key (``../``, absolute, a symlink out of the root...) is a 404, the same as a
missing file. It builds on Starlette's ``StreamingResponse`` (disconnects stop the read);
Starlette's ``FileResponse`` serves a path, answers several ranges as
``multipart/byteranges`` and does not answer ``If-None-Match``, and it reopens the path
after the check, hence a response of our own over the storage.

:func:`build_content_disposition` writes RFC 6266 / RFC 5987 headers: an ASCII
``filename=`` fallback plus ``filename*=UTF-8''...`` for any other name.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import Response, StreamingResponse

from tempest.storage.base import UploadStorage, as_storage, checked_key
from tempest.utils.filenames import sanitize_filename, split_extension

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from tempest.storage.base import ObjectStat

__all__ = ["DownloadUtils", "StorageFileResponse", "build_content_disposition"]

# Types a browser would run when shown inline: always served as attachments.
_NEVER_INLINE = re.compile(
    r"^(text/html|application/xhtml\+xml|image/svg\+xml|text/xml|application/xml"
    r"|text/javascript|application/javascript|application/x-msdownload)",
)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def build_content_disposition(filename: str, *, as_attachment: bool = True) -> str:
    """A ``Content-Disposition`` value that every browser reads right, whatever the name.

    The name is sanitized first (no folders, quotes become ``_``, no control characters,
    so no header injection). ASCII names are sent as ``filename="..."``; other names get an
    ASCII approximation there plus the exact name as ``filename*=UTF-8''<percent-encoded>``
    (RFC 5987), which current browsers prefer.

    Args:
        filename: The name the client should save the file under.
        as_attachment: ``attachment`` (a download) or ``inline`` (shown in the browser).

    Returns:
        E.g. ``attachment; filename="relatorio.pdf"; filename*=UTF-8''relat%C3%B3rio.pdf``.
    """
    kind = "attachment" if as_attachment else "inline"
    name = sanitize_filename(filename, default="download").replace('"', "_")
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^\x20-\x7e]|[\\\"%;]", "_", fallback).strip() or "download"
    extension = split_extension(name)[1]
    fallback_stem = fallback.rsplit(".", 1)[0] if "." in fallback else fallback
    if not fallback_stem.strip("_ ."):
        fallback = "download" + (f".{extension}" if extension else "")
    if fallback == name:
        return f'{kind}; filename="{name}"'
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as ``If-None-Match`` requires."""
    if header.strip() == "*":
        return True
    strip = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == strip for tag in header.split(","))


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range ``[start, end)`` a ``Range`` header asks for.

    Args:
        header: E.g. ``bytes=0-99``, ``bytes=500-``, ``bytes=-200``.
        size: The file's size.

    Returns:
        ``(start, end)`` with ``end`` exclusive, or None when the header is malformed, asks
        for several ranges or for nothing inside the file (the caller answers 416).
    """
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None or size == 0:
        return None
    first, last = found.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        suffix = int(last)
        return (max(size - suffix, 0), size) if suffix > 0 else None
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        return None
    return start, end


class StorageFileResponse(Response):
    """A stored file, streamed; answers ``Range``, ``If-None-Match`` and ``HEAD`` itself."""

    def __init__(
        self,
        storage: UploadStorage,
        key: str,
        *,
        filename: str | None = None,
        as_attachment: bool = True,
        media_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare the response; nothing is read until it is sent.

        Args:
            storage: Where the file is.
            key: Its key (checked now: an unsafe key raises the 404 at once).
            filename: The download's name; defaults to the key's last part.
            as_attachment: ``attachment`` or ``inline`` (HTML, SVG and other active types
                are always attachments).
            media_type: Overrides the type (else the storage's, else guessed by name).
            headers: Extra headers.
        """
        self.storage = storage
        self.key = checked_key(key)
        self.filename = filename
        self.as_attachment = as_attachment
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    def _response_headers(self, stat: ObjectStat) -> dict[str, str]:
        name = self.filename or self.key.rsplit("/", 1)[-1]
        media_type = (
            self.media_type
            or stat.content_type
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )
        inline = not self.as_attachment and not _NEVER_INLINE.match(media_type)
        headers = {
            "content-type": media_type,
            "accept-ranges": "bytes",
            "etag": stat.etag,
            "last-modified": format_datetime(stat.last_modified, usegmt=True),
            "content-disposition": build_content_disposition(name, as_attachment=not inline),
            "x-content-type-options": "nosniff",
            "cache-control": "private, no-cache",
        }
        headers.update({key.lower(): value for key, value in self.headers.items()})
        headers.pop("content-length", None)
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stat, negotiate (304 / 206 / 416) and stream."""
        stat = await self.storage.stat(self.key)
        headers = self._response_headers(stat)
        request = Headers(scope=scope)
        method = scope.get("method", "GET").upper()
        match = request.get("if-none-match")
        if method in ("GET", "HEAD") and match and _etag_matches(match, stat.etag):
            keep = ("etag", "last-modified", "cache-control", "content-disposition")
            not_modified = Response(status_code=304, headers={key: headers[key] for key in keep})
            await not_modified(scope, receive, send)
            return
        start, end, status = 0, stat.size, 200
        wanted = request.get("range")
        if_range = request.get("if-range")
        if wanted and method == "GET" and (if_range is None or if_range == stat.etag):
            chosen = parse_range(wanted, stat.size)
            if chosen is None:
                await Response(status_code=416, headers={"content-range": f"bytes */{stat.size}"})(
                    scope, receive, send
                )
                return
            start, end, status = chosen[0], chosen[1], 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{stat.size}"
        headers["content-length"] = str(end - start)
        if method == "HEAD" or end == start:
            response = Response(status_code=status, headers=headers)
            response.headers["content-length"] = str(end - start)
            await response(scope, receive, send)
            return
        chunks = self.storage.read(self.key, start=start, end=end)
        first = await anext(chunks, b"")  # opens the file: a 404 can still be raised here
        await StreamingResponse(_prepend(first, chunks), status_code=status, headers=headers)(
            scope, receive, send
        )


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


class DownloadUtils:
    """Serve stored files (or generated bytes) from an endpoint, behind its own checks.

    Example:
        >>> invoices = DownloadUtils("var/uploads/invoices")  # doctest: +SKIP
        >>> invoices.file_response("2024/3f2a.pdf", filename="fatura-17.pdf")  # doctest: +SKIP
    """

    def __init__(self, storage: str | os.PathLike[str] | UploadStorage | Any) -> None:
        """Serve from ``storage``.

        Args:
            storage: A folder (its files are confined to it), an upload storage or an
                ``AsyncMinIOClient`` (see :func:`~tempest.storage.base.as_storage`).
        """
        self.storage = as_storage(storage)

    def file_response(
        self,
        path: str,
        *,
        filename: str | None = None,
        as_attachment: bool = True,
        media_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> StorageFileResponse:
        """A response streaming the stored file ``path`` (a key, relative to the storage).

        Args:
            path: The key, e.g. what ``UploadUtils.save`` returned.
            filename: The name the client saves it under (default: the key's last part).
            as_attachment: ``False`` serves it inline (e.g. a PDF preview).
            media_type: Overrides the guessed type.
            headers: Extra headers.

        Returns:
            The response; a missing file or an unsafe key gives 404 ``FILE_NOT_FOUND``.
        """
        return StorageFileResponse(
            self.storage,
            path,
            filename=filename,
            as_attachment=as_attachment,
            media_type=media_type,
            headers=headers,
        )

    def stream(
        self,
        content: bytes | Iterable[bytes] | AsyncIterable[bytes],
        *,
        filename: str,
        as_attachment: bool = True,
        media_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A download of bytes made on the fly (a report, an in-memory zip...).

        Args:
            content: ``bytes``, or a sync or async iterable of chunks (streamed).
            filename: The name the client saves it under.
            as_attachment: ``False`` serves it inline.
            media_type: Its type (default: guessed from ``filename``).
            headers: Extra headers.

        Returns:
            A ``Response`` for bytes, else a ``StreamingResponse``.
        """
        media_type = media_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        inline = not as_attachment and not _NEVER_INLINE.match(media_type)
        all_headers = {
            "content-disposition": build_content_disposition(filename, as_attachment=not inline),
            "x-content-type-options": "nosniff",
            **(headers or {}),
        }
        if isinstance(content, bytes | bytearray | memoryview):
            return Response(bytes(content), media_type=media_type, headers=all_headers)
        return StreamingResponse(content, media_type=media_type, headers=all_headers)
