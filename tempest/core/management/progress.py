"""A one-line progress status for long commands, drawn on a terminal only.

``migrate``, ``loaddata``, ``dumpdata``, ``seed``, ``backup`` and ``restore`` say what they
are doing step by step (``[2/5] Applying orders 0002_add_total``) on standard error while
it is a terminal; the line is redrawn in place and erased when the command finishes. When
standard error is a pipe or a file, or the verbosity is 0, nothing is drawn: the output of
a command in a script stays exactly what it prints anyway.

Click's ``progressbar`` is not used: it prints its label once when the output is not a
terminal, and draws on standard output, where ``dumpdata`` writes its JSON.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tempest.core.management.base import echo, get_context

_ERASE_LINE = "\r\x1b[K"


def progress_enabled(stream: TextIO | None = None) -> bool:
    """Whether progress is drawn: ``stream`` (standard error) is a terminal and -v is not 0.

    Args:
        stream: Where the status would be drawn; standard error by default.
    """
    stream = stream if stream is not None else sys.stderr
    if get_context().verbosity < 1 or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class Progress:
    """The status line of one command; see :func:`progress`.

    Attributes:
        enabled: Whether anything is drawn.
        done: Steps finished so far.
        total: Steps expected, or ``None`` when unknown.
    """

    def __init__(self, total: int | None, stream: TextIO, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self._stream = stream
        self._shown = False
        self._text = ""

    def step(self, text: str) -> None:
        """Start the next step and show it: ``[3/7] text``.

        Args:
            text: What the step does, e.g. ``Applying orders 0001_initial``.
        """
        self.done += 1
        self.update(text)

    def update(self, text: str) -> None:
        """Show ``text`` for the current step (e.g. a row count), without counting a step."""
        self._text = text
        self._draw()

    def echo(self, message: str = "", *, level: int = 1, err: bool = False) -> None:
        """Print a line of the command's normal output without garbling the status line.

        The same as :func:`tempest.core.management.base.echo`, with the status erased first
        and drawn again after.
        """
        self.clear()
        echo(message, level=level, err=err)
        self._draw()

    def clear(self) -> None:
        """Erase the status line (it comes back at the next :meth:`step` or :meth:`update`)."""
        if self._shown:
            self._stream.write(_ERASE_LINE)
            self._stream.flush()
            self._shown = False

    def _draw(self) -> None:
        if not self.enabled or not self._text:
            return
        count = f"[{self.done}/{self.total}] " if self.total else ""
        line = f"{count}{self._text}"
        width = _columns(self._stream) - 1
        if len(line) > width > 3:
            line = line[: width - 3] + "..."
        self._stream.write(_ERASE_LINE + line)
        self._stream.flush()
        self._shown = True


def _columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` draws on (standard output may be a pipe)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size().columns


@contextmanager
def progress(total: int | None = None) -> Iterator[Progress]:
    """A status line for the block's steps, erased when the block ends (also on errors).

    Args:
        total: How many steps the block will take, when known.

    Yields:
        The :class:`Progress`; its methods do nothing when standard error is no terminal.
    """
    stream = sys.stderr
    status = Progress(total, stream, progress_enabled(stream))
    try:
        yield status
    finally:
        status.clear()
