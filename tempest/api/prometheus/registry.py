"""The metric families tempest records and the registry a scrape reads.

prometheus-client keeps a metric's values in the process that records them. Under
``serve --workers N`` each worker counts its own requests, so a scrape answered by one
worker would see a fraction of them. In *multiprocess mode* (``PROMETHEUS_MULTIPROC_DIR``
names a directory before ``prometheus_client`` is imported) every process writes its
values to its own memory-mapped files in that directory, and a scrape sums the files of
every process, live or dead: totals are exact and never go down when a worker restarts.

The families are created once per process and registry (:func:`http_metrics`,
:func:`task_metrics`, :func:`cache_metrics`), so building the app twice (tests) does not
register them twice.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "DEFAULT_LATENCY_BUCKETS",
    "DEFAULT_SIZE_BUCKETS",
    "MULTIPROC_VARIABLE",
    "HTTPMetrics",
    "http_metrics",
    "is_multiprocess",
    "make_prometheus_registry",
    "reap_dead_processes",
    "require_prometheus",
]

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable prometheus-client reads at import to choose multiprocess mode."""

DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""Seconds: from a cached read (5 ms) to a slow report (30 s)."""

DEFAULT_SIZE_BUCKETS: tuple[float, ...] = (
    0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
)  # fmt: skip
"""Bytes of a request body: empty, small JSON, ... large uploads."""

_families: WeakKeyDictionary[CollectorRegistry, dict[tuple[str, str], Any]] = WeakKeyDictionary()
"""Registry -> its families by (namespace, kind). Keyed by the registry itself: an id()
could be reused by a later registry once the first is collected."""


def require_prometheus() -> None:
    """Import prometheus-client, or raise ImportError naming the extra to install."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as error:
        raise ImportError(
            'Prometheus metrics need prometheus-client: pip install "tempest-framework[prometheus]"'
        ) from error


def is_multiprocess() -> bool:
    """Whether this process records into multiprocess files (decided at import)."""
    require_prometheus()
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    from prometheus_client import REGISTRY

    return REGISTRY if registry is None else registry


def _family(registry: CollectorRegistry | None, namespace: str, kind: str, build: Any) -> Any:
    families = _families.setdefault(_registry(registry), {})
    found = families.get((namespace, kind))
    if found is None:
        found = families[(namespace, kind)] = build()
    return found


@dataclass(frozen=True)
class HTTPMetrics:
    """The HTTP families :class:`PrometheusMiddleware` records into.

    Attributes:
        requests: ``<ns>_http_requests_total{method, route, status}``.
        latency: ``<ns>_http_request_duration_seconds{method, route}``.
        size: ``<ns>_http_request_size_bytes{method, route}``.
        in_flight: ``<ns>_http_requests_in_progress{method}`` (live sum across processes).
    """

    requests: Counter
    latency: Histogram
    size: Histogram
    in_flight: Gauge


def http_metrics(
    registry: CollectorRegistry | None = None,
    namespace: str = "tempest",
    latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
    size_buckets: Sequence[float] = DEFAULT_SIZE_BUCKETS,
) -> HTTPMetrics:
    """The HTTP families of ``namespace`` in ``registry`` (default: prometheus-client's).

    Created on the first call in this process; later calls return the same families (the
    buckets of the first call win).
    """
    require_prometheus()
    from prometheus_client import Counter, Gauge, Histogram

    target = _registry(registry)

    def build() -> HTTPMetrics:
        return HTTPMetrics(
            requests=Counter(
                "http_requests",
                "HTTP requests answered, by method, route template and status.",
                ["method", "route", "status"],
                namespace=namespace,
                registry=target,
            ),
            latency=Histogram(
                "http_request_duration_seconds",
                "Time from the request's arrival to the end of its response.",
                ["method", "route"],
                namespace=namespace,
                buckets=latency_buckets,
                registry=target,
            ),
            size=Histogram(
                "http_request_size_bytes",
                "Size of the request body (Content-Length, or the bytes received).",
                ["method", "route"],
                namespace=namespace,
                buckets=size_buckets,
                registry=target,
            ),
            in_flight=Gauge(
                "http_requests_in_progress",
                "Requests being answered now, by method.",
                ["method"],
                namespace=namespace,
                multiprocess_mode="livesum",
                registry=target,
            ),
        )

    result: HTTPMetrics = _family(registry, namespace, "http", build)
    return result


