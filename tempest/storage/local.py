"""Uploaded files in a folder on the local disk.

Every operation confines its key to the root twice: the key must pass
:func:`~tempest.utils.filenames.validate_key` and its resolved path must lie inside the
resolved root (a symlink inside the root that points out is refused). The file is then
reached by walking the key's folders from the root with ``O_NOFOLLOW`` directory file
descriptors (``openat``), so a symlink swapped in between the check and the open is not
followed either. Unique names need no check-then-write: a new key is linked into place
with ``link(2)``, which fails if the name exists, and ``overwrite=True`` replaces with
``rename(2)``, atomically. Uploads are staged in ``ROOT/.staging`` (same file system,
so committing one is a rename, not a copy); keys starting with a dot are never served.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mimetypes
import os
import stat as stat_module
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread

from tempest.exceptions import ConflictException, NotFoundException
from tempest.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectStat,
    UploadResult,
    UploadStorage,
    checked_key,
    file_not_found,
)
from tempest.storage.staging import stage

__all__ = ["LocalUploadStorage"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


def _not_followable(error: OSError) -> bool:
    return error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.EMLINK)


class LocalUploadStorage(UploadStorage):
    """An :class:`~tempest.storage.UploadStorage` over a folder.

    Example:
        >>> storage = LocalUploadStorage("var/uploads")  # doctest: +SKIP
        >>> result = await storage.save("docs/a.txt", b"hello")  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE):
        """Serve and store files under ``root`` (created when missing).

        Args:
            root: The folder. Resolved once here; it may itself be a symlink.
            chunk_size: Bytes per chunk when reading a file back.
        """
        self.root = Path(root).resolve()
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"LocalUploadStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The absolute path of ``key``, after both confinement checks.

        Args:
            key: The key.

        Returns:
            The resolved path, inside the root.

        Raises:
            NotFoundException: The key is unsafe or resolves outside the root.
        """
        checked_key(key)
        resolved = (self.root / key).resolve()
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise file_not_found(key)
        return resolved

    def staging_dir(self) -> Path:
        """``ROOT/.staging``: uploads spool here and are renamed into place."""
        return self.root / ".staging"

    # -- the key's folder, opened without following symlinks -------------------------

    def _open_parent(self, key: str, *, create: bool) -> tuple[int, str]:
        self.path(key)
        *folders, name = key.split("/")
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        except FileNotFoundError:
            raise file_not_found(key) from None
        try:
            for folder in folders:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(folder, 0o777, dir_fd=fd)
                flags = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
                child = os.open(folder, flags, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError as error:
            os.close(fd)
            if _not_followable(error):
                raise file_not_found(key) from None
            raise
        return fd, name

    def _open_file(self, key: str) -> int:
        parent, name = self._open_parent(key, create=False)
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=parent)
        except OSError as error:
            if _not_followable(error) or error.errno == errno.EISDIR:
                raise file_not_found(key) from None
            raise
        finally:
            os.close(parent)
        if not stat_module.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise file_not_found(key)
        return fd

    def _stat(self, key: str) -> ObjectStat:
        parent, name = self._open_parent(key, create=False)
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError as error:
            if _not_followable(error):
                raise file_not_found(key) from None
            raise
        finally:
            os.close(parent)
        if not stat_module.S_ISREG(info.st_mode):
            raise file_not_found(key)
        return ObjectStat(
            key=key,
            size=info.st_size,
            etag=f'"{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"',
            last_modified=datetime.fromtimestamp(info.st_mtime, UTC),
            content_type=mimetypes.guess_type(name)[0],
        )

    def _delete(self, key: str) -> bool:
        try:
            parent, name = self._open_parent(key, create=False)
        except NotFoundException:
            return False
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat_module.S_ISREG(info.st_mode):
                return False
            os.unlink(name, dir_fd=parent)
            return True
        except FileNotFoundError:
            return False
        finally:
            os.close(parent)

    def _commit(self, source: Path, key: str, overwrite: bool) -> None:
        """Move ``source`` to ``key``: atomically, and never over an existing key."""
        parent, name = self._open_parent(key, create=True)
        try:
            if overwrite:
                try:
                    os.replace(source, name, dst_dir_fd=parent)
                except IsADirectoryError:
                    raise ConflictException(
                        "A folder with this name exists already", code="FILE_EXISTS"
                    ) from None
                return
            try:
                os.link(source, name, dst_dir_fd=parent, follow_symlinks=False)
            except FileExistsError:
                raise ConflictException(
                    "A file with this name exists already", code="FILE_EXISTS"
                ) from None
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                # No hard links here (some network and FUSE file systems): reserve the
                # name with O_EXCL, then rename over the reservation.
                try:
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                    os.close(os.open(name, flags, 0o666, dir_fd=parent))
                except FileExistsError:
                    raise ConflictException(
                        "A file with this name exists already", code="FILE_EXISTS"
                    ) from None
                os.replace(source, name, dst_dir_fd=parent)
                return
            os.unlink(source)
        finally:
            os.close(parent)

    # -- the UploadStorage API -------------------------------------------------------

    async def save(
        self,
        key: str,
        content: AsyncIterable[bytes] | bytes,
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = False,
        filename: str | None = None,
        checksum: bool = False,
    ) -> UploadResult:
        """Store ``content`` under ``key`` (see :meth:`UploadStorage.save`)."""
        self.path(key)
        staged = await stage(_as_chunks(content), self.staging_dir(), checksum=checksum)
        try:
            await anyio.to_thread.run_sync(self._commit, staged.path, key, overwrite)
        finally:
            await anyio.to_thread.run_sync(staged.discard)
        return UploadResult(key, staged.size, staged.sha256, content_type, filename)

    async def save_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = False,
        filename: str | None = None,
        checksum: bool = False,
        sha256: str | None = None,
    ) -> UploadResult:
        """Move the file at ``path`` to ``key`` (a rename when on the same file system).

        A file outside the staging folder is copied through :meth:`save` instead. With
        ``checksum`` and no ``sha256`` the file is read once to hash it.
        """
        self.path(key)
        if Path(path).parent != self.staging_dir():
            return await super().save_file(
                key,
                path,
                content_type=content_type,
                overwrite=overwrite,
                filename=filename,
                checksum=checksum,
                sha256=sha256,
            )
        if checksum and sha256 is None:
            sha256 = await anyio.to_thread.run_sync(_file_sha256, Path(path))
        size = (await anyio.to_thread.run_sync(os.stat, path)).st_size
        await anyio.to_thread.run_sync(self._commit, Path(path), key, overwrite)
        return UploadResult(key, size, sha256, content_type, filename)

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of ``key`` in ``[start, end)`` (see :meth:`UploadStorage.read`)."""
        fd = await anyio.to_thread.run_sync(self._open_file, key)
        try:
            offset = start
            while end is None or offset < end:
                want = self.chunk_size if end is None else min(self.chunk_size, end - offset)
                chunk = await anyio.to_thread.run_sync(os.pread, fd, want, offset)
                if not chunk:
                    break
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def stat(self, key: str) -> ObjectStat:
        """Size, ETag and modification time of ``key`` (a regular file, no symlink)."""
        return await anyio.to_thread.run_sync(self._stat, key)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; False when absent (or unsafe, or not a regular file)."""
        return await anyio.to_thread.run_sync(self._delete, key)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


async def _as_chunks(content: AsyncIterable[bytes] | bytes) -> AsyncIterator[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        yield bytes(content)
        return
    async for chunk in content:
        yield chunk
