"""Loopback stand-ins for the OAuth tests: the real OpenID provider and scripted servers.

``oidc_provider`` runs oidc-provider-mock (a real OpenID Connect provider, authlib-based)
in a thread. :class:`ScriptedServer` is a small HTTP server whose answers a test sets
path by path: a provider that signs the ID tokens the test forges (with keys the test
holds), and GitHub's token endpoint and API, which cannot run here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID = "tempest-tests"
CLIENT_SECRET = "s3cret-of-the-tests"


@contextmanager
def oidc_provider() -> Iterator[str]:
    """oidc-provider-mock on a free loopback port; yields its base URL (the issuer)."""
    from oidc_provider_mock import run_server_in_thread  # type: ignore[import-untyped]

    with run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


def authorize_at_mock(authorize_url: str, sub: str) -> str:
    """Press "Authorize" as ``sub`` on the mock's page; returns the redirect to the callback."""
    response = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def deny_at_mock(authorize_url: str) -> str:
    """Press "Deny" on the mock's page; returns the redirect to the callback."""
    response = httpx.post(authorize_url, data={"action": "deny"}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def set_mock_user(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    """Give the mock's user ``sub`` these claims (email, email_verified...)."""
    response = httpx.put(f"{issuer}/users/{sub}", json=claims)
    assert response.status_code == 204, response.text


@dataclass
class ScriptedServer:
    """An HTTP server on loopback answering JSON set per ``(method, path)``."""

    url: str = ""
    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], dict[str, list[str]]]] = field(
        default_factory=list
    )

    def answer(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """Answer ``method path`` with ``body`` (JSON) and ``status`` from now on."""
        self.routes[(method, path)] = (status, body)

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for _, seen, _, _ in self.requests if seen == path)


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """A :class:`ScriptedServer` on a free port of 127.0.0.1, stopped afterwards."""
    scripted = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            scripted.requests.append((method, parts.path, dict(self.headers), form))
            status, body = scripted.routes.get((method, parts.path), (404, {"error": "nf"}))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SigningKey:
    """An RSA or EC key the forging provider signs with, and its public JWK."""

    kid: str
    algorithm: str
    private: Any
    jwk: dict[str, Any]


def new_key(kid: str, algorithm: str = "RS256") -> SigningKey:
    """A fresh signing key (RSA 2048 for RS*, P-256 for ES256)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if algorithm.startswith("ES"):
        private: Any = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk |= {"kid": kid, "use": "sig", "alg": algorithm}
    return SigningKey(kid, algorithm, private, jwk)


def id_token(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    """Sign ``claims`` with ``key`` (``kid`` in the header unless overridden)."""
    import jwt

    headers = {"kid": key.kid} | header
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers=headers)


def standard_claims(issuer: str, nonce: str, **extra: Any) -> dict[str, Any]:
    """Valid ID-token claims for the tests' client."""
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "forged-sub-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "email": "forged@example.com",
        "email_verified": True,
    } | extra


def serve_oidc(server: ScriptedServer, keys: list[SigningKey]) -> None:
    """Make ``server`` an OpenID provider: discovery, JWKS; the token answer is per test."""
    server.answer(
        "GET",
        "/.well-known/openid-configuration",
        {
            "issuer": server.url,
            "authorization_endpoint": f"{server.url}/authorize",
            "token_endpoint": f"{server.url}/token",
            "jwks_uri": f"{server.url}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        },
    )
    server.answer("GET", "/jwks", {"keys": [key.jwk for key in keys]})


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url``, one value each."""
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
