"""The start-up check of the S3 settings: one request, and a message naming what to fix.

:func:`check_s3` is what ``manage.py check`` (and a deployment's readiness step) calls: a
wrong access key, a wrong secret, a wrong region, a missing bucket or an unreachable
endpoint is reported once, before serving, instead of as an error on every request.
"""

from __future__ import annotations

from typing import Any

from tempest.exceptions import ServiceUnavailableException
from tempest.storage.s3_errors import S3ConfigurationError

__all__ = ["check_s3", "s3_configured"]


def s3_configured(settings: Any) -> bool:
    """Whether the settings ask for S3 storage (an access key and a bucket are set)."""
    return bool(getattr(settings, "MINIO_ACCESS_KEY", "") and getattr(settings, "MINIO_BUCKET", ""))


async def check_s3(settings: Any, *, timeout: float = 5.0) -> list[str]:
    """Check the ``MINIO_*`` settings against the server.

    Args:
        settings: The project's settings (:class:`~tempest.conf.MinIOSettings` fields).
        timeout: Seconds to wait for the server.

    Returns:
        Problems, one sentence each; empty when the settings work or S3 is not configured.
    """
    if not s3_configured(settings):
        return []
    from tempest.storage.s3_client import AsyncMinIOClient

    try:
        client = AsyncMinIOClient.from_settings(settings, timeout=timeout)
    except ValueError as error:
        return [str(error)]
    try:
        await client.verify()
    except S3ConfigurationError as error:
        return [error.message]
    except ServiceUnavailableException:
        return [
            f"object storage at {client.endpoint} cannot be reached (MINIO_ENDPOINT, "
            "MINIO_SECURE): is the server running?"
        ]
    finally:
        await client.aclose()
    return []
