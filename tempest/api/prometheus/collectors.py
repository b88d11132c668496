"""What a scrape measures besides the requests: the machine, the workers, the pools.

- :class:`SystemCollector`: CPU, memory, disk and NVIDIA GPU usage of the machine from
  :class:`~tempest.utils.metrics.MetricsUtils`, read when Prometheus scrapes. Without a GPU,
  a driver or ``nvidia-ml-py`` there are simply no GPU series.
- :class:`WorkerSampler`: this process's CPU time, memory and open files, and the
  connection pool of the project's database (size, checked out, overflow, idle). In
  multiprocess mode each worker writes them into per-process gauges labelled with its
  ``pid`` every few seconds (a daemon thread), so the scrape shows every worker; in one
  process they are read at scrape time. Requests never pay for either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tempest.api.prometheus.registry import gauge_family

__all__ = ["SAMPLE_INTERVAL", "SystemCollector", "WorkerSampler"]

logger = logging.getLogger("tempest.metrics")

SAMPLE_INTERVAL = 5.0
"""Seconds between two samples of a worker's own gauges in multiprocess mode."""

_PROCESS_FAMILIES = {
    "process_cpu_seconds_total": ("cpu_seconds", "CPU time the worker used, in seconds."),
    "process_resident_memory_bytes": ("resident_memory_bytes", "Resident memory, in bytes."),
    "process_virtual_memory_bytes": ("virtual_memory_bytes", "Virtual memory, in bytes."),
    "process_open_fds": ("open_fds", "Open file descriptors."),
    "process_start_time_seconds": ("start_time_seconds", "Start time, seconds since the epoch."),
}


