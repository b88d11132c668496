"""The project's quality tools (ruff, mypy, pytest) run as subprocesses.

``lint``, ``fix``, ``format``, ``typecheck``, ``test`` and ``gate`` use them. Each tool runs
as ``<this interpreter> -m <tool>`` in the project's folder, so that it sees the same
virtual environment as the project (mypy reads the installed packages' types, pytest
imports the project). A tool missing from that environment is a one-line error naming the
package to install, with exit status 127, as a shell reports a missing program.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from tempest.core.management.base import CommandError

MISSING_TOOL = 127
"""Exit status when a tool is not installed (what a shell returns for a missing program)."""

TOOL_PACKAGES: dict[str, str] = {"ruff": "ruff", "mypy": "mypy", "pytest": "pytest"}
"""Each tool's module and the PyPI package that provides it."""


class MissingToolError(CommandError):
    """A tool is not installed in the project's environment (exit status 127).

    Args:
        tool: The module that could not be found, e.g. ``"ruff"``.
    """

    def __init__(self, tool: str) -> None:
        package = TOOL_PACKAGES.get(tool, tool)
        super().__init__(
            f"{tool} is not installed in this environment ({sys.executable}): "
            f'pip install {package} (or pip install -e ".[dev]" in the project).',
            MISSING_TOOL,
        )
        self.tool = tool
        self.package = package


def project_dir() -> Path:
    """The project's folder: where ``manage.py`` is, else the working directory."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "manage.py" and script.is_file():
        return script.resolve().parent
    return Path.cwd()


def tool_command(tool: str) -> list[str]:
    """The command line that starts ``tool`` with this interpreter.

    Raises:
        MissingToolError: The tool's module cannot be imported here.
    """
    try:
        found = importlib.util.find_spec(tool) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingToolError(tool)
    return [sys.executable, "-m", tool]


def run_tool(tool: str, args: Sequence[str], cwd: Path | None = None) -> int:
    """Run ``tool ARGS`` in the project's folder, its output going to ours.

    Args:
        tool: ``"ruff"``, ``"mypy"`` or ``"pytest"``.
        args: Its arguments.
        cwd: Where to run it; default :func:`project_dir`.

    Returns:
        The tool's exit status.

    Raises:
        MissingToolError: The tool is not installed.
    """
    command = [*tool_command(tool), *args]
    try:
        return subprocess.run(command, cwd=cwd or project_dir(), check=False).returncode
    except KeyboardInterrupt:
        raise
    except OSError as error:  # the interpreter itself vanished: report it like a shell
        raise CommandError(f"Cannot run {' '.join(command)}: {error}.", MISSING_TOOL) from None


def exit_with(status: int) -> None:
    """End the process with ``status`` (the tool's own), without an error line.

    The tool has said what went wrong; tempest adds nothing to it.
    """
    if status:
        raise SystemExit(status)


@dataclass(frozen=True)
class Step:
    """One step of ``gate``: a name and the tool runs it is made of."""

    name: str
    runs: tuple[tuple[str, tuple[str, ...]], ...]


GATE_STEPS: tuple[Step, ...] = (
    Step("lint", (("ruff", ("check", ".")),)),
    Step("format", (("ruff", ("format", "--check", ".")),)),
    Step("typecheck", (("mypy", (".",)),)),
    Step("test", (("pytest", ()),)),
)
"""What ``gate`` runs, in order: ``lint``, ``format --check``, ``typecheck``, ``test``."""


@dataclass(frozen=True)
class StepResult:
    """How a step of ``gate`` ended."""

    name: str
    status: int
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the step passed."""
        return self.status == 0

    def summary(self, width: int) -> str:
        """The step's line of the summary, e.g. ``lint       ok      0.3s``."""
        outcome = "ok" if self.ok else "FAILED"
        line = f"{self.name.ljust(width)}  {outcome.ljust(6)}  {self.seconds:.1f}s"
        return f"{line}  ({self.note})" if self.note else line


def run_step(step: Step, cwd: Path) -> StepResult:
    """Run one step of ``gate``; a missing tool fails the step with status 127."""
    started = time.monotonic()
    status = 0
    note = ""
    for tool, args in step.runs:
        try:
            status = run_tool(tool, args, cwd)
        except MissingToolError as error:
            status, note = error.returncode, f"{tool} not installed: pip install {error.package}"
            click.echo(f"Error: {error}", err=True)
        if status:
            break
    if status and not note:
        note = f"exit status {status}"
    return StepResult(step.name, status, time.monotonic() - started, note)
