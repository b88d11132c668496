"""Start the development server, reloading on changes."""

from __future__ import annotations

import html
import json
import logging
import os
import traceback
from pathlib import Path
from typing import Any

import click

from tempest.core.management.base import echo, get_context
from tempest.core.management.serving import (
    asgi_application_path,
    ensure_port_free,
    parse_addrport,
    run_checks_before_serving,
    uvicorn_log_level,
)

RELOAD_INCLUDES: tuple[str, ...] = ("*.py", "*.html", "*.jinja", "*.jinja2", ".env")
"""Files whose change restarts the development server.

No ``*.env`` here: uvicorn checks includes in random order, and ``*.env`` matching ``.env``
before the ``.env`` pattern makes its dotfile exclude win, so the change would be missed.
"""

APPLICATION_VARIABLE = "TEMPEST_RUNSERVER_APPLICATION"
"""Environment variable through which ``runserver`` names the app to its server process."""

DEBUG_VARIABLE = "TEMPEST_RUNSERVER_DEBUG"
"""``DEBUG`` as ``runserver`` started, for when the settings themselves no longer load."""

logger = logging.getLogger("uvicorn.error")


@click.command()
@click.argument("addrport", required=False)
@click.option("--noreload", is_flag=True, help="Do not restart when files change.")
@click.option("--skip-checks", is_flag=True, help="Do not run the system checks first.")
def command(addrport: str | None, noreload: bool, skip_checks: bool) -> None:
    """Start the development server, reloading on changes.

    ADDRPORT is PORT, ADDR or ADDR:PORT (default: SERVER_HOST:SERVER_PORT,
    127.0.0.1:8000). Code, template and .env changes restart the server unless
    --noreload is given. While a change leaves the application unable to load, every
    request is answered 500 (with the traceback in DEBUG) until the file is fixed.
    """
    import uvicorn

    from tempest import __version__
    from tempest.conf import settings
    from tempest.core.static import STATIC_MODE_VARIABLE

    host, port = parse_addrport(addrport, settings.SERVER_HOST, settings.SERVER_PORT)
    if not skip_checks:
        run_checks_before_serving()
    ensure_port_free(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    echo(f"tempest {__version__}, settings {get_context().settings_module}")
    echo(f"Starting development server at http://{shown_host}:{port}/")
    echo("Quit the server with CONTROL-C.")
    project_dir = str(Path.cwd())
    # The app serves every installed app's static/ folder at STATIC_URL (Django's way).
    os.environ[STATIC_MODE_VARIABLE] = "apps"
    if noreload:
        uvicorn.run(
            asgi_application_path(),
            host=host,
            port=port,
            reload=False,
            app_dir=project_dir,
            log_level=uvicorn_log_level(),
            forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
        )
        return
    # The server process the reloader starts (and restarts) loads the app through
    # load_application, which serves an error page instead when the app does not load.
    os.environ[APPLICATION_VARIABLE] = asgi_application_path()
    os.environ[DEBUG_VARIABLE] = "1" if settings.DEBUG else "0"
    uvicorn.run(
        f"{__name__}:load_application",
        factory=True,
        host=host,
        port=port,
        reload=True,
        reload_dirs=[project_dir],
        reload_includes=list(RELOAD_INCLUDES),
        app_dir=project_dir,
        log_level=uvicorn_log_level(),
        # Not uvicorn's default (any 127.0.0.1 peer may rewrite the client): TRUSTED_PROXIES.
        forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
    )


def load_application() -> Any:
    """The project's ASGI app, or :class:`LoadFailedApplication` when it does not load.

    The factory ``runserver`` gives uvicorn: a syntax error saved in a router, a model
    that no longer imports or a settings file that fails leaves the server process
    running, answering every request with a 500 page (the traceback in DEBUG), and the
    reloader restarts it with the real app once a file is saved again.

    Returns:
        The ASGI application named by ``TEMPEST_RUNSERVER_APPLICATION``, or the fallback.
    """
    from uvicorn.importer import import_from_string

    path = os.environ.get(APPLICATION_VARIABLE) or asgi_application_path()
    try:
        return import_from_string(path)
    except Exception as error:  # whatever the project's code raises while importing
        fallback = LoadFailedApplication(error, debug=_debug(), project_dir=Path.cwd())
        logger.error(
            "The application %s failed to load; every request is answered 500 until "
            "%s is fixed and saved.",
            path,
            fallback.culprit_text or "the error",
            exc_info=error,
        )
        return fallback


def _debug() -> bool:
    """``settings.DEBUG``, or DEBUG as runserver started when the settings do not load."""
    try:
        from tempest.conf import settings

        return bool(settings.DEBUG)
    except Exception:
        return os.environ.get(DEBUG_VARIABLE) == "1"


class LoadFailedApplication:
    """An ASGI app that answers every request 500 because the real one failed to load.

    In DEBUG the answer shows the exception, its traceback and the file to fix: an HTML
    page, or the ``{detail, code, details}`` envelope for a client that asks for JSON.
    Without DEBUG it is the envelope of any 500, with nothing about the error.

    Args:
        error: What importing the application raised.
        debug: Whether to show the error.
        project_dir: The project folder; the file to fix is shown relative to it.
    """

    def __init__(self, error: BaseException, *, debug: bool, project_dir: Path) -> None:
        self.error = error
        self.debug = debug
        self.summary = _summary(error)
        self.traceback = "".join(traceback.format_exception(error))
        self.culprit = _culprit(error, project_dir)
        self.culprit_text = ""
        if self.culprit is not None:
            where, line = self.culprit
            try:
                shown = str(Path(where).resolve().relative_to(project_dir.resolve()))
            except ValueError:
                shown = where
            self.culprit_text = f"{shown} (line {line})" if line else shown

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer ASGI ``lifespan``, ``http`` (500) and ``websocket`` (closed, 1011)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1011})
        else:
            body, media_type = self._body(_header(scope, b"accept"))
            headers = [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            send_body = scope.get("method") != "HEAD"
            await send({"type": "http.response.body", "body": body if send_body else b""})

    def _body(self, accept: str) -> tuple[bytes, str]:
        if not self.debug:
            return _json(_envelope("Internal server error", {})), "application/json"
        fix = f"Fix {self.culprit_text} and save" if self.culprit_text else "Fix it and save"
        detail = (
            f"The application failed to load: {self.summary}. {fix}: the development "
            "server reloads and serves it again."
        )
        if "json" in accept and "text/html" not in accept:
            details: dict[str, Any] = {
                "exception": self.summary,
                "traceback": self.traceback.splitlines(),
            }
            if self.culprit is not None:
                details["file"], details["line"] = self.culprit
            return _json(_envelope(detail, details)), "application/json"
        page = _PAGE.format(
            summary=html.escape(self.summary),
            fix=html.escape(fix),
            traceback=html.escape(self.traceback),
        )
        return page.encode(), "text/html; charset=utf-8"


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>The application failed to load</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
h1 {{ font-size: 1.4rem; color: #b42318; }}
pre {{ background: #f6f8fa; padding: 1rem; overflow: auto; font-size: 0.85rem; }}
</style>
</head>
<body>
<h1>The application failed to load</h1>
<p><strong>{summary}</strong></p>
<p>{fix}: the development server reloads and serves the application again.</p>
<pre>{traceback}</pre>
<p>You see this page because <code>DEBUG</code> is on. Without it the answer is a plain 500.</p>
</body>
</html>
"""


def _summary(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from or during, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _culprit(error: BaseException, project_dir: Path) -> tuple[str, int] | None:
    """The file (and line) to fix: where the syntax error is, else the project's last frame.

    A frame of the project's own code is preferred over the library frames (tempest's,
    the import machinery's) that the error went through.
    """
    chain = _chain(error)
    for item in reversed(chain):
        if isinstance(item, SyntaxError) and item.filename:
            return item.filename, item.lineno or 0
    root = str(project_dir.resolve())
    fallback: tuple[str, int] | None = None
    for item in reversed(chain):
        for frame in reversed(traceback.extract_tb(item.__traceback__)):
            place = (frame.filename, frame.lineno or 0)
            fallback = fallback or place
            in_project = frame.filename.startswith(root + os.sep)
            if in_project and "site-packages" not in frame.filename:
                return place
    return fallback


def _header(scope: Any, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").lower()
    return ""


def _envelope(detail: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"detail": detail, "code": "INTERNAL_SERVER_ERROR", "details": details}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
