"""FileField / StoredFile on SQLite and PostgreSQL: store, read back, check, download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response

from tempest.api import register_exception_handlers
from tempest.conf import MinIOSettings, Settings, UploadSettings, override_settings, settings
from tempest.db import AsyncDatabaseManager, BaseModel, FileField, ImageField, StoredFile
from tempest.db.files import IMAGE_TYPES, file_field, save_upload
from tempest.db.migrations.environment import render_item
from tempest.exceptions import (
    FileTooLargeException,
    InvalidFileTypeException,
    ValidationException,
)
from tempest.storage import LocalUploadStorage, UploadResult
from tests.files.samples import pdf, png

pytestmark = pytest.mark.anyio

LIMIT = 1000


class FileSettings(UploadSettings, MinIOSettings, Settings):
    """Settings with the upload group."""


class Receipt(BaseModel):
    """A row with a checked file column."""

    __tablename__ = "files_t_receipt"
    title: Mapped[str] = mapped_column(String(40))
    scan: Mapped[StoredFile | None] = mapped_column(
        FileField(
            "scans", allowed_types={"image/png", "application/pdf"}, max_size=LIMIT, checksum=True
        ),
        default=None,
    )


@pytest.fixture
def upload_dir(tmp_path: Path) -> Iterator[Path]:
    """Settings whose UPLOAD_DIR is a temporary folder."""
    settings.configure(FileSettings(UPLOAD_DIR=str(tmp_path)))  # type: ignore[attr-defined]
    yield tmp_path
    settings.reset()  # type: ignore[attr-defined]


async def test_a_stored_file_round_trips_through_the_database(
    database: AsyncDatabaseManager, upload_dir: Path
) -> None:
    stored = await save_upload(Receipt.scan, png())
    assert stored.key.startswith("scans/") and stored.key.endswith(".png")
    assert (upload_dir / stored.key).read_bytes() == png()
    async with database.get_session_context() as session:
        session.add(Receipt(title="coffee", scan=stored))
        session.add(Receipt(title="none"))
    async with database.get_session_context() as session:
        rows = {row.title: row for row in await session.scalars(select(Receipt))}
    assert rows["coffee"].scan == stored
    assert rows["coffee"].scan.size == len(png())
    assert rows["coffee"].scan.content_type == "image/png"
    assert rows["coffee"].scan.sha256 == hashlib.sha256(png()).hexdigest()
    assert rows["none"].scan is None
    assert str(stored) == stored.key


async def test_upload_results_and_documents_are_accepted(
    database: AsyncDatabaseManager, upload_dir: Path
) -> None:
    result = UploadResult("scans/a.pdf", 10, "0" * 64, "application/pdf", "a.pdf")
    async with database.get_session_context() as session:
        session.add(Receipt(title="result", scan=result))
        session.add(Receipt(title="dict", scan={"key": "scans/b.pdf", "name": "b.pdf"}))
    async with database.get_session_context() as session:
        rows = {row.title: row for row in await session.scalars(select(Receipt))}
    assert rows["result"].scan == StoredFile(
        "scans/a.pdf", "a.pdf", 10, "application/pdf", "0" * 64
    )
    assert rows["dict"].scan == StoredFile("scans/b.pdf", "b.pdf")


async def test_the_digest_is_kept_only_for_a_checksum_column(tmp_path: Path) -> None:
    storage = LocalUploadStorage(tmp_path)
    lean = await ImageField("a").save(png(), storage=storage)
    assert lean.sha256 is None and lean.to_dict()["sha256"] is None
    summed = await ImageField("a", checksum=True).save(png(), storage=storage)
    assert summed.sha256 == hashlib.sha256(png()).hexdigest()
    assert StoredFile.from_dict({"key": "a/b.png", "sha256": ""}).sha256 is None  # older rows
    assert StoredFile.from_dict(summed.to_dict()) == summed
    with pytest.raises(ValueError, match="sha256"):
        StoredFile.from_dict({"key": "a/b.png", "sha256": 42})


@pytest.mark.parametrize("value", ["scans/a.png", 42, {"name": "no key"}, {"key": "a", "size": -1}])
async def test_other_values_are_refused(
    database: AsyncDatabaseManager, upload_dir: Path, value: Any
) -> None:
    with pytest.raises(StatementError, match=r"FileField holds a StoredFile|stored file"):
        async with database.get_session_context() as session:
            session.add(Receipt(title="bad", scan=value))


async def test_a_refused_type_is_a_415(upload_dir: Path) -> None:
    html = b"<!doctype html><script>alert(1)</script>"
    with pytest.raises(InvalidFileTypeException):
        await save_upload(Receipt.scan, html)
    assert not any(path.is_file() for path in (upload_dir / "scans").rglob("*"))


async def test_one_byte_over_the_limit_is_a_413(upload_dir: Path) -> None:
    body = pdf()
    at_limit = body + b"%" * (LIMIT - len(body))
    assert (await save_upload(Receipt.scan, at_limit)).size == LIMIT
    with pytest.raises(FileTooLargeException):
        await save_upload(Receipt.scan, at_limit + b"%")


async def test_an_empty_file_is_a_422(upload_dir: Path) -> None:
    with pytest.raises(ValidationException):
        await save_upload(Receipt.scan, b"")


async def test_the_default_limit_is_upload_max_size_bytes(upload_dir: Path) -> None:
    column = FileField()
    assert column.max_size_bytes() == 10 * 1024 * 1024
    with override_settings(UPLOAD_MAX_SIZE_BYTES=50), pytest.raises(FileTooLargeException):
        await column.save(png() + b"\x00" * 50)


def test_image_field_accepts_images_only() -> None:
    column = ImageField("photos")
    assert column.allowed_types == IMAGE_TYPES and column.images_only
    assert not FileField(allowed_types={"image/png", "application/pdf"}).images_only
    assert column.python_type is StoredFile


def test_an_unsafe_folder_is_refused() -> None:
    with pytest.raises(ValueError):
        FileField("../outside")


def test_file_field_names_a_non_file_column() -> None:
    assert file_field(Receipt.scan).upload_to == "scans"
    with pytest.raises(TypeError, match="is not a FileField column"):
        file_field(Receipt.title)


def test_migrations_write_the_column_as_json() -> None:
    assert render_item("type", Receipt.__table__.c.scan.type, None) == "sa.JSON()"


def test_url_is_upload_url_plus_the_key(upload_dir: Path) -> None:
    stored = StoredFile("scans/a b.png", "a b.png", 3, "image/png", "")
    assert stored.url is None
    with override_settings(UPLOAD_URL="https://cdn.example/media/"):
        assert stored.url == "https://cdn.example/media/scans/a%20b.png"


async def test_response_streams_the_file_with_ranges(upload_dir: Path) -> None:
    stored = await save_upload(Receipt.scan, png())
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/scan")
    async def scan(key: str) -> Response:
        return StoredFile(key, "scan.png", content_type="image/png").response()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        whole = await client.get("/scan", params={"key": stored.key})
        part = await client.get("/scan", params={"key": stored.key}, headers={"range": "bytes=0-7"})
        missing = await client.get("/scan", params={"key": "scans/none.png"})
        escape = await client.get("/scan", params={"key": "../../etc/passwd"})
    assert whole.content == png()
    assert whole.headers["content-disposition"] == 'attachment; filename="scan.png"'
    assert part.status_code == 206 and part.content == png()[:8]
    assert missing.status_code == 404 and missing.json()["code"] == "FILE_NOT_FOUND"
    assert escape.status_code == 404
    assert await stored.delete() is True
    assert not (upload_dir / stored.key).exists()
