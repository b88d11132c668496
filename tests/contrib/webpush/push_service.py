"""A push service on loopback that checks what a real one checks and decrypts like a browser.

Each subscription the test makes has its own receiving key pair and auth secret (as a
browser's ``pushManager.subscribe`` creates them). For every message the service checks
the VAPID token (ES256 signature with the key in ``k=``, ``aud`` = its own origin, ``exp``
at most 24 hours ahead, a ``sub``), reads ``TTL``, and decrypts the aes128gcm body with the
subscription's private key (``http_ece``), then answers what the test scripted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tempest.webpush.schemas import b64url_decode, b64url_encode


@dataclass
class Receiver:
    """One browser subscription: its keys and what the service answers for it."""

    name: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)

    def keys(self) -> dict[str, str]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url_encode(raw), "auth": b64url_encode(self.auth)}


@dataclass
class Delivery:
    """A message the service accepted (or refused) after checking it."""

    receiver: str
    plaintext: bytes | None
    claims: dict[str, Any]
    ttl: int
    token: str
    public_key: str
    headers: dict[str, str]
    body_size: int
    status: int


class PushService:
    """The server; ``subscription(name)`` gives a subscription JSON pointing at it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.receivers: dict[str, Receiver] = {}
        self.deliveries: list[Delivery] = []
        self.problems: list[str] = []
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.origin = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def subscribe(self, name: str, status: int = 201, **headers: str) -> dict[str, Any]:
        receiver = Receiver(name, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        receiver.status, receiver.headers = status, headers
        self.receivers[name] = receiver
        return {
            "endpoint": f"{self.origin}/push/{name}",
            "expirationTime": None,
            "keys": receiver.keys(),
        }

    def delivered(self, name: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.receiver == name]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                lines = request.decode("latin-1").split("\r\n")
                _method, path, _version = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra = await self._handle(path, headers, body)
                head = f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write((head + "\r\n").encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._check(path, headers, body)
        finally:
            self.in_flight -= 1

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        name = path.rsplit("/", 1)[-1]
        receiver = self.receivers.get(name)
        if receiver is None:
            return 404, {}
        scheme, _, params = headers.get("authorization", "").partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        if scheme != "vapid" or "t" not in fields or "k" not in fields:
            self.problems.append(f"bad Authorization: {headers.get('authorization')!r}")
            return 401, {}
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(fields["k"])
        )
        try:
            claims = jwt.decode(
                fields["t"],
                public,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except jwt.PyJWTError as error:
            self.problems.append(f"VAPID token refused: {error}")
            return 403, {}
        if claims["exp"] > time.time() + 24 * 3600:
            self.problems.append("VAPID exp more than 24 h ahead")
            return 403, {}
        ttl = int(headers["ttl"])
        plaintext = None
        if body:
            if headers.get("content-encoding") != "aes128gcm":
                self.problems.append("not aes128gcm")
                return 400, {}
            plaintext = http_ece.decrypt(
                body, private_key=receiver.key, auth_secret=receiver.auth, version="aes128gcm"
            )
        self.deliveries.append(
            Delivery(
                name,
                plaintext,
                claims,
                ttl,
                fields["t"],
                fields["k"],
                headers,
                len(body),
                receiver.status,
            )
        )
        return receiver.status, receiver.headers


@asynccontextmanager
async def push_service(delay: float = 0.0) -> AsyncIterator[PushService]:
    """A started :class:`PushService`, stopped after the block."""
    service = PushService(delay)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
