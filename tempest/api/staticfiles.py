"""Static files served with security headers, and refused outside their folders.

:class:`HardenedStaticFiles` is Starlette's :class:`~starlette.staticfiles.StaticFiles`
(its ``ETag``, ``Last-Modified``, ``If-None-Match``/``If-Modified-Since`` 304s, ``Range``
and ``HEAD`` answers, its refusal of paths that resolve outside the folder) with:

- the :data:`DEFAULT_STATIC_SECURITY_HEADERS` (or the caller's) on every file answer;
- a 404, before the file system is asked, for any path with a segment that starts with
  ``.`` (dotfiles such as ``.env`` or ``.git/``, and ``..``), a backslash or a NUL;
- symlinks resolved: a link that points out of the folder is a 404 (Starlette's check on
  the real path), and directories are never listed.

``manage.py runserver`` serves each installed app's ``static/`` folder through it, and
``manage.py serve`` the ``STATIC_ROOT`` that ``collectstatic`` fills
(:mod:`tempest.core.static`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = [
    "DEFAULT_STATIC_SECURITY_HEADERS",
    "HardenedStaticFiles",
]

DEFAULT_STATIC_SECURITY_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-site",
        # Applies only when a file is opened as a document (an HTML or SVG file visited
        # directly): no script runs, only same-origin styles, images and fonts load. A page
        # that loads the file as a stylesheet, script or image keeps its own policy.
        "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
        "font-src 'self'",
    }
)
"""Headers :class:`HardenedStaticFiles` adds to every file it serves, unless told others."""


class HardenedStaticFiles(StaticFiles):
    """Starlette's ``StaticFiles`` with security headers and stricter path checks.

    Mount it as ``StaticFiles``; see the module docstring for what it adds.
    """

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
        security_headers: Mapping[str, str] | None = None,
        directories: Sequence[PathLike] = (),
    ) -> None:
        """Serve ``directory`` (and ``directories``, ``packages``), first match wins.

        Args:
            directory: The folder to serve.
            packages: Packages whose ``statics`` folder (or the named one) to serve.
            html: Serve ``index.html`` for a folder URL and ``404.html`` for a miss.
            check_dir: Fail now if ``directory`` does not exist.
            follow_symlink: Serve a symlink's target even outside the folder (Starlette's
                option; off by default, keep it off).
            security_headers: Headers added to every file answer; None:
                :data:`DEFAULT_STATIC_SECURITY_HEADERS`. Merging is the caller's job:
                ``{**DEFAULT_STATIC_SECURITY_HEADERS, "Cache-Control": "..."}``.
            directories: More folders, searched after ``directory`` in this order.
        """
        super().__init__(
            directory=directory,
            packages=packages,
            html=html,
            check_dir=check_dir,
            follow_symlink=follow_symlink,
        )
        for extra in directories:
            if check_dir and not os.path.isdir(extra):
                raise RuntimeError(f"Directory '{extra}' does not exist")
            self.all_directories.append(extra)
        headers = DEFAULT_STATIC_SECURITY_HEADERS if security_headers is None else security_headers
        self.security_headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse suspicious paths with 404, else serve as Starlette does."""
        if scope["type"] == "http" and not _is_safe(_route_path(scope)):
            raise HTTPException(status_code=404)
        await super().__call__(scope, receive, send)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """Starlette's answer (200, 206, 304, 416), with the security headers."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.security_headers)
        return response


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


def _is_safe(path: str) -> bool:
    if "\\" in path or "\x00" in path:
        return False
    return not any(segment.startswith(".") for segment in path.split("/"))