class SystemCollector:
    """Machine-wide CPU, memory, disk and GPU gauges, measured at each scrape."""

    def __init__(self, disk_paths: Sequence[str] = ("/",), namespace: str = "tempest") -> None:
        """Measure the filesystems of ``disk_paths`` along with CPU, memory and GPUs.

        Raises:
            ImportError: psutil is missing (the ``metrics`` extra).
        """
        from importlib import import_module

        import_module("psutil")  # fails now, at start-up, rather than at each scrape

        self.disk_paths = list(disk_paths)
        self.prefix = f"{namespace}_system_"

    def collect(self) -> Iterator[Any]:
        """Yield the gauges of one measurement."""
        from prometheus_client.core import GaugeMetricFamily

        from tempest.utils.metrics import MetricsUtils

        p = self.prefix
        cpu = MetricsUtils.cpu()
        yield GaugeMetricFamily(
            f"{p}cpu_percent", "CPU busy time since the last scrape.", cpu.percent
        )
        yield GaugeMetricFamily(f"{p}load1", "1 minute load average.", cpu.load_average[0])
        memory = MetricsUtils.memory()
        for name, value, text in (
            ("memory_total_bytes", memory.total_bytes, "Physical memory."),
            ("memory_available_bytes", memory.available_bytes, "Memory available to processes."),
            ("memory_used_bytes", memory.used_bytes, "Memory in use."),
            ("swap_used_bytes", memory.swap_used_bytes, "Swap in use."),
        ):
            yield GaugeMetricFamily(p + name, text, value)
        disks = {
            key: GaugeMetricFamily(p + key, text, labels=["path"])
            for key, text in (
                ("disk_total_bytes", "Size of the filesystem."),
                ("disk_used_bytes", "Space in use on the filesystem."),
                ("disk_free_bytes", "Space available to unprivileged users."),
            )
        }
        for path in self.disk_paths:
            try:
                disk = MetricsUtils.disk(path)
            except OSError:
                continue  # unmounted meanwhile: no series rather than a failed scrape
            disks["disk_total_bytes"].add_metric([path], disk.total_bytes)
            disks["disk_used_bytes"].add_metric([path], disk.used_bytes)
            disks["disk_free_bytes"].add_metric([path], disk.free_bytes)
        yield from disks.values()
        yield from self._gpus()

    def _gpus(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from tempest.utils.metrics import MetricsUtils

        gpus = MetricsUtils.gpus()  # [] without nvidia-ml-py, a driver or a GPU
        if not gpus:
            return
        labels = ["gpu", "name"]
        families = {
            key: GaugeMetricFamily(self.prefix + key, text, labels=labels)
            for key, text in (
                ("gpu_utilization_percent", "GPU busy time over the driver's last sample."),
                ("gpu_memory_total_bytes", "Device memory."),
                ("gpu_memory_used_bytes", "Device memory in use."),
                ("gpu_temperature_celsius", "Core temperature."),
                ("gpu_power_watts", "Power draw."),
            )
        }
        for gpu in gpus:
            values = {
                "gpu_utilization_percent": gpu.utilization_percent,
                "gpu_memory_total_bytes": gpu.memory_total_bytes,
                "gpu_memory_used_bytes": gpu.memory_used_bytes,
                "gpu_temperature_celsius": gpu.temperature_celsius,
                "gpu_power_watts": gpu.power_watts,
            }
            for key, value in values.items():
                if value is not None:
                    families[key].add_metric([str(gpu.index), gpu.name], float(value))
        yield from (family for family in families.values() if family.samples)


class WorkerSampler:
    """Per-worker gauges: this process's resources and its database pool.

    Registered first on the scrape registry, its :meth:`collect` refreshes the gauges of
    the process that answers the scrape and yields nothing (the gauges are read through
    the registry, or the multiprocess files). :meth:`start` adds a daemon thread that
    refreshes them every :data:`SAMPLE_INTERVAL` seconds, for the workers that do not
    answer the scrape.
    """

    def __init__(
        self,
        database: Callable[[], Any] | None,
        *,
        namespace: str = "tempest",
        process: bool = True,
    ) -> None:
        """Sample the project's database pool and, when ``process``, this process.

        Args:
            database: Returns the :class:`~tempest.db.AsyncDatabaseManager` to sample.
            namespace: Prefix of the gauge names.
            process: Also sample this process's resources (multiprocess mode, where
                the plain ``process_*`` metrics of each worker are not collected).
        """
        from prometheus_client import ProcessCollector

        self.database = database
        self._process = ProcessCollector(registry=None) if process else None
        self._gauges = {
            source: gauge_family(f"worker_{name}", text, [], namespace=namespace)
            for source, (name, text) in _PROCESS_FAMILIES.items()
        }
        pool = {
            "size": "Connections the pool keeps (pool_size).",
            "checked_out": "Connections in use by requests and tasks.",
            "overflow": "Connections opened beyond pool_size (negative: pool not full).",
            "idle": "Connections waiting in the pool.",
        }
        self._pool = {
            key: gauge_family(f"db_pool_{key}", text, ["database"], namespace=namespace)
            for key, text in pool.items()
        }
        self._thread: threading.Thread | None = None

    def collect(self) -> Iterator[Any]:
        """Refresh this process's gauges; yields nothing itself."""
        self.sample()
        return iter(())

    def sample(self) -> None:
        """Read the process and the pool once into the gauges."""
        if self._process is not None:
            for family in self._process.collect():
                for sample in family.samples:
                    gauge = self._gauges.get(sample.name)
                    if gauge is not None:
                        gauge.set(sample.value)
        pool = self._pool_of_database()
        if pool is not None:
            for key, read in (
                ("size", pool.size),
                ("checked_out", pool.checkedout),
                ("overflow", pool.overflow),
                ("idle", pool.checkedin),
            ):
                self._pool[key].labels("default").set(read())

    def _pool_of_database(self) -> Any:
        if self.database is None:
            return None
        try:
            manager = self.database()
            if not manager.is_connected:
                return None
            pool = manager.engine.pool
        except Exception:  # not configured, or disconnected meanwhile
            return None
        # QueuePool and its async variant count; NullPool and StaticPool (SQLite) do not.
        return pool if hasattr(pool, "checkedout") and hasattr(pool, "overflow") else None

    def start(self, interval: float = SAMPLE_INTERVAL) -> None:
        """Sample every ``interval`` seconds in a daemon thread (once per process)."""
        if self._thread is not None:
            return

        def loop() -> None:
            event = threading.Event()
            while not event.wait(interval):
                try:
                    self.sample()
                except Exception:  # a sample must never kill the thread
                    logger.debug("worker metrics sample failed", exc_info=True)

        self._thread = threading.Thread(target=loop, name="tempest-metrics", daemon=True)
        self._thread.start()
