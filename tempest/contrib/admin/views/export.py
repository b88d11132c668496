"""The export of a model's rows: ``/m/{slug}/export.csv`` and ``export.json``."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from tempest.contrib.admin.formatting import csv_value, json_value
from tempest.contrib.admin.queries import filtered_select
from tempest.contrib.admin.views.base import ViewsBase
from tempest.contrib.admin.views.common import PAGE_HEADERS, Problem
from tempest.db import Ordering

__all__ = ["ExportViews"]


class ExportViews(ViewsBase):
    """The rows the list shows (searched, filtered, sorted), every column, as a file."""

    async def export(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/export.csv`` and ``export.json``: the current rows, all columns."""
        info = self._model(request)
        kind = request.path_params["kind"]
        if kind not in ("csv", "json"):
            raise Problem(404, "Exports are export.csv and export.json.")
        query = self._list_query(info, request.query_params)
        ordering = query.ordering or Ordering(
            info.admin.model, info.admin.order_key, info.admin.order_descending
        )
        await self._visit(request, db_session)
        statement = filtered_select(info.admin, query).order_by(*ordering.clauses())
        rows = (await db_session.scalars(statement.limit(self.export_max_rows))).all()
        names = list(info.admin.columns)
        filename = f"{info.admin.slug}.{kind}"
        headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
        if kind == "json":
            data = [{name: json_value(getattr(row, name)) for name in names} for row in rows]
            body = json.dumps(data, ensure_ascii=False, indent=2)
            return Response(body, media_type="application/json", headers=headers)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_value(getattr(row, name)) for name in names])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
