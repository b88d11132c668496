"""Streaming an upload to S3: one ``PUT`` when small, a multipart upload when large.

Chunks are buffered until a part is full (:attr:`AsyncMinIOClient.part_size
<tempest.storage.s3_client.AsyncMinIOClient.part_size>`), so memory stays at about one
part whatever the size of the upload. Each part is signed with its own SHA-256 (SigV4's
payload hash: the server checks it). The whole upload's SHA-256 is computed only when
asked for (``checksum=True``): a single ``PUT`` reuses its payload hash, a multipart
upload hashes its bytes a second time. A multipart upload that fails or is cancelled at
any point is aborted, so no orphan parts are left to be billed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Protocol

from tempest.storage.base import UploadResult
from tempest.storage.s3_errors import parse_error
from tempest.storage.s3_parsing import xml_root, xml_text

if TYPE_CHECKING:
    import httpx

__all__ = ["S3Requester", "upload"]

logger = logging.getLogger("tempest.storage")

MAX_PARTS = 10_000
"""S3's most parts per upload."""


class S3Requester(Protocol):
    """What an upload needs of its client (:class:`~tempest.storage.AsyncMinIOClient`)."""

    part_size: int

    async def request(
        self,
        method: str,
        object_name: str | None = None,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        content_length: int | None = None,
        payload_hash: str = ...,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        translate: bool = True,
    ) -> httpx.Response:
        """Send one signed request (see ``AsyncMinIOClient.request``)."""
        ...


async def _chunks(data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    async for chunk in data:
        yield bytes(chunk)


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class _Upload:
    """One multipart upload in progress."""

    def __init__(self, client: S3Requester, object_name: str) -> None:
        self.client = client
        self.object_name = object_name
        self.upload_id = ""
        self.etags: list[str] = []

    async def begin(self, headers: Mapping[str, str]) -> None:
        response = await self.client.request(
            "POST", self.object_name, query={"uploads": ""}, headers=headers
        )
        self.upload_id = xml_text(xml_root(response.content), "UploadId")
        if not self.upload_id:
            raise parse_error(500, response.content, self.object_name)

    async def part(self, chunks: list[bytes], size: int, sha256: str) -> None:
        number = len(self.etags) + 1
        if number > MAX_PARTS:
            raise ValueError(f"an upload has at most {MAX_PARTS} parts: raise part_size")
        response = await self.client.request(
            "PUT",
            self.object_name,
            query={"partNumber": str(number), "uploadId": self.upload_id},
            content=_replay(chunks),
            content_length=size,
            payload_hash=sha256,
        )
        self.etags.append(response.headers.get("etag", ""))

    async def complete(self, headers: Mapping[str, str]) -> str:
        parts = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
            for number, etag in enumerate(self.etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = await self.client.request(
            "POST",
            self.object_name,
            query={"uploadId": self.upload_id},
            headers={"content-type": "application/xml", **headers},
            content=body,
            payload_hash=hashlib.sha256(body).hexdigest(),
        )
        # S3 may answer 200 and still fail: the error is then in the body.
        root = xml_root(response.content)
        if root.tag.rpartition("}")[2] == "Error":
            raise parse_error(500, response.content, self.object_name)
        return xml_text(root, "ETag")

    async def abort(self) -> None:
        try:
            await self.client.request(
                "DELETE", self.object_name, query={"uploadId": self.upload_id}, ok=(200, 204)
            )
        except Exception as error:  # the first error matters more; this one is logged
            logger.warning(
                "file storage: could not abort multipart upload %s of %s: %s",
                self.upload_id,
                self.object_name,
                error,
            )


def _feed(hasher: hashlib._Hash | None, chunks: list[bytes]) -> None:
    if hasher is not None:
        for chunk in chunks:
            hasher.update(chunk)


async def upload(
    client: S3Requester,
    key: str,
    object_name: str,
    data: bytes | AsyncIterable[bytes],
    *,
    headers: Mapping[str, str],
    if_none_match: bool,
    checksum: bool = False,
) -> UploadResult:
    """Stream ``data`` to ``object_name``: see :meth:`AsyncMinIOClient.put_object`.

    Args:
        client: The client (its ``part_size`` decides when to go multipart).
        key: The key as the caller named it (echoed in the result).
        object_name: The full object name.
        data: The bytes or an async iterable of chunks.
        headers: ``content-type`` and ``x-amz-meta-*`` headers.
        if_none_match: Write only if the object does not exist.
        checksum: Also return the SHA-256 of the whole object.

    Returns:
        Key, size, SHA-256 (None without ``checksum``), content type and ETag.
    """
    condition = {"if-none-match": "*"} if if_none_match else {}
    whole = hashlib.sha256() if checksum else None
    part = hashlib.sha256()
    buffered: list[bytes] = []
    buffered_size = size = 0
    multipart: _Upload | None = None
    try:
        async for chunk in _chunks(data):
            if not chunk:
                continue
            part.update(chunk)
            buffered.append(chunk)
            buffered_size += len(chunk)
            size += len(chunk)
            if buffered_size >= client.part_size:
                if multipart is None:
                    multipart = _Upload(client, object_name)
                    await multipart.begin(headers)
                _feed(whole, buffered)
                await multipart.part(buffered, buffered_size, part.hexdigest())
                buffered, buffered_size, part = [], 0, hashlib.sha256()
        if multipart is None:
            response = await client.request(
                "PUT",
                object_name,
                headers={**headers, **condition},
                content=_replay(buffered),
                content_length=buffered_size,
                payload_hash=part.hexdigest(),
            )
            etag = response.headers.get("etag", "")
            digest = part.hexdigest() if checksum else None  # one part: the whole object
        else:
            _feed(whole, buffered)
            digest = whole.hexdigest() if whole is not None else None
            if buffered_size:
                await multipart.part(buffered, buffered_size, part.hexdigest())
            buffered = []
            etag = await multipart.complete(condition)
    except BaseException:
        if multipart is not None and multipart.upload_id:
            # Shielded: a cancelled upload is still cleaned up.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(multipart.abort())
        raise
    return UploadResult(
        key=key,
        size=size,
        sha256=digest,
        content_type=headers.get("content-type", "application/octet-stream"),
        etag=etag.strip() or None,
    )
