"""Long commands draw a progress line on a terminal and print nothing extra in pipes.

Each command runs twice as a real ``manage.py`` subprocess on SQLite databases of its own:
once with standard error on a pseudo-terminal (standard output stays a pipe, as in
``manage.py dumpdata > file``), once with both on pipes. The terminal sees the steps; the
pipe run's standard error is empty and both runs print the same standard output.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

import pytest

from tempest.core.management.progress import Progress, progress, progress_enabled
from tests.conftest import _reset_postgresql, service_url
from tests.helpers import PYTHON, clean_env
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e

ERASE_LINE = "\r\x1b[K"


def manage_on_terminal(
    project: Path, *args: str, timeout: float = 60, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``python manage.py ARGS`` with standard error on a pseudo-terminal 200 columns wide.

    Returns:
        The finished process (standard output captured) and what the terminal received.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    received: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not chunk:
                return
            received.append(chunk)

    try:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *args],
            cwd=project,
            env=clean_env(TERM="xterm", **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
        )
    finally:
        os.close(slave)
    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        process.kill()
        reader.join(timeout)
        os.close(master)
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, "")
    return completed, b"".join(received).decode("utf-8", "replace")


def without_timings(text: str) -> str:
    return re.sub(r"\(\d+\.\d+ ?s\)|in \d+\.\d+s", "(TIME)", text)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    assert tempest(root, "startproject", "shop").returncode == 0
    project = root / "shop"
    created = manage(project, "startapp", "orders")
    assert created.returncode == 0, created.stderr
    migrations = manage(project, "makemigrations")
    assert migrations.returncode == 0, migrations.stderr
    return project


# --- the helper on its own -------------------------------------------------------------


def test_nothing_is_drawn_on_a_pipe_or_a_file(tmp_path: Path) -> None:
    with (tmp_path / "err.txt").open("w+") as stream:
        assert not progress_enabled(stream)
        status = Progress(3, stream, progress_enabled(stream))
        status.step("Applying orders 0001")
        status.update("Saving orders.OrderModel: 500/1000")
        status.clear()
        stream.seek(0)
        assert stream.read() == ""


def read_all(terminal: Any) -> str:
    """Everything written to the pty so far: a read may return one write's worth only."""
    chunks = []
    while select.select([terminal], [], [], 0.2)[0]:
        chunk = terminal.read(4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_the_status_is_redrawn_in_place_cut_to_the_width_and_erased() -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 30, 0, 0))
    with os.fdopen(slave, "w") as stream, os.fdopen(master, "rb", buffering=0) as terminal:
        assert progress_enabled(stream)
        status = Progress(2, stream, True)
        status.step("Applying orders 0001_initial")
        status.step("Applying orders 0002_a_long_revision_name")
        status.clear()
        drawn = read_all(terminal)
    assert drawn == (
        f"{ERASE_LINE}[1/2] Applying orders 0001..."  # 29 columns: one is kept free
        f"{ERASE_LINE}[2/2] Applying orders 0002..."
        f"{ERASE_LINE}"
    )


def test_a_failing_block_still_erases_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as stream, os.fdopen(master, "rb", buffering=0) as terminal:
        monkeypatch.setattr(sys, "stderr", stream)
        with pytest.raises(RuntimeError), progress(1) as status:
            status.step("Saving orders.OrderModel")
            raise RuntimeError("the load failed")
        monkeypatch.undo()
        drawn = read_all(terminal)
    assert drawn == f"{ERASE_LINE}[1/1] Saving orders.OrderModel{ERASE_LINE}"


# --- the six commands ------------------------------------------------------------------

COMMANDS: list[tuple[tuple[str, ...], str]] = [
    (("migrate",), r"\[1/\d+\] Applying \w+ \w+"),
    (("seed", "orders"), r"\[1/1\] Seeding orders"),
    (("dumpdata", "orders", "-o", "{dir}/orders.json"), r"\[1/1\] Dumping orders\.\w+"),
    (("flush", "--noinput"), ""),  # no progress of its own: empties the tables for loaddata
    (("loaddata", "{dir}/orders.json"), r"\[1/1\] Saving orders\.\w+: 3/3 object"),
    (("backup", "-o", "{dir}/shop.sqlite3"), r"Copied \d+/\d+ pages"),
    (("restore", "-y", "{dir}/shop.sqlite3"), r"Copied \d+/\d+ pages"),
]


@pytest.mark.slow
def test_each_command_shows_its_steps_on_a_terminal_and_nothing_more_in_pipes(
    project: Path, tmp_path: Path
) -> None:
    runs: dict[str, Path] = {}
    for mode in ("terminal", "pipes"):
        runs[mode] = tmp_path / mode
        runs[mode].mkdir()
    for args, expected in COMMANDS:
        outputs: dict[str, str] = {}
        for mode, folder in runs.items():
            arguments = [arg.replace("{dir}", str(folder)) for arg in args]
            env = {"DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'db.sqlite3'}"}
            if mode == "terminal":
                result, terminal = manage_on_terminal(project, *arguments, **env)
                assert result.returncode == 0, f"{args}: {terminal}"
                if expected:
                    assert re.search(expected, terminal), f"{args}: {terminal!r}"
                    assert terminal.endswith(ERASE_LINE), f"{args}: {terminal!r}"
                else:
                    assert terminal == "", f"{args}: {terminal!r}"
            else:
                result = manage(project, *arguments, **env)
                assert result.returncode == 0, f"{args}: {result.stderr}"
                assert result.stderr == "", f"{args}: {result.stderr!r}"
            outputs[mode] = without_timings(result.stdout.replace(str(folder), "DIR"))
        assert outputs["terminal"] == outputs["pipes"], args
        assert "\x1b" not in outputs["pipes"]


def test_dumpdata_to_standard_output_keeps_the_json_clean(project: Path, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"}
    for args in (("migrate",), ("seed", "orders")):
        assert manage(project, *args, **env).returncode == 0
    result, terminal = manage_on_terminal(project, "dumpdata", "orders", **env)
    assert result.returncode == 0, terminal
    assert len(json.loads(result.stdout)) == 3
    assert re.search(r"\[1/1\] Dumping orders\.\w+", terminal), repr(terminal)


def test_verbosity_0_draws_nothing_on_a_terminal(project: Path, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"}
    result, terminal = manage_on_terminal(project, "migrate", "-v", "0", **env)
    assert result.returncode == 0, terminal
    assert (result.stdout, terminal) == ("", "")


def test_postgresql_backup_and_restore_name_each_table(project: Path, tmp_path: Path) -> None:
    url = service_url("TEMPEST_TEST_DATABASE_URL")
    asyncio.run(_reset_postgresql(url))
    try:
        assert manage(project, "migrate", DATABASE_URL=url).returncode == 0
        dump = tmp_path / "shop.dump"
        result, terminal = manage_on_terminal(project, "backup", "-o", str(dump), DATABASE_URL=url)
        assert result.returncode == 0, terminal
        assert re.search(r'Dumping table public\.(")?order\b', terminal), repr(terminal)
        assert "pg_dump:" not in terminal + result.stdout  # --verbose lines are read, not shown
        result, terminal = manage_on_terminal(project, "restore", "-y", str(dump), DATABASE_URL=url)
        assert result.returncode == 0, terminal
        assert re.search(r'Restoring table public\.(")?order\b', terminal), repr(terminal)
        assert terminal.endswith(ERASE_LINE)
    finally:
        asyncio.run(_reset_postgresql(url))
