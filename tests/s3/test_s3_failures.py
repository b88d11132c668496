"""Wrong S3 settings and an S3 server that is down: clear errors, and 503s, never 500s."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from tempest.api import register_exception_handlers
from tempest.exceptions import ServiceUnavailableException
from tempest.storage import AsyncMinIOClient, MinIOUploadStorage, S3ConfigurationError
from tempest.storage.s3_check import check_s3
from tempest.utils.downloads import DownloadUtils
from tests.helpers import free_port
from tests.s3.conftest import BUCKET
from tests.seaweed import ACCESS_KEY, SeaweedFS

pytestmark = pytest.mark.anyio


async def test_verify_accepts_good_settings(s3: AsyncMinIOClient) -> None:
    await s3.verify()


async def test_a_wrong_secret_key_names_signature_does_not_match(seaweedfs: SeaweedFS) -> None:
    async with seaweedfs.client(BUCKET, secret_key="not-the-secret") as client:
        with pytest.raises(S3ConfigurationError) as caught:
            await client.verify()
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "MINIO_SECRET_KEY" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


async def test_an_unknown_access_key_names_invalid_access_key_id(seaweedfs: SeaweedFS) -> None:
    async with seaweedfs.client(BUCKET, access_key="NOBODY") as client:
        with pytest.raises(S3ConfigurationError) as caught:
            await client.verify()
    assert caught.value.code == "InvalidAccessKeyId"
    assert "MINIO_ACCESS_KEY" in str(caught.value)


async def test_a_missing_bucket_names_the_bucket(seaweedfs: SeaweedFS) -> None:
    async with seaweedfs.client("no-such-bucket-here") as client:
        with pytest.raises(S3ConfigurationError) as caught:
            await client.verify()
    assert caught.value.code == "NoSuchBucket"
    assert "MINIO_BUCKET" in str(caught.value)


async def test_check_s3_reports_settings_problems(seaweedfs: SeaweedFS) -> None:
    from tempest.conf import MinIOSettings

    good = MinIOSettings(**seaweedfs.settings(BUCKET))  # type: ignore[arg-type]
    assert await check_s3(good) == []
    wrong = good.model_copy(update={"MINIO_SECRET_KEY": "wrong"})
    [problem] = await check_s3(wrong)
    assert "SignatureDoesNotMatch" in problem and "MINIO_SECRET_KEY" in problem
    down = good.model_copy(update={"MINIO_ENDPOINT": f"127.0.0.1:{free_port()}"})
    [problem] = await check_s3(down)
    assert "cannot be reached" in problem
    assert await check_s3(MinIOSettings(MINIO_ACCESS_KEY="")) == []  # S3 not configured


def app_on(client: AsyncMinIOClient) -> FastAPI:
    files = DownloadUtils(MinIOUploadStorage(client))
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/files/{key:path}")
    async def download(key: str) -> object:
        return files.file_response(key)

    @app.post("/files/{key:path}")
    async def upload(key: str) -> dict[str, int]:
        return {"size": (await MinIOUploadStorage(client).save(key, b"data")).size}

    return app


async def test_s3_down_answers_503_with_the_envelope(caplog: pytest.LogCaptureFixture) -> None:
    client = AsyncMinIOClient(
        f"127.0.0.1:{free_port()}", ACCESS_KEY, "secret", bucket=BUCKET, timeout=2
    )
    transport = httpx.ASGITransport(app=app_on(client))
    with caplog.at_level(logging.WARNING, logger="tempest.storage"):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answers = [await http.get("/files/a.txt") for _ in range(3)]
            answers.append(await http.post("/files/b.txt"))
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        body = answer.json()
        assert body["code"] == "STORAGE_UNAVAILABLE"
        assert body["details"] == {"service": "object storage"}
        assert "detail" in body
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1  # once per outage, not once per request
    await client.aclose()


async def test_a_stopped_server_answers_503(tmp_path: object) -> None:
    """A private SeaweedFS, killed while a client still uses it."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    server = SeaweedFS(tmp_path)
    server.start()
    try:
        client = server.client("killed")
        await client.ensure_bucket()
        await client.put_object("a.txt", b"before")
    finally:
        server.stop()
    with pytest.raises(ServiceUnavailableException) as caught:
        await client.get_object("a.txt")
    assert caught.value.code == "STORAGE_UNAVAILABLE"
    await client.aclose()


async def test_wrong_credentials_per_request_are_503_not_500(
    seaweedfs: SeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    client = seaweedfs.client(BUCKET, secret_key="wrong")
    transport = httpx.ASGITransport(app=app_on(client))
    with caplog.at_level(logging.ERROR, logger="tempest.storage"):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answers = [await http.get("/files/a.txt"), await http.post("/files/a.txt")]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["code"] == "STORAGE_MISCONFIGURED"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "MINIO_" in errors[0]
    await client.aclose()
