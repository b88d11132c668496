"""Liveness and readiness endpoints for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse

__all__ = ["HealthCheck", "LivenessResponse", "ReadinessResponse", "make_health_router"]

logger = logging.getLogger("tempest.health")

HealthCheck = Callable[[], Awaitable[bool]]
"""A readiness probe: an async callable answering ``True`` when its dependency works."""

CheckStatus = Literal["ok", "failing"]


class SupportsHealthCheck(Protocol):
    """Anything with an async ``health_check()``, such as ``AsyncDatabaseManager``."""

    def health_check(self) -> Awaitable[bool]: ...


class LivenessResponse(BaseModel):
    """Body of ``GET /health/liveness``."""

    status: Literal["ok"]
    version: str | None


class ReadinessResponse(BaseModel):
    """Body of ``GET /health/readiness``."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckStatus]


async def _passes(name: str, check: HealthCheck, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            result = await check()
    except TimeoutError:
        logger.warning("Health check %r timed out after %ss", name, timeout)
        return False
    except Exception as exc:
        # No traceback: probes repeat every few seconds while a dependency is down.
        logger.warning("Health check %r raised %s: %s", name, type(exc).__name__, exc)
        return False
    if result is not True:
        logger.warning("Health check %r reported failure", name)
    return result is True


def make_health_router(
    *,
    db: SupportsHealthCheck | None = None,
    checks: Mapping[str, HealthCheck] | None = None,
    version: str | None = None,
    prefix: str = "/health",
    timeout: float = 5.0,
) -> APIRouter:
    """Build the router serving ``GET {prefix}/liveness`` and ``GET {prefix}/readiness``.

    Liveness always answers 200 while the process serves requests. Readiness runs every
    check concurrently; a check fails when it returns anything but ``True``, raises or
    takes longer than ``timeout`` seconds, and any failure makes the answer 503.

    Args:
        db: A database manager; its ``health_check`` runs as the ``"database"`` check.
        checks: More named checks, e.g. ``{"redis": cache.health_check}``.
        version: Version reported by liveness.
        prefix: Path prefix of both endpoints.
        timeout: Seconds each check may take.

    Returns:
        The router, ready for ``app.include_router``.
    """
    named_checks: dict[str, HealthCheck] = {}
    if db is not None:
        named_checks["database"] = db.health_check
    if checks:
        named_checks.update(checks)
    names = tuple(named_checks)
    probes = tuple(named_checks.values())

    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get("/liveness", response_model=LivenessResponse)
    async def liveness() -> LivenessResponse:
        """Report that the process is up."""
        return LivenessResponse(status="ok", version=version)

    @router.get(
        "/readiness",
        response_model=ReadinessResponse,
        responses={503: {"model": ReadinessResponse, "description": "A check is failing"}},
    )
    async def readiness() -> JSONResponse:
        """Report whether every dependency the service needs is reachable."""
        results = await asyncio.gather(
            *(_passes(name, probe, timeout) for name, probe in zip(names, probes, strict=True))
        )
        statuses = {
            name: "ok" if passed else "failing" for name, passed in zip(names, results, strict=True)
        }
        healthy = all(results)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": statuses},
            status_code=200 if healthy else 503,
        )

    return router
