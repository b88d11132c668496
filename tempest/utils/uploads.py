"""``UploadUtils``: receive a file, check it and store it, never holding it in memory.

An upload (a FastAPI ``UploadFile``, the raw body of a ``Request``, bytes or any async
iterable of chunks) is spooled to disk while it is counted (and, with ``checksum=True``,
SHA-256 hashed): past
``max_size_bytes`` the rest is not read and :class:`~tempest.exceptions.FileTooLargeException`
(413) is raised; a declared size (``UploadFile.size``, the ``Content-Length`` header) over
the limit is refused before any byte is read. Then the file's own bytes decide what it is
(:func:`~tempest.utils.sniffing.sniff_file`, OOXML included): active content (HTML, SVG
with script, executables, scripts, markup hidden in the first kilobyte of a binary) and
types or extensions outside the allowed sets raise
:class:`~tempest.exceptions.InvalidFileTypeException` (415). Only a file that passed is
moved into the storage, under a fresh UUID name unless the caller names it.
"""

from __future__ import annotations

import inspect
import mimetypes
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread

from tempest.exceptions import (
    FileTooLargeException,
    InvalidFileTypeException,
    ValidationException,
)
from tempest.storage.base import (
    ContentValidator,
    UploadResult,
    UploadStorage,
    as_storage,
    checked_key,
)
from tempest.storage.staging import StagedFile, stage
from tempest.utils.filenames import sanitize_filename, split_extension
from tempest.utils.sniffing import (
    ACTIVE_TYPES,
    SNIFFABLE_TYPES,
    extensions_for,
    find_active_content,
    sniff_file,
    sniff_mime,
    svg_has_script,
)

__all__ = ["ACTIVE_EXTENSIONS", "UploadUtils", "sniff_mime"]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
"""The limit when none is given: 10 MiB, like ``UPLOAD_MAX_SIZE_BYTES``."""

_ACTIVE_EXTENSIONS_TEXT = (
    "html htm xhtml shtml svg svgz xml xsl xslt js mjs exe dll com bat cmd sh bash ps1 msi "
    "scr jar php phtml phar asp aspx jsp cgi pl py hta swf vbs wsf lnk app"
)
ACTIVE_EXTENSIONS = frozenset(_ACTIVE_EXTENSIONS_TEXT.split())
"""Extensions a web server or an OS would run or render: refused unless explicitly allowed."""

_READ_SIZE = 1024 * 1024


@runtime_checkable
class _UploadFileLike(Protocol):
    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


@runtime_checkable
class _RequestLike(Protocol):
    @property
    def headers(self) -> Any: ...

    def stream(self) -> AsyncIterator[bytes]: ...


