"""System metrics: CPU, memory, disk and NVIDIA GPU usage of the machine a service runs on.

Requires the ``metrics`` extra (``psutil`` and ``nvidia-ml-py``). ``psutil`` is imported on
the first measurement, not when this module is imported. GPUs are read through ``pynvml``
(from ``nvidia-ml-py``); without it, or without an NVIDIA driver, :meth:`MetricsUtils.gpus`
returns ``[]``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from types import ModuleType
from typing import Any

__all__ = [
    "CPUMetrics",
    "DiskMetrics",
    "GPUMetrics",
    "MemoryMetrics",
    "MetricsUtils",
    "SystemMetrics",
]

_INSTALL_HINT = 'MetricsUtils needs psutil: pip install "tempest-framework[metrics]"'

MIN_CPU_WINDOW = 0.25
"""Shortest window, in seconds, a non-blocking CPU reading is computed over (see ``cpu``)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


class _Serializable:
    """``to_dict`` for the metric dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict of JSON types (tuples become lists, nesting is kept).

        Returns:
            A dict that ``json.dumps`` accepts and that ``json.loads`` gives back unchanged.
        """
        data: dict[str, Any] = _jsonable(asdict(self))  # type: ignore[call-overload]
        return data


@dataclass(frozen=True)
class CPUMetrics(_Serializable):
    """CPU usage of the whole machine.

    Attributes:
        percent: Busy time of all CPUs over the window, 0 to 100.
        per_cpu_percent: The same for each logical CPU.
        logical_count: Number of logical CPUs.
        physical_count: Number of physical cores, or None when the OS does not say.
        load_average: 1, 5 and 15 minute load averages.
        frequency_mhz: Current CPU frequency, or None when the OS does not expose it.
        window_seconds: Length of the window ``percent`` was measured over.
    """

    percent: float
    per_cpu_percent: tuple[float, ...]
    logical_count: int
    physical_count: int | None
    load_average: tuple[float, float, float]
    frequency_mhz: float | None
    window_seconds: float


@dataclass(frozen=True)
class MemoryMetrics(_Serializable):
    """RAM and swap usage.

    Attributes:
        total_bytes: Physical memory.
        available_bytes: Memory that can be given to processes without swapping.
        used_bytes: Memory in use (as the OS counts it; never more than the total).
        free_bytes: Memory not used at all (caches excluded, so often small).
        percent: ``(total - available) / total``, 0 to 100.
        swap_total_bytes: Swap space (0 when there is none).
        swap_used_bytes: Swap in use.
        swap_percent: Swap in use, 0 to 100.
    """

    total_bytes: int
    available_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float
    swap_total_bytes: int
    swap_used_bytes: int
    swap_percent: float


@dataclass(frozen=True)
class DiskMetrics(_Serializable):
    """Usage of the filesystem a path is on.

    Attributes:
        path: The path that was measured, as given.
        total_bytes: Size of the filesystem.
        used_bytes: Space in use.
        free_bytes: Space available to unprivileged users.
        percent: ``used / (used + free)``, 0 to 100.
    """

    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float


@dataclass(frozen=True)
class GPUMetrics(_Serializable):
    """One NVIDIA GPU.

    Attributes:
        index: The device index (as in ``nvidia-smi``).
        name: The model name.
        uuid: The device UUID, or None when the driver does not report it.
        utilization_percent: GPU busy time over the driver's last sample, or None.
        memory_total_bytes: Device memory.
        memory_used_bytes: Device memory in use.
        memory_percent: Device memory in use, 0 to 100.
        temperature_celsius: Core temperature, or None when not supported.
        power_watts: Power draw, or None when not supported.
    """

    index: int
    name: str
    uuid: str | None
    utilization_percent: float | None
    memory_total_bytes: int
    memory_used_bytes: int
    memory_percent: float
    temperature_celsius: float | None
    power_watts: float | None


