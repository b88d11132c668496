"""What can go wrong talking to S3, as exceptions a caller can tell apart.

- :class:`S3Error`: the server answered with an S3 error (``<Error><Code>...``).
- :class:`ObjectNotFoundError`: no such key (also a :class:`FileNotFoundError`).
- :class:`S3ConfigurationError`: the settings are wrong (bad access key, bad secret,
  missing bucket, access denied): raised by :meth:`AsyncMinIOClient.verify
  <tempest.storage.s3_client.AsyncMinIOClient.verify>` at start-up, with the fix in the
  message.
- :func:`unavailable`: the server cannot be reached (refused, timed out, 503 SlowDown):
  a :class:`~tempest.exceptions.ServiceUnavailableException` (503 with ``Retry-After``),
  so a request that needs the storage gets the error envelope, not a 500.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from tempest.exceptions import ServiceUnavailableException
from tempest.storage.s3_parsing import xml_root, xml_text

__all__ = [
    "CREDENTIAL_CODES",
    "ObjectNotFoundError",
    "S3ConfigurationError",
    "S3Error",
    "parse_error",
    "unavailable",
]

CREDENTIAL_CODES = frozenset(
    {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "AuthorizationHeaderMalformed"}
)
"""Error codes that mean the configured key pair (or region) is wrong."""

UNAVAILABLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError"})
"""Error codes that mean "try again later"."""


class S3Error(Exception):
    """An S3 error answer.

    Attributes:
        status: The HTTP status.
        code: The S3 error code (``NoSuchKey``, ``SignatureDoesNotMatch``...).
        message: The server's message.
        resource: The path it was about.
        request_id: The server's request id, for its logs.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str = "",
        *,
        resource: str = "",
        request_id: str = "",
    ) -> None:
        """Build the error from the parts of the server's answer."""
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource
        self.request_id = request_id
        text = f"S3 {status} {code}"
        if message:
            text += f": {message}"
        if resource:
            text += f" ({resource})"
        super().__init__(text)


class ObjectNotFoundError(S3Error, FileNotFoundError):
    """The key (or the bucket) does not exist."""


class S3ConfigurationError(S3Error):
    """The storage settings are wrong: the message names the S3 code and the setting to fix."""


def parse_error(status: int, body: bytes, resource: str = "") -> S3Error:
    """The :class:`S3Error` an error answer stands for.

    Args:
        status: The HTTP status.
        body: The answer's body (``<Error>`` XML, or empty for HEAD requests).
        resource: The path asked for, used when the body does not say.

    Returns:
        :class:`ObjectNotFoundError` for 404s, :class:`S3Error` otherwise.
    """
    code = message = request_id = ""
    if body.strip():
        try:
            root = xml_root(body)
        except ParseError:
            message = body[:200].decode("utf-8", "replace")
        else:
            code = xml_text(root, "Code")
            message = xml_text(root, "Message")
            resource = xml_text(root, "Resource") or resource
            request_id = xml_text(root, "RequestId")
    if not code:
        code = {
            301: "PermanentRedirect",
            400: "BadRequest",
            403: "AccessDenied",
            404: "NoSuchKey",
            409: "Conflict",
            412: "PreconditionFailed",
            503: "ServiceUnavailable",
        }.get(status, f"HTTP{status}")
    kind = ObjectNotFoundError if status == 404 else S3Error
    return kind(status, code, message, resource=resource, request_id=request_id)


def unavailable(endpoint: str, reason: str) -> ServiceUnavailableException:
    """The 503 a request gets while the object storage is unreachable.

    Args:
        endpoint: The storage's base URL (not shown to the client).
        reason: Why (logged by the caller; kept out of the answer).

    Returns:
        A :class:`~tempest.exceptions.ServiceUnavailableException` with code
        ``STORAGE_UNAVAILABLE`` and ``details.service == "object storage"``.
    """
    return ServiceUnavailableException(
        "File storage is unavailable right now; try again shortly",
        code="STORAGE_UNAVAILABLE",
        service="object storage",
        retry_after=5,
    )


def configuration_error(error: S3Error, *, bucket: str, endpoint: str) -> S3ConfigurationError:
    """A :class:`S3ConfigurationError` saying which setting to fix for ``error``.

    Args:
        error: The server's answer to a check request.
        bucket: The configured bucket.
        endpoint: The configured endpoint.

    Returns:
        The error to raise.
    """
    hints = {
        "SignatureDoesNotMatch": "MINIO_SECRET_KEY does not match MINIO_ACCESS_KEY",
        "InvalidAccessKeyId": "the server does not know MINIO_ACCESS_KEY",
        "AccessDenied": (
            f"the key pair (MINIO_ACCESS_KEY, MINIO_SECRET_KEY) may not use bucket {bucket!r}"
        ),
        "AuthorizationHeaderMalformed": "MINIO_REGION does not match the server's region",
        "NoSuchBucket": f"bucket {bucket!r} (MINIO_BUCKET) does not exist",
    }
    hint = hints.get(error.code, error.message or "the server refused the check request")
    return S3ConfigurationError(
        error.status,
        error.code,
        f"object storage at {endpoint}: {hint} (S3 error {error.code})",
        resource=error.resource,
        request_id=error.request_id,
    )
