"""File columns: :class:`FileField` stores where a file is; :class:`StoredFile` is what it reads.

The bytes live in the project's default storage (``get_default_storage()``: the folder
``UPLOAD_DIR``, or an S3 bucket); the row keeps a small JSON document with the
file's key, client name, size, type and, for a ``FileField(checksum=True)``, SHA-256. The
column knows its checks (allowed
types, largest size, folder), so every upload into it is checked the same way, by the API
and by the admin::

    class OrderModel(BaseModel):
        receipt: Mapped[StoredFile | None] = mapped_column(
            FileField(upload_to="receipts", allowed_types={"image/png", "application/pdf"}),
            default=None,
        )

    order.receipt = await save_upload(OrderModel.receipt, upload)   # 413 / 415 / 422
    return order.receipt.response()                                  # a streamed download

Migrations write the column as ``sa.JSON()``: revisions do not import tempest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from tempest.storage.base import UploadResult, UploadStorage
    from tempest.utils.downloads import StorageFileResponse
    from tempest.utils.uploads import UploadUtils

__all__ = ["IMAGE_TYPES", "FileField", "ImageField", "StoredFile", "file_field", "save_upload"]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""What an :class:`ImageField` accepts by default (checked on the file's bytes)."""

_FIELDS = ("key", "name", "size", "content_type", "sha256")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept in the project's storage, as a :class:`FileField` column reads it.

    ``str(file)`` is its key. Pydantic serializes it as an object of the five fields.

    Attributes:
        key: Its key in the storage (``receipts/3f2a9c....png``).
        name: The client's file name, sanitized (None when there was none).
        size: Its length in bytes.
        content_type: Its MIME type, sniffed from its bytes when it was uploaded.
        sha256: The hex SHA-256 of its bytes when its column has ``checksum=True``,
            else None.
    """

    key: str
    name: str | None = None
    size: int = 0
    content_type: str = "application/octet-stream"
    sha256: str | None = None

    def __str__(self) -> str:
        return self.key

    @classmethod
    def from_result(cls, result: UploadResult) -> StoredFile:
        """The column value of what an upload stored.

        Args:
            result: What ``UploadUtils.save`` or ``UploadStorage.save`` returned.

        Returns:
            The value to assign to a :class:`FileField` attribute.
        """
        return cls(result.key, result.filename, result.size, result.content_type, result.sha256)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredFile:
        """The value of a column's JSON document.

        Args:
            data: A mapping with at least ``key``.

        Returns:
            The value.

        Raises:
            ValueError: ``key`` is missing or a field has the wrong type.
        """
        key = data.get("key")
        if not isinstance(key, str) or not key:
            raise ValueError("a stored file needs a non-empty 'key'")
        name = data.get("name")
        size = data.get("size", 0)
        content_type = data.get("content_type") or "application/octet-stream"
        sha256 = data.get("sha256") or None
        if name is not None and not isinstance(name, str):
            raise ValueError("a stored file's 'name' must be text or null")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("a stored file's 'size' must be a whole number of bytes")
        if not isinstance(content_type, str):
            raise ValueError("a stored file's 'content_type' must be text")
        if sha256 is not None and not isinstance(sha256, str):
            raise ValueError("a stored file's 'sha256' must be text or null")
        return cls(key, name, size, content_type, sha256)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document the column stores."""
        return {field: getattr(self, field) for field in _FIELDS}

    @property
    def url(self) -> str | None:
        """Its public URL: ``UPLOAD_URL`` + the key when that setting is set, else None.

        Without ``UPLOAD_URL`` files have no public address: serve them through a route
        of yours (:meth:`response`), or get a presigned S3 URL with :meth:`signed_url`.
        """
        try:
            from tempest.conf import settings

            base = str(getattr(settings, "UPLOAD_URL", "") or "")
        except Exception:  # settings not configured: no public address
            return None
        return f"{base.rstrip('/')}/{quote(self.key)}" if base else None

    async def signed_url(self, *, expires_in: int = 3600) -> str | None:
        """A presigned GET URL on S3 (None on local storage, which has none).

        Args:
            expires_in: Seconds it stays valid.

        Returns:
            The URL, or None.
        """
        from tempest.storage.default import get_default_storage

        return await get_default_storage().url(self.key, expires_in=expires_in)

    def response(
        self, *, as_attachment: bool = True, filename: str | None = None
    ) -> StorageFileResponse:
        """A streamed download of the file from the project's storage.

        It answers ``Range`` (206/416), ``If-None-Match`` (304) and ``HEAD``; a missing
        file is a 404 ``FILE_NOT_FOUND``.

        Args:
            as_attachment: ``False`` shows it in the browser (active types such as HTML or
                SVG are always downloads).
            filename: The download's name; default the client's name, else the key's.

        Returns:
            The response to return from a route.
        """
        from tempest.storage.default import get_default_downloads

        return get_default_downloads().file_response(
            self.key,
            filename=filename or self.name,
            as_attachment=as_attachment,
            media_type=self.content_type,
        )

    async def delete(self) -> bool:
        """Remove the file from the project's storage (the row keeps its value).

        Returns:
            True when a file was deleted.
        """
        from tempest.storage.default import get_default_storage

        return await get_default_storage().delete(self.key)


