import json
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tempest.core.context import request_id_ctx
from tempest.core.logging import UNCAUGHT_500_FLAG, JSONFormatter, configure_logging

LOGGER = "tempest.tests.logging"


pytestmark = pytest.mark.usefixtures("restore_root_logging")


@pytest.fixture(autouse=True)
def _no_captured_warnings() -> Iterator[None]:
    """configure_logging(json_output=True) routes warnings to logging: undo it."""
    yield
    logging.captureWarnings(False)


def make_record(**extra: object) -> logging.LogRecord:
    return logging.getLogger(LOGGER).makeRecord(
        LOGGER, logging.INFO, __file__, 1, "user %s created", ("ana",), None, extra=extra
    )


def owned_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_tempest_owned", False)]


def test_json_formatter_writes_one_line_with_the_standard_fields() -> None:
    token = request_id_ctx.set("req-1")
    try:
        line = JSONFormatter().format(make_record(user_id=uuid.UUID(int=1), attempts=3))
    finally:
        request_id_ctx.reset(token)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["level"] == "INFO"
    assert payload["logger"] == LOGGER
    assert payload["message"] == "user ana created"
    assert payload["request_id"] == "req-1"
    assert payload["user_id"] == "00000000-0000-0000-0000-000000000001"
    assert payload["attempts"] == 3
    assert payload["timestamp"].endswith("+00:00")
    assert "args" not in payload
    assert "exception" not in payload


def test_json_formatter_prefers_an_explicit_request_id() -> None:
    payload = json.loads(JSONFormatter().format(make_record(request_id="explicit")))

    assert payload["request_id"] == "explicit"


def test_json_formatter_without_request_id() -> None:
    assert json.loads(JSONFormatter().format(make_record()))["request_id"] is None


def test_json_formatter_includes_the_exception() -> None:
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        record = logging.getLogger(LOGGER).makeRecord(
            LOGGER, logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )

    payload = json.loads(JSONFormatter().format(record))

    assert payload["exception"].startswith("Traceback")
    assert "ZeroDivisionError: division by zero" in payload["exception"]


def test_json_output_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_output=True)

    logging.getLogger(LOGGER).info("hello", extra={"order": 7})
    logging.getLogger(LOGGER).debug("hidden")

    [line] = capsys.readouterr().out.splitlines()
    payload = json.loads(line)
    assert (payload["message"], payload["order"]) == ("hello", 7)


def test_text_output_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="debug")
    token = request_id_ctx.set("req-9")
    try:
        logging.getLogger(LOGGER).debug("hello %s", "world", extra={"order": 7})
    finally:
        request_id_ctx.reset(token)

    [line] = capsys.readouterr().out.splitlines()
    assert line.endswith(f"DEBUG    {LOGGER} [req-9] hello world order=7")


def test_calling_twice_does_not_duplicate_handlers(tmp_path: Path) -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)

    configure_logging()
    assert len(owned_handlers()) == 1
    configure_logging(log_dir=tmp_path)
    configure_logging(log_dir=tmp_path)
    assert len(owned_handlers()) == 7
    configure_logging(level="WARNING")

    assert len(owned_handlers()) == 1
    assert foreign in logging.getLogger().handlers
    assert logging.getLogger().level == logging.WARNING


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown log level 'LOUD'"):
        configure_logging(level="LOUD")


def test_log_dir_gets_one_file_per_level_and_500_log(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    configure_logging(level="DEBUG", log_dir=str(log_dir))
    logger = logging.getLogger(LOGGER)

    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.error("uncaught", extra={UNCAUGHT_500_FLAG: True})
    logger.critical("c")

    def messages(name: str) -> list[str]:
        lines = (log_dir / f"{name}.log").read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["message"] for line in lines]

    assert messages("debug") == ["d"]
    assert messages("info") == ["i"]
    assert messages("warning") == ["w"]
    assert messages("error") == ["e", "uncaught"]
    assert messages("critical") == ["c"]
    assert messages("500") == ["uncaught"]


def test_empty_log_dir_disables_files(tmp_path: Path) -> None:
    configure_logging(log_dir="")

    assert len(owned_handlers()) == 1
