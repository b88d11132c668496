"""Run the console transcripts and file examples of a docs page, in document order.

A page is executed like a notebook: each titled block is written to the project, each
``$ command`` of a console block is run and its output compared with the page's.
Supported commands: ``python ...``, ``tempest ...``, ``pytest ...``, ``cd DIR``,
``curl ...`` (against the server the page started) and ``python manage.py runserver``
(started in the background on a free port); ``NAME=value`` prefixes set environment
variables.

Comparison is line by line after normalising what legitimately differs between runs:
the temporary directory (shown as ``/home/you``), UUIDs, timestamps, request IDs,
durations, the server's port and tempest's version. A line ``...`` in the page matches
any number of lines and ``...`` inside a line matches any text. A command is expected to
fail exactly when the page shows an ``Error:`` line or a failed pytest summary.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs.markdown import Block, Session, blocks, sessions
from tests.helpers import PYTHON, clean_env, free_port, stop_group, wait_for_http

SHOWN_HOME = "/home/you"
SHOWN_PORT = 8000
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_NORMALISERS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        "<uuid>",
    ),
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"),
        "<datetime>",
    ),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r"\b\d+(?:\.\d+)?s\b"), "<seconds>"),
    (re.compile(r"\btempest \d+\.\d+\.\d+\S*"), "tempest <version>"),
]


def normalise(text: str) -> str:
    """The parts of ``text`` that do not change between runs."""
    for pattern, replacement in _NORMALISERS:
        text = pattern.sub(replacement, text)
    lines = [line.replace("\t", "    ").rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is what ``expected`` shows, ``...`` being a wildcard."""
    pattern = []
    for line in normalise(expected).splitlines():
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(re.escape(part) for part in line.split("...")) + r"\n")
    return (
        re.fullmatch("".join(pattern), normalise(actual) + "\n" if actual.strip() else "")
        is not None
    )


def expects_failure(output: str) -> bool:
    """Whether the page shows this command failing."""
    return any(
        line.startswith("Error:") or re.search(r"\d+ (failed|error)", line)
        for line in output.splitlines()
    )


@dataclass
class Transcript:
    """Runs a page's examples in a directory tree rooted at ``home``.

    Args:
        home: What the page calls ``/home/you``: where ``tempest startproject`` runs.
        cwd: Where the first command runs (``home`` itself, or a project under it).
    """

    home: Path
    cwd: Path
    ran: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    _server: subprocess.Popen[str] | None = None
    _port: int = 0

    def run_page(self, page: Path) -> None:
        """Write every titled block and run every console block of ``page``, in order."""
        for block in blocks(page):
            if block.title:
                self.write(block)
            elif block.lang == "console":
                for session in sessions(block):
                    self.run(session)

    def write(self, block: Block) -> None:
        """Write a file example into the project."""
        assert block.title is not None
        target = self.cwd / block.title
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
        self.written.append(block.title)

    def run(self, session: Session) -> None:
        """Run one command and compare its output with the page's."""
        words = shlex.split(session.command)
        env = _environment()
        while words and _ENV_ASSIGNMENT.match(words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        self.ran.append(session.command)
        program, *args = words
        if program == "cd":
            self.cwd = (self.cwd / args[0]).resolve()
            return
        if program == "python" and args[:2] == ["manage.py", "runserver"]:
            actual = self._start_server(args, env)
            returncode = 0
        else:
            completed = subprocess.run(
                self._argv(program, args, session),
                cwd=self.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            actual = completed.stdout + completed.stderr
            returncode = completed.returncode
        actual = actual.replace(str(self.home), SHOWN_HOME)
        if self._port:
            actual = actual.replace(f":{self._port}", f":{SHOWN_PORT}")
        assert matches(session.output, actual), (
            f"{session.block.where}: `$ {session.command}` printed\n{actual}\n"
            f"but the page shows\n{session.output}"
        )
        failed = returncode != 0
        assert failed == expects_failure(session.output), (
            f"{session.block.where}: `$ {session.command}` exited with {returncode}.\n{actual}"
        )

    def _argv(self, program: str, args: list[str], session: Session) -> list[str]:
        if program == "python":
            return [PYTHON, *args]
        if program in ("tempest", "pytest"):
            return [PYTHON, "-m", program, *args]
        if program == "curl":
            if shutil.which("curl") is None:
                pytest.skip("curl is not installed")
            assert self._server is not None, f"{session.block.where}: curl before runserver"
            shown = f"127.0.0.1:{SHOWN_PORT}"
            return ["curl", *(arg.replace(shown, f"127.0.0.1:{self._port}") for arg in args)]
        raise AssertionError(
            f"{session.block.where}: `{program}` cannot run in a console block; "
            "use a bash block for commands the tests must not run."
        )

    def _start_server(self, args: list[str], env: dict[str, str]) -> str:
        """Start runserver on a free port; return its output up to the 'Quit' line."""
        assert self._server is None, "one server per page"
        self._port = free_port()
        env.update(SERVER_PORT=str(self._port), PYTHONUNBUFFERED="1")
        self._server = subprocess.Popen(
            [PYTHON, *args],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        lines = _read_until(self._server, "Quit the server with CONTROL-C.", timeout=20)
        wait_for_http(f"http://127.0.0.1:{self._port}/health/liveness")
        return "".join(lines)

    def close(self) -> None:
        """Stop the server the page started, if any."""
        server, self._server = self._server, None
        if server is None:
            return
        stop_group(server)
        if server.stdout is not None:
            server.stdout.close()


def _environment() -> dict[str, str]:
    env = clean_env(COLUMNS="80", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    env.pop("TEMPEST_TEST_DATABASE_URL", None)  # the pages' projects use their SQLite file
    return env


def _read_until(process: subprocess.Popen[str], last: str, timeout: float) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.strip() == last:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    started = time.monotonic()
    if not done.wait(timeout):
        raise AssertionError(f"no {last!r} within {time.monotonic() - started:.0f}s: {lines}")
    return lines
