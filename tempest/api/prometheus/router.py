"""``make_prometheus_router``: the scrape route, ``GET /metrics``, and who may call it."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response

from tempest.api.prometheus.registry import (
    MULTIPROC_VARIABLE,
    is_multiprocess,
    make_prometheus_registry,
    reap_dead_processes,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["LOOPBACK_NETWORKS", "make_prometheus_router"]

LOOPBACK_NETWORKS: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
"""Who may scrape when no token is set: this machine only."""


def make_prometheus_router(
    registry: CollectorRegistry | None = None,
    *,
    path: str = "/metrics",
    token: str | None = None,
    allowed_networks: Iterable[str] = LOOPBACK_NETWORKS,
    include_in_schema: bool = False,
) -> APIRouter:
    """A router with ``GET <path>``: the metrics in Prometheus' text format.

    Who may scrape: with ``token``, any client that sends ``Authorization: Bearer
    <token>`` (Prometheus' ``authorization`` scrape option), others get 401; without it,
    clients whose address is in ``allowed_networks`` (loopback by default), others get
    403. Behind a reverse proxy on the same host every client looks local unless
    ``TRUSTED_PROXIES`` names the proxy: set a token, or do not route the path there.

    Args:
        registry: What to expose; None: :func:`make_prometheus_registry` (every worker's
            metrics in multiprocess mode, this process's otherwise).
        path: The route's path.
        token: The bearer token scrapers must send; None: the network rule.
        allowed_networks: CIDRs allowed without a token.
        include_in_schema: List the route in the OpenAPI document.

    Returns:
        The router, for ``app.include_router``.
    """
    from prometheus_client.exposition import choose_encoder

    from tempest.exceptions import ForbiddenException, UnauthorizedException

    source = make_prometheus_registry() if registry is None else registry
    networks = [ipaddress.ip_network(entry, strict=False) for entry in allowed_networks]
    expected = f"Bearer {token}".encode() if token else None
    directory = os.environ.get(MULTIPROC_VARIABLE) if is_multiprocess() else None
    router = APIRouter()

    def allowed(request: Request) -> None:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            if not secrets.compare_digest(sent, expected):
                raise UnauthorizedException(
                    "A valid metrics token is required.",
                    code="METRICS_TOKEN_REQUIRED",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return
        client = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            address = None
        if address is None or not any(address in network for network in networks):
            raise ForbiddenException(
                "Metrics are served to allowed networks only.", code="METRICS_FORBIDDEN"
            )

    @router.get(path, include_in_schema=include_in_schema, name="prometheus_metrics")
    def metrics(request: Request) -> Response:
        # A sync endpoint: the threadpool reads the per-process files off the event loop.
        allowed(request)
        if directory:
            reap_dead_processes(directory)
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(content=encoder(source), media_type=content_type)

    return router
