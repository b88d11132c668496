"""Fixtures of the S3 tests: a client on the session's SeaweedFS, one prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tempest.storage.s3_client import AsyncMinIOClient
from tests.seaweed import SeaweedFS

BUCKET = "tempest-s3-tests"


@pytest.fixture
async def s3(seaweedfs: SeaweedFS) -> AsyncIterator[AsyncMinIOClient]:
    """A client whose key space is a fresh prefix of the tests' bucket (5 MiB parts)."""
    async with seaweedfs.client(
        BUCKET, prefix=f"t-{uuid.uuid4().hex[:12]}", part_size=5 * 1024 * 1024
    ) as client:
        await client.ensure_bucket()
        yield client
