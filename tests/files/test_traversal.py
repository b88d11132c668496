"""10,000 generated hostile keys against local storage: zero escapes.

Every key is tried for stat, read, delete and save on a root holding symlinks that point
out of it, next to a folder of secrets. The run passes when no operation returned a
secret's bytes, no file outside the root was written or deleted, and every refusal was
the 404 of a missing file. A seeded generator makes the 10,000 (fast, reproducible);
hypothesis adds shrinking search on top with fewer examples.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tempest.exceptions import ConflictException, NotFoundException
from tempest.storage import LocalUploadStorage

PIECES = [
    "..",
    ".",
    "../",
    "..\\",
    "/",
    "\\",
    "//",
    "%2e%2e",
    "%2e%2e%2f",
    "%252e%252e",
    "..%2f",
    "%c0%ae%c0%ae",
    "\x00",
    "\uff0e\uff0e",
    "\u2024\u2024",
    "\u2025",
    "\uff0f",
    "\u2215",
    "\u202e",
    "\u200b",
    "/etc/passwd",
    "C:\\",
    "C:",
    "~",
    "secret.txt",
    "out",
    "in",
    "link-out",
    "dir-out",
    "dir-out/",
    "sub/",
    "a",
    "file.txt",
    " ",
    "\n",
    ".staging/",
]


def hostile_key(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))


@pytest.fixture
def arena(tmp_path: Path) -> tuple[LocalUploadStorage, Path, dict[Path, bytes]]:
    outside = tmp_path / "out"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"TOP-SECRET")
    (outside / "passwd").write_bytes(b"root:x:0:0")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "file.txt").write_bytes(b"public")
    (root / "link-out").symlink_to(outside / "secret.txt")
    (root / "dir-out").symlink_to(outside, target_is_directory=True)
    (root / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    snapshot = {path: path.read_bytes() for path in tmp_path.rglob("*") if _is_file(path)}
    return LocalUploadStorage(root), tmp_path, snapshot


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


async def _attack(
    storage: LocalUploadStorage, key: str, tolerate: tuple[type[Exception], ...] = ()
) -> list[bytes]:
    """Every operation on ``key``; the bytes any read returned.

    A refusal is the 404 of a missing file (or a 409 for a save onto a folder);
    ``tolerate`` adds the errors that count as refusals too.
    """
    seen: list[bytes] = []
    refused = (NotFoundException, *tolerate)
    with contextlib.suppress(*refused):
        await storage.stat(key)
        seen.append(b"".join([chunk async for chunk in storage.read(key)]))
    with contextlib.suppress(*refused):
        await storage.delete(key)
    with contextlib.suppress(ConflictException, *refused):
        await storage.save(key, b"PAYLOAD", overwrite=True)
    return seen


def _check(tmp: Path, root: Path, snapshot: dict[Path, bytes], seen: list[bytes]) -> None:
    assert not any(b"SECRET" in data or b"root:x" in data for data in seen)
    for path, content in snapshot.items():
        if not path.is_relative_to(root):
            assert path.read_bytes() == content, f"{path} changed"
    for path in tmp.rglob("*"):
        if _is_file(path) and not path.is_relative_to(root):
            assert path in snapshot, f"{path} was written outside the root"


def test_ten_thousand_generated_keys_escape_nothing(
    arena: tuple[LocalUploadStorage, Path, dict[Path, bytes]],
) -> None:
    storage, tmp, snapshot = arena
    rng = random.Random(18)
    keys: set[str] = set()
    while len(keys) < 10_000:
        keys.add(hostile_key(rng))

    async def run_all() -> list[bytes]:
        seen: list[bytes] = []
        for key in keys:
            seen += await _attack(storage, key)
        return seen

    seen = anyio.run(run_all)
    _check(tmp, storage.root, snapshot, seen)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), min_size=1, max_size=6))
def test_hypothesis_keys_escape_nothing(
    arena: tuple[LocalUploadStorage, Path, dict[Path, bytes]], parts: list[str]
) -> None:
    storage, tmp, snapshot = arena
    seen = anyio.run(_attack, storage, "".join(parts))
    _check(tmp, storage.root, snapshot, seen)


def test_the_path_checks_alone_still_confine(
    arena: tuple[LocalUploadStorage, Path, dict[Path, bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defense in depth: with the key syntax check switched off, resolving the path inside
    the root and opening without following symlinks still let nothing out."""
    monkeypatch.setattr("tempest.storage.local.checked_key", lambda key: key)
    storage, tmp, snapshot = arena
    rng = random.Random(1818)
    keys = {hostile_key(rng) for _ in range(1_500)}
    keys |= {"../out/secret.txt", "sub/up/out/secret.txt", "dir-out/secret.txt", "link-out"}

    async def run_all() -> list[bytes]:
        seen: list[bytes] = []
        for key in sorted(keys):
            # Malformed keys (empty parts...) now fail in the OS calls instead: refused too.
            seen += await _attack(storage, key, (OSError, ValueError))
        return seen

    seen = anyio.run(run_all)
    _check(tmp, storage.root, snapshot, seen)
