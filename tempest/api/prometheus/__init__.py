"""Prometheus metrics: the middleware, the scrape route and its registry.

Needs the ``prometheus`` extra (prometheus-client), imported when a name is first used.
A project turns everything on with ``METRICS_ENABLED`` (``tempest.conf.MetricsSettings``).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "PrometheusMiddleware": "tempest.api.prometheus.middleware",
    "make_prometheus_registry": "tempest.api.prometheus.registry",
    "make_prometheus_router": "tempest.api.prometheus.router",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.api.prometheus.middleware import PrometheusMiddleware as PrometheusMiddleware
    from tempest.api.prometheus.registry import (
        make_prometheus_registry as make_prometheus_registry,
    )
    from tempest.api.prometheus.router import make_prometheus_router as make_prometheus_router