class FileField(TypeDecorator[StoredFile]):
    """A column holding a :class:`StoredFile` (JSON in the database).

    Args:
        upload_to: The folder inside the storage (``"receipts"``, ``"avatars/2024"``).
        allowed_types: MIME types accepted, checked on the file's bytes (magic numbers);
            empty accepts any type except active content (HTML, SVG with script,
            executables), which is always refused.
        allowed_extensions: Extensions of the client's file name accepted (no dot).
        max_size: Largest file in bytes; default the ``UPLOAD_MAX_SIZE_BYTES`` setting
            (10 MiB).
        checksum: Compute and keep each file's SHA-256 (``StoredFile.sha256``); off by
            default, as the digest costs more than storing the bytes.
    """

    impl = JSON
    cache_ok = True

    def __init__(
        self,
        upload_to: str = "",
        *,
        allowed_types: Iterable[str] | None = None,
        allowed_extensions: Iterable[str] | None = None,
        max_size: int | None = None,
        checksum: bool = False,
    ) -> None:
        """Describe the column's files (see the class docstring)."""
        from tempest.utils.filenames import validate_key

        upload_to = upload_to.strip("/")
        if upload_to:
            validate_key(upload_to)
        if max_size is not None and max_size < 1:
            raise ValueError("max_size must be at least 1 byte")
        super().__init__()
        self.upload_to = upload_to
        self.allowed_types = frozenset(item.strip().lower() for item in allowed_types or ())
        self.allowed_extensions = frozenset(
            item.strip().lower().lstrip(".") for item in allowed_extensions or ()
        )
        self.max_size = max_size
        self.checksum = checksum

    @property
    def python_type(self) -> type[StoredFile]:
        """:class:`StoredFile`."""
        return StoredFile

    @property
    def images_only(self) -> bool:
        """Whether every accepted type is an image (the admin then shows previews)."""
        return bool(self.allowed_types) and all(
            item.startswith("image/") and item != "image/svg+xml" for item in self.allowed_types
        )

    def process_bind_param(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        """A :class:`StoredFile`, an ``UploadResult`` or a mapping, as the JSON document."""
        if value is None:
            return None
        if isinstance(value, StoredFile):
            return value.to_dict()
        if isinstance(value, Mapping):
            return StoredFile.from_dict(value).to_dict()
        from tempest.storage.base import UploadResult

        if isinstance(value, UploadResult):
            return StoredFile.from_result(value).to_dict()
        raise TypeError(
            f"a FileField holds a StoredFile, not {type(value).__name__}: store uploads "
            "with save_upload()"
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> StoredFile | None:
        """The JSON document as a :class:`StoredFile`."""
        if value is None:
            return None
        return StoredFile.from_dict(value)

    def max_size_bytes(self) -> int:
        """The column's limit, else ``UPLOAD_MAX_SIZE_BYTES`` (10 MiB without settings)."""
        if self.max_size is not None:
            return self.max_size
        try:
            from tempest.conf import settings

            return int(getattr(settings, "UPLOAD_MAX_SIZE_BYTES", 10 * 1024 * 1024))
        except Exception:  # settings not configured
            return 10 * 1024 * 1024

    def uploader(self, storage: UploadStorage | None = None) -> UploadUtils:
        """An :class:`~tempest.utils.UploadUtils` with this column's checks.

        Args:
            storage: Where to store; default the project's storage.

        Returns:
            The upload utility.
        """
        from tempest.storage.default import get_default_storage
        from tempest.utils.uploads import UploadUtils

        return UploadUtils(
            storage if storage is not None else get_default_storage(),
            max_size_bytes=self.max_size_bytes(),
            allowed_extensions=self.allowed_extensions or None,
            allowed_mimetypes=self.allowed_types or None,
            verify_magic_bytes=bool(self.allowed_types),
            checksum=self.checksum,
        )

    async def save(self, file: Any, *, storage: UploadStorage | None = None) -> StoredFile:
        """Check ``file`` against the column's rules and store it under ``upload_to``.

        Args:
            file: An ``UploadFile``, a ``Request`` (its raw body), bytes or an async
                iterable of bytes (see ``UploadUtils.save``).
            storage: Where to store; default the project's storage.

        Returns:
            The value to assign to the column.

        Raises:
            FileTooLargeException: Over the limit (413).
            InvalidFileTypeException: A type or extension the column refuses (415).
            ValidationException: An empty file (422).
        """
        result = await self.uploader(storage).save(file, subdir=self.upload_to or None)
        return StoredFile.from_result(result)


class ImageField(FileField):
    """A :class:`FileField` for images: PNG, JPEG, GIF and WebP unless told otherwise."""

    cache_ok = True

    def __init__(
        self,
        upload_to: str = "",
        *,
        allowed_types: Iterable[str] | None = None,
        allowed_extensions: Iterable[str] | None = None,
        max_size: int | None = None,
        checksum: bool = False,
    ) -> None:
        """Describe the column's images (see :class:`FileField`)."""
        super().__init__(
            upload_to,
            allowed_types=allowed_types or IMAGE_TYPES,
            allowed_extensions=allowed_extensions,
            max_size=max_size,
            checksum=checksum,
        )


def file_field(attribute: Any) -> FileField:
    """The :class:`FileField` of a model attribute (``OrderModel.receipt``) or column.

    Args:
        attribute: A mapped attribute or a ``Column``.

    Returns:
        Its type.

    Raises:
        TypeError: The column is not a file column.
    """
    column = attribute
    prop = getattr(attribute, "property", None)
    if prop is not None and getattr(prop, "columns", None):
        column = prop.columns[0]
    column_type = getattr(column, "type", None)
    if not isinstance(column_type, FileField):
        raise TypeError(f"{attribute!r} is not a FileField column")
    return column_type


async def save_upload(
    attribute: Any, file: Any, *, storage: UploadStorage | None = None
) -> StoredFile:
    """Check and store an upload for a file column, e.g. ``save_upload(Model.photo, file)``.

    Args:
        attribute: The model attribute (``OrderModel.receipt``).
        file: See :meth:`FileField.save`.
        storage: Where to store; default the project's storage.

    Returns:
        The value to assign to the column.
    """
    return await file_field(attribute).save(file, storage=storage)
