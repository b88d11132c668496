"""An async S3 client bound to one bucket and one key prefix: :class:`AsyncMinIOClient`.

Everything runs on the event loop without blocking it: requests go through
``httpx.AsyncClient`` and are signed with AWS Signature V4 by
:mod:`tempest.storage.s3_signing` (pure hashing, no I/O). Works with MinIO, SeaweedFS,
Ceph RGW, Garage and AWS S3 (path-style URLs).

The client's key space is ``PREFIX/KEY`` inside its bucket: every key passes
:func:`~tempest.utils.filenames.validate_key` (no ``..``, no leading ``/``, no NUL,
backslash, control character, percent-escaped dot or Unicode look-alike), so no key can
name an object outside the prefix. Listing strips the prefix again.

Failures: an unreachable server (refused, timed out, 503 SlowDown) raises
:class:`~tempest.exceptions.ServiceUnavailableException` (503, code
``STORAGE_UNAVAILABLE``) and logs one line per outage; wrong credentials at request time
give a 503 ``STORAGE_MISCONFIGURED`` and one error line naming the S3 code, while
:meth:`AsyncMinIOClient.verify` (the start-up check) raises
:class:`~tempest.storage.s3_errors.S3ConfigurationError` saying which setting to fix.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Self

from tempest.exceptions import ServiceUnavailableException
from tempest.storage.base import ObjectStat, UploadResult
from tempest.storage.s3_errors import (
    CREDENTIAL_CODES,
    UNAVAILABLE_CODES,
    ObjectNotFoundError,
    S3Error,
    configuration_error,
    parse_error,
    unavailable,
)
from tempest.storage.s3_multipart import upload
from tempest.storage.s3_parsing import (
    check_metadata,
    parse_listing,
    stat_from_headers,
    xml_children,
    xml_root,
    xml_text,
)
from tempest.storage.s3_signing import (
    EMPTY_SHA256,
    S3Credentials,
    encode_path,
    encode_query,
    presign_url,
    sign_headers,
)
from tempest.utils.filenames import validate_key
from tempest.utils.outages import OutageLog

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_PART_SIZE", "MIN_PART_SIZE", "AsyncMinIOClient"]

logger = logging.getLogger("tempest.storage")

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part of a multipart upload (all but the last)."""

