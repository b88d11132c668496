"""Logging set-up: one-line JSON records carrying the request ID, per-level files."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tempest.utils.context import UNCAUGHT_500_FLAG, get_request_id

__all__ = ["UNCAUGHT_500_FLAG", "JSONFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)))
_NOT_EXTRA = _RECORD_ATTRIBUTES | {"message", "asctime", "request_id"}

_LEVEL_FILES: tuple[tuple[str, int], ...] = (
    ("debug", logging.DEBUG),
    ("info", logging.INFO),
    ("warning", logging.WARNING),
    ("error", logging.ERROR),
    ("critical", logging.CRITICAL),
)

# Marks the handlers configure_logging installed, so a second call replaces them.
_OWNED_MARK = "_tempest_owned"


def _request_id_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "request_id", None)
    return explicit if explicit is not None else get_request_id()


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _NOT_EXTRA and not key.startswith("_")
    }


class JSONFormatter(logging.Formatter):
    """Format each record as one line of JSON.

    The object holds ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    ``request_id`` (from ``extra`` or the current request), every field passed through
    ``extra=`` and, when present, ``exception`` and ``stack`` texts. Values JSON cannot
    encode are written with ``str()``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single JSON line.

        Args:
            record: The record to render.

        Returns:
            The JSON text, without a trailing newline.
        """
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id_of(record),
        }
        for key, value in _extra_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """Human-readable lines: time, level, logger, [request id], message, extra fields."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        request_id = _request_id_of(record) or "-"
        line = (
            f"{self.formatTime(record)} {record.levelname:<8} {record.name} "
            f"[{request_id}] {record.message}"
        )
        extras = _extra_fields(record)
        if extras:
            line += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        return line


class _ExactLevelFilter(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == self.level


class _Uncaught500Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return bool(getattr(record, UNCAUGHT_500_FLAG, False))


def _coerce_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    levels = logging.getLevelNamesMapping()
    try:
        return levels[level.strip().upper()]
    except KeyError:
        valid = ", ".join(name for name, _ in _LEVEL_FILES)
        raise ValueError(f"Unknown log level {level!r}; use one of: {valid}.") from None


def _file_handler(path: Path, log_filter: logging.Filter) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.addFilter(log_filter)
    handler.setFormatter(JSONFormatter())
    return handler


def configure_logging(
    level: str | int = "INFO",
    json_output: bool = False,
    log_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Configure the root logger for a tempest process.

    Installs a stdout handler (JSON lines or readable text) and, when ``log_dir`` is
    given, one JSON file per level under it (``debug.log`` ... ``critical.log``, each
    holding only its own level) plus ``500.log`` for uncaught server errors. Calling it
    again replaces the handlers it installed earlier; other handlers are left alone.

    Args:
        level: Minimum level of the root logger, as a name (``"INFO"``) or number.
        json_output: Write JSON lines to stdout instead of readable text.
        log_dir: Directory for the per-level files; ``None`` or ``""`` disables them.

    Raises:
        ValueError: ``level`` is not a known level name.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWNED_MARK, False):
            root.removeHandler(handler)
            handler.close()

    root.setLevel(_coerce_level(level))

    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(JSONFormatter() if json_output else _TextFormatter())
    handlers: list[logging.Handler] = [console]

    if log_dir:
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for name, file_level in _LEVEL_FILES:
            handlers.append(_file_handler(directory / f"{name}.log", _ExactLevelFilter(file_level)))
        handlers.append(_file_handler(directory / "500.log", _Uncaught500Filter()))

    for handler in handlers:
        setattr(handler, _OWNED_MARK, True)
        root.addHandler(handler)
