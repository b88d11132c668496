"""Programmatic entry point for serving an app with uvicorn."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ServerSettingsLike", "run_server"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_RELOAD = False


class ServerSettingsLike(Protocol):
    """The server fields of the settings that :func:`run_server` reads."""

    @property
    def SERVER_HOST(self) -> str: ...  # noqa: D102

    @property
    def SERVER_PORT(self) -> int: ...  # noqa: D102

    @property
    def SERVER_RELOAD(self) -> bool: ...  # noqa: D102


def resolve_server_options(
    settings: ServerSettingsLike | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    reload: bool | None = None,
) -> tuple[str, int, bool]:
    """Resolve host, port and reload: explicit argument, then settings, then default.

    Args:
        settings: Settings with ``SERVER_HOST``/``SERVER_PORT``/``SERVER_RELOAD``.
        host: Explicit host, wins over the settings.
        port: Explicit port, wins over the settings.
        reload: Explicit reload flag, wins over the settings.

    Returns:
        ``(host, port, reload)``.
    """
    if host is None:
        host = settings.SERVER_HOST if settings is not None else DEFAULT_HOST
    if port is None:
        port = settings.SERVER_PORT if settings is not None else DEFAULT_PORT
    if reload is None:
        reload = settings.SERVER_RELOAD if settings is not None else DEFAULT_RELOAD
    return host, port, reload


def run_server(
    app: str,
    *,
    settings: ServerSettingsLike | None = None,
    host: str | None = None,
    port: int | None = None,
    reload: bool | None = None,
    **uvicorn_kwargs: Any,
) -> None:
    """Serve ``app`` with uvicorn until the process is stopped.

    Each of host, port and reload comes from the explicit argument, else from
    ``settings.SERVER_*``, else from the defaults ``127.0.0.1``, ``8000``, ``False``.

    Args:
        app: Import string of the ASGI app (``"shop.asgi:app"``); a string is what
            lets uvicorn reload and run workers.
        settings: Settings with ``SERVER_HOST``/``SERVER_PORT``/``SERVER_RELOAD``.
        host: Interface to bind.
        port: TCP port to bind.
        reload: Restart when source files change (development only).
        **uvicorn_kwargs: Passed to ``uvicorn.run`` unchanged (``workers=``,
            ``log_config=``, ``ssl_keyfile=``, ...). Unless given,
            ``forwarded_allow_ips`` is ``settings.TRUSTED_PROXIES`` (none without
            settings): uvicorn's own default believes ``X-Forwarded-For`` from any
            local peer.
    """
    import uvicorn

    host, port, reload = resolve_server_options(settings, host=host, port=port, reload=reload)
    uvicorn_kwargs.setdefault(
        "forwarded_allow_ips", list(getattr(settings, "TRUSTED_PROXIES", None) or [])
    )
    uvicorn.run(app, host=host, port=port, reload=reload, **uvicorn_kwargs)
