"""The dashboard (``/``) and the admin's static files (``/static/{name}``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from tempest.api.security_headers import SECURITY_HEADERS
from tempest.contrib.admin.queries import count_rows
from tempest.contrib.admin.views.base import ViewsBase

__all__ = ["DashboardViews"]


class DashboardViews(ViewsBase):
    """The first page after sign-in, and the stylesheet, script and htmx it loads."""

    async def dashboard(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /``: a card per model with its row count, and the server's metrics."""
        visit = await self._visit(request, db_session)
        counts = {
            slug: await count_rows(db_session, info.admin) for slug, info in self.models.items()
        }
        metrics = await _metrics() if self.show_metrics else None
        return self._render(
            "dashboard.html", visit.session, visit=visit, counts=counts, metrics=metrics
        )

    async def static_file(self, request: Request) -> Response:
        """``GET /static/{name}``: the admin's stylesheet, script and htmx."""
        name = request.path_params["name"]
        files_by_name, _ = self.static
        found = files_by_name.get(name)
        if found is None:
            return Response("Not found", 404, headers=SECURITY_HEADERS)
        body, media_type, etag = found
        headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)


async def _metrics() -> dict[str, Any] | None:
    try:
        from tempest.utils.metrics import MetricsUtils
    except ImportError:
        return None
    try:
        snapshot = await MetricsUtils.snapshot_async(cpu_interval=None)
    except ImportError:
        return None
    result: dict[str, Any] = snapshot.to_dict()
    return result
