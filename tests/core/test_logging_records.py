"""Whatever reaches the log handlers is written: colliding fields, bad arguments, odd values.

Also: LogUtils, record enrichers (the tracing hook), and the libraries' loggers routed
through the root logger's handlers (SQLAlchemy's echo on a real engine).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tempest import LogUtils, add_record_enricher, safe_extra
from tempest.core.logging import (
    JSONFormatter,
    configure_logging,
    remove_record_enricher,
    route_library_loggers,
)
from tempest.utils.context import request_id_ctx

LOGGER = "tests.logging.records"

pytestmark = pytest.mark.usefixtures("restore_root_logging")


@pytest.fixture(autouse=True)
def _no_captured_warnings() -> Iterator[None]:
    yield
    logging.captureWarnings(False)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_stdlib_refuses_colliding_extra_keys_and_safe_extra_renames_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json_output=True)
    logger = logging.getLogger(LOGGER)

    with pytest.raises(KeyError, match="Attempt to overwrite 'message'"):
        logger.info("hello", extra={"message": "boom"})
    logger.info("hello", extra=safe_extra({"message": "m", "name": "n", "args": 1, "ok": 2}))

    [line] = _lines(capsys)
    assert line["message"] == "hello"
    assert line["logger"] == LOGGER
    assert (line["extra_message"], line["extra_name"], line["extra_args"], line["ok"]) == (
        "m",
        "n",
        1,
        2,
    )


def test_extra_keys_named_like_the_json_keys_are_renamed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json_output=True)

    logging.getLogger(LOGGER).info(
        "hi", extra={"timestamp": "t", "level": "l", "logger": "x", "exception": "e"}
    )

    [line] = _lines(capsys)
    assert line["level"] == "INFO"
    assert line["logger"] == LOGGER
    assert (line["extra_timestamp"], line["extra_level"], line["extra_logger"]) == ("t", "l", "x")
    assert line["extra_exception"] == "e"
    assert "exception" not in line


def test_arguments_that_do_not_match_the_format_are_written_raw(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest's own capture handler raises on such records; ours writes them.
    monkeypatch.setattr(logging, "raiseExceptions", False)
    configure_logging(json_output=True)
    logger = logging.getLogger(LOGGER)

    logger.info("%d orders", "many")
    logger.info("%s and %s", "one")

    first, second = _lines(capsys)
    assert first["message"] == "'%d orders' % ('many',)"
    assert second["message"] == "'%s and %s' % ('one',)"


def test_text_output_survives_bad_arguments_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)
    configure_logging()

    logging.getLogger(LOGGER).warning("%d orders", "many")

    assert capsys.readouterr().out.rstrip().endswith("'%d orders' % ('many',)")


def test_values_json_cannot_hold_are_made_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True)
    cycle: list[Any] = []
    cycle.append(cycle)

    logging.getLogger(LOGGER).info(
        "odd", extra={"keys": {(1, 2): "tuple key", 3: "int key"}, "cycle": cycle, "obj": object()}
    )

    [line] = _lines(capsys)
    assert line["keys"] == {"(1, 2)": "tuple key", "3": "int key"}
    assert line["obj"].startswith("<object object")
    assert isinstance(line["cycle"], list)


def test_enrichers_add_trace_ids_in_the_callers_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def enrich(record: logging.LogRecord) -> None:
        request_id = request_id_ctx.get()
        if request_id and not hasattr(record, "trace_id"):
            record.trace_id = f"trace-of-{request_id}"
            record.span_id = "span-1"

    def broken(record: logging.LogRecord) -> None:
        raise RuntimeError("an enricher failing never stops a line")

    configure_logging(json_output=True)
    add_record_enricher(enrich)
    add_record_enricher(broken)
    token = request_id_ctx.set("r1")
    try:
        logging.getLogger(LOGGER).info("traced")
        # extra is applied before the enrichers run: no KeyError, the explicit value stays.
        logging.getLogger(LOGGER).info("explicit", extra={"trace_id": "given"})
    finally:
        request_id_ctx.reset(token)
        remove_record_enricher(enrich)
        remove_record_enricher(broken)
    logging.getLogger(LOGGER).info("untraced")

    traced, explicit, untraced = _lines(capsys)
    assert explicit["trace_id"] == "given"
    keys = list(traced)
    assert keys[: keys.index("span_id") + 1] == [
        "timestamp",
        "level",
        "logger",
        "message",
        "request_id",
        "trace_id",
        "span_id",
    ]
    assert (traced["trace_id"], traced["span_id"]) == ("trace-of-r1", "span-1")
    assert "trace_id" not in untraced


def test_opentelemetry_attribute_names_are_understood() -> None:
    record = logging.getLogger(LOGGER).makeRecord(
        LOGGER, logging.INFO, __file__, 1, "x", (), None, extra={"otelTraceID": "abc"}
    )
    record.otelSpanID = "def"

    line = json.loads(JSONFormatter().format(record))

    assert (line["trace_id"], line["span_id"]) == ("abc", "def")
    assert "otelTraceID" not in line


def test_uvicorn_access_lines_get_fields() -> None:
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/orders", "1.1", 200),
        None,
    )

    line = json.loads(JSONFormatter().format(record))

    assert line["message"] == '127.0.0.1:5000 - "GET /api/orders HTTP/1.1" 200'
    assert (line["method"], line["path"], line["status_code"]) == ("GET", "/api/orders", 200)


def test_log_utils_fields_levels_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="DEBUG", json_output=True)
    log = LogUtils("app.users", level="INFO")

    log.debug("hidden")
    log.info("user_created", user_id="u1", message="collides")
    log.warning("100% sure", attempts=5)
    try:
        raise RuntimeError("reconcile failed")
    except RuntimeError:
        log.exception("risky_failed", op="reconcile")

    created, sure, failed = _lines(capsys)
    assert (created["message"], created["user_id"], created["extra_message"]) == (
        "user_created",
        "u1",
        "collides",
    )
    assert (sure["message"], sure["level"], sure["attempts"]) == ("100% sure", "WARNING", 5)
    assert failed["level"] == "ERROR"
    assert "RuntimeError: reconcile failed" in failed["exception"]
    assert log.name == "app.users"
    assert log.extra(args=1) == {"extra_args": 1}


def test_log_utils_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="Unknown log level 'LOUD'"):
        LogUtils("app", level="LOUD")


def test_library_loggers_are_routed_through_the_root_handlers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    library = logging.getLogger("uvicorn.access")
    console = logging.StreamHandler(sys.stderr)
    kept = logging.StreamHandler(open("/dev/null", "w"))  # noqa: SIM115 - closed below
    library.addHandler(console)
    library.addHandler(kept)
    library.propagate = False
    try:
        configure_logging(json_output=True)
        library.warning("routed")
    finally:
        library.removeHandler(kept)
        kept.close()

    assert console not in library.handlers
    assert library.propagate is True
    [line] = _lines(capsys)
    assert (line["logger"], line["message"]) == ("uvicorn.access", "routed")
    route_library_loggers()  # twice: still one placeholder
    owned = [h for h in library.handlers if getattr(h, "_tempest_owned", False)]
    assert len(owned) == 1


def test_warnings_become_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(True)  # catch_warnings restored showwarning; capture again
        warnings.warn("old API", DeprecationWarning, stacklevel=1)

    [line] = _lines(capsys)
    assert line["logger"] == "py.warnings"
    assert "DeprecationWarning: old API" in line["message"]


@pytest.mark.anyio
async def test_sqlalchemy_echo_goes_through_the_json_handler_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    configure_logging(json_output=True)
    engine = create_async_engine("sqlite+aiosqlite://", echo=True)
    token = request_id_ctx.set("sql-req")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 40 + 2"))
    finally:
        request_id_ctx.reset(token)
        await engine.dispose()

    out = capsys.readouterr().out.splitlines()
    lines = [json.loads(line) for line in out]  # every line is JSON: no plain echo handler
    [select] = [line for line in lines if line["message"] == "SELECT 40 + 2"]
    assert select["logger"] == "sqlalchemy.engine.Engine"
    assert select["request_id"] == "sql-req"
