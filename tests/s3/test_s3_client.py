"""AsyncMinIOClient against a real S3 server (SeaweedFS, which checks every signature)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from tempest.storage import AsyncMinIOClient, ObjectStat
from tempest.storage.s3_errors import ObjectNotFoundError, S3Error

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_put_stat_get_delete(s3: AsyncMinIOClient) -> None:
    written = await s3.put_object(
        "docs/été.txt",
        b"hello world",
        content_type="text/plain",
        metadata={"owner": "ana"},
        checksum=True,
    )
    assert written.size == 11
    assert written.sha256 == hashlib.sha256(b"hello world").hexdigest()
    stat = await s3.stat_object("docs/été.txt")
    assert isinstance(stat, ObjectStat)
    assert (stat.key, stat.size, stat.content_type) == ("docs/été.txt", 11, "text/plain")
    assert stat.etag == f'"{hashlib.md5(b"hello world").hexdigest()}"'
    assert stat.metadata == {"owner": "ana"}
    assert stat.last_modified.tzinfo is not None
    assert await s3.get_object("docs/été.txt") == b"hello world"

    await s3.remove_object("docs/été.txt")
    with pytest.raises(ObjectNotFoundError):
        await s3.stat_object("docs/été.txt")
    with pytest.raises(FileNotFoundError):  # ObjectNotFoundError is one
        await s3.get_object("docs/été.txt")
    await s3.remove_object("docs/été.txt")  # deleting an absent key is no error (as S3)


async def test_a_zero_byte_object(s3: AsyncMinIOClient) -> None:
    async def nothing() -> AsyncIterator[bytes]:
        yield b""

    written = await s3.put_object("empty.bin", nothing(), checksum=True)
    assert (written.size, written.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert (await s3.stat_object("empty.bin")).size == 0
    assert await s3.get_object("empty.bin") == b""


async def test_range_get(s3: AsyncMinIOClient) -> None:
    await s3.put_object("digits", b"0123456789")
    assert await s3.get_object("digits", start=2, end=5) == b"234"
    assert await s3.get_object("digits", start=7) == b"789"
    assert await s3.get_object("digits", end=1) == b"0"
    with pytest.raises(S3Error) as caught:
        await s3.get_object("digits", start=50)
    assert caught.value.status == 416


async def test_list_with_pagination_stays_in_the_prefix(
    s3: AsyncMinIOClient, seaweedfs: object
) -> None:
    for index in range(7):
        await s3.put_object(f"list/{index}.txt", str(index).encode())
    await s3.put_object("other/x.txt", b"x")
    listed = [stat async for stat in s3.list_objects("list/", page_size=3)]
    assert [stat.key for stat in listed] == [f"list/{index}.txt" for index in range(7)]
    assert all(stat.size == 1 for stat in listed)
    everything = {stat.key async for stat in s3.list_objects()}
    assert everything == {*(stat.key for stat in listed), "other/x.txt"}
    # Another prefix of the same bucket sees none of it.
    async with AsyncMinIOClient(
        s3.endpoint,
        s3._credentials.access_key,
        s3._credentials.secret_key,
        bucket=s3.bucket,
        prefix=s3.prefix + "-neighbour",
    ) as neighbour:
        assert [stat async for stat in neighbour.list_objects()] == []


async def test_presigned_get_and_put(s3: AsyncMinIOClient) -> None:
    await s3.put_object("shared/report.pdf", b"%PDF-1.7 report")
    get_url = s3.presigned_get_object(
        "shared/report.pdf",
        60,
        response_headers={"response-content-disposition": 'attachment; filename="r.pdf"'},
    )
    put_url = s3.presigned_put_object("incoming/upload.bin", 60)
    async with httpx.AsyncClient() as http:
        got = await http.get(get_url)
        assert got.status_code == 200
        assert got.content == b"%PDF-1.7 report"
        assert got.headers["content-disposition"] == 'attachment; filename="r.pdf"'
        # A tampered URL is refused: the signature covers the key.
        tampered = await http.get(get_url.replace("report.pdf", "report.pdx"))
        assert tampered.status_code == 403
        put = await http.put(put_url, content=b"from a browser")
        assert put.status_code == 200
    assert await s3.get_object("incoming/upload.bin") == b"from a browser"


async def test_presign_expiry_is_bounded(s3: AsyncMinIOClient) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        s3.presigned_get_object("a", 8 * 24 * 3600)


async def test_multipart_upload_round_trips_its_sha256(s3: AsyncMinIOClient) -> None:
    data = os.urandom(12 * MiB)  # three 5 MiB parts, the last one 2 MiB
    written = await s3.put_object("big/blob.bin", chunked(data), checksum=True)
    assert written.size == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.etag is not None and written.etag.endswith('-3"')  # three parts
    digest = hashlib.sha256()
    async for chunk in s3.stream_object("big/blob.bin"):
        digest.update(chunk)
    assert digest.hexdigest() == written.sha256
    assert (await s3.stat_object("big/blob.bin")).size == len(data)
    assert await s3.list_multipart_uploads() == []


async def test_a_failed_multipart_upload_is_aborted(s3: AsyncMinIOClient) -> None:
    async def broken() -> AsyncIterator[bytes]:
        async for chunk in chunked(os.urandom(11 * MiB)):
            yield chunk
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await s3.put_object("big/broken.bin", broken())
    assert await s3.list_multipart_uploads() == []
    with pytest.raises(ObjectNotFoundError):
        await s3.stat_object("big/broken.bin")


async def test_a_cancelled_multipart_upload_is_aborted(s3: AsyncMinIOClient) -> None:
    hold = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for chunk in chunked(os.urandom(6 * MiB)):
            yield chunk
        await hold.wait()  # never set: the upload is cancelled here
        yield b"never"

    task = asyncio.create_task(s3.put_object("big/cancelled.bin", stalls()))
    for _ in range(100):  # the first part went up: the upload is open on the server
        if await s3.list_multipart_uploads():
            break
        await asyncio.sleep(0.05)
    assert [key for key, _ in await s3.list_multipart_uploads()] == ["big/cancelled.bin"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await s3.list_multipart_uploads() == []


async def test_conditional_put_refuses_an_existing_key(s3: AsyncMinIOClient) -> None:
    await s3.put_object("once.txt", b"first", if_none_match=True)
    with pytest.raises(S3Error) as single:
        await s3.put_object("once.txt", b"second", if_none_match=True)
    assert single.value.status == 412
    with pytest.raises(S3Error) as multipart:
        await s3.put_object("once.txt", chunked(os.urandom(6 * MiB)), if_none_match=True)
    assert multipart.value.status == 412
    assert await s3.get_object("once.txt") == b"first"
    assert await s3.list_multipart_uploads() == []


async def test_metadata_must_fit_in_a_header(s3: AsyncMinIOClient) -> None:
    with pytest.raises(ValueError, match="metadata"):
        await s3.put_object("m.txt", b"x", metadata={"name": "été"})
    with pytest.raises(ValueError, match="metadata"):
        await s3.put_object("m.txt", b"x", metadata={"bad name": "x"})
    with pytest.raises(ValueError, match="metadata"):
        await s3.put_object("m.txt", b"x", metadata={"name": "a\r\nX-Injected: 1"})


async def test_the_event_loop_is_never_blocked(
    s3: AsyncMinIOClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A 12 MiB multipart upload and download with asyncio's slow-callback detector on."""
    loop = asyncio.get_running_loop()
    debug, slow = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = 0.25  # generous: two cores shared by many processes
    data = os.urandom(12 * MiB)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            await s3.put_object("loop/blob.bin", chunked(data))
            size = 0
            async for chunk in s3.stream_object("loop/blob.bin"):
                size += len(chunk)
    finally:
        loop.set_debug(debug)
        loop.slow_callback_duration = slow
    assert size == len(data)
    assert [r.getMessage() for r in caplog.records if "took" in r.getMessage()] == []


