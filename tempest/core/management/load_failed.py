"""What ``runserver`` serves while the project's application fails to import.

A syntax error saved in a router must not stop the development server: its process keeps
answering, every request with a 500 (the error and the file to fix in DEBUG), until the
reloader restarts it on the next save.
"""

from __future__ import annotations

import html
import json
import os
import traceback
from pathlib import Path
from typing import Any

__all__ = ["LoadFailedApplication"]


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
