"""Uploaded files in an S3 bucket: :class:`MinIOUploadStorage`.

The same contract as :class:`~tempest.storage.LocalUploadStorage` over an
:class:`~tempest.storage.AsyncMinIOClient`: keys are confined to the client's prefix, a
missing or unsafe key is a 404, a new key is written with ``If-None-Match: *`` (the
server refuses to overwrite an existing object, so two uploads of one name cannot both
win: no check-then-write race), the client's file name travels in the object's metadata
(``x-amz-meta-filename``, percent-encoded UTF-8) and downloads can skip the application
with presigned URLs.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Self
from urllib.parse import quote, unquote

from tempest.exceptions import ConflictException, NotFoundException
from tempest.storage.base import (
    ObjectStat,
    UploadResult,
    UploadStorage,
    checked_key,
    file_not_found,
)
from tempest.storage.s3_client import AsyncMinIOClient
from tempest.storage.s3_errors import ObjectNotFoundError, S3Error
from tempest.utils.filenames import sanitize_filename

__all__ = ["MinIOUploadStorage"]

FILENAME_METADATA = "filename"
"""The user-metadata name holding the client's (sanitized) file name."""


def _content_disposition(filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode("ascii").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MinIOUploadStorage(UploadStorage):
    """An :class:`~tempest.storage.UploadStorage` over an S3 bucket (MinIO, SeaweedFS, AWS).

    Example:
        >>> storage = MinIOUploadStorage.from_settings(settings, prefix="avatars")
        >>> result = await storage.save("3f2a.png", chunks, content_type="image/png")
        >>> url = await storage.url(result.key)
    """

    def __init__(self, client: AsyncMinIOClient, *, url_expires_in: int = 3600) -> None:
        """Store through ``client`` (its bucket and prefix are the storage's key space).

        Args:
            client: The S3 client.
            url_expires_in: Default lifetime of :meth:`url`'s presigned URLs, in seconds.
        """
        self.client = client
        self.url_expires_in = url_expires_in

    @classmethod
    def from_settings(cls, settings: Any, *, prefix: str = "", **options: Any) -> Self:
        """A storage for the ``MINIO_*`` settings.

        Args:
            settings: See :meth:`AsyncMinIOClient.from_settings`.
            prefix: The key prefix of this storage (``"avatars"``).
            **options: Other :class:`AsyncMinIOClient` arguments.

        Returns:
            The storage.
        """
        return cls(AsyncMinIOClient.from_settings(settings, prefix=prefix, **options))

    def __repr__(self) -> str:
        return f"<MinIOUploadStorage {self.client!r}>"

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
        """Stream ``content`` to ``key`` (see :meth:`UploadStorage.save`).

        Raises:
            ConflictException: ``key`` exists and ``overwrite`` is False (409); the
                existing object is kept.
            NotFoundException: ``key`` is unsafe.
            ServiceUnavailableException: The storage cannot be reached (503).
        """
        checked_key(key)
        name = sanitize_filename(filename) if filename else None
        metadata = {FILENAME_METADATA: quote(name, safe="")} if name else None
        try:
            result = await self.client.put_object(
                key,
                content,
                content_type=content_type,
                metadata=metadata,
                if_none_match=not overwrite,
                checksum=checksum,
            )
        except S3Error as error:
            if error.status == 412:
                raise ConflictException(
                    "A file with this name exists already", code="FILE_EXISTS"
                ) from None
            raise
        return UploadResult(result.key, result.size, result.sha256, content_type, name, result.etag)

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of ``key`` in ``[start, end)`` (see :meth:`UploadStorage.read`)."""
        checked_key(key)
        try:
            async for chunk in self.client.stream_object(key, start=start, end=end):
                yield chunk
        except ObjectNotFoundError:
            raise file_not_found(key) from None

    async def stat(self, key: str) -> ObjectStat:
        """Size, ETag, type, time and metadata of ``key`` (``filename`` decoded)."""
        checked_key(key)
        try:
            stat = await self.client.stat_object(key)
        except ObjectNotFoundError:
            raise file_not_found(key) from None
        if FILENAME_METADATA in stat.metadata:
            stat.metadata[FILENAME_METADATA] = unquote(stat.metadata[FILENAME_METADATA])
        return stat

    async def delete(self, key: str) -> bool:
        """Remove ``key``; False when it was absent or is unsafe."""
        try:
            await self.stat(key)
        except NotFoundException:
            return False
        await self.client.remove_object(key)
        return True

    async def url(
        self,
        key: str,
        *,
        expires_in: int | None = None,
        method: str = "GET",
        filename: str | None = None,
    ) -> str:
        """A presigned URL for ``key`` (no request is made, so nothing is checked).

        Args:
            key: The key.
            expires_in: Seconds it stays valid (the storage's default when None).
            method: ``"GET"`` to download, ``"PUT"`` to upload.
            filename: For GET: answer with ``Content-Disposition: attachment`` and this
                name (RFC 5987 for non-ASCII names).

        Returns:
            The URL.

        Raises:
            NotFoundException: ``key`` is unsafe.
            ValueError: ``method`` is not GET or PUT, or ``expires_in`` out of range.
        """
        checked_key(key)
        seconds = self.url_expires_in if expires_in is None else expires_in
        if method == "PUT":
            return self.client.presigned_put_object(key, seconds)
        if method != "GET":
            raise ValueError(f"presigned URLs are for GET or PUT, not {method!r}")
        headers = None
        if filename:
            disposition = _content_disposition(sanitize_filename(filename))
            headers = {"response-content-disposition": disposition}
        return self.client.presigned_get_object(key, seconds, response_headers=headers)
