"""The storage contract every upload backend implements, and what it returns.

An :class:`UploadStorage` keeps bytes under keys (``avatars/3f2a9c.png``): it saves a
stream of chunks, reads a key back as an async iterator of chunks (optionally one byte
range), stats, checks and deletes keys, and may hand out URLs. Keys are checked with
:func:`tempest.utils.filenames.validate_key` before any backend touches them.

:class:`~tempest.storage.local.LocalUploadStorage` keeps files in a folder; S3-compatible
backends implement the same methods, so :class:`~tempest.utils.uploads.UploadUtils` and
:class:`~tempest.utils.downloads.DownloadUtils` work with either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from tempest.exceptions import NotFoundException
from tempest.utils.filenames import InvalidKeyError, validate_key

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ContentValidator",
    "ObjectStat",
    "UploadResult",
    "UploadStorage",
    "as_storage",
    "file_not_found",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk when a storage reads a file."""

ContentValidator = Callable[[bytes], "bool | Awaitable[bool]"]
"""A predicate on a file's first bytes (:data:`~tempest.utils.sniffing.HEAD_SIZE` of
them): False refuses the upload (415). May be a coroutine function."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """A stored file: where it is and what it holds.

    ``str(result)`` is the key, so code that stored the path a save returned keeps working.

    Attributes:
        key: The storage key (``subdir/name.ext``), relative to the storage's root.
        size: Its length in bytes.
        sha256: The hex SHA-256 digest of its bytes when it was asked for
            (``checksum=True``), else None: hashing costs more than storing the bytes.
        content_type: Its MIME type (sniffed from its bytes when an upload saved it).
        filename: The client's file name, sanitized (None when there was none).
        etag: The backend's entity tag, when it reports one.
    """

    key: str
    size: int
    sha256: str | None
    content_type: str
    filename: str | None = None
    etag: str | None = None

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class ObjectStat:
    """What a storage knows about a key without reading it.

    Attributes:
        key: The key.
        size: Its length in bytes.
        etag: An entity tag, quoted (``"abc"``), that changes when the content does.
        last_modified: When it was last written (UTC).
        content_type: Its MIME type when the backend records one, else None.
        metadata: Backend-specific extra fields (e.g. S3 user metadata).
    """

    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def file_not_found(key: str) -> NotFoundException:
    """The 404 a storage raises for a missing key, and for one that tries to escape.

    Both give the same answer, so callers cannot tell "forbidden" from "absent".

    Args:
        key: The key asked for (not echoed to the client).

    Returns:
        The exception to raise.
    """
    return NotFoundException("File not found", code="FILE_NOT_FOUND")


def checked_key(key: str) -> str:
    """``key`` after :func:`validate_key`; an unsafe key raises the 404 of a missing file.

    Args:
        key: The key to check.

    Returns:
        The key.

    Raises:
        NotFoundException: The key is unsafe (traversal, absolute, control characters...).
    """
    try:
        return validate_key(key)
    except InvalidKeyError:
        raise file_not_found(key) from None


class UploadStorage(ABC):
    """Where uploaded files live: a folder, an S3 bucket, ...

    Subclasses implement :meth:`save`, :meth:`read`, :meth:`stat` and :meth:`delete`; the
    others have working defaults. Every method takes a key checked by
    :func:`~tempest.utils.filenames.validate_key`; a missing or unsafe key raises
    :class:`~tempest.exceptions.NotFoundException` (404, code ``FILE_NOT_FOUND``).
    """

    @abstractmethod
    async def save(
        self,
        key: str,
        content: AsyncIterable[bytes] | bytes,
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = False,
        filename: str | None = None,
        checksum: bool = False,
    ) -> UploadResult:
        """Store ``content`` under ``key``, streaming it chunk by chunk.

        Args:
            key: Where to store it.
            content: The bytes, or an async iterable of chunks.
            content_type: Its MIME type (kept by backends that record one).
            overwrite: Replace an existing key atomically; otherwise an existing key
                raises :class:`~tempest.exceptions.ConflictException` (409) and is kept.
            filename: The client's sanitized file name, echoed in the result.
            checksum: Compute the SHA-256 of the bytes on the way (``result.sha256``);
                off by default, since the digest costs more than the copy.

        Returns:
            The stored file's key, size and (with ``checksum``) SHA-256.
        """

    async def save_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = False,
        filename: str | None = None,
        checksum: bool = False,
        sha256: str | None = None,
    ) -> UploadResult:
        """Store the local file at ``path`` under ``key`` (the file is consumed).

        The default streams the file into :meth:`save`; a local backend on the same file
        system moves it instead (no copy). The caller deletes ``path`` if it still exists.

        Args:
            key: Where to store it.
            path: A file the caller owns, e.g. an upload spooled to disk.
            content_type: Its MIME type.
            overwrite: See :meth:`save`.
            filename: See :meth:`save`.
            checksum: See :meth:`save` (not recomputed when ``sha256`` is given).
            sha256: Its digest, when the caller computed it already (echoed in the
                result).

        Returns:
            The stored file's key, size and SHA-256 (None unless ``checksum`` or
            ``sha256``).
        """
        # ``checksum`` only when needed: a storage written before it existed keeps working.
        extra = {"checksum": True} if checksum and sha256 is None else {}
        result = await self.save(
            key,
            _file_chunks(path),
            content_type=content_type,
            overwrite=overwrite,
            filename=filename,
            **extra,
        )
        return result if sha256 is None else dataclasses.replace(result, sha256=sha256)

    def staging_dir(self) -> Path | None:
        """A folder for spooling uploads so that :meth:`save_file` can move them.

        Returns:
            A folder on the same file system as the storage, or None (the system's
            temporary folder is used).
        """
        return None

    @abstractmethod
    def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of ``key`` from ``start`` up to ``end`` (exclusive), in chunks.

        An async generator: the file is opened on the first ``__anext__``, which raises
        the 404 when the key is missing.

        Args:
            key: What to read.
            start: First byte.
            end: One past the last byte; None reads to the end.

        Returns:
            An async iterator of chunks.
        """

    @abstractmethod
    async def stat(self, key: str) -> ObjectStat:
        """Size, ETag, modification time and type of ``key``.

        Args:
            key: The key.

        Returns:
            Its :class:`ObjectStat`.
        """

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove ``key``.

        Args:
            key: The key.

        Returns:
            True if something was deleted, False if it did not exist.
        """

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (an unsafe key is simply absent).

        Args:
            key: The key.

        Returns:
            True when it exists.
        """
        try:
            await self.stat(key)
        except NotFoundException:
            return False
        return True

    async def url(self, key: str, *, expires_in: int = 3600, method: str = "GET") -> str | None:
        """A URL a client can use directly (presigned on S3), or None if there is none.

        Args:
            key: The key.
            expires_in: Seconds the URL stays valid.
            method: ``"GET"`` to download, ``"PUT"`` to upload.

        Returns:
            The URL; local storage has none (serve files with ``DownloadUtils``).
        """
        checked_key(key)
        return None


