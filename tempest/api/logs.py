"""``make_logs_router``: ``GET /logs`` pages through the JSON log files of ``LOG_DIR``.

No ``from __future__ import annotations`` here: the route's ``page_size`` bound is a
closure value FastAPI must see in the evaluated annotation.
"""

import importlib
import math
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.params import Depends as DependsParam

from tempest.api.logs_reader import LogSource, read_log_page
from tempest.exceptions import NotFoundException
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.schemas import BasePaginationSchema, LogEntrySchema

__all__ = ["DEFAULT_ADMIN_DEPENDENCY", "LogSource", "make_logs_router"]

DEFAULT_ADMIN_DEPENDENCY = "tempest.contrib.auth.permissions.require_admin"
"""The dependency guarding the router when neither ``dependencies`` nor a token is given."""

MAX_PAGE = 10_000
"""The highest page number accepted: deeper pages are a 422 (narrow with start/end)."""


def _default_guard() -> list[DependsParam]:
    module_name, _, name = DEFAULT_ADMIN_DEPENDENCY.rpartition(".")
    try:
        dependency = getattr(importlib.import_module(module_name), name)
    except ImportError as error:
        raise ImproperlyConfigured(
            "make_logs_router() is for administrators by default, through "
            f"{DEFAULT_ADMIN_DEPENDENCY}, which does not import ({error}). Pass "
            "dependencies=[Depends(your_guard)] or token_secret=settings.TOKEN_SECRET."
        ) from error
    return [Depends(dependency)]


def _guard(
    dependencies: Sequence[DependsParam] | None, token_secret: str | None
) -> list[DependsParam]:
    if dependencies is not None:
        return list(dependencies)
    if token_secret is not None:
        if not isinstance(token_secret, str) or not token_secret:
            raise ValueError(
                "token_secret must be a non-empty string: an empty secret would let anyone "
                "read the logs. Set TOKEN_SECRET, or leave token_secret out for admins only."
            )
        from tempest.api.dependencies.x_token import make_token_dependency

        return [Depends(make_token_dependency(token_secret))]
    return _default_guard()


def make_logs_router(
    log_dir: str | os.PathLike[str] | None = None,
    *,
    token_secret: str | None = None,
    dependencies: Sequence[DependsParam] | None = None,
    path: str = "/logs",
    tags: Sequence[str] = ("logs",),
    max_page_size: int = 200,
) -> APIRouter:
    """Build the router serving ``GET /logs``: the log files, newest first, a page at a time.

    Reads the files ``configure_logging`` writes under ``log_dir`` (one per level and
    ``500.log``) and answers a ``BasePaginationSchema[LogEntrySchema]``. Query parameters:
    ``source`` (``all``, ``debug``, ``info``, ``warning``, ``error``, ``critical``,
    ``500``; anything else is a 422, so no other file can be named), ``q`` (substring of
    the message or traceback, case-insensitive), ``start`` / ``end`` (ISO 8601; a
    malformed date is a 422), ``page`` (up to 10,000) and ``page_size`` (up to
    ``max_page_size``). Files are read backwards in blocks, never whole.

    The records hold tracebacks and request details, so the router is guarded: by
    ``dependencies`` when given (``[Depends(require_staff)]``; an explicit ``[]`` opens
    it), else by the ``X-Token`` header when ``token_secret`` is given, else for
    administrators only (``tempest.contrib.auth.permissions.require_admin``: a bearer
    token of an ``is_admin`` user; 401 without a token, 403 for other users).

    Args:
        log_dir: The directory of the files; default ``settings.LOG_DIR``, read on each
            request (404 while it is empty: file logging is off).
        token_secret: Guard with this shared secret instead (not empty).
        dependencies: Guard with these dependencies instead.
        path: The route's path.
        tags: OpenAPI tags.
        max_page_size: The largest ``page_size`` accepted (a larger one is a 422).

    Returns:
        The router.

    Raises:
        ValueError: ``token_secret`` is empty or ``max_page_size`` is below 1.
        ImproperlyConfigured: No guard is given and the auth app does not import.
    """
    if max_page_size < 1:
        raise ValueError(f"max_page_size must be at least 1, got {max_page_size}")
    guard = _guard(dependencies, token_secret)
    router = APIRouter(tags=list(tags), dependencies=guard)
    configured_dir = None if log_dir is None else os.fspath(log_dir)

    @router.get(
        path,
        response_model=BasePaginationSchema[LogEntrySchema],
        summary="Read the log files",
    )
    async def read_logs(
        source: Annotated[LogSource, Query(description="Which file to read.")] = LogSource.ALL,
        q: Annotated[
            str | None, Query(max_length=200, description="Text the message contains.")
        ] = None,
        start: Annotated[datetime | None, Query(description="Logged at or after.")] = None,
        end: Annotated[datetime | None, Query(description="Logged at or before.")] = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page.")] = 1,
        page_size: Annotated[
            int, Query(ge=1, le=max_page_size, description="Entries per page.")
        ] = 20,
    ) -> Any:
        directory = configured_dir if configured_dir is not None else _settings_log_dir()
        if not directory:
            raise NotFoundException(
                "File logging is off: set LOG_DIR to keep log files to read here",
                code="LOGS_DISABLED",
            )
        result = await _read_in_thread(directory, source, q, start, end, page, page_size)
        return BasePaginationSchema[LogEntrySchema](
            items=result.items,
            total=result.total,
            page=page,
            page_size=page_size,
            pages=math.ceil(result.total / page_size),
            total_is_exact=result.total_is_exact,
        )

    return router


def _settings_log_dir() -> str:
    from tempest.conf import settings

    return str(getattr(settings, "LOG_DIR", "") or "")


async def _read_in_thread(
    directory: str,
    source: LogSource,
    query: str | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    page_size: int,
) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: read_log_page(
            directory, source, query=query, start=start, end=end, page=page, page_size=page_size
        )
    )
