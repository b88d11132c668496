"""The project's default storage from settings, and the checks of its settings.

Local folder by default, S3 (SeaweedFS here, which checks signatures) when the ``MINIO_*``
settings are set; ``manage.py check``'s storage checks: tempest.E040 (incomplete S3
settings), tempest.E041 (an UPLOAD_DIR that cannot be written), tempest.E042 (credentials
the server refuses, found by a real request), tempest.W043 (a server that does not answer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from tempest.conf import MinIOSettings, Settings, UploadSettings, override_settings, settings
from tempest.core.checks import run_system_checks
from tempest.db import FileField, StoredFile
from tempest.exceptions import ImproperlyConfigured
from tempest.storage import (
    LocalUploadStorage,
    MinIOUploadStorage,
    UploadStorage,
    default_storage,
    get_default_storage,
)
from tempest.storage.default import close_default_storage
from tests.files.samples import png
from tests.helpers import free_port
from tests.seaweed import ACCESS_KEY, SeaweedFS, _in_fresh_loop

pytestmark = pytest.mark.anyio

BUCKET = "tempest-default-storage"


class FileSettings(UploadSettings, MinIOSettings, Settings):
    """A project's settings with the upload and S3 groups."""


@pytest.fixture
def configure() -> Iterator[Any]:
    """Configure the settings for one test; reset afterwards."""

    def make(cls: type[Settings] = FileSettings, **values: Any) -> Settings:
        made = cls(**values)
        settings.configure(made)  # type: ignore[attr-defined]
        return made

    yield make
    settings.reset()  # type: ignore[attr-defined]


def storage_messages() -> list[tuple[str, str]]:
    """(id, message) of the storage checks."""
    report = run_system_checks(tags=["storage"])
    return [(str(message.id), message.msg) for message in report.messages]


def test_local_folder_by_default(configure: Any, tmp_path: Path) -> None:
    configure(UPLOAD_DIR=str(tmp_path / "uploads"))
    storage = get_default_storage()
    assert isinstance(storage, LocalUploadStorage)
    assert storage.root == (tmp_path / "uploads").resolve()
    assert get_default_storage() is storage  # built once per settings object
    with override_settings(UPLOAD_DIR=str(tmp_path / "other")):
        other = get_default_storage()
        assert isinstance(other, LocalUploadStorage) and other.root.name == "other"
    assert get_default_storage() is not other


def test_settings_without_the_upload_group_use_var_uploads(configure: Any) -> None:
    configure(Settings)
    storage = get_default_storage()
    assert isinstance(storage, LocalUploadStorage)
    assert storage.root == Path("./var/uploads").resolve()


