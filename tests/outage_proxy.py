"""A TCP forwarder a test can cut and restore, to take a shared server away from one test.

The shared RabbitMQ (or Redis) must never be stopped; a test that needs it to go away points
the code under test at a :class:`OutageProxy` in front of it instead::

    with OutageProxy("127.0.0.1", 5672) as proxy:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
        proxy.cut()        # open connections are reset, new ones refused
        proxy.blackhole()  # new connections are accepted and never answered (a hang)
        proxy.restore()    # forwarding again, on the same port

The proxy runs its own event loop in a daemon thread, so synchronous tests, async tests and
served subprocesses can all use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from types import TracebackType

from tests.helpers import free_port

__all__ = ["OutageProxy"]

_CHUNK = 65536


class OutageProxy:
    """Forward ``127.0.0.1:port`` to ``(host, target_port)`` until cut.

    Args:
        host: The server's address.
        target_port: The server's port.
    """

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port()
        self.mode = "forward"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread.start()
        self._call(self._listen())

    def url(self, scheme: str, credentials: str = "", path: str = "/") -> str:
        """A URL of the proxy: ``url("amqp", "guest:guest@")`` -> ``amqp://guest:guest@127.0.0.1:P/``."""
        return f"{scheme}://{credentials}127.0.0.1:{self.port}{path}"

    def _call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

    async def _drop_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                sock = transport.get_extra_info("socket")
                if sock is not None:  # a reset, as when the server process dies
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self._writers.clear()

    async def _cancel_handlers(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.mode == "blackhole":
            return  # accepted, never answered; dropped by the next cut or restore
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(upstream_writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(_CHUNK):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.transport.abort()
                self._writers.discard(sink)

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def cut(self) -> None:
        """Reset every open connection and refuse new ones (the server went away)."""
        self.mode = "cut"
        self._call(self._drop_all())

    def blackhole(self) -> None:
        """Reset open connections; accept new ones and never answer them (a hung server)."""
        self.mode = "blackhole"
        self._call(self._drop_all())
        self._call(self._listen())

    def restore(self) -> None:
        """Forward again on the same port; connections held by the blackhole are dropped."""
        if self.mode == "blackhole":
            self._call(self._drop_all())
        self.mode = "forward"
        self._call(self._listen())

    def close(self) -> None:
        """Stop forwarding and the proxy's thread."""
        self._call(self._drop_all())
        self._call(self._cancel_handlers())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> OutageProxy:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the proxy."""
        self.close()
