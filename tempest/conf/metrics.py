"""The settings of Prometheus metrics: :class:`MetricsSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.networks import validate_networks

__all__ = ["MetricsSettings"]


class MetricsSettings(BaseAppSettings):
    """Prometheus metrics of the project (``tempest.api.prometheus``); off by default."""

    METRICS_ENABLED: bool = Field(
        default=False,
        description="Count requests, tasks and cache lookups and serve them at METRICS_PATH "
        "for Prometheus; off: nothing is installed and requests pay nothing.",
    )
    METRICS_PATH: str = Field(
        default="/metrics",
        description="Path of the Prometheus scrape route (not counted in the HTTP metrics).",
    )
    METRICS_TOKEN: SecretStr | None = Field(
        default=None,
        description="When set, a scrape must send 'Authorization: Bearer <token>' (from "
        "any address); unset: only METRICS_ALLOWED_NETWORKS may scrape.",
    )
    METRICS_ALLOWED_NETWORKS: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Client networks (CIDRs) that may scrape without METRICS_TOKEN; "
        "default: loopback only.",
    )
    METRICS_MULTIPROC_DIR: str | None = Field(
        default=None,
        description="Directory of the per-process metric files shared by every process of "
        "the project; unset: 'serve' makes a fresh one per run when it starts workers.",
    )
    METRICS_SYSTEM: bool = Field(
        default=True,
        description="Also export CPU, memory, disk and NVIDIA GPU usage (MetricsUtils, "
        "the 'metrics' extra) at scrape time.",
    )
    METRICS_DISK_PATHS: list[str] = Field(
        default_factory=lambda: ["/"],
        description="Filesystems whose usage METRICS_SYSTEM exports.",
    )

    @field_validator("METRICS_PATH")
    @classmethod
    def _metrics_path(cls, value: str) -> str:
        if not value.startswith("/") or value == "/" or any(c in value for c in "{}?# "):
            raise ValueError(f"METRICS_PATH must be a plain path like '/metrics', not {value!r}")
        return value.rstrip("/")

    @field_validator("METRICS_ALLOWED_NETWORKS")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return validate_networks(value)
