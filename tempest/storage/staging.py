"""Spooling a stream of chunks to a file on disk: counted, size-limited, hashed on request.

Uploads are never held in memory: :func:`stage` writes the chunks to a fresh file
(``O_EXCL``, a random name) in a staging folder while it counts the bytes, keeps the
first :data:`~tempest.utils.sniffing.HEAD_SIZE` bytes for sniffing and, with
``checksum=True``, computes the SHA-256 (which costs more than the write itself, so it is
opt-in). Past ``max_size`` it stops reading at once, deletes the file and raises. Writes
are batched (1 MiB) and run in a worker thread, hashing included, so the event loop never
blocks on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterable, Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from tempest.utils.sniffing import HEAD_SIZE

__all__ = ["StagedFile", "stage"]

_BATCH = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A stream spooled to disk.

    Attributes:
        path: The file (the caller moves or deletes it).
        size: Its length in bytes.
        sha256: The hex SHA-256 of its bytes (None unless staged with ``checksum``).
        head: Its first bytes, for sniffing.
    """

    path: Path
    size: int
    sha256: str | None
    head: bytes

    def discard(self) -> None:
        """Delete the file if it is still there."""
        _unlink_quietly(self.path)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    """The threads that hash and write batches (hashlib and os.write release the GIL)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tempest-staging")
    return _pool


def _create(directory: Path) -> tuple[int, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    while True:
        path = directory / f".{uuid.uuid4().hex}.part"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:  # pragma: no cover - a UUID4 collision
            continue


async def stage(
    chunks: AsyncIterable[bytes],
    directory: Path | None = None,
    *,
    max_size: int | None = None,
    too_large: Callable[[int], Exception] | None = None,
    checksum: bool = False,
) -> StagedFile:
    """Spool ``chunks`` to a new file in ``directory``.

    Args:
        chunks: The stream (e.g. ``request.stream()`` or an upload's chunks).
        directory: Where to create the file; None: the system's temporary folder.
        max_size: Largest accepted size in bytes; None: no limit.
        too_large: Builds the exception raised past ``max_size`` (given the limit);
            defaults to :class:`ValueError`.
        checksum: Compute the SHA-256 of the bytes (``StagedFile.sha256``).

    Returns:
        The staged file.

    Raises:
        Exception: ``too_large(max_size)`` once more than ``max_size`` bytes arrived; the
            rest of the stream is not read and the partial file is deleted.
    """
    target = directory if directory is not None else Path(tempfile.gettempdir())
    fd, path = await anyio.to_thread.run_sync(_create, target)
    hasher = hashlib.sha256() if checksum else None
    head = bytearray()
    pending = bytearray()
    size = 0
    # One batch is written (and hashed, in parallel in a second thread) while the next one
    # is received: the write overlaps the receiving, the SHA-256 overlaps the write.
    in_flight: list[Future[None]] = []

    async def flush(batch: bytes | bytearray) -> None:
        for running in in_flight:
            await asyncio.wrap_future(running)  # re-raises a write error
        in_flight.clear()
        pool = _executor()
        if hasher is not None:
            in_flight.append(pool.submit(hasher.update, batch))
        in_flight.append(pool.submit(_write_all, fd, batch))

    try:
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise (too_large or _default_too_large)(max_size)
                if len(head) < HEAD_SIZE:
                    head += chunk[: HEAD_SIZE - len(head)]
                if not pending and len(chunk) >= _BATCH and isinstance(chunk, bytes):
                    await flush(chunk)  # a whole batch already: written as is, no copy
                    continue
                pending += chunk
                if len(pending) >= _BATCH:
                    await flush(pending)
                    pending = bytearray()
            await flush(pending)
            await flush(bytearray())
        finally:
            wait(in_flight)  # never close the descriptor under a running write
            os.close(fd)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_unlink_quietly, path)
        raise
    digest = hasher.hexdigest() if hasher is not None else None
    return StagedFile(path=path, size=size, sha256=digest, head=bytes(head))


def _default_too_large(limit: int) -> Exception:
    return ValueError(f"more than {limit} bytes")