def test_s3_when_the_minio_settings_are_set(
    configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIO_DEFAULT_BUCKET", "from-the-spec-name")  # the spec's name
    configure(MINIO_ACCESS_KEY="key", MINIO_SECRET_KEY="secret", MINIO_ENDPOINT="s3:9000")
    storage = get_default_storage()
    assert isinstance(storage, MinIOUploadStorage)
    assert storage.client.bucket == "from-the-spec-name"
    assert storage.client.endpoint == "http://s3:9000"


def test_upload_storage_local_wins_over_minio_settings(configure: Any, tmp_path: Path) -> None:
    configure(
        UPLOAD_STORAGE="local",
        UPLOAD_DIR=str(tmp_path),
        MINIO_ACCESS_KEY="key",
        MINIO_SECRET_KEY="secret",
        MINIO_BUCKET="bucket",
    )
    assert isinstance(get_default_storage(), LocalUploadStorage)


def test_upload_storage_s3_without_its_settings_names_them(configure: Any) -> None:
    configure(UPLOAD_STORAGE="s3", MINIO_BUCKET="files")
    with pytest.raises(ImproperlyConfigured, match="needs MINIO_ACCESS_KEY, MINIO_SECRET_KEY"):
        get_default_storage()
    assert storage_messages() == [
        (
            "tempest.E040",
            "File storage on S3 needs MINIO_ACCESS_KEY, MINIO_SECRET_KEY: set them (or "
            "UPLOAD_STORAGE=local to keep files in UPLOAD_DIR).",
        )
    ]


def test_an_unknown_upload_storage_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not a storage: use auto, local or s3"):
        FileSettings(UPLOAD_STORAGE="ftp")


def test_a_malformed_bucket_name_is_a_check_error(configure: Any) -> None:
    configure(MINIO_ACCESS_KEY="key", MINIO_SECRET_KEY="secret", MINIO_BUCKET="Not_A_Bucket")
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.E040"
    assert "'Not_A_Bucket' is not a valid S3 bucket name (MINIO_BUCKET)" in message


def test_a_writable_or_creatable_upload_dir_passes(configure: Any, tmp_path: Path) -> None:
    configure(UPLOAD_DIR=str(tmp_path / "not" / "yet" / "there"))
    assert storage_messages() == []
    assert not (tmp_path / "not").exists()  # checking creates nothing


def test_an_upload_dir_that_is_a_file_is_a_check_error(configure: Any, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    configure(UPLOAD_DIR=str(tmp_path / "taken"))
    assert storage_messages() == [
        ("tempest.E041", f"UPLOAD_DIR {str(tmp_path / 'taken')!r} is a file, not a folder.")
    ]


def test_an_upload_dir_under_a_file_cannot_be_created(configure: Any, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    configure(UPLOAD_DIR=str(tmp_path / "taken" / "uploads"))
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.E041"
    assert "does not exist and cannot be created" in message


async def test_the_dependency_gives_the_default_storage(configure: Any, tmp_path: Path) -> None:
    configure(UPLOAD_DIR=str(tmp_path))
    app = FastAPI()

    @app.get("/root")
    async def root(storage: UploadStorage = Depends(default_storage)) -> dict[str, str]:
        assert isinstance(storage, LocalUploadStorage)
        return {"root": str(storage.root)}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/root")
    assert response.json() == {"root": str(tmp_path.resolve())}


# -- S3 on SeaweedFS ---------------------------------------------------------------------


@pytest.fixture
def s3_settings(seaweedfs: SeaweedFS) -> dict[str, str]:
    """The MINIO_* settings of a bucket on the session's SeaweedFS (bucket created)."""

    async def create() -> None:
        async with seaweedfs.client(BUCKET) as client:
            await client.ensure_bucket()

    _in_fresh_loop(create())
    return seaweedfs.settings(BUCKET)


def test_the_s3_check_passes_with_the_right_credentials(
    configure: Any, s3_settings: dict[str, str]
) -> None:
    configure(**s3_settings)
    assert storage_messages() == []


def test_a_wrong_secret_is_a_clear_check_error(configure: Any, s3_settings: dict[str, str]) -> None:
    configure(**{**s3_settings, "MINIO_SECRET_KEY": "not-the-secret"})
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.E042"
    endpoint = "http://" + s3_settings["MINIO_ENDPOINT"]
    assert message == (
        f"object storage at {endpoint}: MINIO_SECRET_KEY does not match MINIO_ACCESS_KEY "
        "(S3 error SignatureDoesNotMatch)"
    )
    [found] = run_system_checks(tags=["storage"]).messages
    assert found.obj == "MINIO_SECRET_KEY"


def test_a_wrong_access_key_is_a_clear_check_error(
    configure: Any, s3_settings: dict[str, str]
) -> None:
    configure(**{**s3_settings, "MINIO_ACCESS_KEY": "NOSUCHKEY"})
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.E042"
    assert "MINIO_ACCESS_KEY" in message


def test_a_missing_bucket_is_a_clear_check_error(
    configure: Any, s3_settings: dict[str, str]
) -> None:
    configure(**{**s3_settings, "MINIO_BUCKET": f"missing-{uuid.uuid4().hex[:8]}"})
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.E042"
    assert "MINIO_BUCKET" in message


def test_a_server_that_does_not_answer_is_a_warning(configure: Any) -> None:
    configure(
        MINIO_ENDPOINT=f"127.0.0.1:{free_port()}",
        MINIO_ACCESS_KEY=ACCESS_KEY,
        MINIO_SECRET_KEY="secret",
        MINIO_BUCKET=BUCKET,
    )
    [(check_id, message)] = storage_messages()
    assert check_id == "tempest.W043"
    assert "cannot be reached" in message


async def test_a_file_column_stores_on_s3_and_reads_back(
    configure: Any, s3_settings: dict[str, str]
) -> None:
    configure(**s3_settings)
    column = FileField(f"t-{uuid.uuid4().hex[:8]}", allowed_types={"image/png"})
    stored = await column.save(png())
    assert isinstance(stored, StoredFile)
    storage = get_default_storage()
    assert isinstance(storage, MinIOUploadStorage)
    assert b"".join([chunk async for chunk in storage.read(stored.key)]) == png()
    signed = await stored.signed_url(expires_in=60)
    assert signed is not None and stored.key in signed
    async with httpx.AsyncClient() as client:
        assert (await client.get(signed)).content == png()
    assert await stored.delete() is True
    await close_default_storage()
    assert storage.client._http is None  # closed; the next request reconnects
