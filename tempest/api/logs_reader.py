"""Read the JSON log files ``configure_logging`` writes: newest first, in bounded memory.

Files are read backwards in blocks, so the newest page of a file of any size costs a few
blocks; a page further back costs the lines before it, never the whole file in memory.
Only the files named by :class:`LogSource` under the given directory are ever opened.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tempest.schemas import LogEntrySchema

__all__ = [
    "LogPage",
    "LogSource",
    "read_log_page",
]

_BLOCK = 64 * 1024
_MAX_LINE = 1024 * 1024
"""Longer lines (a runaway traceback) are skipped rather than held in memory."""
_COUNT_BUDGET = 10_000
"""Matching lines counted past the page before ``total`` is given as an estimate."""


class LogSource(StrEnum):
    """Which log file to read: one level's file, the isolated 500s, or every level."""

    ALL = "all"
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"
    SERVER_ERROR = "500"

    def file_names(self) -> tuple[str, ...]:
        """The files this source reads; ``all`` is every level's file (not ``500.log``)."""
        if self is LogSource.ALL:
            return tuple(f"{source.value}.log" for source in _LEVEL_SOURCES)
        return (f"{self.value}.log",)


_LEVEL_SOURCES = (
    LogSource.DEBUG,
    LogSource.INFO,
    LogSource.WARNING,
    LogSource.ERROR,
    LogSource.CRITICAL,
)


@dataclass(frozen=True)
class LogPage:
    """A page of entries, newest first, and how many entries match in all."""

    items: list[LogEntrySchema]
    total: int
    total_is_exact: bool


def _reverse_lines(path: Path) -> Iterator[bytes]:
    """The lines of ``path`` from the last to the first, reading blocks from the end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        position = handle.seek(0, os.SEEK_END)
        tail = b""  # the start of the line being assembled (its end was read first)
        skipping = False
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step) + tail
            lines = block.split(b"\n")
            tail = lines[0]
            for line in reversed(lines[1:]):
                if skipping:  # the rest of an over-long line
                    skipping = False
                    continue
                if line.strip():
                    yield line
            if len(tail) > _MAX_LINE:
                tail, skipping = b"", True
        if tail.strip() and not skipping:
            yield tail


@dataclass(frozen=True)
class _Line:
    """A parsed line: its time (for merging and ranges) and its JSON object."""

    timestamp: datetime
    data: dict[str, Any]

    def entry(self) -> LogEntrySchema | None:
        try:
            return LogEntrySchema.model_validate(self.data)
        except ValidationError:
            return None


_RECORD_KEYS = frozenset({"timestamp", "level", "logger", "message"})


def _parse(line: bytes) -> _Line | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.keys() >= _RECORD_KEYS:
        return None
    timestamp = _timestamp(data["timestamp"])
    return None if timestamp is None else _Line(timestamp, data)


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lines(path: Path, start: datetime | None) -> Iterator[_Line]:
    """The parsed lines of one file, newest first, stopping before ``start``."""
    for raw in _reverse_lines(path):
        line = _parse(raw)
        if line is None:
            continue
        if start is not None and line.timestamp < start:
            return  # the file is in time order: everything before is older still
        yield line


def _sort_key(line: _Line) -> datetime:
    return line.timestamp


def _matches(line: _Line, query: str | None, end: datetime | None) -> bool:
    if end is not None and line.timestamp > end:
        return False
    if query is None:
        return True
    return any(
        isinstance(value, str) and query in value.casefold()
        for value in (line.data.get("message"), line.data.get("exception"))
    )


def read_log_page(
    log_dir: str | os.PathLike[str],
    source: LogSource = LogSource.ALL,
    *,
    query: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> LogPage:
    """One page of the entries of ``source`` under ``log_dir``, newest first.

    ``all`` merges the level files by time (lines of different files logged in the same
    millisecond may come in either order). Lines that are not JSON log records are
    skipped.
    ``total`` counts matching entries up to 10,000 past the page; beyond that it is a
    lower bound and ``total_is_exact`` is False.

    Args:
        log_dir: The directory ``LOG_DIR`` names.
        source: The file(s) to read.
        query: Keep entries whose message (or traceback) contains it, case-insensitively.
        start: Keep entries logged at or after it (a naive time is UTC).
        end: Keep entries logged at or before it (a naive time is UTC).
        page: 1-based page number.
        page_size: Entries per page.

    Returns:
        The page.
    """
    directory = Path(log_dir)
    start, end = _aware(start), _aware(end)
    needle = query.casefold() if query else None
    streams = [_lines(directory / name, start) for name in source.file_names()]
    merged = heapq.merge(*streams, key=_sort_key, reverse=True) if len(streams) > 1 else streams[0]
    matching = (entry for entry in merged if _matches(entry, needle, end))
    seen = 0

    def counted() -> Iterator[_Line]:
        nonlocal seen
        for line in matching:
            seen += 1
            yield line

    stream = counted()
    skip = (page - 1) * page_size
    found = list(islice(stream, skip, skip + page_size))
    for _ in islice(stream, _COUNT_BUDGET):
        pass
    exhausted = next(stream, None) is None
    items = [entry for entry in (line.entry() for line in found) if entry is not None]
    return LogPage(items, seen, exhausted)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
