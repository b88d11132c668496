"""MetricsUtils measures this machine: plausible values, JSON-ready, cheap when non-blocking."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tempest.utils.metrics import (
    MIN_CPU_WINDOW,
    CPUMetrics,
    DiskMetrics,
    MemoryMetrics,
    MetricsUtils,
    SystemMetrics,
)
from tests.helpers import REPO, run


def _round_trips(data: dict[str, Any]) -> None:
    assert json.loads(json.dumps(data)) == data


def test_cpu_values_are_plausible() -> None:
    cpu = MetricsUtils.cpu()
    assert isinstance(cpu, CPUMetrics)
    assert 0.0 <= cpu.percent <= 100.0
    assert cpu.logical_count >= 1
    assert len(cpu.per_cpu_percent) == cpu.logical_count
    assert all(0.0 <= value <= 100.0 for value in cpu.per_cpu_percent)
    assert cpu.physical_count is None or 1 <= cpu.physical_count <= cpu.logical_count
    assert len(cpu.load_average) == 3 and all(value >= 0 for value in cpu.load_average)
    assert cpu.frequency_mhz is None or cpu.frequency_mhz > 0
    assert cpu.window_seconds > 0


def test_non_blocking_cpu_is_cheap() -> None:
    MetricsUtils.cpu()
    started = time.perf_counter()
    for _ in range(200):
        MetricsUtils.cpu(interval=None)
    # about 0.1 ms a call here; 10 ms would still be fine for a dashboard request
    assert (time.perf_counter() - started) / 200 < 0.01


def test_the_non_blocking_window_is_shared_by_threads() -> None:
    # psutil's own cpu_percent(None) keeps one window per thread: a fresh worker thread
    # (asyncio.to_thread) would measure nothing. MetricsUtils keeps one per process.
    MetricsUtils.cpu()
    time.sleep(MIN_CPU_WINDOW + 0.05)
    readings: list[CPUMetrics] = []
    worker = threading.Thread(target=lambda: readings.append(MetricsUtils.cpu()))
    worker.start()
    worker.join()
    assert MIN_CPU_WINDOW <= readings[0].window_seconds < 5
    # a reading right after another is still computed over a window of MIN_CPU_WINDOW or more
    assert MetricsUtils.cpu().window_seconds >= MIN_CPU_WINDOW


def test_a_blocking_cpu_reading_waits_for_the_interval() -> None:
    started = time.perf_counter()
    cpu = MetricsUtils.cpu(interval=0.2)
    assert time.perf_counter() - started >= 0.2
    assert cpu.window_seconds == pytest.approx(0.2, abs=0.05)
    assert 0.0 <= cpu.percent <= 100.0


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval must be None or >= 0"):
        MetricsUtils.cpu(interval=-1)


def test_memory_values_are_plausible() -> None:
    memory = MetricsUtils.memory()
    assert isinstance(memory, MemoryMetrics)
    assert memory.total_bytes > 0
    assert 0 <= memory.used_bytes <= memory.total_bytes
    assert 0 <= memory.available_bytes <= memory.total_bytes
    assert 0 <= memory.free_bytes <= memory.total_bytes
    assert 0.0 <= memory.percent <= 100.0
    assert 0 <= memory.swap_used_bytes <= memory.swap_total_bytes or memory.swap_total_bytes == 0
    assert 0.0 <= memory.swap_percent <= 100.0


def test_disk_of_root_is_the_default() -> None:
    disk = MetricsUtils.disk()
    assert isinstance(disk, DiskMetrics)
    assert disk.path == "/"
    assert disk.total_bytes > 0
    assert 0 < disk.used_bytes <= disk.total_bytes
    assert 0 <= disk.free_bytes <= disk.total_bytes
    assert 0.0 < disk.percent <= 100.0


def test_disk_accepts_a_path_object_and_keeps_it_as_text(tmp_path: Path) -> None:
    disk = MetricsUtils.disk(tmp_path)
    assert disk.path == str(tmp_path) and disk.total_bytes > 0


def test_a_missing_path_is_file_not_found_naming_it() -> None:
    with pytest.raises(FileNotFoundError, match=r"no such path: '/no/such/mount'") as caught:
        MetricsUtils.disk("/no/such/mount")
    assert caught.value.filename == "/no/such/mount"


def test_disks_keep_the_order_given(tmp_path: Path) -> None:
    disks = MetricsUtils.disks([str(tmp_path), "/"])
    assert [disk.path for disk in disks] == [str(tmp_path), "/"]
    with pytest.raises(FileNotFoundError):
        MetricsUtils.disks(["/", "/no/such/mount"])


def test_one_path_instead_of_a_list_is_refused() -> None:
    # iterating "/data" would measure "/", "d", "a", ...
    with pytest.raises(TypeError, match="not one path"):
        MetricsUtils.disks("/data")
    with pytest.raises(TypeError, match="not one path"):
        MetricsUtils.snapshot(disk_paths="/")


@pytest.mark.skipif(importlib.util.find_spec("pynvml") is not None, reason="pynvml installed")
def test_without_pynvml_there_are_no_gpus() -> None:
    assert MetricsUtils.gpus() == []
    assert MetricsUtils.snapshot().gpus == ()


def test_snapshot_gathers_everything() -> None:
    snap = MetricsUtils.snapshot(disk_paths=["/"], cpu_interval=None)
    assert isinstance(snap, SystemMetrics)
    assert abs(snap.timestamp - time.time()) < 60
    assert [disk.path for disk in snap.disks] == ["/"]
    assert snap.memory.total_bytes > 0 and 0.0 <= snap.cpu.percent <= 100.0
    assert MetricsUtils.snapshot(disk_paths=[]).disks == ()


def test_to_dict_is_json_and_round_trips() -> None:
    snap = MetricsUtils.snapshot()
    data = snap.to_dict()
    _round_trips(data)
    assert set(data) == {"timestamp", "cpu", "memory", "disks", "gpus"}
    assert data["cpu"] == snap.cpu.to_dict()
    assert data["disks"] == [disk.to_dict() for disk in snap.disks]
    assert isinstance(data["cpu"]["per_cpu_percent"], list)
    for part in (snap.cpu, snap.memory, snap.disks[0]):
        _round_trips(part.to_dict())


def test_results_are_frozen() -> None:
    memory = MetricsUtils.memory()
    with pytest.raises(dataclasses.FrozenInstanceError):
        memory.total_bytes = 0  # type: ignore[misc]


@pytest.mark.anyio
async def test_async_variants_give_the_same_shape() -> None:
    assert set((await MetricsUtils.cpu_async()).to_dict()) == set(MetricsUtils.cpu().to_dict())
    assert (await MetricsUtils.memory_async()).total_bytes == MetricsUtils.memory().total_bytes
    assert (await MetricsUtils.disk_async()).path == "/"
    assert [d.path for d in await MetricsUtils.disks_async(["/"])] == ["/"]
    assert await MetricsUtils.gpus_async() == MetricsUtils.gpus()
    snap = await MetricsUtils.snapshot_async(cpu_interval=None)
    assert set(snap.to_dict()) == set(MetricsUtils.snapshot().to_dict())
    _round_trips(snap.to_dict())
    with pytest.raises(FileNotFoundError):
        await MetricsUtils.disk_async("/no/such/mount")


@pytest.mark.anyio
async def test_a_blocking_reading_does_not_block_the_event_loop() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    await MetricsUtils.snapshot_async(cpu_interval=0.2)
    ticker.cancel()
    assert ticks >= 5


def test_without_psutil_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['psutil'] = None\n"
        "from tempest import MetricsUtils\n"
        "MetricsUtils.memory()\n"
    )
    result = run([sys.executable, "-c", code], REPO)
    assert result.returncode != 0
    assert 'ImportError: MetricsUtils needs psutil: pip install "tempest-framework[metrics]"' in (
        result.stderr
    )
