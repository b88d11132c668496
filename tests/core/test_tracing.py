"""Tracing in one process: spans closed, probes untraced, SQL once, logs, a dead collector.

The checks run in a process of their own (tests/core/tracing_probe.py: tracing set-up
cannot be undone in the test run's process), once for the module.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest

from tests.helpers import PYTHON, REPO, clean_env, free_port


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the probe saw; its OTLP endpoint is a loopback port nobody listens on."""
    import subprocess

    workdir = tmp_path_factory.mktemp("tracing-probe")
    output = workdir / "result.json"
    unreachable = f"http://127.0.0.1:{free_port()}/v1/traces"
    env = clean_env(OTEL_BSP_SCHEDULE_DELAY="50")
    env.pop("TEMPEST_SETTINGS_MODULE", None)
    done = subprocess.run(
        [PYTHON, "-m", "tests.core.tracing_probe", str(workdir), str(output), unreachable],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(output.read_text())
    return result


def test_a_thousand_requests_leave_no_span_open(probe: dict[str, Any]) -> None:
    assert probe["statuses"] == [200]
    assert probe["server_spans"] == 1000
    # Each request: its server span and its SQL statement's span, all ended.
    assert probe["started"] >= 2000
    assert probe["started"] == probe["ended"]
    assert probe["final_open"] == []


def test_health_routes_start_no_span(probe: dict[str, Any]) -> None:
    # Liveness and readiness (whose SELECT 1 runs untraced too) started nothing.
    assert probe["health_spans"] == 0


def test_setting_up_twice_instruments_sql_once(probe: dict[str, Any]) -> None:
    assert probe["sql_spans_for_two_statements"] == 2


def test_log_records_carry_the_trace_and_span_ids(probe: dict[str, Any]) -> None:
    assert probe["log_trace_ids"] == [probe["expected_trace_id"]]
    assert probe["log_span_ids_valid"] == [True]
    assert probe["trace_id_outside_a_span"] is None


def test_unreachable_collector_keeps_serving_with_one_warning(probe: dict[str, Any]) -> None:
    assert probe["statuses"] == [200]
    warnings = probe["export_warnings"]
    assert len(warnings) == 1, warnings
    logger, message = warnings[0]
    assert logger == "tempest.tracing"
    assert "Trace export to http://127.0.0.1:" in message
    assert "spans are dropped until it answers" in message


def test_a_queue_message_is_handled_in_the_publishers_trace(probe: dict[str, Any]) -> None:
    from tests.conftest import service_url

    service_url("TEMPEST_TEST_AMQP_URL")
    assert probe["queue"]["handled"] == probe["queue"]["sent"]


class _Failing:
    """A span exporter whose collector is down: it fails, and logs as the OTLP one does."""

    def __init__(self) -> None:
        self.calls = 0
        self.up = False

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.calls += 1
        if self.up:
            return SpanExportResult.SUCCESS
        logging.getLogger("opentelemetry.exporter.otlp.common.http").error(
            "Failed to export spans batch due to timeout, max retries or shutdown."
        )
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_quiet_exporter_warns_once_per_outage_and_says_when_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tempest.core.tracing_export import QuietSpanExporter

    inner = _Failing()
    quiet = QuietSpanExporter(inner, "http://collector:4318/v1/traces", retry_interval=0.05)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    for _ in range(5):  # within the retry interval: dropped without trying
        quiet.export([object(), object()])  # type: ignore[list-item]
    assert inner.calls == 1 and quiet.failing and quiet.dropped == 10
    time.sleep(0.06)
    quiet.export([object()])  # type: ignore[list-item]
    assert inner.calls == 2
    shown = [(r.name, r.levelname) for r in caplog.records]
    assert shown == [("tempest.tracing", "WARNING")], shown
    inner.up = True
    time.sleep(0.06)
    quiet.export([object()])  # type: ignore[list-item]
    assert not quiet.failing
    assert [r.getMessage() for r in caplog.records][-1] == (
        "Trace export to http://collector:4318/v1/traces works again; "
        "11 span(s) were dropped meanwhile."
    )


def test_tracing_settings_refuse_bad_values() -> None:
    from pydantic import ValidationError

    from tempest.conf.tracing import TracingSettings

    for values in (
        {"TRACING_SAMPLE_RATIO": 1.5},
        {"TRACING_OTLP_ENDPOINT": "collector:4318"},
        {"TRACING_EXCLUDED_ROUTES": ["health"]},
        {"TRACING_OTLP_TIMEOUT": 0},
    ):
        with pytest.raises(ValidationError):
            TracingSettings(**values)


def test_fastapi_operation_spans_and_asgi_subspans_on_demand(probe: dict[str, Any]) -> None:
    # TRACING_OPERATION_SPANS: FastAPI's own request span and its operation spans;
    # TRACING_ASGI_SUBSPANS: a span per receive and send; all in the request's one trace.
    names = probe["detailed_names"]
    assert any(name.startswith("GET /api/probe_") for name in names), names
    assert "fastapi.endpoint" in names
    assert "http send" in names  # (a GET's body is never read: no "http receive")
    assert "SELECT" in names
    assert probe["detailed_traces"] == 1
    assert probe["detailed_health_spans"] == 0


def test_an_unhandled_exception_is_a_500_error_span(probe: dict[str, Any]) -> None:
    assert probe["boom"] == {"status": 500, "error": "RuntimeError", "code": "ERROR"}