def _lower_set(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(value.strip().lower().lstrip(".") for value in values or () if value.strip())


class UploadUtils:
    """Checked, streamed uploads into an :class:`~tempest.storage.UploadStorage`.

    Example:
        >>> avatars = UploadUtils(
        ...     "var/uploads/avatars",
        ...     max_size_bytes=5 * 1024 * 1024,
        ...     allowed_extensions={"png", "jpg", "jpeg", "webp"},
        ...     allowed_mimetypes={"image/png", "image/jpeg", "image/webp"},
        ...     verify_magic_bytes=True,
        ... )
    """

    def __init__(
        self,
        storage: str | os.PathLike[str] | UploadStorage | Any,
        *,
        max_size_bytes: int = DEFAULT_MAX_SIZE,
        allowed_extensions: Iterable[str] | None = None,
        allowed_mimetypes: Iterable[str] | None = None,
        verify_magic_bytes: bool = False,
        block_active_content: bool = True,
        allow_empty: bool = False,
        checksum: bool = False,
    ) -> None:
        """Configure the checks.

        Args:
            storage: A folder (for :class:`~tempest.storage.LocalUploadStorage`), a storage
                or an ``AsyncMinIOClient`` (see :func:`~tempest.storage.base.as_storage`).
            max_size_bytes: Largest accepted file; one byte more is a 413.
            allowed_extensions: Accepted extensions of the client's file name (no dot,
                any case); empty or None accepts any.
            allowed_mimetypes: Accepted types; checked against the sniffed type when
                ``verify_magic_bytes``, else against the client's ``Content-Type``.
            verify_magic_bytes: Require the file's bytes to be of an allowed type, and the
                extension to be one of that type's. Enable it when every accepted format
                is one :func:`sniff_mime` recognizes.
            block_active_content: Refuse HTML, SVG with script, executables, scripts and
                markup hidden in binaries (and their extensions) unless allowed explicitly.
            allow_empty: Accept zero-byte files (otherwise 422 ``EMPTY_FILE``).
            checksum: Compute each file's SHA-256 while it is received
                (``UploadResult.sha256``; None otherwise). Off by default: the digest
                costs more than storing the bytes (it roughly halves local throughput).
        """
        if max_size_bytes < 1:
            raise ValueError("max_size_bytes must be at least 1")
        self.storage = as_storage(storage)
        self.max_size_bytes = max_size_bytes
        self.allowed_extensions = _lower_set(allowed_extensions)
        self.allowed_mimetypes = _lower_set(allowed_mimetypes)
        self.verify_magic_bytes = verify_magic_bytes
        self.block_active_content = block_active_content
        self.allow_empty = allow_empty
        self.checksum = checksum

    # -- checks that need no byte of the file ----------------------------------------

    def too_large(self, limit: int | None = None) -> FileTooLargeException:
        """The 413 for this utility's limit."""
        limit = self.max_size_bytes if limit is None else limit
        return FileTooLargeException(
            f"The file is larger than {limit} bytes", details={"max_size_bytes": limit}
        )

    def check_declared_size(self, size: int | str | None) -> None:
        """Refuse a declared size (``Content-Length``, ``UploadFile.size``) over the limit.

        Args:
            size: The declared size; None or unparsable is left to the streaming count.

        Raises:
            FileTooLargeException: The declared size exceeds ``max_size_bytes``.
        """
        try:
            declared = int(size) if size is not None else None
        except ValueError:
            return
        if declared is not None and declared > self.max_size_bytes:
            raise self.too_large()

    def _refuse(self, reason: str, **details: Any) -> InvalidFileTypeException:
        return InvalidFileTypeException(f"Unsupported file type: {reason}", details=details)

    def _check_extension(self, extension: str) -> None:
        if self.allowed_extensions and extension not in self.allowed_extensions:
            raise self._refuse(
                f"extension {extension or '(none)'!r} is not accepted",
                allowed_extensions=sorted(self.allowed_extensions),
            )
        explicitly = extension in self.allowed_extensions
        if self.block_active_content and extension in ACTIVE_EXTENSIONS and not explicitly:
            raise self._refuse(f"extension {extension!r} is not accepted")

    # -- checks on the bytes ---------------------------------------------------------

    def _content_type(self, sniffed: str | None, extension: str) -> str:
        """The sniffed type, made precise by the extension only where bytes cannot tell."""
        guessed = mimetypes.guess_type(f"x.{extension}")[0] if extension else None
        if guessed is None or guessed in ACTIVE_TYPES:
            return sniffed or "application/octet-stream"
        refines = (
            sniffed is None
            or (sniffed == "text/plain" and guessed.startswith(("text/", "application/json")))
            or (
                sniffed == "application/zip"
                and (guessed.endswith("+zip") or "opendocument" in guessed)
            )
        )
        return guessed if refines else sniffed or "application/octet-stream"

    async def _check_bytes(
        self, staged: StagedFile, extension: str, validator: ContentValidator | None
    ) -> str:
        """Check the staged file's bytes; return its MIME type."""
        if staged.size == 0:
            if not self.allow_empty:
                raise ValidationException("The file is empty", code="EMPTY_FILE")
            sniffed: str | None = None
        else:
            sniffed = await anyio.to_thread.run_sync(sniff_file, staged.path, staged.head)
        allowed_type = sniffed is not None and sniffed in self.allowed_mimetypes
        if self.block_active_content and sniffed in ACTIVE_TYPES and not allowed_type:
            raise self._refuse(f"{sniffed} content is not accepted", content_type=sniffed)
        # An SVG explicitly allowed still may not carry script.
        svg = sniffed == "image/svg+xml" and self.block_active_content
        if svg and await anyio.to_thread.run_sync(svg_has_script, staged.path):
            raise self._refuse("SVG with script is not accepted", content_type=sniffed)
        if self.block_active_content and sniffed not in (None, "text/plain", "text/html"):
            marker = find_active_content(staged.head)
            if marker and sniffed != "image/svg+xml":
                raise self._refuse(
                    f"{sniffed} file carries markup ({marker!r})", content_type=sniffed
                )
        if self.verify_magic_bytes and staged.size:
            if sniffed is None or (self.allowed_mimetypes and not allowed_type):
                raise self._refuse(
                    f"the content is {sniffed or 'not a recognized type'}",
                    content_type=sniffed,
                    allowed_mimetypes=sorted(self.allowed_mimetypes),
                )
            known = extensions_for(sniffed)
            if extension and known and extension not in known:
                raise self._refuse(f"a .{extension} file holding {sniffed}", content_type=sniffed)
        if validator is not None:
            verdict = validator(staged.head)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                raise self._refuse("refused by the content validator", content_type=sniffed)
        return self._content_type(sniffed, extension)

    # -- the source ------------------------------------------------------------------

    def _source(
        self, file: Any, declared_type: str | None
    ) -> tuple[AsyncIterable[bytes], str | None, str | None]:
        """The chunks, the client's file name and the client's type of ``file``."""
        if isinstance(file, bytes | bytearray | memoryview):
            return _once(bytes(file)), None, declared_type
        if isinstance(file, _UploadFileLike) and hasattr(file, "filename"):
            self.check_declared_size(getattr(file, "size", None))
            return _read_chunks(file), file.filename, getattr(file, "content_type", None)
        if isinstance(file, _RequestLike):
            self.check_declared_size(file.headers.get("content-length"))
            return file.stream(), None, file.headers.get("content-type")
        if isinstance(file, AsyncIterable):
            return file, None, declared_type
        raise TypeError(
            "save() takes an UploadFile, a Request, bytes or an async iterable of bytes, "
            f"not {type(file).__name__}"
        )

    async def save(
        self,
        file: Any,
        *,
        subdir: str | None = None,
        filename: str | None = None,
        original_filename: str | None = None,
        content_type: str | None = None,
        content_validator: ContentValidator | None = None,
        overwrite: bool | None = None,
    ) -> UploadResult:
        """Check and store an upload.

        Args:
            file: A FastAPI/Starlette ``UploadFile``, a ``Request`` (its raw body is
                streamed: the way to take files larger than what multipart parsing should
                spool), ``bytes`` or an async iterable of ``bytes``.
            subdir: A folder inside the storage (e.g. the owner's id).
            filename: A fixed name (e.g. ``f"{user_id}.jpg"``) instead of a UUID; such a
                file replaces the previous one unless ``overwrite=False``.
            original_filename: The client's file name when ``file`` does not carry one
                (a ``Request``, bytes); sanitized, its extension is checked and kept.
            content_type: The client's declared type when ``file`` does not carry one.
            content_validator: An extra check on the first bytes; False refuses (415).
            overwrite: Replace an existing file (default: only with ``filename``).

        Returns:
            The stored file's key (``str(result)``), size, sniffed type and, with
            ``checksum=True``, SHA-256.

        Raises:
            FileTooLargeException: Over ``max_size_bytes`` (413, ``FILE_TOO_LARGE``).
            InvalidFileTypeException: A refused type or extension (415,
                ``INVALID_FILE_TYPE``).
            ValidationException: An empty file (422, ``EMPTY_FILE``).
            ConflictException: ``filename`` exists and ``overwrite=False`` (409).
        """
        chunks, client_name, declared = self._source(file, content_type)
        client_name = original_filename or client_name
        safe_name = sanitize_filename(client_name) if client_name else None
        extension = split_extension(safe_name)[1].lower() if safe_name else ""
        if filename:
            extension = extension or split_extension(filename)[1].lower()
        self._check_extension(extension)
        declared = (declared or "").split(";")[0].strip().lower() or None
        checks_declared = self.allowed_mimetypes and not self.verify_magic_bytes
        if checks_declared and declared not in self.allowed_mimetypes:
            raise self._refuse(
                f"declared type {declared or '(none)'!r} is not accepted",
                allowed_mimetypes=sorted(self.allowed_mimetypes),
            )
        key = self._key(subdir, filename, extension) if filename else None
        if key:
            checked_key(key)
        staged = await stage(
            chunks,
            self.storage.staging_dir(),
            max_size=self.max_size_bytes,
            too_large=self.too_large,
            checksum=self.checksum,
        )
        try:
            mime = await self._check_bytes(staged, extension, content_validator)
            if key is None:
                if not extension and mime in SNIFFABLE_TYPES:
                    extension = next(iter(extensions_for(mime)), "")
                key = self._key(subdir, None, extension)
            return await self.storage.save_file(
                key,
                staged.path,
                content_type=mime,
                overwrite=bool(filename) if overwrite is None else overwrite,
                filename=safe_name,
                checksum=self.checksum,
                sha256=staged.sha256,
            )
        finally:
            await anyio.to_thread.run_sync(staged.discard)

    @staticmethod
    def _key(subdir: str | None, filename: str | None, extension: str) -> str:
        name = filename or (uuid.uuid4().hex + (f".{extension}" if extension else ""))
        folder = (subdir or "").strip("/")
        return f"{folder}/{name}" if folder else name

    async def delete(self, key: str | UploadResult) -> bool:
        """Delete a stored file (its key, or the result :meth:`save` returned).

        Args:
            key: What :meth:`save` stored.

        Returns:
            True when a file was deleted.
        """
        return await self.storage.delete(str(key))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read_chunks(file: _UploadFileLike) -> AsyncIterator[bytes]:
    while chunk := await file.read(_READ_SIZE):
        yield chunk