DEFAULT_PART_SIZE = 8 * 1024 * 1024
"""Bytes buffered per part: uploads larger than this go up as a multipart upload."""

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class AsyncMinIOClient:
    """An async S3 client confined to ``bucket`` and ``prefix``.

    Example:
        >>> client = AsyncMinIOClient.from_settings(settings)  # doctest: +SKIP
        >>> await client.put_object("docs/a.txt", b"hello", content_type="text/plain")
        >>> async for chunk in client.stream_object("docs/a.txt", start=1):
        ...     print(chunk)  # b"ello"

    Use it as an async context manager, or call :meth:`aclose` at shutdown, to close its
    connections.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """Describe the server; nothing is connected until the first request.

        Args:
            endpoint: ``host:port`` (as in ``MINIO_ENDPOINT``) or a full
                ``http(s)://host:port`` URL.
            access_key: The access key id.
            secret_key: The secret key.
            bucket: The bucket every key lives in.
            secure: Use HTTPS when ``endpoint`` has no scheme.
            region: The signature region (``us-east-1`` when None).
            prefix: A key prefix (``"uploads"``): the client's whole key space.
            part_size: Bytes per part of a multipart upload (at least 5 MiB).
            timeout: Seconds for connecting and for each read or write.
            http_client: An ``httpx.AsyncClient`` to share (its base settings are used
                as they are); a private one is made when None.

        Raises:
            ValueError: A malformed bucket name or prefix, or parts under 5 MiB.
        """
        if not _BUCKET_NAME.match(bucket):
            raise ValueError(f"{bucket!r} is not a valid S3 bucket name (MINIO_BUCKET)")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        if "://" not in endpoint:
            endpoint = f"{'https' if secure else 'http'}://{endpoint}"
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.timeout = timeout
        self._credentials = S3Credentials(access_key, secret_key, region or "us-east-1")
        self._http = http_client
        self._own_http = http_client is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host = ""
        self._outage = OutageLog(
            "file storage",
            "object storage",
            self.endpoint,
            consequence="requests that need stored files answer 503 until it is back",
            logger=logger,
        )
        self._misconfigured_logged = False

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> Self:
        """A client for the ``MINIO_*`` settings (:class:`~tempest.conf.MinIOSettings`).

        Args:
            settings: An object with ``MINIO_ENDPOINT``, ``MINIO_ACCESS_KEY``,
                ``MINIO_SECRET_KEY``, ``MINIO_BUCKET``, ``MINIO_SECURE``, ``MINIO_REGION``.
            **options: Other constructor arguments (``prefix``, ``part_size``...).

        Returns:
            The client.
        """
        return cls(
            settings.MINIO_ENDPOINT,
            settings.MINIO_ACCESS_KEY,
            settings.MINIO_SECRET_KEY,
            bucket=settings.MINIO_BUCKET,
            secure=settings.MINIO_SECURE,
            region=getattr(settings, "MINIO_REGION", None),
            **options,
        )

    def __repr__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"<AsyncMinIOClient {self.endpoint} {where}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections of the private HTTP client (a shared one is left open)."""
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    # -- keys and requests -----------------------------------------------------------

    def object_key(self, key: str) -> str:
        """The bucket-level name of ``key``: ``PREFIX/KEY`` after checking ``key``.

        Args:
            key: A relative key (``docs/a.txt``).

        Returns:
            The full object name.

        Raises:
            tempest.utils.filenames.InvalidKeyError: The key could escape the prefix.
        """
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _path(self, object_name: str | None = None) -> str:
        return f"/{self.bucket}/{object_name}" if object_name is not None else f"/{self.bucket}"

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._own_http and self._http is not None and self._loop is not loop:
            # Pooled connections belong to the loop that opened them: a client kept in a
            # module and used from another loop (one per test, say) starts a new pool.
            self._http = None
        if self._http is None:
            self._loop = loop
            try:
                import httpx
            except ImportError as error:  # pragma: no cover - the extra is installed here
                raise ImportError(
                    'AsyncMinIOClient needs httpx: pip install "tempest-framework[minio]"'
                ) from error
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, pool=self.timeout),
                trust_env=False,  # no proxy from the environment between us and S3
                follow_redirects=False,
            )
        return self._http

    def _host_header(self) -> str:
        if not self._host:
            import httpx

            self._host = httpx.URL(self.endpoint).netloc.decode("ascii")
        return self._host

    async def request(
        self,
        method: str,
        object_name: str | None = None,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        content_length: int | None = None,
        payload_hash: str = EMPTY_SHA256,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        translate: bool = True,
    ) -> httpx.Response:
        """Send one signed request and return the answer (or raise its error).

        Args:
            method: The HTTP method.
            object_name: The full object name (see :meth:`object_key`); None for the bucket.
            query: Query parameters (signed).
            headers: Headers (signed).
            content: The body.
            content_length: Its length when ``content`` is an iterable.
            payload_hash: Hex SHA-256 of the body.
            stream: Leave the body unread (the caller reads and closes it).
            ok: Statuses that are not errors.
            translate: Turn credential and availability errors into 503s (False keeps
                the :class:`~tempest.storage.s3_errors.S3Error`, for :meth:`verify`).

        Returns:
            The response.

        Raises:
            ServiceUnavailableException: The server cannot be reached or is overloaded.
            S3Error: Any other error answer (``ObjectNotFoundError`` for 404).
        """
        import httpx

        client = self._client()
        path = self._path(object_name)
        signed = sign_headers(
            self._credentials,
            method=method,
            host=self._host_header(),
            path=path,
            query=query,
            headers=headers,
            payload_hash=payload_hash,
        )
        if content_length is not None:
            signed["content-length"] = str(content_length)
        url = self.endpoint + encode_path(path)
        if query:
            url += "?" + encode_query(query)
        request = client.build_request(method, url, headers=signed, content=content)
        try:
            response = await client.send(request, stream=stream)
        except httpx.TransportError as error:
            self._outage.failed(error)
            raise unavailable(self.endpoint, str(error)) from error
        self._outage.succeeded()
        if response.status_code in ok:
            return response
        try:
            body = await response.aread()
        except httpx.TransportError as error:
            raise unavailable(self.endpoint, str(error)) from error
        finally:
            await response.aclose()
        raise self._translate(parse_error(response.status_code, body, path), translate)

    def _translate(self, error: S3Error, translate: bool) -> Exception:
        if not translate:
            return error
        if error.status == 503 or error.code in UNAVAILABLE_CODES:
            self._outage.failed(error)
            return unavailable(self.endpoint, str(error))
        if error.code in CREDENTIAL_CODES or error.code == "NoSuchBucket":
            if not self._misconfigured_logged:
                self._misconfigured_logged = True
                problem = configuration_error(error, bucket=self.bucket, endpoint=self.endpoint)
                logger.error("file storage: %s", problem.message)
            return ServiceUnavailableException(
                "File storage is misconfigured; the site's operators have been told",
                code="STORAGE_MISCONFIGURED",
                service="object storage",
            )
        return error

    # -- bucket ----------------------------------------------------------------------

    async def bucket_exists(self) -> bool:
        """Whether the bucket exists (and the key pair may see it)."""
        try:
            await self.request("HEAD", ok=(200,))
        except ObjectNotFoundError:
            return False
        return True

    async def make_bucket(self) -> None:
        """Create the bucket (an error if it exists: see :meth:`ensure_bucket`)."""
        body = b""
        region = self._credentials.region
        if region != "us-east-1":
            body = (
                "<CreateBucketConfiguration><LocationConstraint>"
                f"{region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        import hashlib

        await self.request(
            "PUT", content=body, payload_hash=hashlib.sha256(body).hexdigest(), ok=(200,)
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""
        if not await self.bucket_exists():
            try:
                await self.make_bucket()
            except S3Error as error:
                if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def verify(self) -> None:
        """Check the settings with one request: the start-up check.

        Lists at most one key of the bucket, which needs the endpoint to answer, the key
        pair to be right and the bucket to exist and be readable.

        Raises:
            S3ConfigurationError: Wrong access key (``InvalidAccessKeyId``), wrong secret
                (``SignatureDoesNotMatch``), wrong region, no access or no bucket: the
                message names the S3 code and the ``MINIO_*`` setting to fix.
            ServiceUnavailableException: The endpoint cannot be reached.
        """
        try:
            response = await self.request(
                "GET", query={"list-type": "2", "max-keys": "1"}, translate=False
            )
        except S3Error as error:
            raise configuration_error(error, bucket=self.bucket, endpoint=self.endpoint) from None
        await response.aclose()

    # -- objects ---------------------------------------------------------------------

    async def put_object(
        self,
        key: str,
        data: bytes | AsyncIterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_none_match: bool = False,
        checksum: bool = False,
    ) -> UploadResult:
        """Store ``data`` under ``key``, streaming it; multipart when it is large.

        Chunks are buffered up to :attr:`part_size`: a smaller object goes up in one
        ``PUT``, a larger one as a multipart upload of ``part_size`` parts, which is
        aborted (no parts left behind) if anything fails or the task is cancelled.

        Args:
            key: Where to store it.
            data: The bytes, or an async iterable of chunks.
            content_type: Its MIME type.
            metadata: User metadata (see :func:`check_metadata`).
            if_none_match: Fail with a 412 :class:`S3Error` if ``key`` exists
                (``If-None-Match: *``, a conditional write without a race).
            checksum: Return the SHA-256 of the whole object (each part is signed with
                its own SHA-256 either way).

        Returns:
            Key, size, SHA-256 (None without ``checksum``) and ETag of the stored object.
        """
        object_name = self.object_key(key)
        headers = {"content-type": content_type, **check_metadata(metadata)}
        return await upload(
            self,
            key,
            object_name,
            data,
            headers=headers,
            if_none_match=if_none_match,
            checksum=checksum,
        )

    async def stat_object(self, key: str) -> ObjectStat:
        """Size, ETag, type, modification time and user metadata of ``key``.

        Raises:
            ObjectNotFoundError: No such key.
        """
        response = await self.request("HEAD", self.object_key(key))
        return stat_from_headers(key, response.headers)

    async def stream_object(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        """The bytes of ``key`` in ``[start, end)``, streamed (an async generator).

        Args:
            key: What to read.
            start: First byte.
            end: One past the last byte; None reads to the end.
            chunk_size: Bytes per chunk yielded.

        Yields:
            Chunks, as stored (no content decoding).

        Raises:
            ObjectNotFoundError: No such key (on the first iteration).
            S3Error: ``InvalidRange`` (416) when ``start`` is past the end.
        """
        object_name = self.object_key(key)
        if start < 0 or (end is not None and end <= start):
            raise ValueError(f"bad byte range [{start}, {end})")
        headers: dict[str, str] = {}
        if start or end is not None:
            last = "" if end is None else str(end - 1)
            headers["range"] = f"bytes={start}-{last}"
        response = await self.request(
            "GET", object_name, headers=headers, stream=True, ok=(200, 206)
        )
        try:
            async for chunk in response.aiter_raw(chunk_size):
                yield chunk
        except Exception as error:
            import httpx

            if isinstance(error, httpx.TransportError):
                self._outage.failed(error)
                raise unavailable(self.endpoint, str(error)) from error
            raise
        finally:
            await response.aclose()

    async def get_object(self, key: str, *, start: int = 0, end: int | None = None) -> bytes:
        """The bytes of ``key`` (or of ``[start, end)``) in memory: for small objects."""
        return b"".join([chunk async for chunk in self.stream_object(key, start=start, end=end)])

    async def remove_object(self, key: str) -> None:
        """Delete ``key`` (no error when it does not exist, as in S3)."""
        await self.request("DELETE", self.object_key(key), ok=(200, 204))

    async def list_objects(
        self, prefix: str = "", *, page_size: int = 1000
    ) -> AsyncIterator[ObjectStat]:
        """Every key under ``prefix`` (recursively), page by page.

        Args:
            prefix: A key prefix inside the client's space (``"docs/"``, ``"docs/a"``).
            page_size: Keys per request (at most 1000).

        Yields:
            An :class:`ObjectStat` per key (no content type or metadata: S3 listings
            do not carry them), keys relative to the client's prefix.
        """
        if prefix:
            validate_key(prefix.rstrip("/") or ".")
        base = f"{self.prefix}/" if self.prefix else ""
        query = {"list-type": "2", "prefix": base + prefix, "max-keys": str(min(page_size, 1000))}
        while True:
            response = await self.request("GET", query=query)
            stats, token = parse_listing(response.content, base)
            for stat in stats:
                yield stat
            if token is None:
                return
            query = {**query, "continuation-token": token}

    async def list_multipart_uploads(self, prefix: str = "") -> list[tuple[str, str]]:
        """Multipart uploads begun under ``prefix`` and neither completed nor aborted.

        Returns:
            ``(key, upload_id)`` pairs, keys relative to the client's prefix.
        """
        base = f"{self.prefix}/" if self.prefix else ""
        response = await self.request("GET", query={"uploads": "", "prefix": base + prefix})
        root = xml_root(response.content)
        return [
            (xml_text(item, "Key")[len(base) :], xml_text(item, "UploadId"))
            for item in xml_children(root, "Upload")
            if xml_text(item, "Key").startswith(base)
        ]

    # -- presigned URLs --------------------------------------------------------------

    def _presign(
        self, method: str, key: str, expires_in: int, query: Mapping[str, str] | None = None
    ) -> str:
        return presign_url(
            self._credentials,
            method=method,
            base_url=self.endpoint,
            host=self._host_header(),
            path=self._path(self.object_key(key)),
            expires_in=expires_in,
            query=query,
        )

    def presigned_get_object(
        self,
        key: str,
        expires_in: int = 3600,
        *,
        response_headers: Mapping[str, str] | None = None,
    ) -> str:
        """A URL that downloads ``key`` without credentials until it expires.

        Args:
            key: The key.
            expires_in: Seconds (1 to 604800).
            response_headers: Answer headers to force, e.g.
                ``{"response-content-disposition": "attachment; filename=a.pdf"}``.

        Returns:
            The URL (no request is made).
        """
        return self._presign("GET", key, expires_in, response_headers)

    def presigned_put_object(self, key: str, expires_in: int = 3600) -> str:
        """A URL that uploads ``key`` with a plain ``PUT`` until it expires."""
        return self._presign("PUT", key, expires_in)
