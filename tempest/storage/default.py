"""The project's default storage: where file columns and the admin keep uploaded files.

:func:`get_default_storage` builds it from the settings once per settings object:

- ``UPLOAD_STORAGE = "auto"`` (the default): an S3 bucket
  (:class:`~tempest.storage.MinIOUploadStorage`) when ``MINIO_ACCESS_KEY`` and
  ``MINIO_BUCKET`` (or the spec's ``MINIO_DEFAULT_BUCKET``) are set, else the folder
  ``UPLOAD_DIR`` (:class:`~tempest.storage.LocalUploadStorage`, ``./var/uploads``);
- ``"local"`` or ``"s3"`` choose one whatever else is set.

A project without :class:`~tempest.conf.UploadSettings` / :class:`~tempest.conf.MinIOSettings`
among its settings' bases gets their defaults. The ASGI app's lifespan closes the S3
client's connections at shutdown (:func:`close_default_storage`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from tempest.storage.base import UploadStorage
    from tempest.utils.downloads import DownloadUtils

__all__ = [
    "DEFAULT_UPLOAD_DIR",
    "STORAGE_CHOICES",
    "build_storage",
    "close_default_storage",
    "default_storage",
    "get_default_downloads",
    "get_default_storage",
    "storage_kind",
]

DEFAULT_UPLOAD_DIR = "./var/uploads"
"""``UPLOAD_DIR`` when the settings do not have it."""

STORAGE_CHOICES = ("auto", "local", "s3")
"""The values ``UPLOAD_STORAGE`` accepts."""

# (the settings object, its storage); storages replaced by a new settings object are kept
# until close_default_storage() closes their connections.
_built: tuple[object, UploadStorage] | None = None
_replaced: list[UploadStorage] = []
_lock = threading.Lock()


def storage_kind(settings: Any) -> str:
    """``"local"`` or ``"s3"``: which storage ``settings`` ask for.

    Args:
        settings: The project's settings (any object; missing fields take defaults).

    Returns:
        The kind of the default storage.

    Raises:
        ImproperlyConfigured: ``UPLOAD_STORAGE`` is not one of :data:`STORAGE_CHOICES`.
    """
    from tempest.storage.s3_check import s3_configured

    choice = str(getattr(settings, "UPLOAD_STORAGE", "auto") or "auto").strip().lower()
    if choice not in STORAGE_CHOICES:
        raise ImproperlyConfigured(
            f"UPLOAD_STORAGE is {choice!r}: use one of {', '.join(STORAGE_CHOICES)}."
        )
    if choice == "auto":
        return "s3" if s3_configured(settings) else "local"
    return choice


def missing_s3_settings(settings: Any) -> list[str]:
    """The ``MINIO_*`` settings an S3 storage needs that ``settings`` leave empty."""
    needed = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_BUCKET")
    return [name for name in needed if not str(getattr(settings, name, "") or "").strip()]


def build_storage(settings: Any) -> UploadStorage:
    """A new storage for ``settings`` (see the module's docstring).

    Args:
        settings: The project's settings.

    Returns:
        The storage; nothing is connected or created yet.

    Raises:
        ImproperlyConfigured: The S3 settings are incomplete or malformed, or
            ``UPLOAD_STORAGE`` is unknown.
    """
    if storage_kind(settings) == "s3":
        missing = missing_s3_settings(settings)
        if missing:
            raise ImproperlyConfigured(
                f"File storage on S3 needs {', '.join(missing)}: set them (or "
                "UPLOAD_STORAGE=local to keep files in UPLOAD_DIR)."
            )
        from tempest.storage.s3_storage import MinIOUploadStorage

        try:
            return MinIOUploadStorage.from_settings(settings)
        except ValueError as error:
            raise ImproperlyConfigured(f"File storage on S3: {error}") from None
    from tempest.storage.local import LocalUploadStorage

    return LocalUploadStorage(getattr(settings, "UPLOAD_DIR", None) or DEFAULT_UPLOAD_DIR)


def get_default_storage() -> UploadStorage:
    """The project's storage, built once per settings object.

    ``override_settings`` in a test gives a storage of the overridden settings; leaving it
    gives the first one back.

    Returns:
        The :class:`~tempest.storage.UploadStorage` of the current settings.

    Raises:
        ImproperlyConfigured: See :func:`build_storage`.
    """
    global _built
    from tempest.conf import LazySettings, settings

    target = cast(LazySettings, settings).unwrap()
    with _lock:
        if _built is None or _built[0] is not target:
            storage = build_storage(target)
            if _built is not None and _built[1] not in _replaced:
                _replaced.append(_built[1])
            _built = (target, storage)
        return _built[1]


async def default_storage() -> UploadStorage:
    """The project's storage, as a FastAPI dependency: ``Depends(default_storage)``.

    Returns:
        :func:`get_default_storage`'s storage.
    """
    return get_default_storage()


def get_default_downloads() -> DownloadUtils:
    """A :class:`~tempest.utils.DownloadUtils` over the project's storage.

    Returns:
        Downloads that stream from :func:`get_default_storage` (Range, ETag, 404 for an
        unsafe key).
    """
    from tempest.utils.downloads import DownloadUtils

    return DownloadUtils(get_default_storage())


async def close_default_storage() -> None:
    """Close the connections of the storages built so far (the S3 client's HTTP pool).

    The ASGI app's lifespan calls it at shutdown; a storage used again later reconnects.
    """
    with _lock:
        storages = list(_replaced)
        _replaced.clear()
        if _built is not None:
            storages.append(_built[1])
    for storage in storages:
        client = getattr(storage, "client", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
