"""CORS configured from settings, on top of Starlette's CORS middleware."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import ASGIApp

__all__ = ["CORSMiddleware", "CORSSettingsLike", "apply_cors"]


class CORSSettingsLike(Protocol):
    """The CORS fields of the settings that CORS set-up reads."""

    @property
    def CORS_ORIGINS(self) -> Sequence[str]: ...  # noqa: D102

    @property
    def CORS_ALLOW_CREDENTIALS(self) -> bool: ...  # noqa: D102

    @property
    def CORS_ALLOW_METHODS(self) -> Sequence[str]: ...  # noqa: D102

    @property
    def CORS_ALLOW_HEADERS(self) -> Sequence[str]: ...  # noqa: D102

    @property
    def CORS_EXPOSE_HEADERS(self) -> Sequence[str]: ...  # noqa: D102

    @property
    def CORS_MAX_AGE(self) -> int: ...  # noqa: D102


def _cors_options(settings: CORSSettingsLike, overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "allow_origins": list(settings.CORS_ORIGINS),
        "allow_credentials": settings.CORS_ALLOW_CREDENTIALS,
        "allow_methods": list(settings.CORS_ALLOW_METHODS),
        "allow_headers": list(settings.CORS_ALLOW_HEADERS),
        "expose_headers": list(settings.CORS_EXPOSE_HEADERS),
        "max_age": settings.CORS_MAX_AGE,
    }
    options.update(overrides)
    return options


def _cors_enabled(options: dict[str, Any]) -> bool:
    return bool(options.get("allow_origins")) or options.get("allow_origin_regex") is not None


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS middleware, buildable from the ``CORS_*`` settings."""

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: CORSSettingsLike) -> ASGIApp:
        """Wrap ``app`` in CORS handling configured by the settings.

        Args:
            app: The ASGI application to wrap.
            settings: Settings with the ``CORS_*`` fields.

        Returns:
            ``app`` itself when ``CORS_ORIGINS`` is empty (CORS off, no per-request
            cost), otherwise the configured middleware.
        """
        options = _cors_options(settings, {})
        if not _cors_enabled(options):
            return app
        return cls(app, **options)


def apply_cors(app: Starlette, settings: CORSSettingsLike, **overrides: Any) -> None:
    """Add CORS middleware to ``app`` from the ``CORS_*`` settings.

    Nothing is added when no origin is allowed (empty ``CORS_ORIGINS`` and no
    ``allow_origins``/``allow_origin_regex`` override).

    Args:
        app: The FastAPI (or Starlette) application, before it starts.
        settings: Settings with the ``CORS_*`` fields.
        **overrides: Keyword arguments of Starlette's ``CORSMiddleware``
            (``allow_origins=...``, ``max_age=...``) replacing the settings' values.
    """
    options = _cors_options(settings, overrides)
    if _cors_enabled(options):
        app.add_middleware(CORSMiddleware, **options)
