"""Local upload throughput: ``UploadUtils.save`` vs a plain ``shutil.copyfileobj``.

A source file of --size MiB (random bytes, written once, then in the page cache) is
copied by ``shutil.copyfileobj`` (1 MiB buffer) to a file in the same folder: the baseline,
what any upload has to do at least (read the bytes, write them). The same bytes are then
stored by ``UploadUtils(...).save(chunks)`` into a ``LocalUploadStorage`` in that folder,
fed as an async stream of 1 MiB chunks read from the source (what a request body is):
spooled to the staging folder while counted, sniffed (magic bytes, polyglot check), then
renamed into place; once as by default, once with ``checksum=True`` (the SHA-256 computed
while staging). And by ``LocalUploadStorage.save`` alone (no checks). A third baseline,
the same copy loop also feeding ``hashlib.sha256``, shows what the digest alone costs:
SHA-256 runs at about 1-2 GB/s a core, slower than a copy between page-cache pages, so it
bounds every figure computed with it (hence ``checksum`` is off by default). The runs are
interleaved and each figure is the best of --runs.

Target (issue 18): UploadUtils >= 0.5x the copyfileobj throughput.

Usage: .venv/bin/python bench/uploads.py [--size 256] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio

from tempest.storage import LocalUploadStorage
from tempest.utils import UploadUtils

MIB = 1024 * 1024


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as stream:
        while chunk := await stream.read(MIB):
            yield chunk


def main() -> None:
    """Run the comparison and print MB/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="MiB to upload")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size: int = args.size * MIB

    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        work = Path(folder)
        source = work / "source.bin"
        with source.open("wb") as out:
            block = os.urandom(MIB)
            for index in range(args.size):
                out.write(index.to_bytes(8, "big") + block[8:])

        def copy_once() -> float:
            target = work / "copy.bin"
            started = time.perf_counter()
            with source.open("rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, MIB)
            elapsed = time.perf_counter() - started
            target.unlink()
            return elapsed

        def copy_and_hash_once() -> float:
            target = work / "copy.bin"
            digest = hashlib.sha256()
            started = time.perf_counter()
            with source.open("rb") as src, target.open("wb") as dst:
                while chunk := src.read(MIB):
                    digest.update(chunk)
                    dst.write(chunk)
            elapsed = time.perf_counter() - started
            target.unlink()
            return elapsed

        storage = LocalUploadStorage(work / "uploads")
        uploads = UploadUtils(storage, max_size_bytes=size)
        summed = UploadUtils(storage, max_size_bytes=size, checksum=True)

        def timed(save: Callable[[], Awaitable[object]]) -> Callable[[], float]:
            def once() -> float:
                async def run() -> float:
                    started = time.perf_counter()
                    result = await save()
                    elapsed = time.perf_counter() - started
                    await storage.delete(str(result))
                    return elapsed

                return float(asyncio.run(run()))

            return once

        upload = timed(lambda: uploads.save(_chunks(source), original_filename="big.bin"))
        checked = timed(lambda: summed.save(_chunks(source), original_filename="big.bin"))
        plain = timed(lambda: storage.save("plain.bin", _chunks(source)))

        copy_once()  # warm the page cache
        # Interleaved, so that a burst of load elsewhere on the machine hits all three.
        runs: dict[str, Callable[[], float]] = {
            "copy": copy_once,
            "hashed": copy_and_hash_once,
            "upload": upload,
            "checked": checked,
            "plain": plain,
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, once in runs.items():
                times[name].append(once())
        baseline, hashed, ours, ours_summed, storage_only = (min(times[name]) for name in runs)

    def rate(seconds: float) -> float:
        return size / MIB / seconds

    print(f"{args.size} MiB, best of {args.runs}")
    print(f"  shutil.copyfileobj        {rate(baseline):8.0f} MB/s")
    print(
        f"  copyfileobj + SHA-256     {rate(hashed):8.0f} MB/s   "
        f"{baseline / hashed:.2f}x of copyfileobj (the digest's ceiling)"
    )
    print(
        f"  UploadUtils.save          {rate(ours):8.0f} MB/s   "
        f"{baseline / ours:.2f}x of copyfileobj (target >= 0.5x)"
    )
    print(
        f"  UploadUtils checksum=True {rate(ours_summed):8.0f} MB/s   "
        f"{baseline / ours_summed:.2f}x of copyfileobj"
    )
    print(
        f"  LocalUploadStorage.save   {rate(storage_only):8.0f} MB/s   "
        f"{baseline / storage_only:.2f}x of copyfileobj"
    )


if __name__ == "__main__":
    main()
