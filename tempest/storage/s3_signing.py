"""AWS Signature Version 4 for S3: signed request headers and presigned URLs.

Pure computation (hashlib, hmac), so the async client can sign on the event loop without
blocking it. Implements the header form (``Authorization: AWS4-HMAC-SHA256 ...``) and
the query form (``X-Amz-Signature=...`` presigned URLs) of
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
for path-style URLs (``http://host:port/bucket/key``), the form MinIO, SeaweedFS, Ceph
and AWS all accept.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = [
    "EMPTY_SHA256",
    "UNSIGNED_PAYLOAD",
    "S3Credentials",
    "encode_path",
    "encode_query",
    "presign_url",
    "sign_headers",
]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
"""The payload hash of a request without a body."""

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
"""The payload hash of a presigned URL (the body is not known when it is signed)."""

_ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE = "s3"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""S3 refuses presigned URLs valid for more than seven days."""


@dataclass(frozen=True, slots=True)
class S3Credentials:
    """Who signs: an access key pair and the region named in the signature scope.

    Attributes:
        access_key: The access key id (sent in clear).
        secret_key: The secret key (never sent; only signatures derived from it).
        region: The region of the scope (``us-east-1`` for MinIO and most others).
    """

    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def __repr__(self) -> str:
        return (
            f"S3Credentials(access_key={self.access_key!r}, secret_key='***', "
            f"region={self.region!r})"
        )


def encode_path(path: str) -> str:
    """Percent-encode a URL path the way SigV4 canonicalizes it for S3 (``/`` kept).

    Args:
        path: The decoded path, e.g. ``/bucket/photos/été.png``.

    Returns:
        The encoded path: RFC 3986 unreserved characters and ``/`` stay, UTF-8 bytes of
        anything else become ``%XX``.
    """
    return quote(path, safe="/-_.~")


def encode_query(params: Mapping[str, str]) -> str:
    """The canonical query string: sorted, each name and value RFC 3986-encoded.

    Args:
        params: Decoded query parameters (a value may be ``""``).

    Returns:
        ``a=1&b=x%2Fy``; also what the client puts in the URL, so both agree.
    """
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def _signing_key(credentials: S3Credentials, day: str) -> bytes:
    key = ("AWS4" + credentials.secret_key).encode("utf-8")
    for part in (day, credentials.region, _SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _signature(
    credentials: S3Credentials,
    when: datetime,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str, str]:
    """(signature, scope, signed header names) of one canonical request."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    scope = f"{day}/{credentials.region}/{_SERVICE}/aws4_request"
    canonical = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    names = sorted(canonical)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method,
            encode_path(path),
            query,
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            signed_headers,
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [
            _ALGORITHM,
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    signature = hmac.new(
        _signing_key(credentials, day), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return signature, scope, signed_headers


def sign_headers(
    credentials: S3Credentials,
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    payload_hash: str = EMPTY_SHA256,
    when: datetime | None = None,
) -> dict[str, str]:
    """The headers of a signed request: ``headers`` plus Host, dates and Authorization.

    Args:
        credentials: The key pair and region.
        method: ``GET``, ``PUT``, ...
        host: The ``Host`` header the HTTP client sends (``host:port`` unless default).
        path: The decoded path (``/bucket/key``).
        query: Decoded query parameters.
        headers: Headers to send and sign (``Content-Type``, ``Range``, ``x-amz-meta-*``).
        payload_hash: Hex SHA-256 of the body, or :data:`UNSIGNED_PAYLOAD`.
        when: The signing time (now, UTC, when None).

    Returns:
        Every header to send, ``Authorization`` included.
    """
    when = when or datetime.now(UTC)
    signed = {
        **(headers or {}),
        "host": host,
        "x-amz-date": when.strftime("%Y%m%dT%H%M%SZ"),
        "x-amz-content-sha256": payload_hash,
    }
    signature, scope, signed_headers = _signature(
        credentials, when, method, path, encode_query(query or {}), signed, payload_hash
    )
    signed["authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return signed


def presign_url(
    credentials: S3Credentials,
    *,
    method: str,
    base_url: str,
    host: str,
    path: str,
    expires_in: int,
    query: Mapping[str, str] | None = None,
    when: datetime | None = None,
) -> str:
    """A URL anyone can use for ``method`` on ``path`` until it expires.

    Args:
        credentials: The key pair and region.
        method: ``GET`` (download) or ``PUT`` (upload).
        base_url: ``scheme://host[:port]`` of the server.
        host: The ``Host`` the caller's HTTP client will send.
        path: The decoded path (``/bucket/key``).
        expires_in: Seconds the URL stays valid (1 to 604800).
        query: Extra query parameters to sign (``response-content-disposition``...).
        when: The signing time (now, UTC, when None).

    Returns:
        The full URL with its ``X-Amz-*`` query parameters.

    Raises:
        ValueError: ``expires_in`` is out of range.
    """
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_in must be 1..{MAX_PRESIGN_SECONDS} seconds, not {expires_in}")
    when = when or datetime.now(UTC)
    day = when.strftime("%Y%m%d")
    params = {
        **(query or {}),
        "X-Amz-Algorithm": _ALGORITHM,
        "X-Amz-Credential": (
            f"{credentials.access_key}/{day}/{credentials.region}/{_SERVICE}/aws4_request"
        ),
        "X-Amz-Date": when.strftime("%Y%m%dT%H%M%SZ"),
        "X-Amz-Expires": str(expires_in),
        "X-Amz-SignedHeaders": "host",
    }
    canonical_query = encode_query(params)
    signature, _, _ = _signature(
        credentials, when, method, path, canonical_query, {"host": host}, UNSIGNED_PAYLOAD
    )
    return f"{base_url}{encode_path(path)}?{canonical_query}&X-Amz-Signature={signature}"
