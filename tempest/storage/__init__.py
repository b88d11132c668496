"""File storage: where uploads are kept and read back from.

:class:`UploadStorage` is the contract, :class:`LocalUploadStorage` keeps files in a
folder. Importing this package imports nothing until a name is used (PEP 562).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

_STORAGE: dict[str, str] = {
    "ContentValidator": "tempest.storage.base",
    "ObjectStat": "tempest.storage.base",
    "UploadResult": "tempest.storage.base",
    "UploadStorage": "tempest.storage.base",
    "LocalUploadStorage": "tempest.storage.local",
    "AsyncMinIOClient": "tempest.storage.s3_client",
    "MinIOUploadStorage": "tempest.storage.s3_storage",
    "ObjectNotFoundError": "tempest.storage.s3_errors",
    "S3ConfigurationError": "tempest.storage.s3_errors",
    "S3Error": "tempest.storage.s3_errors",
    "default_storage": "tempest.storage.default",
    "get_default_storage": "tempest.storage.default",
}

__all__ = [*_STORAGE]

_load = lazy_attributes(__name__, _STORAGE)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.storage.base import (
        ContentValidator as ContentValidator,
        ObjectStat as ObjectStat,
        UploadResult as UploadResult,
        UploadStorage as UploadStorage,
    )
    from tempest.storage.default import (
        default_storage as default_storage,
        get_default_storage as get_default_storage,
    )
    from tempest.storage.local import LocalUploadStorage as LocalUploadStorage
    from tempest.storage.s3_client import AsyncMinIOClient as AsyncMinIOClient
    from tempest.storage.s3_errors import (
        ObjectNotFoundError as ObjectNotFoundError,
        S3ConfigurationError as S3ConfigurationError,
        S3Error as S3Error,
    )
    from tempest.storage.s3_storage import MinIOUploadStorage as MinIOUploadStorage
