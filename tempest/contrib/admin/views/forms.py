"""The pages of one row: create, detail, edit, delete, and the foreign-key search box."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tempest.contrib.admin.formatting import integrity_message
from tempest.contrib.admin.forms import FormField, display_value, parse_form
from tempest.contrib.admin.queries import ListQuery, filtered_select, label_column
from tempest.contrib.admin.views.auditing import (
    acting,
    audit_model_of,
    change_entry,
    history_entries,
    load_history,
)
from tempest.contrib.admin.views.common import ModelInfo, Problem, Visit, primary_key, refuse_nul
from tempest.contrib.admin.views.files import FileViews
from tempest.db import AuditAction, atomic, escape_like, snapshot_model
from tempest.db.audit_rows import write_audit_rows

__all__ = ["FK_SELECT_LIMIT", "FormViews"]

FK_SELECT_LIMIT = 100
"""A foreign key whose target has more rows than this gets a search box, not a select."""


class FormViews(FileViews):
    """Create, show, edit and delete one row of a model."""

    async def create_form(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/new``: an empty form."""
        info = self._model(request, need="can_create")
        visit = await self._visit(request, db_session)
        choices = await self._fk_choices(db_session, info)
        values = {item.name: display_value(item, _default(item)) for item in info.fields}
        return self._form_page(visit, info, values, {}, None, choices)

    async def create(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/new``: validate and save a new row."""
        info = self._model(request, need="can_create")
        form, session, uploads = await self._posted_form(request, info)
        model = info.admin.model
        visit = await self._visit(request, db_session, session)
        values, errors = parse_form(info.fields, form)
        errors.update(_unpicked_searches(info, form, errors))
        errors.update(await self._check_targets(db_session, info, values, errors))
        instance = None
        if not errors:  # files last: a form refused for another field stores none
            stored, errors = await self._store_uploads(info, uploads, form, None, values)
        if not errors:
            instance = model(**values)
            if info.has_audit:
                instance.stamp_created_by(self.backend.audit_id(visit.principal))
            errors = await self._save(db_session, info, visit, instance, AuditAction.CREATE)
            if errors:
                await self._discard(stored)
        if errors:
            choices = await self._fk_choices(db_session, info, chosen=values)
            return self._form_page(visit, info, dict(form), errors, None, choices, 422)
        assert instance is not None
        return self._secure(
            RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/{instance.id}", 303)
        )

    async def detail(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/{identity}``: every column, who wrote the row, its latest changes.

        The changes are shown when the audit trail is installed (``tempest.contrib.audit``).
        """
        info = self._model(request)
        visit = await self._visit(request, db_session)
        instance = await self._instance(db_session, info, request)
        related = await self._related_labels(db_session, info, instance)
        audit = await self._audit(db_session, instance) if info.has_audit else {}
        history = None
        audit_model = audit_model_of(info)
        if audit_model is not None:
            rows = await load_history(db_session, audit_model, instance)
            users = {row.actor_id for row in rows if row.actor_kind == "user" and row.actor_id}
            names = {user: await self._principal_name(db_session, user) for user in users}
            history = history_entries(rows, names)
        return self._render(
            "detail.html",
            visit.session,
            visit=visit,
            info=info,
            admin=info.admin,
            instance=instance,
            related=related,
            audit=audit,
            history=history,
            fields=info.fields,
        )

    async def edit_form(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/{identity}/edit``: the form filled with the row."""
        info = self._model(request, need="can_edit")
        visit = await self._visit(request, db_session)
        instance = await self._instance(db_session, info, request)
        choices = await self._fk_choices(db_session, info, instance)
        values = {
            item.name: display_value(item, getattr(instance, item.name)) for item in info.fields
        }
        return self._form_page(visit, info, values, {}, instance, choices)

    async def edit(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/{identity}/edit``: validate and save the changes."""
        info = self._model(request, need="can_edit")
        form, session, uploads = await self._posted_form(request, info)
        visit = await self._visit(request, db_session, session)
        instance = await self._instance(db_session, info, request)
        values, errors = parse_form(info.fields, form)
        errors.update(_unpicked_searches(info, form, errors))
        errors.update(await self._check_targets(db_session, info, values, errors))
        if not errors:  # files last: a form refused for another field stores none
            stored, errors = await self._store_uploads(info, uploads, form, instance, values)
        if not errors:
            changes = dict(values)
            if info.has_audit:  # AuditMixin's stamp_updated_by, inside the transaction
                changes["updated_by"] = self.backend.audit_id(visit.principal)
            errors = await self._save(
                db_session, info, visit, instance, AuditAction.UPDATE, changes
            )
            if errors:  # rolled back: the row's attributes are expired, load them again
                await self._discard(stored)
                await db_session.refresh(instance)
        if errors:
            choices = await self._fk_choices(db_session, info, instance, chosen=values)
            shown = {
                item.name: display_value(item, getattr(instance, item.name))
                for item in info.fields
                if item.readonly
            }
            values = {**shown, **dict(form)}
            return self._form_page(visit, info, values, errors, instance, choices, 422)
        return self._secure(
            RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/{instance.id}", 303)
        )

    async def delete(self, request: Request, db_session: AsyncSession) -> Response:
        """``POST /m/{slug}/{identity}/delete``: delete the row."""
        info = self._model(request, need="can_delete")
        _, session = await self._posted(request)
        visit = await self._visit(request, db_session, session)
        instance = await self._instance(db_session, info, request)
        audit = audit_model_of(info)
        actor = self._actor(visit)
        try:
            with acting(actor):
                async with atomic(db_session):
                    before = snapshot_model(instance) if audit is not None else {}
                    await db_session.delete(instance)
                    await db_session.flush()
                    entry = change_entry(AuditAction.DELETE, instance, before, actor)
                    if audit is not None and entry is not None:
                        await write_audit_rows(db_session, audit, [entry])
        except IntegrityError:
            raise Problem(
                409, "This row is still referenced by other rows; delete or change those first."
            ) from None
        return self._secure(RedirectResponse(f"{self.prefix}/m/{info.admin.slug}/", 303))

    async def autocomplete(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/autocomplete?q=``: up to 20 rows whose label matches, as options."""
        info = self._model(request)
        params = request.query_params
        refuse_nul(params.items())
        field_name = params.get("field", "")
        text = (params.get(f"{field_name}__search") or params.get("q", "")).strip()
        label = label_column(info.admin.model, info.admin)
        visit = await self._visit(request, db_session)
        statement = select(info.admin.model.id, label)
        if text:
            statement = filtered_select(info.admin, ListQuery(search=text), statement)
            if not info.admin.search_field_names:
                statement = statement.where(label.ilike(f"%{escape_like(text)}%", escape="\\"))
        rows = (await db_session.execute(statement.order_by(label).limit(20))).all()
        return self._render(
            "autocomplete.html", visit.session, rows=rows, field=field_name, text=text
        )

    async def _instance(self, db_session: AsyncSession, info: ModelInfo, request: Request) -> Any:
        key = primary_key(info, request.path_params["identity"])
        instance = await db_session.get(info.admin.model, key)
        if instance is None:
            raise Problem(
                404, f"No {info.admin.verbose_name} with id {request.path_params['identity']}."
            )
        return instance

    async def _save(
        self,
        db_session: AsyncSession,
        info: ModelInfo,
        visit: Visit,
        instance: Any,
        action: AuditAction,
        changes: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Apply ``changes`` to ``instance``, save it and its audit row in one transaction.

        A broken constraint is a form error (returned) and saves neither.
        """
        audit = audit_model_of(info)
        before = snapshot_model(instance) if audit is not None and changes is not None else {}
        actor = self._actor(visit)
        try:
            with acting(actor):
                async with atomic(db_session):
                    for name, value in (changes or {}).items():
                        setattr(instance, name, value)
                    db_session.add(instance)
                    if audit is not None:
                        await db_session.flush()
                        entry = change_entry(action, instance, before, actor)
                        if entry is not None:
                            await write_audit_rows(db_session, audit, [entry])
        except IntegrityError as error:
            await db_session.rollback()
            return {"__all__": integrity_message(error)}
        return {}

    async def _check_targets(
        self,
        db_session: AsyncSession,
        info: ModelInfo,
        values: dict[str, Any],
        errors: dict[str, str],
    ) -> dict[str, str]:
        problems = {}
        for item in info.fields:
            value = values.get(item.name)
            if item.target is None or item.name in errors or value is None:
                continue
            if await db_session.get(item.target, value) is None:
                problems[item.name] = f"No {item.target.__name__} with id {value}."
        return problems

    async def _fk_choices(
        self,
        db_session: AsyncSession,
        info: ModelInfo,
        instance: Any = None,
        chosen: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """For each foreign key: a list of options, or the search URL and current label.

        The current row is ``chosen``'s value (a form sent again with errors shows what was
        picked), else ``instance``'s.
        """
        result: dict[str, dict[str, Any]] = {}
        for item in info.fields:
            if item.target is None or item.readonly:
                continue
            registered = self.site.for_model(item.target)
            if registered is None:
                continue
            label = label_column(item.target, registered)
            rows = (
                await db_session.execute(
                    select(item.target.id, label).order_by(label).limit(FK_SELECT_LIMIT + 1)
                )
            ).all()
            if chosen is not None:
                current = chosen.get(item.name)
            else:
                current = getattr(instance, item.name, None) if instance is not None else None
            if len(rows) <= FK_SELECT_LIMIT:
                options = [(str(row[0]), str(row[1])) for row in rows]
                result[item.name] = {"options": options}
            else:
                current_label = ""
                if current is not None:
                    current_label = str(
                        await db_session.scalar(select(label).where(item.target.id == current))
                        or current
                    )
                url = f"{self.prefix}/m/{registered.slug}/autocomplete"
                result[item.name] = {"search": url, "label": current_label}
        return result

    async def _related_labels(
        self, db_session: AsyncSession, info: ModelInfo, instance: Any
    ) -> dict[str, tuple[str, str | None]]:
        """Foreign keys of the detail page: name -> (label, link to the related row)."""
        result = {}
        for item in info.fields:
            value = getattr(instance, item.name)
            if item.target is None or value is None:
                continue
            registered = self.site.for_model(item.target)
            label = label_column(item.target, registered)
            text = await db_session.scalar(select(label).where(item.target.id == value))
            link = f"{self.prefix}/m/{registered.slug}/{value}" if registered else None
            result[item.name] = (str(text if text is not None else value), link)
        return result

    async def _audit(self, db_session: AsyncSession, instance: Any) -> dict[str, str]:
        """``created_by`` / ``updated_by`` as the operators' names."""
        ids = {instance.created_by, instance.updated_by} - {None}
        names: dict[Any, str] = {}
        for principal_id in ids:
            names[principal_id] = await self._principal_name(db_session, str(principal_id))
        return {
            "created_by": names.get(instance.created_by, "—"),
            "updated_by": names.get(instance.updated_by, "—"),
        }

    def _form_page(
        self,
        visit: Visit,
        info: ModelInfo,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        instance: Any,
        choices: dict[str, dict[str, Any]],
        status: int = 200,
    ) -> HTMLResponse:
        """The create form (``instance`` None) or the edit form, with ``errors`` shown."""
        return self._render(
            "form.html",
            visit.session,
            status,
            visit=visit,
            info=info,
            admin=info.admin,
            values=values,
            errors=errors,
            instance=instance,
            choices=choices,
            fields=info.fields,
        )


def _unpicked_searches(
    info: ModelInfo, form: Mapping[str, str], errors: Mapping[str, str]
) -> dict[str, str]:
    """Search boxes holding text that no click on a result turned into a row."""
    return {
        item.name: "Choose one of the rows the search offers, or empty the box."
        for item in info.fields
        if item.widget == "fk"
        and item.name not in errors
        and not form.get(item.name, "").strip()
        and form.get(f"{item.name}__search", "").strip()
    }


def _default(item: FormField) -> Any:
    default = item.column.default
    if default is not None and getattr(default, "is_scalar", False):
        return getattr(default, "arg", None)
    return None
