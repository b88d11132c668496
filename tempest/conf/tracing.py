"""The settings of OpenTelemetry tracing: :class:`TracingSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings

__all__ = ["TracingSettings"]


class TracingSettings(BaseAppSettings):
    """Distributed tracing (``tempest.core.tracing``, the ``otel`` extra); off by default."""

    TRACING_ENABLED: bool = Field(
        default=False,
        description="Trace requests, SQL, tasks, queue messages and outgoing HTTP calls and "
        "export the spans over OTLP/HTTP; off: nothing is installed and requests pay nothing.",
    )
    TRACING_SERVICE_NAME: str | None = Field(
        default=None,
        description="The service.name of the spans; unset: OTEL_SERVICE_NAME, else TITLE.",
    )
    TRACING_OTLP_ENDPOINT: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL, e.g. 'http://collector:4318/v1/traces'; unset: "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else "
        "localhost:4318.",
    )
    TRACING_OTLP_TIMEOUT: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one export (with its retries) may take before its spans are dropped.",
    )
    TRACING_SAMPLE_RATIO: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded (0 to 1); a request that arrives with a "
        "trace context follows its caller's decision.",
    )
    TRACING_EXCLUDED_ROUTES: list[str] = Field(
        default_factory=lambda: ["/health"],
        description="Path prefixes never traced, nor anything they run (SQL, HTTP); "
        "METRICS_PATH is always excluded too.",
    )
    TRACING_OPERATION_SPANS: bool = Field(
        default=False,
        description="Also FastAPI's operation spans (dependencies, endpoint, serialization) "
        "under each request span.",
    )
    TRACING_ASGI_SUBSPANS: bool = Field(
        default=False,
        description="Also one span per ASGI receive and send of a request (body chunks, "
        "response start); many small spans, for debugging streaming.",
    )

    @field_validator("TRACING_EXCLUDED_ROUTES")
    @classmethod
    def _excluded_routes(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not entry.startswith("/") or any(c in entry for c in "{}?# "):
                raise ValueError(
                    f"TRACING_EXCLUDED_ROUTES entries are plain path prefixes like '/health', "
                    f"not {entry!r}"
                )
        return [entry.rstrip("/") or "/" for entry in value]

    @field_validator("TRACING_OTLP_ENDPOINT")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"TRACING_OTLP_ENDPOINT must be an http(s) URL such as "
                f"'http://collector:4318/v1/traces', not {value!r}"
            )
        return value
