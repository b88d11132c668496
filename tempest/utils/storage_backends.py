"""The spec's ``utils.storage_backends`` module: the upload storages, by their spec names.

They are defined in :mod:`tempest.storage` (with the S3 client); this module re-exports
them, loaded on first use, so that ``from tempest.utils.storage_backends import
LocalUploadStorage`` works and importing it does not load the S3 client.
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

_BACKENDS: dict[str, str] = {
    "ContentValidator": "tempest.storage",
    "LocalUploadStorage": "tempest.storage",
    "MinIOUploadStorage": "tempest.storage",
    "ObjectStat": "tempest.storage",
    "UploadResult": "tempest.storage",
    "UploadStorage": "tempest.storage",
}

__all__ = [*_BACKENDS]

_load = lazy_attributes(__name__, _BACKENDS)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.storage import (
        ContentValidator as ContentValidator,
        LocalUploadStorage as LocalUploadStorage,
        MinIOUploadStorage as MinIOUploadStorage,
        ObjectStat as ObjectStat,
        UploadResult as UploadResult,
        UploadStorage as UploadStorage,
    )