def as_storage(value: object) -> UploadStorage:
    """The storage ``value`` names: a storage, a folder, or an S3 client.

    Args:
        value: An :class:`UploadStorage`; a folder (``str`` or path) for a
            :class:`~tempest.storage.LocalUploadStorage`; an ``AsyncMinIOClient`` for a
            ``MinIOUploadStorage`` over its bucket (the spec's "local folder, or pass an
            AsyncMinIOClient").

    Returns:
        The storage.

    Raises:
        TypeError: ``value`` is none of these.
    """
    if isinstance(value, UploadStorage):
        return value
    import tempest.storage as package  # the package's lazy table: the S3 names load on use

    if isinstance(value, str | os.PathLike):
        return package.LocalUploadStorage(value)
    client_class = getattr(package, "AsyncMinIOClient", None)
    if client_class is not None and isinstance(value, client_class):
        storage: UploadStorage = package.MinIOUploadStorage(value)
        return storage
    raise TypeError(
        f"expected a folder, an UploadStorage or an AsyncMinIOClient, not {type(value).__name__}"
    )


async def _file_chunks(path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as stream:
        while chunk := await stream.read(chunk_size):
            yield chunk


def new_hasher() -> Any:
    """A fresh SHA-256 object (what storages digest content with)."""
    return hashlib.sha256()
