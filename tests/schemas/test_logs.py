from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from tempest.core.context import request_id_ctx, set_request_id
from tempest.core.logging import JSONFormatter
from tempest.schemas import LogEntrySchema


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("tests.schemas.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_formatter_line_parses(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    token = set_request_id("req-1")
    try:
        logger.warning("  padded %s ", "message", extra={"order_id": 7, "tags": ["a"]})
    finally:
        request_id_ctx.reset(token)
    (line,) = lines(stream)
    entry = LogEntrySchema.model_validate_json(line)
    assert entry.level == "WARNING"
    assert entry.logger == "tests.schemas.logs"
    assert entry.message == "  padded message "
    assert entry.request_id == "req-1"
    assert entry.extra == {"order_id": 7, "tags": ["a"]}
    assert entry.exception is None
    assert entry.stack is None
    assert entry.timestamp.tzinfo is UTC
    assert abs((datetime.now(UTC) - entry.timestamp).total_seconds()) < 60


def test_exception_and_stack_texts_are_kept(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed", stack_info=True)
    entry = LogEntrySchema.model_validate_json(lines(stream)[0])
    assert entry.level == "ERROR"
    assert entry.request_id is None
    assert entry.exception is not None
    assert "RuntimeError: boom" in entry.exception
    assert entry.stack is not None
    assert entry.stack.startswith("Stack (most recent call last)")
    assert entry.extra == {}


def test_a_field_named_extra_is_merged(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("a", extra={"extra": {"nested": 1}, "flat": 2})
    logger.info("b", extra={"extra": "scalar"})
    first, second = (LogEntrySchema.model_validate_json(line) for line in lines(stream))
    assert first.extra == {"nested": 1, "flat": 2}
    assert second.extra == {"extra": "scalar"}


def test_it_can_be_built_directly_and_round_trips() -> None:
    entry = LogEntrySchema(
        timestamp=datetime(2024, 5, 1, 12, 0),
        level="INFO",
        logger="app",
        message="hello",
        extra={"user": "ana"},
    )
    assert entry.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    dumped = json.loads(entry.model_dump_json())
    assert dumped["timestamp"] == "2024-05-01T12:00:00Z"
    assert LogEntrySchema.model_validate(dumped) == entry


@pytest.mark.parametrize(
    "data",
    [
        {"level": "INFO", "logger": "app", "message": "m"},
        {"timestamp": "noon", "level": "INFO", "logger": "app", "message": "m"},
        {"timestamp": "2024-05-01T12:00:00Z", "logger": "app", "message": "m"},
        {"timestamp": "2024-05-01T12:00:00Z", "level": "INFO", "logger": "app", "message": 5},
        {
            "timestamp": "2024-05-01T12:00:00Z",
            "level": "INFO",
            "logger": "app",
            "message": "m",
            "request_id": 5,
        },
    ],
)
def test_bad_records_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LogEntrySchema.model_validate(data)


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '"text"', "null"])
def test_lines_that_are_not_json_objects_are_rejected(line: str) -> None:
    with pytest.raises(ValidationError):
        LogEntrySchema.model_validate_json(line)
