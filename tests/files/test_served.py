"""Acceptance on a served app (uvicorn in a subprocess): a 200 MB upload leaves the
server's memory flat and its SHA-256 round-trips through the download; a chunked body
over the limit is a 413 before the rest is read."""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers import REPO, clean_env, free_port, stop_group, wait_for_http

MB = 1024 * 1024
SIZE = 200 * MB
LIMIT = 256 * MB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    root = tmp_path_factory.mktemp("served-files")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.files.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=clean_env(FILES_ROOT=str(root), FILES_MAX_SIZE=str(LIMIT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/docs")
        yield base, process.pid, root
    finally:
        stop_group(process)


def _body(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(MB)
    for index in range(total // MB):
        chunk = index.to_bytes(8, "big") + block[8:]
        digest.update(chunk)
        yield chunk


class PeakRSS:
    """Samples a process's RSS every 10 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_200_mb_upload_keeps_memory_flat_and_round_trips(
    server: tuple[str, int, Path],
) -> None:
    base, pid, root = server
    with httpx.Client(base_url=base, timeout=60) as client:
        warm = client.put("/raw/warm.bin", content=b"\x00warm-up" * 1000)  # imports, buffers
        assert warm.status_code == 200, warm.text
        baseline = psutil.Process(pid).memory_info().rss
        sent = hashlib.sha256()
        started = time.monotonic()
        with PeakRSS(pid) as rss:
            response = client.put(
                "/raw/big.bin",
                content=_body(SIZE, sent),
                headers={"content-length": str(SIZE)},
            )
        upload_seconds = time.monotonic() - started
        assert response.status_code == 200, response.text
        stored = response.json()
        assert stored["size"] == SIZE and stored["sha256"] is None  # not asked for
        growth = (rss.peak - baseline) / MB
        assert growth < 20, f"RSS grew by {growth:.1f} MB during a 200 MB upload"

        received = hashlib.sha256()
        size = 0
        with PeakRSS(pid) as rss_down, client.stream("GET", f"/files/{stored['key']}") as download:
            assert download.status_code == 200
            for chunk in download.iter_bytes():
                received.update(chunk)
                size += len(chunk)
        assert size == SIZE and received.hexdigest() == sent.hexdigest()
        assert (rss_down.peak - baseline) / MB < 20
    print(f"200 MB upload in {upload_seconds:.1f}s, server RSS +{growth:.1f} MB")
    assert not list((root / "files" / ".staging").iterdir())


class _GeneratedFile:
    """A file-like object producing ``_body`` on ``read`` (no 200 MB on the client's disk)."""

    def __init__(self, total: int, digest: hashlib._Hash) -> None:
        self._chunks = _body(total, digest)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        size = len(self._pending) if size < 0 else size
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def test_a_200_mb_multipart_upload_keeps_memory_flat(server: tuple[str, int, Path]) -> None:
    """Through ``UploadFile``: Starlette spools the part to disk, UploadUtils streams it
    (and hashes it: ``checksum=True``)."""
    base, pid, _root = server
    with httpx.Client(base_url=base, timeout=60) as client:
        baseline = psutil.Process(pid).memory_info().rss
        sent = hashlib.sha256()
        with PeakRSS(pid) as rss:
            response = client.post(
                "/checked", files={"file": ("big.bin", _GeneratedFile(SIZE, sent), "x/y")}
            )
        assert response.status_code == 200, response.text
        assert response.json()["sha256"] == sent.hexdigest()
        growth = (rss.peak - baseline) / MB
        assert growth < 20, f"RSS grew by {growth:.1f} MB during a 200 MB multipart upload"


def test_a_chunked_body_over_the_limit_is_413_without_reading_it_all(
    server: tuple[str, int, Path],
) -> None:
    """No Content-Length to check first: the count while streaming stops the upload."""
    base, _pid, root = server
    host, port = base.removeprefix("http://").split(":")
    block = b"z" * MB
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"PUT /raw/huge.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        while sent < 2 * LIMIT:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered: stop sending
            try:
                sock.sendall(chunk)
            except OSError:  # it closed while we were still writing
                break
            sent += len(block)
        with contextlib.suppress(OSError):
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"FILE_TOO_LARGE" in answer
    assert sent < LIMIT + 64 * MB, sent  # stopped soon after the limit, not at 2x
    assert not list((root / "files" / ".staging").iterdir())
