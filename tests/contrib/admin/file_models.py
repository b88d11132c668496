"""The model of the admin's file-field tests: an optional image and a required PDF."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tempest.conf import MinIOSettings, Settings, UploadSettings
from tempest.contrib.admin import AdminModel, AdminSite
from tempest.db import BaseModel, FileField, ImageField, StoredFile

PHOTO_LIMIT = 4000
CONTRACT_LIMIT = 2000


class FileSettings(UploadSettings, MinIOSettings, Settings):
    """Settings with the upload and S3 groups."""


class Document(BaseModel):
    """An optional image and a required PDF."""

    __tablename__ = "admin_t_document"
    name: Mapped[str] = mapped_column(String(40))
    photo: Mapped[StoredFile | None] = mapped_column(
        ImageField("photos", max_size=PHOTO_LIMIT), default=None, nullable=True
    )
    contract: Mapped[StoredFile] = mapped_column(
        FileField("contracts", allowed_types={"application/pdf"}, max_size=CONTRACT_LIMIT)
    )


def document_site() -> AdminSite:
    """An admin site serving :class:`Document`, its files in the list."""
    site = AdminSite(title="Files")
    site.register(AdminModel(model=Document, list_display=[Document.name, "photo", "contract"]))
    return site