def test_settings_build_the_client() -> None:
    from tempest.conf import MinIOSettings

    settings = MinIOSettings(
        MINIO_ENDPOINT="s3.example.com",
        MINIO_ACCESS_KEY="id",
        MINIO_SECRET_KEY="s3cr3t-value",
        MINIO_BUCKET="media",
        MINIO_SECURE=True,
        MINIO_REGION="eu-west-3",
    )
    client = AsyncMinIOClient.from_settings(settings, prefix="avatars")
    assert client.endpoint == "https://s3.example.com"
    assert (client.bucket, client.prefix) == ("media", "avatars")
    url = client.presigned_get_object("a.png", 60)
    assert url.startswith("https://s3.example.com/media/avatars/a.png?")
    assert "eu-west-3%2Fs3%2Faws4_request" in url
    assert "s3cr3t-value" not in repr(client._credentials)


@pytest.mark.parametrize("bucket", ["", "UPPER", "a", "under_score", "x" * 64])
def test_bad_bucket_names_are_refused(bucket: str) -> None:
    with pytest.raises(ValueError, match="bucket"):
        AsyncMinIOClient("127.0.0.1:9000", "a", "b", bucket=bucket)


def test_parts_under_five_mebibytes_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        AsyncMinIOClient("127.0.0.1:9000", "a", "b", bucket="media", part_size=MiB)


async def test_a_200_mb_upload_streams_in_bounded_memory(s3: AsyncMinIOClient) -> None:
    """RSS grows by about one part (5 MiB here), not by the upload's size."""
    import psutil  # type: ignore[import-untyped]

    block = os.urandom(MiB)
    expected = hashlib.sha256()

    async def two_hundred_mebibytes() -> AsyncIterator[bytes]:
        for index in range(200):
            chunk = index.to_bytes(8, "big") + block[8:]
            expected.update(chunk)
            yield chunk

    process = psutil.Process()
    before = process.memory_info().rss
    peak = before

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        written = await s3.put_object("big/200.bin", two_hundred_mebibytes(), checksum=True)
        digest = hashlib.sha256()
        async for chunk in s3.stream_object("big/200.bin"):
            digest.update(chunk)
    finally:
        watcher.cancel()
    assert written.size == 200 * MiB
    assert written.sha256 == expected.hexdigest() == digest.hexdigest()
    assert peak - before < 20 * MiB, f"RSS grew by {(peak - before) / MiB:.1f} MiB"
    await s3.remove_object("big/200.bin")
