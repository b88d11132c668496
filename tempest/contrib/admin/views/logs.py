"""The log viewer (``/logs``): the files of ``LOG_DIR``, newest first, as the API reads them."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from tempest.api.logs_reader import LogSource, read_log_page
from tempest.contrib.admin.views.base import ViewsBase
from tempest.contrib.admin.views.common import Problem

__all__ = ["LOG_PAGE_SIZE", "LogViews"]

LOG_PAGE_SIZE = 50
"""Entries per page of the log viewer."""

_MAX_PAGE = 10_000


def _moment(raw: str, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise Problem(400, f"{name} must be a date and time, e.g. 2026-05-31T08:00.") from None


class LogViews(ViewsBase):
    """``GET /logs``: search the log files by level, text and time, page by page."""

    log_dir: str | None = None
    """The directory read; None: ``settings.LOG_DIR``, read on each visit."""

    async def logs(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /logs``: the viewer; ``source``, ``q``, ``start``, ``end``, ``page``."""
        visit = await self._visit(request, db_session)
        params = request.query_params
        try:
            source = LogSource(params.get("source") or LogSource.ALL.value)
        except ValueError:
            choices = ", ".join(item.value for item in LogSource)
            raise Problem(400, f"source must be one of {choices}.") from None
        query = (params.get("q") or "").strip()[:200]
        start = _moment(params.get("start", ""), "start")
        end = _moment(params.get("end", ""), "end")
        raw_page = params.get("page") or "1"
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= _MAX_PAGE:
            raise Problem(400, f"page must be a whole number from 1 to {_MAX_PAGE}.")
        page_number = int(raw_page)
        log_dir = self.log_dir if self.log_dir is not None else _settings_log_dir()
        result = None
        if log_dir:
            result = await anyio.to_thread.run_sync(
                lambda: read_log_page(
                    log_dir,
                    source,
                    query=query or None,
                    start=start,
                    end=end,
                    page=page_number,
                    page_size=LOG_PAGE_SIZE,
                )
            )
        form = {
            "source": source.value,
            "q": query,
            "start": params.get("start", ""),
            "end": params.get("end", ""),
        }

        def link(page: int) -> str:
            return "?" + urlencode({**{k: v for k, v in form.items() if v}, "page": page})

        return self._render(
            "logs.html",
            visit.session,
            visit=visit,
            sources=[item.value for item in LogSource],
            form=form,
            result=result,
            page_number=page_number,
            has_next=result is not None and result.total > page_number * LOG_PAGE_SIZE,
            link=link,
            log_dir=log_dir,
        )


def _settings_log_dir() -> str:
    from tempest.conf import settings

    return str(getattr(settings, "LOG_DIR", "") or "")