@dataclass(frozen=True)
class SystemMetrics(_Serializable):
    """Everything :meth:`MetricsUtils.snapshot` measures at once.

    Attributes:
        timestamp: When the snapshot was taken, in seconds since the epoch (UTC).
        cpu: CPU usage.
        memory: RAM and swap usage.
        disks: One entry per requested path, in the order given.
        gpus: One entry per NVIDIA GPU; empty without a GPU, driver or ``pynvml``.
    """

    timestamp: float
    cpu: CPUMetrics
    memory: MemoryMetrics
    disks: tuple[DiskMetrics, ...] = field(default_factory=tuple)
    gpus: tuple[GPUMetrics, ...] = field(default_factory=tuple)


def _psutil() -> ModuleType:
    try:
        return import_module("psutil")
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error


def _percent(part: float, whole: float) -> float:
    return round(min(100.0, max(0.0, part / whole * 100.0)), 1) if whole > 0 else 0.0


def _busy_and_total(times: Any) -> tuple[float, float]:
    """Busy and total CPU seconds of a ``psutil.cpu_times()`` tuple, the way psutil counts."""
    total = float(sum(times))
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    busy = total - times.idle - getattr(times, "iowait", 0.0)
    return busy, total


def _usage(before: Any, after: Any) -> float:
    busy_before, total_before = _busy_and_total(before) if before is not None else (0.0, 0.0)
    busy_after, total_after = _busy_and_total(after)
    return _percent(max(0.0, busy_after - busy_before), max(0.0, total_after - total_before))


@dataclass(frozen=True)
class _CPUSample:
    at: float  # time.monotonic()
    total: Any  # psutil.cpu_times()
    per_cpu: list[Any]  # psutil.cpu_times(percpu=True)


class _CPUWindow:
    """Process-wide state of non-blocking CPU readings, shared by every thread.

    psutil keeps the previous sample of ``cpu_percent(interval=None)`` per thread, so calls
    made through ``asyncio.to_thread`` (a different worker thread each time) would often
    measure nothing. This keeps one window for the process instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start: _CPUSample | None = None
        self._previous_start: _CPUSample | None = None

    def measure(self, now: _CPUSample, psutil: ModuleType) -> tuple[Any, list[Any], float]:
        """Return the baseline to compare ``now`` with: total times, per-CPU times, window."""
        with self._lock:
            start = self._start
            if start is None:  # first reading of the process: the average since boot
                self._start = now
                uptime = max(0.0, time.time() - float(psutil.boot_time()))
                return None, [None] * len(now.per_cpu), uptime
            if now.at - start.at >= MIN_CPU_WINDOW:
                self._previous_start, self._start = start, now
                return start.total, start.per_cpu, now.at - start.at
            base = self._previous_start
        if base is None:  # soon after the first reading: still the average since boot
            uptime = max(0.0, time.time() - float(psutil.boot_time()))
            return None, [None] * len(now.per_cpu), uptime
        return base.total, base.per_cpu, now.at - base.at


_cpu_window = _CPUWindow()
_physical_cores: list[int | None] = []  # cached after the first reading


class _NVML:
    """``pynvml``, initialised once per process, or nothing when it cannot be."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked = False
        self._module: Any = None

    def module(self) -> Any:
        """Return initialised ``pynvml``, or None without the package or the driver."""
        with self._lock:
            if not self._checked:
                self._checked = True
                try:
                    pynvml = import_module("pynvml")
                    pynvml.nvmlInit()
                except Exception:  # no package, no driver, no library: no GPU metrics
                    self._module = None
                else:
                    self._module = pynvml
            return self._module


_nvml = _NVML()


def _optional(read: Any, *args: Any) -> Any:
    """Call one NVML query; None when the device does not support it."""
    try:
        return read(*args)
    except Exception:
        return None


def _gpu(pynvml: Any, index: int) -> GPUMetrics:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = pynvml.nvmlDeviceGetName(handle)
    uuid = _optional(pynvml.nvmlDeviceGetUUID, handle)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    rates = _optional(pynvml.nvmlDeviceGetUtilizationRates, handle)
    temperature = _optional(pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU)
    milliwatts = _optional(pynvml.nvmlDeviceGetPowerUsage, handle)
    return GPUMetrics(
        index=index,
        name=name.decode() if isinstance(name, bytes) else str(name),
        uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,
        utilization_percent=None if rates is None else float(rates.gpu),
        memory_total_bytes=int(memory.total),
        memory_used_bytes=int(memory.used),
        memory_percent=_percent(memory.used, memory.total),
        temperature_celsius=None if temperature is None else float(temperature),
        power_watts=None if milliwatts is None else milliwatts / 1000,
    )


