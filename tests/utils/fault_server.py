"""A scripted fault-injection HTTP/1.1 server on loopback, for the HTTP client's tests.

It runs its own event loop in a thread (so it outlives each test's loop). A test scripts
a path with :meth:`FaultServer.script`: the replies its next requests get, in order (the
last one repeats), each possibly delayed, or the connection dropped without an answer.
Every request is recorded with its headers and body.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class FaultServer:
    """The server; :meth:`start` it once, :meth:`stop` it at the end."""

    def __init__(self) -> None:
        self.port = 0
        self._scripts: dict[str, list[Reply]] = {}
        self._seen: dict[str, list[Seen]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault server did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> str:
        """Make ``path`` answer ``replies`` in order (the last repeats); return its URL."""
        with self._lock:
            self._scripts[path] = list(replies) or [Reply()]
            self._seen[path] = []
        return self.url(path)

    def seen(self, path: str) -> list[Seen]:
        """The requests ``path`` received so far."""
        with self._lock:
            return list(self._seen.get(path, []))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=256)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.close()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self._seen.setdefault(seen.path, []).append(seen)
            script = self._scripts.get(seen.path, [Reply(status=404)])
            return script.pop(0) if len(script) > 1 else script[0]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding") == "chunked":
                body = await _read_chunks(reader)
            else:
                body = await reader.readexactly(int(headers.get("content-length", "0")))
            reply = self._next(Seen(method, target, headers, body))
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.drop:
                return
            out = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
            out += [f"{name}: {value}" for name, value in reply.headers.items()]
            out.append("Connection: close")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    """A chunked request body."""
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return body
        body += chunk[:-2]
