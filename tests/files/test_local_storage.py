"""LocalUploadStorage: save / read / stat / delete, unique names, atomic replace, symlinks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import anyio
import pytest

import tempest
import tempest.storage
import tempest.utils.storage_backends as storage_backends
from tempest.exceptions import ConflictException, NotFoundException
from tempest.storage import LocalUploadStorage, UploadResult, UploadStorage
from tempest.utils import UploadUtils

pytestmark = pytest.mark.anyio


def test_it_is_exported_where_the_spec_lists_it() -> None:
    for module in (tempest, tempest.storage, storage_backends):
        assert module.LocalUploadStorage is LocalUploadStorage
        assert module.UploadStorage is UploadStorage
        assert module.UploadResult is UploadResult


async def test_save_read_stat_delete_round_trip(tmp_path: Path) -> None:
    storage = LocalUploadStorage(tmp_path / "root")
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def chunks() -> object:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    result = await storage.save(
        "a/b/c.bin",
        chunks(),  # type: ignore[arg-type]
        content_type="application/x-test",
        checksum=True,
    )
    assert str(result) == "a/b/c.bin"
    assert result.size == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "root/a/b/c.bin").read_bytes() == data
    stat = await storage.stat("a/b/c.bin")
    assert stat.size == len(data) and stat.etag.startswith('"')
    assert b"".join([chunk async for chunk in storage.read("a/b/c.bin")]) == data
    part = b"".join([chunk async for chunk in storage.read("a/b/c.bin", start=5, end=1_500_000)])
    assert part == data[5:1_500_000]
    assert await storage.exists("a/b/c.bin")
    assert await storage.delete("a/b/c.bin") is True
    assert await storage.delete("a/b/c.bin") is False
    assert not await storage.exists("a/b/c.bin")
    assert await storage.url("a/b/c.bin") is None
    assert list((tmp_path / "root/.staging").iterdir()) == []  # nothing left behind


async def test_the_digest_is_opt_in(tmp_path: Path) -> None:
    """No SHA-256 unless asked for: it costs more than storing the bytes."""
    storage = LocalUploadStorage(tmp_path)
    data = os.urandom(2 * 1024 * 1024 + 5)
    expected = hashlib.sha256(data).hexdigest()
    assert (await storage.save("lean.bin", data)).sha256 is None
    assert (await storage.save("sum.bin", data, checksum=True)).sha256 == expected
    staged = storage.staging_dir() / "x.part"
    staged.write_bytes(data)  # a file in the staging folder is moved, then hashed on request
    moved = await storage.save_file("moved.bin", staged, checksum=True)
    assert moved.sha256 == expected and not staged.exists()
    outside = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    outside.write_bytes(data)  # a file elsewhere is copied
    try:
        assert (await storage.save_file("copied.bin", outside)).sha256 is None
        given = await storage.save_file("given.bin", outside, sha256="0" * 64)
        assert given.sha256 == "0" * 64  # a digest the caller has is echoed, not recomputed
    finally:
        outside.unlink()
    for key in ("lean.bin", "sum.bin", "moved.bin", "copied.bin", "given.bin"):
        assert (tmp_path / key).read_bytes() == data


async def test_upload_utils_hashes_only_with_checksum(tmp_path: Path) -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 12_288
    lean = await UploadUtils(tmp_path).save(data, original_filename="a.pdf")
    assert lean.sha256 is None and lean.size == len(data)
    checked = await UploadUtils(tmp_path, checksum=True).save(data, original_filename="a.pdf")
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / lean.key).read_bytes() == (tmp_path / checked.key).read_bytes() == data
    assert list((tmp_path / ".staging").iterdir()) == []


async def test_missing_keys_are_404(tmp_path: Path) -> None:
    storage = LocalUploadStorage(tmp_path)
    with pytest.raises(NotFoundException) as caught:
        await storage.stat("nope.txt")
    assert caught.value.code == "FILE_NOT_FOUND"
    with pytest.raises(NotFoundException):
        await anext(storage.read("nope/deeper.txt"))


async def test_an_existing_key_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    storage = LocalUploadStorage(tmp_path)
    await storage.save("k.txt", b"first")
    with pytest.raises(ConflictException) as caught:
        await storage.save("k.txt", b"second")
    assert caught.value.code == "FILE_EXISTS"
    assert (tmp_path / "k.txt").read_bytes() == b"first"
    await storage.save("k.txt", b"third", overwrite=True)
    assert (tmp_path / "k.txt").read_bytes() == b"third"


async def test_concurrent_saves_of_one_key_let_exactly_one_win(tmp_path: Path) -> None:
    storage = LocalUploadStorage(tmp_path)
    outcomes: list[str] = []

    async def attempt(index: int) -> None:
        try:
            await storage.save("race.txt", f"writer {index}".encode() * 1000)
            outcomes.append("won")
        except ConflictException:
            outcomes.append("lost")

    async with anyio.create_task_group() as group:
        for index in range(20):
            group.start_soon(attempt, index)
    assert outcomes.count("won") == 1 and outcomes.count("lost") == 19
    content = (tmp_path / "race.txt").read_bytes()
    assert len(set(content.split(b"writer ")[1:])) == 1  # one writer's bytes, not a mix


async def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_text("inside")
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "dir-out").symlink_to(outside, target_is_directory=True)
    (root / "link-in.txt").symlink_to(root / "inside.txt")
    storage = LocalUploadStorage(root)
    for key in ("link-out.txt", "dir-out/secret.txt", "link-in.txt"):
        with pytest.raises(NotFoundException):
            await storage.stat(key)
        with pytest.raises(NotFoundException):
            await anext(storage.read(key))
        assert await storage.delete(key) is False
    with pytest.raises(NotFoundException):
        await storage.save("dir-out/new.txt", b"x")
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"


async def test_the_root_itself_may_be_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    storage = LocalUploadStorage(tmp_path / "alias")
    await storage.save("x.txt", b"ok")
    assert (tmp_path / "real/x.txt").read_bytes() == b"ok"