def _check_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    if isinstance(paths, str | bytes | os.PathLike):
        raise TypeError(f"disk paths must be a list of paths, not one path: {paths!r}")
    return list(paths)


class MetricsUtils:
    """Measure CPU, memory, disk and GPU usage of this machine.

    Every method is a static method with an ``*_async`` twin that runs it in a worker thread
    (``asyncio.to_thread``), so an endpoint never blocks the event loop. Every result is a
    frozen dataclass with ``to_dict()`` for JSON responses.

    Example:
        >>> snap = MetricsUtils.snapshot(disk_paths=["/"])  # doctest: +SKIP
        >>> snap.cpu.percent, snap.memory.percent, snap.disks[0].percent  # doctest: +SKIP
        (3.1, 41.7, 23.4)
    """

    @staticmethod
    def cpu(interval: float | None = None) -> CPUMetrics:
        """Measure CPU usage.

        With ``interval=None`` (or 0) the call does not wait: usage is computed since the
        previous non-blocking reading of this process, from any thread, over at least
        ``MIN_CPU_WINDOW`` seconds when there was an earlier reading; the very first reading
        of a process is the average since boot. ``window_seconds`` tells which. With a
        positive ``interval`` the call samples, sleeps that long and samples again.

        Args:
            interval: Seconds to measure over (blocking), or None for a non-blocking reading.

        Returns:
            The CPU usage.

        Raises:
            ValueError: ``interval`` is negative.
            ImportError: psutil is not installed.
        """
        if interval is not None and interval < 0:
            raise ValueError(f"interval must be None or >= 0 seconds, got {interval!r}")
        psutil = _psutil()
        if interval:
            before = _CPUSample(time.monotonic(), psutil.cpu_times(), psutil.cpu_times(True))
            time.sleep(interval)
            now = _CPUSample(time.monotonic(), psutil.cpu_times(), psutil.cpu_times(True))
            base_total, base_per_cpu, window = before.total, before.per_cpu, now.at - before.at
        else:
            now = _CPUSample(time.monotonic(), psutil.cpu_times(), psutil.cpu_times(True))
            base_total, base_per_cpu, window = _cpu_window.measure(now, psutil)
        if not _physical_cores:
            _physical_cores.append(psutil.cpu_count(logical=False))
        frequency = _optional(psutil.cpu_freq)
        one, five, fifteen = psutil.getloadavg()
        return CPUMetrics(
            percent=_usage(base_total, now.total),
            per_cpu_percent=tuple(
                _usage(before, after)
                for before, after in zip(base_per_cpu, now.per_cpu, strict=False)
            ),
            logical_count=len(now.per_cpu),
            physical_count=_physical_cores[0],
            load_average=(float(one), float(five), float(fifteen)),
            frequency_mhz=None if not frequency else float(frequency.current),
            window_seconds=round(window, 3),
        )

    @staticmethod
    def memory() -> MemoryMetrics:
        """Measure RAM and swap usage.

        Returns:
            The memory usage.

        Raises:
            ImportError: psutil is not installed.
        """
        psutil = _psutil()
        ram = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return MemoryMetrics(
            total_bytes=int(ram.total),
            available_bytes=int(ram.available),
            used_bytes=int(ram.used),
            free_bytes=int(ram.free),
            percent=float(ram.percent),
            swap_total_bytes=int(swap.total),
            swap_used_bytes=int(swap.used),
            swap_percent=float(swap.percent),
        )

    @staticmethod
    def disk(path: str | os.PathLike[str] = "/") -> DiskMetrics:
        """Measure the filesystem that ``path`` is on.

        Args:
            path: Any existing file or directory on that filesystem; "/" by default.

        Returns:
            The disk usage.

        Raises:
            FileNotFoundError: ``path`` does not exist (the message names it).
            OSError: The filesystem cannot be read (e.g. ``PermissionError``).
            ImportError: psutil is not installed.
        """
        psutil = _psutil()
        shown = os.fspath(path)
        try:
            usage = psutil.disk_usage(shown)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                error.errno, f"cannot measure disk usage, no such path: {shown!r}", shown
            ) from error
        return DiskMetrics(
            path=shown,
            total_bytes=int(usage.total),
            used_bytes=int(usage.used),
            free_bytes=int(usage.free),
            percent=float(usage.percent),
        )

    @staticmethod
    def disks(paths: Iterable[str | os.PathLike[str]] = ("/",)) -> list[DiskMetrics]:
        """Measure several filesystems, one entry per path in the order given.

        Args:
            paths: The paths to measure.

        Returns:
            One ``DiskMetrics`` per path.

        Raises:
            TypeError: A single path was passed instead of a list of paths.
            FileNotFoundError: One of the paths does not exist.
        """
        return [MetricsUtils.disk(path) for path in _check_paths(paths)]

    @staticmethod
    def gpus() -> list[GPUMetrics]:
        """Measure every NVIDIA GPU.

        The NVIDIA library is initialised on the first call and kept for the process. When
        ``pynvml`` is not installed or no driver is loaded, this returns ``[]`` (and keeps
        doing so, cheaply, for the rest of the process).

        Returns:
            One ``GPUMetrics`` per device, or ``[]``.
        """
        pynvml = _nvml.module()
        if pynvml is None:
            return []
        try:
            count = int(pynvml.nvmlDeviceGetCount())
            return [_gpu(pynvml, index) for index in range(count)]
        except Exception:  # a device vanished or the driver failed mid-read
            return []

    @staticmethod
    def snapshot(
        disk_paths: Sequence[str | os.PathLike[str]] = ("/",),
        cpu_interval: float | None = None,
    ) -> SystemMetrics:
        """Measure everything at once.

        Args:
            disk_paths: The filesystems to measure; "/" by default.
            cpu_interval: Passed to :meth:`cpu`; None (the default) does not block.

        Returns:
            CPU, memory, disks and GPUs.

        Raises:
            FileNotFoundError: One of ``disk_paths`` does not exist.
            ImportError: psutil is not installed.
        """
        paths = _check_paths(disk_paths)
        return SystemMetrics(
            timestamp=time.time(),
            cpu=MetricsUtils.cpu(cpu_interval),
            memory=MetricsUtils.memory(),
            disks=tuple(MetricsUtils.disks(paths)),
            gpus=tuple(MetricsUtils.gpus()),
        )

    @staticmethod
    async def cpu_async(interval: float | None = None) -> CPUMetrics:
        """:meth:`cpu` in a worker thread."""
        return await asyncio.to_thread(MetricsUtils.cpu, interval)

    @staticmethod
    async def memory_async() -> MemoryMetrics:
        """:meth:`memory` in a worker thread."""
        return await asyncio.to_thread(MetricsUtils.memory)

    @staticmethod
    async def disk_async(path: str | os.PathLike[str] = "/") -> DiskMetrics:
        """:meth:`disk` in a worker thread."""
        return await asyncio.to_thread(MetricsUtils.disk, path)

    @staticmethod
    async def disks_async(
        paths: Iterable[str | os.PathLike[str]] = ("/",),
    ) -> list[DiskMetrics]:
        """:meth:`disks` in a worker thread."""
        return await asyncio.to_thread(MetricsUtils.disks, _check_paths(paths))

    @staticmethod
    async def gpus_async() -> list[GPUMetrics]:
        """:meth:`gpus` in a worker thread."""
        return await asyncio.to_thread(MetricsUtils.gpus)

    @staticmethod
    async def snapshot_async(
        disk_paths: Sequence[str | os.PathLike[str]] = ("/",),
        cpu_interval: float | None = None,
    ) -> SystemMetrics:
        """:meth:`snapshot` in a worker thread, without blocking the event loop.

        All collectors run in one thread: each is a few file reads, so spreading them over
        several threads would cost more than it saves.
        """
        return await asyncio.to_thread(MetricsUtils.snapshot, disk_paths, cpu_interval)