def counter_family(
    name: str,
    documentation: str,
    labels: Sequence[str],
    *,
    namespace: str = "tempest",
    registry: CollectorRegistry | None = None,
) -> Counter:
    """A counter created once per process, registry and name (tasks, cache)."""
    require_prometheus()
    from prometheus_client import Counter

    target = _registry(registry)

    def build() -> Counter:
        return Counter(name, documentation, list(labels), namespace=namespace, registry=target)

    counter: Counter = _family(registry, namespace, name, build)
    return counter


def gauge_family(
    name: str,
    documentation: str,
    labels: Sequence[str],
    *,
    mode: str = "liveall",
    namespace: str = "tempest",
    registry: CollectorRegistry | None = None,
) -> Gauge:
    """A gauge created once per process, registry and name (per-worker samples)."""
    require_prometheus()
    from prometheus_client import Gauge

    target = _registry(registry)

    def build() -> Gauge:
        return Gauge(
            name,
            documentation,
            list(labels),
            namespace=namespace,
            multiprocess_mode=mode,  # type: ignore[arg-type]
            registry=target,
        )

    gauge: Gauge = _family(registry, namespace, name, build)
    return gauge


_PID_FILE = re.compile(r"_(\d+)\.db$")


def _live(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def reap_dead_processes(directory: str) -> list[int]:
    """Forget the live gauges of processes that are gone; their counters stay.

    uvicorn's supervisor restarts a dead worker without telling the app, so each scrape
    looks for the files of processes that no longer run and calls prometheus-client's
    ``mark_process_dead`` for them: the in-flight gauge stops counting the dead worker's
    requests, while its counters and histograms still add to the totals.

    Returns:
        The pids that were reaped.
    """
    from prometheus_client import multiprocess

    reaped: set[int] = set()
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            match = _PID_FILE.search(name)
            if name.startswith("gauge_live") and match:
                pid = int(match.group(1))
                if pid not in reaped and not _live(pid):
                    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
                    reaped.add(pid)
    return sorted(reaped)


class _Forward:
    """A collector that yields what another registry collects (the default one)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Any]:
        yield from self.source.collect()


def make_prometheus_registry(
    *,
    multiprocess_dir: str | None = None,
    collectors: Iterable[Any] = (),
) -> CollectorRegistry:
    """A registry for one scrape route: every process's metrics, or this process's.

    In multiprocess mode (``multiprocess_dir`` given, or ``PROMETHEUS_MULTIPROC_DIR``
    set when prometheus-client was imported) the registry sums the files of every
    process with prometheus-client's ``MultiProcessCollector``. Otherwise it forwards
    prometheus-client's default registry: the families tempest records plus the
    ``process_*`` and ``python_*`` metrics of this process.

    Args:
        multiprocess_dir: The directory of the per-process files; None: the environment.
        collectors: Extra collectors asked at each scrape (system usage, pool sizes).

    Returns:
        A new ``CollectorRegistry`` to pass to :func:`make_prometheus_router`.

    Raises:
        ImportError: prometheus-client is not installed (the ``prometheus`` extra).
    """
    require_prometheus()
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    directory = multiprocess_dir or os.environ.get(MULTIPROC_VARIABLE)
    registry = CollectorRegistry(auto_describe=False)
    if directory and is_multiprocess():
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    for collector in collectors:
        registry.register(collector)
    return registry
