"""The list page of a model (``/m/{slug}/``): search, filters, sorting, pages, bulk actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tempest.contrib.admin.queries import Count, count_rows, load_page
from tempest.contrib.admin.views.auditing import acting, audit_model_of, bulk_entries
from tempest.contrib.admin.views.base import ViewsBase
from tempest.contrib.admin.views.common import ModelInfo, Problem, Visit, local_target, primary_key
from tempest.db import BaseAuditLogModel, atomic, snapshot_model
from tempest.db.audit_rows import write_audit_rows

__all__ = ["ListViews"]


class ListViews(ViewsBase):
    """One page of a model's rows, and the actions on the rows ticked in it."""

    async def list_rows(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/``: one page of rows, searched, filtered and sorted."""
        info = self._model(request)
        params = request.query_params
        query = self._list_query(info, params)
        visit = await self._visit(request, db_session)
        page = await self._run(load_page(db_session, info.admin, query, info.fk_targets))
        first = not (query.after or query.before or query.last) and query.page == 1
        if first and page.next_cursor is None:  # the first page shows where the rows end
            count = Count(len(page.rows))
        else:
            count = await count_rows(db_session, info.admin, query)
        base = {
            key: value
            for key, value in params.items()
            if key in ("q", "sort", "dir") or key.startswith("filter_")
        }
        return self._render(
            "list.html",
            visit.session,
            visit=visit,
            info=info,
            admin=info.admin,
            page=page,
            count=count,
            query=query,
            params=base,
            link=lambda **changes: _link(base, changes),
            filters=self._filter_choices(info, params),
        )

    async def bulk(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/bulk``: delete, activate or deactivate the ticked rows.

        A model with no bulk action allowed (``can_delete`` off, and ``can_edit`` off or
        no ``is_active``) has no such page: 404, like its other disabled views.
        """
        info = self._model(request)
        allowed = info.bulk_actions
        if not allowed:
            raise Problem(404, "There is no such page in the admin.")
        form, session, lists = await self._posted(request, with_lists=True)
        action = form.get("action", "")
        if action not in allowed:
            actions = ", ".join(allowed)
            raise Problem(400, f"Unknown action {action!r}; actions here: {actions}.")
        ids = [primary_key(info, raw) for raw in lists.get("ids", [])]
        if not ids:
            raise Problem(400, "Tick at least one row.")
        visit = await self._visit(request, db_session, session)
        try:
            await self._apply_bulk(db_session, info, visit, action, ids)
        except IntegrityError:
            raise Problem(
                409,
                "Some of these rows are still referenced by other rows; delete or change "
                "those first. Nothing was changed.",
            ) from None
        back = form.get("back", "")
        target = (
            back
            if local_target(back, f"{self.prefix}/m/{info.admin.slug}/")
            else (f"{self.prefix}/m/{info.admin.slug}/")
        )
        return self._secure(RedirectResponse(target, 303))

    async def _apply_bulk(
        self, db_session: AsyncSession, info: ModelInfo, visit: Visit, action: str, ids: list[Any]
    ) -> None:
        """Change the rows in one statement, and record them in the audit trail.

        With the audit trail, the rows before the change are read in one SELECT and the
        audit rows written in one INSERT, in the same transaction.
        """
        audit = audit_model_of(info)
        actor = self._actor(visit)
        with acting(actor):
            await self._bulk_write(db_session, info, visit, action, ids, audit)

    async def _bulk_write(
        self,
        db_session: AsyncSession,
        info: ModelInfo,
        visit: Visit,
        action: str,
        ids: list[Any],
        audit: type[BaseAuditLogModel] | None,
    ) -> None:
        model = info.admin.model
        async with atomic(db_session):
            condition = model.id.in_(ids)
            befores = await self._bulk_befores(db_session, model, condition, audit is not None)
            values: dict[str, Any] = {}
            if action == "delete":
                await db_session.execute(delete(model).where(condition))
            else:
                values = {"is_active": action == "activate"}
                if action == "deactivate" and "session_version" in model.__table__.columns:
                    # A user model: deactivation ends the users' sessions (see end_sessions).
                    values["session_version"] = model.session_version + 1
                if info.has_audit:
                    values["updated_by"] = self.backend.audit_id(visit.principal)
                await db_session.execute(update(model).where(condition).values(**values))
            if audit is not None:
                entries = bulk_entries(action, befores, values, self._actor(visit))
                await write_audit_rows(db_session, audit, entries)

    async def _bulk_befores(
        self, db_session: AsyncSession, model: Any, condition: Any, wanted: bool
    ) -> list[tuple[Any, dict[str, Any]]]:
        """The rows a bulk action changes and their snapshots, in one SELECT (if ``wanted``)."""
        if not wanted:
            return []
        query = select(model).where(condition).execution_options(populate_existing=True)
        rows = (await db_session.scalars(query)).all()
        return [(row, snapshot_model(row)) for row in rows]

    def _filter_choices(self, info: ModelInfo, params: Mapping[str, str]) -> list[dict[str, Any]]:
        from sqlalchemy import Boolean, Enum

        result = []
        for name in info.admin.list_filter_names:
            column = info.admin.columns[name]
            if isinstance(column.type, Boolean):
                options = [("true", "Yes"), ("false", "No")]
            elif isinstance(column.type, Enum):
                field = next(item for item in info.fields if item.name == name)
                options = field.choices
            else:
                options = []
            result.append(
                {"name": name, "options": options, "value": params.get(f"filter_{name}", "")}
            )
        return result


def _link(base: Mapping[str, str], changes: Mapping[str, Any]) -> str:
    params = {**base}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"
