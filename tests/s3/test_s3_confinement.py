"""The S3 key space of a client is ``PREFIX/...``: no key escapes it (generated attacks too).

Three layers: the pure property (every accepted key maps to an object name under the
prefix, even after a server decodes and normalizes the URL path), each bad-path family
refused by every operation, and generated keys sent to a real server, after which the
bucket holds nothing outside the prefix but the sentinels put there beforehand.
"""

from __future__ import annotations

import asyncio
import posixpath
import unicodedata
import uuid
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tempest.storage import AsyncMinIOClient
from tempest.storage.s3_signing import encode_path
from tempest.utils.filenames import InvalidKeyError
from tests.seaweed import SeaweedFS

PREFIX = "space"
BUCKET = "tempest-s3-confinement"
SENTINELS = {"outside.txt": b"outside", "space-sibling/secret.txt": b"sibling"}

PIECES = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "b.txt",
        "..\\",
        "\\",
        "..\\..",
        "%2e%2e",
        "%2E%2e%2F",
        "%252e%252e",
        ".%2e",
        "\x00",
        "a\x00.png",
        "\u2024\u2024",  # one-dot leaders
        "\uff0e\uff0e",  # full-width dots
        "\ufe52\ufe52",  # small full stops
        "\u2215",  # division slash
        "\uff0f",  # full-width solidus
        "C:",
        "c:\\windows",
        "\u202e",
        "\t",
        "\r\n",
        "é",
        "~",
        "space-sibling",
    ]
)
KEYS = (
    st.lists(PIECES, min_size=1, max_size=5).map("/".join)
    | st.text(max_size=30)
    | st.builds(
        str.__add__,
        st.sampled_from(["/", "//", "\\", "../", "..\\", "C:\\", "/space/../", "%2e%2e/"]),
        st.text(max_size=12),
    )
)

FAMILIES = {
    "dot-dot-slash": "../outside.txt",
    "nested-dot-dot": "a/../../outside.txt",
    "dot-dot-backslash": "..\\outside.txt",
    "absolute": "/outside.txt",
    "absolute-bucket": "/tempest-s3-confinement/outside.txt",
    "windows-absolute": "C:\\outside.txt",
    "percent-dots": "%2e%2e/outside.txt",
    "percent-slash": "..%2foutside.txt",
    "nul": "a\x00/../outside.txt",
    "full-width-dots": "\uff0e\uff0e/outside.txt",
    "one-dot-leaders": "\u2024\u2024/outside.txt",
    "sibling-prefix": "../space-sibling/secret.txt",
}


def client_for(endpoint: str = "http://127.0.0.1:9", **options: object) -> AsyncMinIOClient:
    return AsyncMinIOClient(
        endpoint,
        "key",
        "secret",
        bucket=BUCKET,
        prefix=PREFIX,
        **options,  # type: ignore[arg-type]
    )


def server_view(object_name: str) -> str:
    """The path a lenient server could make of the URL: decoded, NFKC-folded, normalized."""
    path = unquote(encode_path(f"/{BUCKET}/{object_name}")).replace("\\", "/")
    return posixpath.normpath(unicodedata.normalize("NFKC", path))


PURE_CLIENT = client_for()


@settings(max_examples=1000, deadline=None)
@given(KEYS)
def test_accepted_keys_stay_under_the_prefix(key: str) -> None:
    client = PURE_CLIENT
    try:
        name = client.object_key(key)
    except InvalidKeyError:
        return
    assert name == f"{PREFIX}/{key}"
    assert server_view(name).startswith(f"/{BUCKET}/{PREFIX}/")
    url = client.presigned_get_object(key, 60)
    assert url.startswith(f"http://127.0.0.1:9/{BUCKET}/{PREFIX}/")


@pytest.mark.parametrize("key", FAMILIES.values(), ids=FAMILIES.keys())
@pytest.mark.anyio
async def test_each_bad_path_family_is_refused(key: str, seaweedfs: SeaweedFS) -> None:
    async with seaweedfs.client(BUCKET, prefix=PREFIX) as client:
        with pytest.raises(InvalidKeyError):
            await client.put_object(key, b"escaped")
        with pytest.raises(InvalidKeyError):
            await client.stat_object(key)
        with pytest.raises(InvalidKeyError):
            await client.get_object(key)
        with pytest.raises(InvalidKeyError):
            await client.remove_object(key)
        with pytest.raises(InvalidKeyError):
            client.presigned_get_object(key)
        with pytest.raises(InvalidKeyError):
            client.presigned_put_object(key)
        with pytest.raises(InvalidKeyError):
            _ = [stat async for stat in client.list_objects(key)]


async def _prepare(seaweedfs: SeaweedFS) -> None:
    async with seaweedfs.client(BUCKET) as root:
        await root.ensure_bucket()
        for name, body in SENTINELS.items():
            await root.put_object(name, body)


async def _outside(seaweedfs: SeaweedFS) -> dict[str, bytes]:
    async with seaweedfs.client(BUCKET) as root:
        names = [s.key async for s in root.list_objects() if not s.key.startswith(PREFIX + "/")]
        return {name: await root.get_object(name) for name in names}


async def _attempt(seaweedfs: SeaweedFS, key: str) -> bool:
    async with seaweedfs.client(BUCKET, prefix=PREFIX) as client:
        try:
            await client.put_object(key, b"x")
        except InvalidKeyError:
            return False
        assert await client.get_object(key) == b"x"
        await client.remove_object(key)
        return True


def test_generated_keys_never_write_outside_the_prefix(seaweedfs: SeaweedFS) -> None:
    asyncio.run(_prepare(seaweedfs))
    tried: list[str] = []
    accepted: list[str] = []

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        database=None,
    )
    @given(KEYS)
    def attempt(key: str) -> None:
        tried.append(key)
        if asyncio.run(_attempt(seaweedfs, key)):
            accepted.append(key)

    attempt()
    attempt_names = f"{len(tried)} keys, e.g. {tried[:5]!r}"
    assert asyncio.run(_outside(seaweedfs)) == SENTINELS, attempt_names
    assert accepted, "no generated key was safe: the test would prove nothing"
    assert len(accepted) < len(tried), "no generated key was an attack"


def test_a_prefix_must_itself_be_safe() -> None:
    for prefix in ("../x", "a/../b", "%2e%2e", "a\x00"):
        with pytest.raises(InvalidKeyError):
            AsyncMinIOClient("127.0.0.1:9", "k", "s", bucket=BUCKET, prefix=prefix)
    assert client_for().prefix == PREFIX
    assert AsyncMinIOClient("h:1", "k", "s", bucket=BUCKET, prefix=f"/{uuid.uuid4().hex}/").prefix
